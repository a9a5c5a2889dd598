"""The process's run context: the current run, the store it writes to, and the implicit
run that ``artifact.save()`` of a draft logs in.

It lives apart from :mod:`quire.sdk.run` so that :mod:`quire.sdk.artifact` can ask for the
current run and store without importing the module that defines runs (which imports
``Artifact``): the sdk's imports then form no circle. Runs register themselves here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..store import Store, open_store

if TYPE_CHECKING:
    from .artifact import Artifact


class ActiveRun(Protocol):
    """What the context needs of a run (:class:`quire.sdk.run.Run` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def project(self) -> str: ...

    @property
    def store(self) -> Store: ...

    def log_artifact(self, artifact_or_path: Artifact) -> Artifact: ...

    def finish(self, exit_code: int | None = None) -> None: ...


#: logs a draft in a run of its own: ``(artifact, project, store location)``
ImplicitLogger = Callable[["Artifact", "str | None", "str | None"], None]


class RunContext:
    """The run this process has open (at most one, as in W&B) and how to log without one.

    Attributes:
        run: the current run, if any.
    """

    def __init__(self) -> None:
        self.run: ActiveRun | None = None
        self._implicit: ImplicitLogger | None = None

    def store(self) -> Store:
        """The current run's store, else the one ``QUIRE_STORE`` (or the default) names."""
        return self.run.store if self.run is not None else open_store()

    def enter(self, run: ActiveRun) -> None:
        """Make ``run`` the current run."""
        self.run = run

    def leave(self, run: ActiveRun) -> None:
        """``run`` has ended: it is no longer the current run (if it was)."""
        if self.run is run:
            self.run = None

    def on_implicit(self, logger: ImplicitLogger) -> None:
        """Set how a draft is logged when no run fits (the run module sets it)."""
        self._implicit = logger

    def log(self, artifact: Artifact, project: str | None, location: str | None) -> None:
        """``artifact.save()`` of a draft: log it in the current run if ``project`` allows,
        else in a run of its own on the store at ``location`` (None: the default)."""
        if self.run is not None and project in (None, self.run.project):
            self.run.log_artifact(artifact)
            return
        # Set when quire.sdk.run is imported, which the first use of any of quire's sdk
        # names (quire.Artifact among them) does first: they load together (quire._SDK).
        assert self._implicit is not None, "quire.sdk.run registers the implicit run"
        self._implicit(artifact, project, location)


#: the one run context of this process
CONTEXT = RunContext()
