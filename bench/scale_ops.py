"""The operations ``python -m bench.scale`` measures, each in a fresh process.

Run through :mod:`bench.ops` like every measured operation: each function imports what
it needs and returns the closure to time, so the clock starts after ``import quire``
(with the sdk and catalog modules it used to load eagerly, see :func:`_import_quire`;
for a command, after ``import quire.cli`` too), and opening the store, loading its
indexes and reading the catalog are all inside it: that is the cost that grows with the
store. Standard library only at module level, as :mod:`bench.ops` requires.
"""

from __future__ import annotations

import itertools


def _import_quire():
    """``quire``, with what it imported eagerly before start-up went lazy already
    imported (``bench/preload.py``, when it is there): before and after figures then
    leave the same imports out of the clock."""
    try:
        from bench.preload import import_quire
    except ImportError:
        import quire

        return quire
    return import_quire()


def scale_log(store, collection, file):
    """Log a 1-file version into ``collection`` (a new one: no version to build on)."""
    quire = _import_quire()

    def go():
        run = quire.init(project="bench", store=store)
        art = quire.Artifact(collection, "dataset")
        art.add_file(file)
        run.log_artifact(art)
        art.wait()
        run.finish()

    return go


def scale_read(store, ref, path, root):
    """Read one entry of a large version (the sdk's cheapest read of one file)."""
    quire = _import_quire()

    def go():
        quire.Api(store=store).artifact(ref).get_entry(path).download(root)

    return go


def scale_download(store, ref, root):
    """Download a 1-file version into a new folder."""
    quire = _import_quire()

    def go():
        quire.Api(store=store).artifact(ref).download(root=root)

    return go


def scale_versions_page(store, name, per_page):
    """The first page of ``Api().artifacts(...)`` of a collection."""
    quire = _import_quire()

    def go():
        page = list(itertools.islice(quire.Api(store=store).artifacts("dataset", name, per_page=per_page), per_page))
        if not page:
            raise SystemExit(f"{name} listed no version")

    return go


def scale_cli(argv):
    """A ``quire`` command, run in this process (the store comes from ``QUIRE_STORE``)."""
    _import_quire()
    from quire.cli import app

    def go():
        code = app(argv, prog_name="quire", standalone_mode=False)
        if code:  # a QuireError is one line on stderr and exit code 1
            raise SystemExit(f"quire {' '.join(argv)} exited with {code}")

    return go


def scale_sweep(store, keys):
    """The floor of a gc's sweep: open the store and delete exactly the objects that gc
    deletes (packs index first, as gc does), with no marking and no listing."""
    _import_quire()
    from quire.store import open_store

    def go():
        blobs = open_store(store).blobs
        for key in keys:
            blobs.delete(key)

    return go


OPS = {f.__name__: f for f in (scale_log, scale_read, scale_download, scale_versions_page, scale_cli, scale_sweep)}
