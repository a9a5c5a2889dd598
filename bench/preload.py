"""Quire's modules, imported before a benchmark's clock starts.

``import quire`` is cheap (issue 13): the sdk loads on first use of its names and the
catalog's code (SQLAlchemy) when a store opens. The harness times operations, not
imports, for every tool (``import wandb`` loads wandb whole), so each measured Quire
process calls :func:`import_quire` where it used to ``import quire``: what the package
then imported eagerly is imported here, outside the timing. The start-up itself is
measured by ``bench/startup.py``.

Standard library only: ``bench/ops.py`` imports it under the peers' interpreter too.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

#: the modules ``import quire`` loaded before start-up went lazy: the sdk and the catalog
QUIRE_MODULES = ("quire.sdk.api", "quire.sdk.run", "quire.store.embedded", "quire.store.sql")
#: and, when ``QUIRE_STORE`` is a server's URL, the HTTP client backend (httpx) it opens
HTTP_MODULES = ("quire.store.http.catalog", "quire.store.http.objects")


def import_quire() -> ModuleType:
    """``quire``, with the sdk and the SQL catalog's code already imported (and the
    HTTP backend's when the store is a server: the SV workloads)."""
    served = os.environ.get("QUIRE_STORE", "").startswith(("http://", "https://"))
    for name in QUIRE_MODULES + (HTTP_MODULES if served else ()):
        importlib.import_module(name)
    return importlib.import_module("quire")
