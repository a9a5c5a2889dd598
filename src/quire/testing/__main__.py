"""``python -m quire.testing``: run the shipped conformance suites against backends
given on the command line, e.g.::

    python -m quire.testing --objects file:///tmp/suite
    python -m quire.testing --objects s3://bucket/prefix -x
    python -m quire.testing --catalog postgresql://user@host/db
    python -m quire.testing --catalog /tmp/catalogs

Arguments after the options go to pytest (``-x``, ``-k EXPR``, ``-q``...).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import QuireError


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the suites; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m quire.testing",
        description="Run Quire's conformance suites (ObjectStoreTests, BlobStoreTests, CatalogTests) "
        "against a backend. Every test uses fresh, empty storage below the location given.",
    )
    parser.add_argument("--objects", metavar="URL", help="an object store: file:///path, s3://bucket/prefix, ...")
    parser.add_argument("--catalog", metavar="LOCATION", help="a catalog: a directory, postgresql://...")
    args, pytest_args = parser.parse_known_args(argv)
    if args.objects is None and args.catalog is None:
        parser.error("give a backend: --objects URL and/or --catalog LOCATION")
    try:
        from .runner import run  # pytest: imported only when the suites run
    except ImportError as exc:
        print(f"python -m quire.testing needs pytest: pip install 'quire[test]' ({exc})", file=sys.stderr)
        return 2
    try:
        return run(args.objects, args.catalog, pytest_args)
    except QuireError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
