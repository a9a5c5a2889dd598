"""The client backend of ``quire server``: a store at ``http://`` or ``https://``.

``QUIRE_STORE=https://quire.example.com`` opens :class:`HTTPCatalog` (the
:class:`~quire.store.catalog.Catalog` protocol, one request per verb) and
:class:`HTTPObjects` (the :class:`~quire.store.objects.ObjectStore` protocol: streamed,
verified uploads; range reads; presigned URLs when the server hands them out) over one
:class:`Session`, which sends the API key (``QUIRE_API_KEY``, else the one ``quire login``
saved) as ``Authorization: Bearer <key>``. The blob store, the cache, commits and gc run
on the client exactly as on any other backend: the server adds no semantics of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .session import Session, api_key

if TYPE_CHECKING:
    import httpx

    from ..catalog import Catalog
    from ..objects import ObjectStore

__all__ = ["Session", "api_key", "connect"]


def connect(
    url: str, key: str | None = None, client: Callable[[], httpx.Client] | None = None
) -> tuple[Catalog, ObjectStore]:
    """The catalog and the object store of the server at ``url``, over one session
    (``client()``: makes the ``httpx.Client`` to send through, e.g. an in-process one)."""
    from .catalog import HTTPCatalog
    from .objects import HTTPObjects

    session = Session(url, key if key is not None else api_key(url), client=client)
    return HTTPCatalog(session), HTTPObjects(session)
