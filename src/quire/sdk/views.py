"""How ``Artifact`` shows a run or a collection it points at, without importing the
modules that define them (they import ``Artifact``, to return versions): each registers
its class here when imported, as :mod:`quire.sdk.run` registers the implicit run in
:mod:`quire.sdk.context`. ``import quire`` imports them all, so they are always set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store
    from ..store.catalog import RunRecord
    from .artifact import Artifact
    from .collections import ArtifactCollection
    from .public_run import PublicRun


class Views:
    """The registered classes (set by :mod:`~quire.sdk.public_run` and
    :mod:`~quire.sdk.collections`)."""

    public_run: Callable[[RunRecord, Store], PublicRun]
    collection: Callable[[Artifact], ArtifactCollection]


#: the one registry of this process
VIEWS = Views()
