"""Fixtures for the web UI's tests: a real ``quire server`` over the demo store, and a
headless Debian chromium driven by Selenium.

- ``web``: one ``quire server`` subprocess per session over the demo store
  (:mod:`browser.demo`, built in a process of its own), with an admin, a write and a
  read key. Tests that change the store change only what no other test reads
  (``vision/editable``).
- ``chromium``: one headless chromium per session (Debian's ``/usr/bin/chromium`` and
  ``/usr/bin/chromedriver``); a test using it is marked ``browser`` (and ``services``) by
  ``tests/conftest.py``. Without them the test is skipped, or fails under
  ``QUIRE_TEST_REQUIRE_SERVICES=1`` (CI: ``.ci/run`` installs them).
- ``browser``: that chromium with no cookies (signed out), for one test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backends import _unavailable
from browser.demo import build_in_subprocess
from servers import ServerProcess
from support import patience

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: the window the tests (and the screenshots) see: a laptop's
WINDOW = (1280, 900)


@dataclass
class Web:
    """The server the tests browse, and what they need to know about its store."""

    server: ServerProcess
    facts: dict[str, Any]  #: what the demo store's build said (run and pending ids)
    admin: str
    write: str
    read: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def behind(self) -> str:
        """The store behind the server (a test reads it to see what a form changed)."""
        return self.server.behind


def start_demo(root: Path) -> Web:
    """Build the demo store below ``root`` and serve it."""
    facts = build_in_subprocess(root / "behind", timeout=patience(4))
    server = ServerProcess(str(root / "behind"), init=False)
    return Web(server, facts, server.admin, server.key("write"), server.key("read"))


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    demo = start_demo(tmp_path_factory.mktemp("web"))
    yield demo
    demo.server.stop()


def chrome(window: tuple[int, int] = WINDOW) -> Any:
    """A headless Debian chromium under Selenium (page loads bounded by ``patience``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window[0]},{window[1]}"):
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_window_size(*window)
    driver.set_page_load_timeout(patience(2))
    driver.set_script_timeout(patience(1))
    return driver


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        import selenium  # noqa: F401 - the test extra's
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            _unavailable(f"{binary} is missing: apt-get install chromium chromium-driver")
    driver = chrome()
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: Any) -> Any:
    """The session's chromium, signed out, on a blank page."""
    chromium.get("about:blank")
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})  # every site's, not only the page's
    return chromium
