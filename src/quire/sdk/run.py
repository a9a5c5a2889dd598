"""Runs: ``quire.init()`` … ``finish()``, the unit of work that logs and uses artifacts.

A run is recorded in the catalog with its project, group, job type, name, tags, notes,
config and summary; ``finished`` when it ends normally, ``crashed`` when its ``with``
block raises. The lineage graph joins runs to the versions they used (inputs) and made
(outputs). ``run.log`` records the run's history, one row per step.

When the catalog hears of a run's changes: a ``config`` or ``summary`` change and each
committed history step wait in memory and are written together (one ``log_history`` and
one ``update_run``) when 50 steps wait or a second has passed since the last write, before
any other catalog write of the run (a logged or used artifact: what the catalog shows
with it is the run as it is), and at ``finish``. So a loop that sets config attributes or
logs every batch costs no transaction each; a process that dies loses at most that.
"""

from __future__ import annotations

import atexit
import operator
import os
import re
import secrets
import shutil
import string
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.names import DEFAULT_PROJECT, check_metadata, check_name, check_run_id, check_text, parse_address
from ..errors import ArtifactNotFoundError, UsageError, ValidationError
from ..store import Store, open_store
from ..store.catalog import RUN_TEXT_LIMIT, HistoryRow, RunRecord, VersionRecord, now
from . import compat
from .artifact import Artifact
from .config import Config, Summary, as_mapping, filtered, from_json, to_json
from .context import CONTEXT
from .models import ModelMixin
from .public_run import PublicRun, entity_of

__all__ = [
    "Metric",
    "PublicRun",
    "Run",
    "current_run",
    "current_store",
    "define_metric",
    "finish",
    "init",
    "log",
    "login",
    "resolve",
]

_ALPHABET = string.ascii_lowercase + string.digits
#: history steps that wait before they are written, at most (see the module's docstring)
_FLUSH_ROWS = 50
#: seconds a changed run waits before it is written, at most (when it logs again)
_FLUSH_SECONDS = 1.0
#: the types of a logged media object's run artifact: tables as W&B names it, the rest
_RUN_TABLE, _RUN_MEDIA = "run_table", "run_media"


def _new_run_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass
class Metric:
    """What ``define_metric`` defined (recorded in the run's info; Quire draws no charts)."""

    name: str
    step_metric: str | None = None
    step_sync: bool | None = None
    hidden: bool | None = None
    summary: str | None = None
    goal: str | None = None
    overwrite: bool | None = None


