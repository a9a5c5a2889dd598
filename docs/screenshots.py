"""Screenshots of the web UI's pages, for the docs: ``docs/img/web-<page>.png``.

Run by hand (not by CI), from a checkout with the test extra and Debian's chromium and
chromium-driver installed::

    python docs/screenshots.py            # every page
    python docs/screenshots.py version    # only some

It builds the browser tests' demo store (``tests/browser/demo.py``) in a temporary folder,
serves it with ``quire server``, signs in with a write key (so the version page shows its
form) and saves each page as the 1280x900 window shows it, reduced to 256 colours.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from browser.conftest import WINDOW, chrome, start_demo  # noqa: E402 - after the path is set
from browser.web import sign_in  # noqa: E402

OUT = HERE / "img"
#: a page shown scrolled down to this element
SCROLL_TO = {"run": "#history-chart"}


def pages(facts: dict[str, str | dict[str, str]]) -> dict[str, str]:
    """Each screenshot's name → the page it shows."""
    pending = facts["pending"]
    assert isinstance(pending, dict)
    return {
        "home": "/",
        "project": "/p/vision",
        "collection": "/p/vision/images",
        "version": "/p/vision/images/v1",
        "files": "/p/vision/images/v2/files/data",
        "preview-table": "/p/vision/images/v2/preview/data/scores.table.parquet",
        "preview-markdown": "/p/vision/images/v2/preview/README.md",
        "diff": "/p/vision/images/v2/diff?against=v0",
        "lineage": "/p/vision/classifier/v0/lineage",
        "run": f"/p/vision/~runs/{facts['train_run']}",
        "pending": f"/p/vision/~pending/{pending['shard-run']}",
    }


def shoot(only: list[str]) -> None:
    from PIL import Image

    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="quire-screenshots-") as tmp:
        web = start_demo(Path(tmp))
        driver = chrome()
        # the page's own 1280x900, without the window's frame
        metrics = {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        try:
            sign_in(driver, web.url, web.write)
            for name, path in pages(web.facts).items():
                if only and name not in only:
                    continue
                driver.get(web.url + path)
                if name in SCROLL_TO:  # what the page is for is below the window's first view
                    driver.execute_script(
                        "arguments[0].scrollIntoView(); window.scrollBy(0, -120)",
                        driver.find_element("css selector", SCROLL_TO[name]),
                    )
                target = OUT / f"web-{name}.png"
                driver.save_screenshot(str(target))
                with Image.open(target) as shot:
                    small = shot.convert("RGB").quantize(256)
                small.save(target, optimize=True)
                print(f"{target.relative_to(HERE.parent)}  {target.stat().st_size // 1024} KiB  {path}")
        finally:
            driver.quit()
            web.server.stop()


if __name__ == "__main__":
    shoot(sys.argv[1:])
