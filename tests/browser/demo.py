"""The demo store the browser tests click through (and ``docs/screenshots.py`` photographs).

``build(store)`` logs, with the SDK as a user would:

- project ``vision``: ``images`` (a dataset of three versions: a folder tree of text, JSON,
  CSV, Markdown, a PNG, a ``quire.Table`` of :data:`TABLE_ROWS` rows and a
  ``PartitionedTable``; aliases, tags, metadata, a description), ``classifier`` (a model
  made by a ``train`` run that used ``images:v1`` and logged a history), ``editable`` (two
  versions the write test edits), ``shards`` (a collaborative version still pending, with
  two contributions) and ``hostile`` (file names, metadata, description and an alias holding
  markup and script, and a Markdown file with a script tag and a ``javascript:`` link);
- project ``audio``: one small collection (a second project on the home page).

Run as a script (``python demo.py STORE``) it builds the store and prints the facts the
tests need (run and pending ids) as JSON: the tests build it in a process of its own, so
nothing the SDK keeps per process leaks into theirs.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

#: what a hostile name or value holds: run in a page, either would set ``window.__pwned``
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
HOSTILE_SVG = f'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1">{SCRIPT}</svg>'
#: file names that a URL must encode to reach (a query, a fragment, an escape, spaces)
ODD_NAMES = ("odd #1 ?a=b&c.txt", "100% sure.txt", "dots..txt")
#: rows of the demo table (more than one preview page)
TABLE_ROWS = 240
PROJECT = "vision"
HOSTILE_MARKDOWN = f"""# Hostile notes

{SCRIPT}