class Run(ModelMixin):
    """An active run. Create it with :func:`quire.init`.

    Attributes:
        config: the run's :class:`~quire.sdk.config.Config`.
        summary: the last value of each logged key, and whatever the run sets in it.
    """

    def __init__(
        self,
        store: Store | None,
        record: RunRecord,
        root_dir: str | None = None,
        resumed: bool = False,
        location: str | os.PathLike[str] | None = None,
    ) -> None:
        self._store, self._location = store, location
        self._record = record
        self._finished = False
        self._resumed = resumed
        self._root_dir = root_dir
        self._dir: str | None = None
        self._dirty: set[str] = set()  # fields of the record changed since the last write
        self._rows: list[HistoryRow] = []  # committed steps not written yet
        self._last_write = time.monotonic()
        self._started = time.time()
        self.config = Config(from_json(record.config), lambda: self._changed("config"))
        self.summary = Summary(from_json(record.summary), lambda: self._changed("summary"))
        last = record.summary.get("_step")
        self._step = last + 1 if isinstance(last, int) and resumed else 0
        self._row: dict[str, Any] = {}  # the step being logged (commit=False accumulates)

    @property
    def store(self) -> Store:
        """The store the run writes to."""
        if self._store is None:
            self._store = open_store(self._location)
        return self._store

    id = property(lambda self: self._record.id, doc="The run id.")
    project = property(lambda self: self._record.project, doc="The project.")
    group = property(lambda self: self._record.group, doc="The group (default distributed id).")
    job_type = property(lambda self: self._record.job_type, doc="The job type.")
    resumed = property(lambda self: self._resumed, doc="Whether ``init`` reopened a recorded run.")
    step = property(lambda self: self._step, doc="The step the next ``log`` records.")
    start_time = property(lambda self: self._started, doc="When the run started (seconds since the epoch).")
    disabled = property(lambda self: False, doc="Whether calls are no-ops (``mode='disabled'``).")
    offline = property(lambda self: False, doc="Always False: Quire has no server to be offline from.")

    @property
    def state(self) -> str:
        """``running``, ``finished`` or ``crashed``."""
        return self._record.state

    @property
    def entity(self) -> str:
        """The entity given (``init(entity=)``, ``WANDB_ENTITY``), else the user's name, as
        W&B defaults to; Quire keeps it but has no use for it."""
        return entity_of(self._record)

    @property
    def path(self) -> str:
        """``entity/project/id``, what ``Api().run`` takes."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def url(self) -> None:
        """None: Quire has no web app (W&B returns None offline too)."""
        return None

    def get_url(self) -> None:
        """None, as :attr:`url`."""
        return None

    get_project_url = get_url

    @property
    def dir(self) -> str:
        """The run's own folder, made on first use: ``<dir>/wandb/run-<id>/files`` under
        ``init(dir=)``, ``QUIRE_DIR``, ``WANDB_DIR`` or the working directory."""
        if self._dir is None:
            root = self._root_dir or os.getcwd()
            self._dir = os.path.join(os.path.abspath(root), "wandb", f"run-{self.id}", "files")
            os.makedirs(self._dir, exist_ok=True)
        return self._dir

    @property
    def name(self) -> str | None:
        """The run name (settable)."""
        return self._record.name

    @name.setter
    def name(self, value: str) -> None:
        self._set("name", value)

    @property
    def notes(self) -> str | None:
        """The run notes (settable)."""
        return self._record.notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._set("notes", value)

    @property
    def tags(self) -> tuple[str, ...]:
        """The run tags (settable: a list or tuple of strings)."""
        return tuple(self._record.tags)

    @tags.setter
    def tags(self, value: Iterable[str]) -> None:
        self._set("tags", value)

    def _set(self, name: str, value: Any) -> None:
        self._check_active()
        if name == "tags":
            _check_tags_and_notes(value, None)
            value = list(value)
        elif name == "notes":
            _check_tags_and_notes(None, value)
        else:
            value = _run_field(value, "run name", name)
        setattr(self._record, name, value)
        self._changed(name)

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} ({self.state})>"

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.finish(exit_code=1 if exc_type is not None else 0)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: ``finished``, or ``crashed`` with a non-zero ``exit_code``. The step
        being logged, and whatever waits, is written first."""
        if self._finished:
            return
        try:
            self._commit_row()
            self._flush()
        finally:
            self._finished = True
            self._record.state = "crashed" if exit_code else "finished"
            CONTEXT.leave(self)
        self.store.catalog.finish_run(self.id, self._record.state)

    def _check_active(self) -> None:
        if self._finished:
            raise ValidationError(f"run {self.id} has finished; start a new one with quire.init()")

    def _before_write(self) -> None:
        """Before a catalog write of the run: it is active, and what waits is written."""
        self._check_active()
        self._flush()

    # -- config, summary, history ---------------------------------------------------------

    def _changed(self, what: str) -> None:
        self._check_active()
        self._dirty.add(what)

    def _flush(self, when_due: bool = False) -> None:
        """Write the waiting history steps and changed fields (``when_due``: only if
        enough wait, or long enough; see the module's docstring)."""
        if not self._rows and not self._dirty:
            return
        if when_due and len(self._rows) < _FLUSH_ROWS and time.monotonic() - self._last_write < _FLUSH_SECONDS:
            return
        catalog = self.store.catalog
        if self._rows:
            catalog.log_history(self.id, self._rows)
            self._rows = []
        if self._dirty:
            fields: dict[str, Any] = {}
            for what in self._dirty:
                if what == "config":
                    fields[what] = self.config._stored()
                elif what == "summary":
                    fields[what] = self.summary._stored()
                else:
                    fields[what] = getattr(self._record, what)
            catalog.update_run(self.id, **fields)
            self._dirty = set()
        self._last_write = time.monotonic()

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Record ``data`` at the current step, as ``wandb.log`` does.

        Without ``step``, each call is a step (``commit=False``: the next call adds to
        it). ``step=`` past the current step ends the current one and moves to it; a step
        before the current one is dropped with a warning, as W&B drops it. Values are
        numbers (NaN and infinity kept), strings, lists and dicts of them, numpy scalars
        and arrays, and media: a ``Table`` becomes the run's artifact
        ``run-<id>-<key>`` (type ``run_table``), other media objects ``run-<id>-<key>``
        (type ``run_media``), the step holding a reference to it.

        Raises:
            TypeError: ``data`` is not a dict, or a key is not a string (as W&B).
            ValidationError: the run finished; a value it cannot record (nothing of
                ``data`` is recorded).
        """
        self._check_active()
        row = _checked_row(data)
        if step is not None:
            step = _checked_step(step)
            if step < self._step:
                warnings.warn(
                    f"run {self.id}: tried to log to step {step}, which is less than the current step "
                    f"{self._step}; steps must increase, so this data is ignored",
                    stacklevel=2,
                )
                return
            if step > self._step:
                self._commit_row()
                self._step = step
        self._row.update(row)
        if commit or (step is None and commit is None):
            self._commit_row()
        self._flush(when_due=True)

    def _commit_row(self) -> None:
        """End the current step: its media become artifacts, its values the summary's."""
        if not self._row:
            return
        row, self._row = self._row, {}
        stamp = time.time()
        data = {key: self._media_reference(key, value) if _is_media(value) else value for key, value in row.items()}
        data |= {"_runtime": stamp - self._started, "_timestamp": stamp}
        self.summary._merge(data | {"_step": self._step})
        self._rows.append(HistoryRow(self._step, to_json(data, "a history row"), now()))
        self._step += 1

    def _media_reference(self, key: str, media: Any) -> dict[str, Any]:
        """Log ``media`` in the run's artifact for ``key``; what the history row holds."""
        is_table = type(media).__name__ == "Table"
        art = Artifact._internal(_artifact_name(f"run-{self.id}-{key}"), _RUN_TABLE if is_table else _RUN_MEDIA)
        entry = art.add(media, _entry_name(key))
        self.log_artifact(art)
        kind = "table" if is_table else type(media).__name__.lower()
        return {
            "_type": f"{kind}-file",
            "artifact_path": art.qualified_name,
            "path": entry.path,
        }

    def _label(
        self, code: str | None = None, repo: str | None = None, code_version: str | None = None, **_: Any
    ) -> None:
        """Accepted and ignored: framework integrations (Lightning's and Hugging Face's
        loggers) call W&B's private ``run._label`` to say which of them logged the run."""

    def define_metric(
        self,
        name: str,
        step_metric: str | Metric | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        """Accepted and recorded in the run's info (``metrics``); Quire draws no charts."""
        self._check_active()
        if not isinstance(name, str) or not name:
            raise ValidationError(f"define_metric takes a metric name (a non-empty string), not {name!r}")
        if isinstance(step_metric, Metric):
            step_metric = step_metric.name
        metric = Metric(name, step_metric, step_sync, hidden, summary, goal, overwrite)
        metrics = dict(self._record.info.get("metrics") or {})
        metrics[name] = {k: v for k, v in asdict(metric).items() if v is not None and k != "name"}
        self._record.info = self._record.info | {"metrics": metrics}
        self._changed("info")
        return metric

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
        self._before_write()
        artifact = _as_artifact(artifact_or_path, name, type, self.id)
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
        self._before_write()
        artifact = _as_artifact(artifact_or_path, name, type, self.id)
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
        self._before_write()
        artifact = _as_artifact(artifact_or_path, name, type, self.id)
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
        self._before_write()
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact.is_draft():  # a draft used as input is committed first, as W&B does
                artifact._commit(self.store, self.project, None, _listify(aliases, "aliases"), [])
        else:
            artifact = Artifact._committed(resolve(self.store, artifact_or_name, self.project, type), self.store)
        self.store.catalog.use_version(self.id, artifact._committed_record("id").id)
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


def _as_artifact(
    obj: Artifact | str | os.PathLike[str], name: str | None, type: str | None, run_id: str | None = None
) -> Artifact:
    """The draft ``log_artifact`` & co. commit: ``obj`` itself, or one made of a path.

    A path (a file, a folder, a ``file://`` or other URI, added as a reference) is named
    ``run-<run id>-<basename>`` of type ``unspecified``, as W&B names it."""
    if isinstance(obj, Artifact):
        if type is not None and type != obj.type:
            raise ValidationError(f"type={type!r} differs from the artifact's type {obj.type!r}")
        return obj
    if not isinstance(obj, str | os.PathLike):
        raise TypeError(f"log an Artifact or a path, not {obj.__class__.__name__}")
    path = os.fspath(obj)
    is_uri = "://" in path
    if not is_uri and not os.path.exists(path):
        raise ValidationError(
            f"{path!r} is not a file, a folder or a reference URI (s3://, file://, ...); give one of those"
        )
    base = os.path.basename(path.rstrip("/" if is_uri else os.sep + "/")) or "artifact"
    default = f"run-{run_id}-{base}" if run_id else base
    art = Artifact(name or check_name(default), type or "unspecified")
    if is_uri:
        art.add_reference(path)
    elif os.path.isdir(path):
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


#: how ``init`` finds each setting when its argument is not given: ``QUIRE_<NAME>``,
#: then ``WANDB_<NAME>`` (then the default)
_ENV = {
    "project": "PROJECT",
    "entity": "ENTITY",
    "mode": "MODE",
    "dir": "DIR",
    "group": "RUN_GROUP",
    "job_type": "JOB_TYPE",
    "tags": "TAGS",
    "name": "NAME",
    "notes": "NOTES",
    "id": "RUN_ID",
    "resume": "RESUME",
}
_MODES = ("online", "offline", "disabled", "shared", "dryrun", "run")
_RESUMES = ("allow", "must", "never", "auto")


def _setting(value: Any, key: str) -> Any:
    """The argument, else ``QUIRE_<NAME>``, else ``WANDB_<NAME>`` (empty: not set)."""
    if value is not None:
        return value
    name = _ENV[key]
    return os.environ.get(f"QUIRE_{name}") or os.environ.get(f"WANDB_{name}") or None


def init(
    entity: str | None = None,
    project: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    id: str | None = None,
    name: str | None = None,
    notes: str | None = None,
    tags: Iterable[str] | None = None,
    config: Any = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    allow_val_change: bool | None = None,
    group: str | None = None,
    job_type: str | None = None,
    mode: str | None = None,
    force: bool | None = None,
    reinit: Any = None,
    resume: bool | str | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    save_code: bool | None = None,
    tensorboard: bool | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    settings: Any = None,
    anonymous: Any = None,
    *,
    store: str | os.PathLike[str] | None = None,
    magic: Any = None,
) -> Run:
    """Start a run (and finish the one this process had running), with W&B's arguments.

    Each setting comes from its argument, else ``QUIRE_<NAME>``, else ``WANDB_<NAME>``,
    else its default: ``project`` (``PROJECT``, default ``uncategorized``), ``entity``
    (``ENTITY``), ``mode`` (``MODE``), ``dir`` (``DIR``), ``group`` (``RUN_GROUP``),
    ``job_type`` (``JOB_TYPE``), ``tags`` (``TAGS``, comma-separated), ``name``
    (``NAME``), ``notes`` (``NOTES``), ``id`` (``RUN_ID``), ``resume`` (``RESUME``).

    - ``mode="disabled"``: a run whose calls do nothing and write nothing, as W&B's
      (``log_artifact`` returns an object that accepts any call, ``use_artifact`` None,
      ``config`` and ``summary`` work in memory). ``online``/``offline`` change nothing.
    - ``resume`` with ``id``: ``"allow"``, ``"auto"`` or True reopen that run if it is
      recorded (running again; its config, summary and step kept, ``config`` given
      added to it), else start it; ``"must"`` reopens it or fails; ``"never"`` fails if
      it is recorded. Without ``id`` a fresh run starts (``"must"`` fails).
    - ``config``: a dict, an ``argparse.Namespace`` or an object with attributes,
      filtered by ``config_include_keys`` / ``config_exclude_keys``.
    - ``store``: Quire's own (default ``QUIRE_STORE``).

    - ``reinit``: with a run current, ``"return_previous"`` returns it (nothing new is
      made), ``"create_new"`` starts a run that does not become current; otherwise (and
      by default: W&B returns the previous run outside notebooks) the current run is
      finished first.

    ``force``, ``resume_from``, ``fork_from``, ``save_code``,
    ``tensorboard``, ``sync_tensorboard``, ``monitor_gym``, ``settings``, ``anonymous``
    and ``magic`` change nothing in Quire: those given are recorded in the run's info.

    Raises:
        ValidationError: a field is not a string, holds NUL or is longer than the
            catalog keeps, an unknown mode or resume, a run to resume that is not
            recorded (``must``) or one that is (``never``); checked before anything is
            written, the same on every store.
        ConfigError: resuming with a config value that differs, without ``allow_val_change``.
    """
    ignored = {
        "force": force,
        "reinit": reinit,  # acted on below, and recorded
        "resume_from": resume_from,
        "fork_from": fork_from,
        "save_code": save_code,
        "tensorboard": tensorboard,
        "sync_tensorboard": sync_tensorboard,
        "monitor_gym": monitor_gym,
        "settings": settings,
        "anonymous": anonymous,
        "magic": magic,
        "allow_val_change": allow_val_change,
    }
    info: dict[str, Any] = {k: _recorded(v) for k, v in ignored.items() if v is not None}
    mode = _setting(mode, "mode")
    if mode is not None and mode not in _MODES:
        raise ValidationError(f"unknown mode {mode!r}: choose one of {', '.join(_MODES)}")
    resume = _resume(_setting(resume, "resume"))
    if tags is None:  # QUIRE_TAGS / WANDB_TAGS: comma-separated
        from_env = _setting(None, "tags")
        tags = [t.strip() for t in from_env.split(",") if t.strip()] if from_env else None
    notes = _setting(notes, "notes")
    _check_tags_and_notes(tags, notes)
    entity = _setting(entity, "entity")
    if entity is not None:
        info["entity"] = check_text(entity, "entity", RUN_TEXT_LIMIT)
    if mode is not None:
        info["mode"] = mode
    if resume is not None:
        info["resume"] = resume
    given = Config()
    given.update(filtered(as_mapping(config), config_include_keys, config_exclude_keys))
    run_id = _setting(id, "id")
    if resume == "must" and run_id is None:
        raise ValidationError('resume="must" needs the id of the run to resume: init(id=..., resume="must")')
    record = _new_record(
        _setting(project, "project"),
        _setting(group, "group"),
        _setting(job_type, "job_type"),
        _setting(name, "name"),
        given._stored(),
        run_id,
    )
    record.tags, record.notes, record.info = list(tags or []), notes, info
    root = _setting(dir, "dir")
    root_dir = os.fspath(root) if root is not None else None
    previous = current_run()
    if previous is not None and reinit == "return_previous":
        return previous
    if mode == "disabled":
        run: Run = DisabledRun(None, record, root_dir)
    else:
        run = _open(record, store, run_id is not None, resume, root_dir, allow_val_change)
    if reinit == "create_new" and previous is not None:
        return run  # a run of its own: the current run stays current, as W&B's
    if previous is not None:
        previous.finish()
    CONTEXT.enter(run)
    return run


def _recorded(value: Any) -> Any:
    """An ignored argument as the run's info records it (JSON; else its repr)."""
    try:
        return to_json(value if isinstance(value, bool | int | float | str) else as_mapping(value), "a setting")
    except ValidationError:
        return repr(value)


def _resume(value: Any) -> str | None:
    """``resume`` as one of ``allow``, ``must``, ``never``, ``auto`` (None: no resume)."""
    if value is None or value is False or (isinstance(value, str) and value.lower() in ("false", "0", "")):
        return None
    if value is True or (isinstance(value, str) and value.lower() in ("true", "1")):
        return "auto"
    if isinstance(value, str) and value in _RESUMES:
        return value
    raise ValidationError(f"unknown resume {value!r}: choose one of {', '.join(_RESUMES)}, True or False")


def _open(
    record: RunRecord,
    location: str | os.PathLike[str] | None,
    chosen: bool,
    resume: str | None,
    root_dir: str | None,
    allow_val_change: bool | None,
) -> Run:
    """Record the new run (or reopen the one ``resume`` names) in the store at ``location``."""
    if not chosen or resume is None:
        return _begin(record, location, chosen, root_dir)
    opened = open_store(location)
    try:
        held = opened.catalog.run(record.id)
    except ArtifactNotFoundError:
        if resume == "must":
            raise ValidationError(
                f'resume="must": no run {record.id!r} in {opened.url} to resume; give the id of a recorded '
                'run, or resume="allow" to start it'
            ) from None
        return _begin(record, location, chosen, root_dir)
    if resume == "never":
        raise ValidationError(
            f'resume="never": a run {record.id!r} exists already in {opened.url}; give another id, or '
            'resume="allow" to reopen it'
        )
    config = Config(from_json(held.config))
    config.update(from_json(record.config), allow_val_change=allow_val_change)  # ConfigError: nothing written
    changes: dict[str, Any] = {"state": "running", "config": config._stored()}
    changes["info"] = held.info | record.info | {"resumed": held.info.get("resumed", 0) + 1}
    if record.tags:
        changes["tags"] = record.tags
    if record.notes is not None:
        changes["notes"] = record.notes
    for field_ in ("group", "job_type"):
        if getattr(record, field_) is not None:
            changes[field_] = getattr(record, field_)
    if record.name != f"run-{record.id}":  # a name given
        changes["name"] = record.name
    reopened = opened.catalog.update_run(record.id, **changes)
    return Run(opened, reopened, root_dir, resumed=True, location=location)


class _Nothing:
    """What a disabled run's ``log_artifact`` returns: any attribute and any call give it
    back, so code that goes on with the artifact (``.wait()``, ``.version``) runs."""

    def __getattr__(self, _: str) -> _Nothing:
        return self

    def __call__(self, *_: Any, **__: Any) -> _Nothing:
        return self

    def __repr__(self) -> str:
        return "<nothing: the run is disabled>"


class DisabledRun(Run):
    """The run of ``mode="disabled"``: its calls do nothing and write nothing (no store
    is opened), as W&B's; ``config`` and ``summary`` work in memory."""

    disabled = property(lambda self: True, doc="True.")

    @property
    def store(self) -> Store:
        """A throwaway store in a temporary folder (removed at ``finish``): what drafts
        made meanwhile stage their files in, so the store the run would use is untouched."""
        if self._store is None:
            self._scratch = tempfile.mkdtemp(prefix=f"quire-disabled-{self.id}-")
            self._store = open_store(self._scratch)
        return self._store

    @property
    def dir(self) -> str:
        """A temporary folder, made on first use (nothing is written where the run would)."""
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix=f"quire-run-{self.id}-")
        return self._dir

    def _flush(self, when_due: bool = False) -> None:
        self._rows, self._dirty = [], set()

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Only the summary takes ``data`` (as W&B's disabled run)."""
        self._check_active()
        self.summary.update(_checked_row(data, media=False))

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Ends it (no longer ``quire.run``); nothing is written."""
        self._finished = True
        self._record.state = "crashed" if exit_code else "finished"
        CONTEXT.leave(self)
        scratch = self.__dict__.get("_scratch")
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def log_artifact(self, *_: Any, **__: Any) -> Any:
        """Does nothing; returns an object that accepts any call."""
        return _Nothing()

    def use_artifact(self, *_: Any, **__: Any) -> None:  # type: ignore[override]
        """Does nothing; returns None, as W&B's disabled run."""
        return None

    def upsert_artifact(self, *_: Any, **__: Any) -> None:  # type: ignore[override]
        """Does nothing."""
        return None

    def finish_artifact(self, *_: Any, **__: Any) -> None:  # type: ignore[override]
        """Does nothing."""
        return None

    def _none(self, *_: Any, **__: Any) -> None:
        return None

    # W&B's disabled run makes these (and any other run call) no-ops returning None.
    log_model = use_model = link_model = link_artifact = _none  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._none


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
    project = check_name(_setting(project, "project") or DEFAULT_PROJECT, "project name")
    group = _run_field(_setting(group, "group"), "run group", "group_name")
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


def _begin(record: RunRecord, store: str | os.PathLike[str] | None, chosen: bool, root_dir: str | None = None) -> Run:
    opened = open_store(store)
    if chosen:  # recorded now, so that an id taken meanwhile fails here, not in a later write
        opened.catalog.create_run(record)
    else:  # a fresh id: recorded with the run's first write (one transaction fewer)
        opened.catalog.defer_run(record)
    return Run(opened, record, root_dir, location=store)


# -- the run surface at module level (``wandb.log``, ``wandb.config``, ...) ------------------


def _checked_step(step: object) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise ValidationError(f"step must be an integer, not {step!r}")
    value = operator.index(step)  # numpy integers too
    if value < 0:
        raise ValidationError(f"step must not be negative, not {value}")
    return value


def _checked_row(data: object, media: bool = True) -> dict[str, Any]:
    """What ``log`` records of ``data``: JSON values (checked, so nothing of a bad
    ``data`` is recorded) and media objects as they are (logged with their step)."""
    if not isinstance(data, Mapping):
        raise TypeError(f"log must be passed a dictionary, not {type(data).__name__}")
    row: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"the keys passed to log must be strings, not {key!r}")
        if key.startswith("_"):
            raise ValidationError(f"log key {key!r}: keys starting with '_' are the run's own (_step, _runtime)")
        if media and _is_media(value):
            row[key] = value
        elif not media and _is_media(value):
            continue
        else:
            row[key] = from_json(to_json(value, f"log key {key!r}"))
    return row


