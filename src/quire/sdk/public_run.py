"""``PublicRun``: a recorded run as read back (``artifact.logged_by()``, ``Api().run()``),
and the Api's run verbs."""

from __future__ import annotations

from typing import Any

from ..store import Store
from ..store.catalog import RunRecord
from . import compat
from .artifact import Artifact
from .views import VIEWS


class PublicRun:
    """A recorded run, as read back (``artifact.logged_by()``, ``Api().run()``).

    ``Artifact`` returns it too (lineage): it imports this module when first asked.
    """

    def __init__(self, record: RunRecord, store: Store) -> None:
        self._record, self._store = record, store

    id = property(lambda self: self._record.id)
    name = property(lambda self: self._record.name)
    project = property(lambda self: self._record.project)
    group = property(lambda self: self._record.group)
    job_type = property(lambda self: self._record.job_type)
    config = property(lambda self: dict(self._record.config))
    state = property(lambda self: self._record.state)
    created_at = property(lambda self: self._record.created_at)

    def logged_artifacts(self) -> list[Artifact]:
        """The versions this run made."""
        return [Artifact._committed(v, self._store) for v in self._store.catalog.versions_of(self.id, "output")]

    def used_artifacts(self) -> list[Artifact]:
        """The versions this run used."""
        return [Artifact._committed(v, self._store) for v in self._store.catalog.versions_of(self.id, "input")]

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} ({self.state})>"


VIEWS.public_run = PublicRun


class RunApi:
    """The run verbs of ``Api`` (mixed into :class:`quire.sdk.api.Api`, which provides ``store``)."""

    store: Store

    def run(self, path: str) -> PublicRun:
        """A run, by ``[entity/][project/]id``."""
        return PublicRun(self.store.catalog.run(path.rsplit("/", 1)[-1]), self.store)