A [link that runs script](javascript:window.__pwned=1) and {IMG} inline.
"""


def _png(seed: int) -> bytes:
    """A small seeded PNG (a gradient with noise)."""
    from PIL import Image

    rng = random.Random(seed)
    img = Image.new("RGB", (48, 32))
    img.putdata([(x * 5, y * 8, rng.randrange(256)) for y in range(32) for x in range(48)])
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _wav(seconds: float = 0.25, rate: int = 8000) -> bytes:
    """A short sine tone as a WAV file (8 kHz, 16-bit mono)."""
    import math
    import struct
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 2 * math.pi * 440 / rate))) for i in range(n)))
    return out.getvalue()


def _files(version: int) -> dict[str, bytes]:
    """The plain files of ``images:v{version}``: each version changes, adds and removes some."""
    files = {
        "README.md": b"# Images\n\nA **synthetic** demo dataset.\n\n- train split\n- [labels](data/labels.json)\n",
        "data/labels.json": json.dumps({"classes": ["cat", "dog", "bird"], "version": version}, indent=2).encode(),
        "data/train.csv": b"id,label,width\n" + b"".join(f"{i},{'cdb'[i % 3]},{40 + i}\n".encode() for i in range(12)),
        "data/notes.txt": f"Notes of version {version}.\nLine two.\n".encode(),
        "data/img/cat.png": _png(1),
        "data/img/dog.png": _png(2 + version),
        "data/tone.wav": _wav(),
    }
    if version == 0:
        files["data/old.txt"] = b"only in v0\n"
    if version >= 1:
        files["data/img/bird.png"] = _png(7)
    return files


def _add(art: Any, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        with art.new_file(path, "wb") as f:
            f.write(data)


def _table(quire: Any, seed: int) -> Any:
    rng = random.Random(seed)
    rows = [[i, round(rng.uniform(0, 1), 4), f"label-{rng.randrange(5)}"] for i in range(TABLE_ROWS)]
    return quire.Table(columns=["id", "score", "label"], data=rows)


def build(store: str) -> dict[str, Any]:
    """Log the demo store at ``store``; returns the facts the tests need."""
    import quire

    facts: dict[str, Any] = {"project": PROJECT}
    with quire.init(project=PROJECT, store=store, name="prepare", job_type="prepare", config={"seed": 7}) as run:
        for version in range(3):
            art = quire.Artifact(
                "images",
                "dataset",
                description=f"Synthetic demo images, take {version}",
                metadata={"rows": TABLE_ROWS, "take": version, "source": {"kind": "synthetic", "seed": 7}},
            )
            _add(art, _files(version))
            art.add(_table(quire, version), "data/scores")
            for part in range(3):
                part_rows = [[part * 10 + i, f"p{part}"] for i in range(4)]
                art.add(quire.Table(columns=["n", "part"], data=part_rows), f"data/parts/part_{part}")
            art.add(quire.PartitionedTable("data/parts"), "data/all_parts")
            aliases = {0: ["stable"], 1: ["best"], 2: []}[version]
            run.log_artifact(art, aliases=aliases, tags=["demo"] if version else [])
            run.log({"images": 100 * (version + 1)})
        facts["prepare_run"] = run.id

    with quire.init(project=PROJECT, store=store, name="train", job_type="train", config={"lr": 0.01}) as run:
        run.use_artifact("images:v1")
        for step in range(20):
            run.log({"loss": round(1.0 / (step + 1), 4), "accuracy": round(0.5 + step * 0.02, 4)})
        model = quire.Artifact("classifier", "model", metadata={"accuracy": 0.88})
        _add(model, {"model.bin": bytes(range(256)) * 4, "config.json": b'{"layers": 3}\n'})
        run.log_artifact(model, aliases=["production"])
        facts["train_run"] = run.id

    with quire.init(project=PROJECT, store=store, name="edits") as run:
        for version in range(2):
            art = quire.Artifact("editable", "dataset")
            _add(art, {"value.txt": f"value {version}\n".encode()})
            run.log_artifact(art, aliases=["first"] if version == 0 else [])

    for rank in range(2):
        with quire.init(project=PROJECT, store=store, name=f"writer-{rank}", group="shard-run") as run:
            art = quire.Artifact("shards", "dataset")
            _add(art, {f"shard-{rank}/part.txt": f"rank {rank}\n".encode(), "common.txt": b"same\n"})
            run.upsert_artifact(art, distributed_id="shard-run")

    with quire.init(project=PROJECT, store=store, name="hostile") as run:
        art = quire.Artifact("hostile", "dataset", description=SCRIPT, metadata={SCRIPT: IMG, "note": IMG})
        _add(
            art,
            {
                f"{IMG}.txt": f"{SCRIPT}\n{IMG}\n".encode(),
                f"{SCRIPT}.md": HOSTILE_MARKDOWN.encode(),  # a folder named with markup, then script>.md
                "notes.md": HOSTILE_MARKDOWN.encode(),
                "evil.txt": f"{SCRIPT}\n".encode(),
                **{name: f"the file {name}\n".encode() for name in ODD_NAMES},
                "evil.svg": HOSTILE_SVG.encode(),  # a page of its own if a browser rendered it
                "evil.html": f"<!doctype html><title>evil</title>{SCRIPT}{IMG}".encode(),
            },
        )
        run.log_artifact(art, aliases=[IMG])

    with quire.init(project="audio", store=store, name="record") as run:
        art = quire.Artifact("clips", "dataset")
        _add(art, {"clip.txt": b"not really audio\n"})
        run.log_artifact(art)

    from quire.store import open_store

    catalog = open_store(store).catalog
    facts["pending"] = {p.distributed_id: p.id for p in catalog.pending_versions(PROJECT)}
    return facts


def build_in_subprocess(store: Path, timeout: float) -> dict[str, Any]:
    """:func:`build` in a fresh interpreter (clean of ``QUIRE_*`` settings, with a home of its own)."""
    import subprocess

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUIRE_", "WANDB_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["HOME"] = str(store.parent / "demo-home")
    work = store.parent / "demo-work"
    work.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, __file__, str(store)], env=env, cwd=work, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the demo store failed:\n{done.stderr[-4000:]}")
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


if __name__ == "__main__":
    print(json.dumps(build(sys.argv[1])))