def _is_media(value: object) -> bool:
    """Whether ``value`` is a media object ``artifact.add`` takes (Table, Image, ...)."""
    if value is None or isinstance(value, bool | int | float | str | list | tuple | dict | set):
        return False
    from .media import kinds  # the media registry: imported only for values that may be media

    return isinstance(value, tuple(kinds()))


def _artifact_name(text: str) -> str:
    """``text`` with what artifact names cannot hold made ``_`` (as W&B makes it)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text)[:128]


def _entry_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/ ]", "_", key).strip("/") or "media"


def _current(call: str) -> Run:
    run = current_run()
    if run is None:
        raise ValidationError(f"call quire.init() before quire.{call}")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``run.log`` of the current run (``ValidationError`` if there is none, as W&B's)."""
    _current("log()").log(data, step=step, commit=commit)


def define_metric(name: str, **kwargs: Any) -> Metric:
    """``run.define_metric`` of the current run."""
    return _current("define_metric()").define_metric(name, **kwargs)


def login(
    anonymous: str | None = None,
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    force: bool | None = None,
    timeout: int | None = None,
    verify: bool = False,
    referrer: str | None = None,
) -> bool:
    """Save ``key`` as the API key for the Quire server at ``host`` (``http(s)://…``),
    for a store there (``QUIRE_STORE=host``) to send; True.

    Without ``key``, asks for it with hidden input when stdin is a terminal. Without
    ``host``, nothing is saved: a store opened directly needs no login (``anonymous``,
    ``relogin``, ``force``, ``timeout`` and ``referrer`` are accepted as W&B's are).
    ``verify=True`` is refused: the key would be saved without the check it asks for.
    """
    if host is None:
        return True
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise ValidationError(f"invalid server {host!r:.80}: give its URL, http://… or https://…")
    if verify:
        raise UsageError(
            f"login(verify=True) cannot check a key with {host} yet; log in without verify "
            "(the server refuses a wrong key on the first call)"
        )
    if key is None:
        key = _ask_key(host)
    key = key.strip() if isinstance(key, str) else key
    if not isinstance(key, str) or not key or any(c.isspace() for c in key):
        raise ValidationError(f"invalid API key for {host}: a key is one word, as `quire server key create` printed it")
    from .credentials import save_key

    save_key(host, key)
    return True


def _ask_key(host: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            f"no API key given for {host}, and stdin is not a terminal to ask for one: "
            "pass it (quire.login(key=..., host=...), or quire login URL --key KEY)"
        )
    import getpass

    return getpass.getpass(f"API key for {host} (hidden): ")


class PreInit:
    """``quire.config`` / ``quire.summary`` before ``init``: any use says to call it first."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise ValidationError(f"call quire.init() before using quire.{self._name}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._fail()

    __getitem__ = __setitem__ = __setattr__ = __contains__ = __iter__ = _fail

    def __repr__(self) -> str:
        return f"<quire.{self._name} before quire.init()>"


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
