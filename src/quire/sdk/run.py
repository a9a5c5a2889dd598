"""Runs: ``quire.init()`` … ``finish()``, the unit of work that logs and uses artifacts.

A run is recorded in the catalog with its project, group, job type, name and config;
``finished`` when it ends normally, ``crashed`` when its ``with`` block raises. The
lineage graph joins runs to the versions they used (inputs) and made (outputs).
"""

from __future__ import annotations

import atexit
import os
import secrets
import string
from collections.abc import Iterable
from typing import Any

from ..core.names import DEFAULT_PROJECT, check_metadata, check_name, check_run_id, check_text, parse_address
from ..errors import ValidationError
from ..store import Store, open_store
from ..store.catalog import RUN_TEXT_LIMIT, RunRecord, VersionRecord, now
from . import compat
from .artifact import Artifact
from .context import CONTEXT
from .models import ModelMixin
from .public_run import PublicRun

__all__ = ["PublicRun", "Run", "current_run", "current_store", "finish", "init", "resolve"]

_ALPHABET = string.ascii_lowercase + string.digits


def _new_run_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


class Run(ModelMixin):
    """An active run. Create it with :func:`quire.init`."""

    def __init__(self, store: Store, record: RunRecord) -> None:
        self.store = store
        self._record = record
        self.config: dict[str, Any] = dict(record.config)
        self._finished = False

    id = property(lambda self: self._record.id, doc="The run id.")
    name = property(lambda self: self._record.name, doc="The run name.")
    project = property(lambda self: self._record.project, doc="The project.")
    group = property(lambda self: self._record.group, doc="The group (default distributed id).")
    job_type = property(lambda self: self._record.job_type, doc="The job type.")

    @property
    def state(self) -> str:
        """``running``, ``finished`` or ``crashed``."""
        return self._record.state

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} ({self.state})>"

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.finish(exit_code=1 if exc_type is not None else 0)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: ``finished``, or ``crashed`` with a non-zero ``exit_code``."""
        if self._finished:
            return
        self._finished = True
        self._record.state = "crashed" if exit_code else "finished"
        self.store.catalog.finish_run(self.id, self._record.state)
        CONTEXT.leave(self)

    def _check_active(self) -> None:
        if self._finished:
            raise ValidationError(f"run {self.id} has finished; start a new one with quire.init()")

    # -- artifacts --------------------------------------------------------------------

    def log_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
    ) -> Artifact:
        """Commit a draft as the next version of its collection (simple mode).

        ``latest`` and ``aliases`` move to it. When the same files are already a version
        of the collection, no version is made: that one gets the aliases.
        """
        self._check_active()
        artifact = _as_artifact(artifact_or_path, name, type)
        aliases = _listify(aliases, "aliases")
        artifact._commit(self.store, self.project, self.id, aliases, _listify(tags, "tags"))
        return artifact

    def upsert_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Iterable[str] | None = None,
        distributed_id: str | None = None,
    ) -> Artifact:
        """Add a draft's files to a version that many writers make together
        (collaborative mode); ``finish_artifact`` commits it.

        Every writer and the finisher name the same ``distributed_id`` (default: the
        run's ``group``). The files become one contribution to the pending version of
        (collection, distributed id), added in one transaction after their bytes are
        stored; retrying the same upsert from the same run adds nothing. The draft is
        final afterwards. ``aliases`` go to the version when it is committed.

        Raises:
            ValidationError: no distributed id (and no group), or bad input.
            PendingVersionError: that id was already committed or aborted.
        """
        self._check_active()
        artifact = _as_artifact(artifact_or_path, name, type)
        artifact._upsert(self, distributed_id, _listify(aliases, "aliases"))
        return artifact

    def finish_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Iterable[str] | None = None,
        distributed_id: str | None = None,
        expected_writers: int | None = None,
        timeout: float | None = None,
    ) -> Artifact:
        """Commit the version that writers built with ``upsert_artifact``, adding this
        draft's own files; the draft becomes the committed version.

        Every contribution is merged: the same path with the same bytes from several
        writers is one entry; the same path with different bytes raises
        ``ConflictError`` (naming the paths and writers) and commits nothing, keeping
        the contributions. Once committed, the distributed id is locked: a later upsert
        or finish with it raises ``PendingVersionError``. If the merged files equal a
        committed version of the collection, that version is returned instead.

        Args:
            expected_writers: first wait until this many contributions arrived (the
                finisher's own not counted).
            timeout: seconds to wait for them (None: no limit); then
                ``PendingTimeoutError`` says how many came.
        """
        self._check_active()
        artifact = _as_artifact(artifact_or_path, name, type)
        artifact._finish(self, distributed_id, _listify(aliases, "aliases"), expected_writers, timeout)
        return artifact

    def use_artifact(
        self,
        artifact_or_name: Artifact | str,
        type: str | None = None,
        aliases: Iterable[str] | None = None,
        use_as: str | None = None,
    ) -> Artifact:
        """Record that this run uses a version, and return it (``name:alias``, ``name:vN``)."""
        self._check_active()
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact.is_draft():  # a draft used as input is committed first, as W&B does
                artifact._commit(self.store, self.project, None, _listify(aliases, "aliases"), [])
        else:
            artifact = Artifact._committed(resolve(self.store, artifact_or_name, self.project, type), self.store)
        self.store.catalog.use_version(self.id, artifact._committed_record().id)
        return artifact


def _listify(values: Iterable[str] | str | None, what: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    values = list(values)
    if not all(isinstance(v, str) for v in values):
        raise ValidationError(f"{what} must be strings, got {values!r}")
    return values


def _as_artifact(obj: Artifact | str | os.PathLike[str], name: str | None, type: str | None) -> Artifact:
    if isinstance(obj, Artifact):
        if type is not None and type != obj.type:
            raise ValidationError(f"type={type!r} differs from the artifact's type {obj.type!r}")
        return obj
    path = os.fspath(obj)
    # log_artifact("path") logs a file or folder as an artifact, as W&B does.
    art = Artifact(name or check_name(os.path.basename(os.path.abspath(path))), type or "unspecified")
    if os.path.isdir(path):
        art.add_dir(path)
    else:
        art.add_file(path)
    return art


def resolve(store: Store, address: str, project: str | None, type: str | None = None) -> VersionRecord:
    """The committed version an address names."""
    addr = parse_address(address, project)
    record = store.catalog.version(addr.project, addr.name, addr.version)
    if type is not None and record.type != type:
        raise ValidationError(f"{addr} is of type {record.type!r}, not {type!r}")
    return record


def init(
    project: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    store: str | os.PathLike[str] | None = None,
    *,
    entity: str | None = None,
    id: str | None = None,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    dir: str | None = None,
    mode: str | None = None,
    reinit: Any = None,
    settings: Any = None,
) -> Run:
    """Start a run (and finish the one this process had running).

    ``entity``, ``tags``, ``notes``, ``dir``, ``mode``, ``reinit`` and ``settings`` are
    accepted so W&B code runs unchanged; Quire has no use for them (``tags`` and
    ``notes`` are checked as W&B checks them, so code that runs here runs there).

    Raises:
        ValidationError: a field is not a string, holds NUL or is longer than the
            catalog keeps (checked before anything is written, the same on every store).
    """
    _check_tags_and_notes(tags, notes)
    record = _new_record(project, group, job_type, name, config, id)  # before the current run ends
    if CONTEXT.run is not None:
        CONTEXT.run.finish()
    run = _begin(record, store, id is not None)
    CONTEXT.enter(run)
    return run


#: W&B's limit on a run tag's length
_MAX_RUN_TAG = 64


def _check_tags_and_notes(tags: Iterable[str] | None, notes: str | None) -> None:
    if notes is not None:
        check_text(notes, "run notes")
    if tags is None:
        return
    if isinstance(tags, str) or not isinstance(tags, list | tuple | set | frozenset):
        raise ValidationError(f"run tags must be a list of strings, not {type(tags).__name__} ({tags!r:.80})")
    for tag in tags:
        if not check_text(tag, "a run tag", _MAX_RUN_TAG):
            raise ValidationError("a run tag must not be empty")


def _run_field(value: object, what: str, column: str) -> str | None:
    """``value`` (None allowed) if the catalog's ``runs`` column can hold it as it is:
    a run recorded later (see ``defer_run``) must not fail in another call's write."""
    if value is None:
        return None
    return check_text(value, what, RUN_TEXT_LIMIT)


def _start(
    project: str | None,
    group: str | None = None,
    job_type: str | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    store: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
) -> Run:
    return _begin(_new_record(project, group, job_type, name, config, run_id), store, run_id is not None)


def _new_record(
    project: str | None,
    group: str | None,
    job_type: str | None,
    name: str | None,
    config: dict[str, Any] | None,
    run_id: str | None,
) -> RunRecord:
    """The record of a new run, every field checked (no I/O: nothing is written yet)."""
    project = check_name(project or os.environ.get("QUIRE_PROJECT") or DEFAULT_PROJECT, "project name")
    group = _run_field(group or os.environ.get("QUIRE_RUN_GROUP") or None, "run group", "group_name")
    job_type = _run_field(job_type, "run job_type", "job_type")
    name = _run_field(name, "run name", "name")
    run_id = check_run_id(run_id) if run_id is not None else _new_run_id()
    return RunRecord(
        id=run_id,
        project=project,
        name=name or f"run-{run_id}",
        group=group,
        job_type=job_type,
        config=check_metadata(dict(config) if config else {}, "run config", max_keys=None),
        state="running",
        created_at=now(),
    )


def _begin(record: RunRecord, store: str | os.PathLike[str] | None, chosen: bool) -> Run:
    opened = open_store(store)
    if chosen:  # recorded now, so that an id taken meanwhile fails here, not in a later write
        opened.catalog.create_run(record)
    else:  # a fresh id: recorded with the run's first write (one transaction fewer)
        opened.catalog.defer_run(record)
    return Run(opened, record)


def finish(exit_code: int | None = None) -> None:
    """Finish the current run, if any."""
    if CONTEXT.run is not None:
        CONTEXT.run.finish(exit_code)


def current_run() -> Run | None:
    """The run this process has open, if any."""
    run = CONTEXT.run
    assert run is None or isinstance(run, Run)  # only init() makes a run current
    return run


def current_store() -> Store:
    """The current run's store, else the one ``QUIRE_STORE`` (or the default) names."""
    return CONTEXT.store()


def _log_in_own_run(artifact: Artifact, project: str | None, location: str | None) -> None:
    """Log a draft in a run of its own (``artifact.save()`` when no run fits)."""
    with _start(project, job_type="auto", store=location) as run:
        run.log_artifact(artifact)


CONTEXT.on_implicit(_log_in_own_run)


@atexit.register
def _finish_at_exit() -> None:
    finish()
