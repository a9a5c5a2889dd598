"""``PublicRun``: a recorded run as read back (``artifact.logged_by()``, ``Api().run()``),
and the Api's run verbs (``Api().run(path)``, ``Api().runs(path, filters, order)``).

Edits of a public run (``config``, ``summary``, ``tags``, ``notes``, ``name``, ``group``,
``job_type``) stay in memory until ``update()`` writes them, in one ``update_run``, as W&B's.
"""

from __future__ import annotations

import getpass
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..core.names import DEFAULT_PROJECT, check_name, parse_address
from ..errors import ArtifactNotFoundError, MissingExtraError, ValidationError
from ..store import Store
from ..store.catalog import ANY_LATEST, HistoryRow, NewVersion, RunRecord, VersionCommit, new_commit_id
from . import compat
from .artifact import Artifact
from .config import Summary, from_json, to_json
from .views import VIEWS

if TYPE_CHECKING:
    import pandas as pd

#: W&B's default page of ``scan_history``
_PAGE = 1000


class PublicRun:
    """A recorded run, as read back (``artifact.logged_by()``, ``Api().run()``).

    ``Artifact`` returns it too (lineage): it imports this module when first asked.
    """

    def __init__(self, record: RunRecord, store: Store) -> None:
        self._record, self._store = record, store
        self._load(record)

    def _load(self, record: RunRecord) -> None:
        self._record = record
        self.config: dict[str, Any] = from_json(record.config)
        self.summary = Summary(from_json(record.summary))
        self.tags: list[str] = list(record.tags)
        self.notes: str | None = record.notes
        self.name: str | None = record.name
        self.group: str | None = record.group
        self.job_type: str | None = record.job_type

    id = property(lambda self: self._record.id)
    project = property(lambda self: self._record.project)
    state = property(lambda self: self._record.state)
    created_at = property(lambda self: self._record.created_at)
    display_name = property(lambda self: self.name)
    entity = property(lambda self: entity_of(self._record), doc="The entity given at init, else the user's name.")
    url = property(lambda self: None, doc="None: Quire has no web app.")

    @property
    def path(self) -> list[str]:
        """``[entity, project, id]``, as W&B's public run gives it."""
        return [self.entity, self.project, self.id]

    # -- history --------------------------------------------------------------------------

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = _PAGE,
        min_step: int = 0,
        max_step: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Every history row with ``min_step <= _step < max_step``, read ``page_size``
        steps at a time; with ``keys``, only rows holding all of them, and only those keys."""
        keys = _keys(keys)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValidationError(f"page_size must be a positive integer, not {page_size!r}")
        stop = self._end() if max_step is None else max_step
        return self._scan(keys, page_size, min_step, stop)

    def _scan(self, keys: list[str] | None, page_size: int, start: int, stop: int) -> Iterator[dict[str, Any]]:
        while start < stop:
            page = self._store.catalog.history(self.id, start, min(start + page_size, stop))
            for row in page:
                got = _row(row)
                if keys is None:
                    yield got
                elif all(k in got for k in keys):
                    yield {k: got[k] for k in keys}
            start += page_size

    def _end(self) -> int:
        """One past the last step logged (the summary keeps it), 0 if none was."""
        fresh = self._store.catalog.run(self.id).summary.get("_step")
        return fresh + 1 if isinstance(fresh, int) else 0

    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> pd.DataFrame | list[dict[str, Any]]:
        """At most ``samples`` history rows, evenly spread over the run (all of them when
        fewer), as a pandas DataFrame (``pandas=False``: a list of dicts). With ``keys``:
        rows holding all of them, with those keys and ``x_axis``."""
        keys = _keys(keys)
        if stream != "default":
            raise ValidationError(f"stream={stream!r}: Quire records no system metrics; use stream='default'")
        if samples < 1:
            raise ValidationError(f"samples must be at least 1, not {samples}")
        wanted = None if keys is None else list(dict.fromkeys([x_axis, *keys]))
        rows = [r for r in self.scan_history() if wanted is None or all(k in r for k in keys or [])]
        if wanted is not None:
            rows = [{k: r[k] for k in wanted if k in r} for r in rows]
        if len(rows) > samples:
            rows = (
                [rows[round(i * (len(rows) - 1) / (samples - 1))] for i in range(samples)] if samples > 1 else rows[:1]
            )
        if not pandas:
            return rows
        try:
            import pandas as pd
        except ImportError:  # an extra: said clearly, pandas=False needs none
            raise MissingExtraError("reading a run's history as a DataFrame", "pandas") from None
        return pd.DataFrame(rows)

    # -- lineage ----------------------------------------------------------------------------

    def logged_artifacts(self) -> list[Artifact]:
        """The versions this run made."""
        return [Artifact._committed(v, self._store) for v in self._store.catalog.versions_of(self.id, "output")]

    def used_artifacts(self) -> list[Artifact]:
        """The versions this run used."""
        return [Artifact._committed(v, self._store) for v in self._store.catalog.versions_of(self.id, "input")]

    def use_artifact(self, artifact: Artifact | str, use_as: str | None = None) -> Artifact:
        """Record that this run used a logged version (an input edge); returns it."""
        if isinstance(artifact, str):
            addr = parse_address(artifact, self.project)
            artifact = Artifact._committed(
                self._store.catalog.version(addr.project, addr.name, addr.version), self._store
            )
        record = _logged(artifact, "use_artifact")
        self._store.catalog.use_version(self.id, record.id)
        return artifact

    def log_artifact(
        self, artifact: Artifact, aliases: Iterable[str] | None = None, tags: Iterable[str] | None = None
    ) -> Artifact:
        """Record that this run made a logged version of its project (an output edge),
        giving it ``aliases`` and ``tags``; returns it. A draft is refused, as W&B's."""
        record = _logged(artifact, "log_artifact")
        if record.project != self.project:
            raise ValidationError(
                f"{artifact.name} is in project {record.project!r}; run {self.id} of project {self.project!r} "
                "cannot log an artifact of another project"
            )
        aliases = _strings(aliases, "aliases")
        tags = _strings(tags, "tags")
        # A commit of the version's own digest makes no version: it gives that one the
        # aliases, tags and this run's output edge, in one transaction.
        again = NewVersion(record.digest, record.root, record.size, record.file_count, record.metadata)
        catalog = self._store.catalog
        catalog.commit(
            VersionCommit(
                record.project,
                record.collection,
                record.type,
                again,
                new_commit_id(),
                catalog.gc_epoch(),
                ANY_LATEST,
                aliases,
                tags,
                [self.id],
            )
        )
        return Artifact._committed(catalog.version_by_id(record.id), self._store)

    # -- editing ----------------------------------------------------------------------------

    def update(self) -> None:
        """Write the edits of ``config``, ``summary``, ``tags``, ``notes``, ``name``,
        ``group`` and ``job_type`` (one catalog write)."""
        if not isinstance(self.tags, list | tuple) or not all(isinstance(t, str) for t in self.tags):
            raise ValidationError(f"run tags must be a list of strings, not {self.tags!r:.80}")
        updated = self._store.catalog.update_run(
            self.id,
            name=self.name,
            group=self.group,
            job_type=self.job_type,
            config=to_json(dict(self.config), "config"),
            summary=self.summary._stored(),
            tags=list(self.tags),
            notes=self.notes,
        )
        self._load(updated)

    def load(self, force: bool = False) -> None:
        """Read the run again (edits not written are dropped)."""
        self._load(self._store.catalog.run(self.id))

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} ({self.state})>"


def entity_of(record: RunRecord) -> str:
    """The run's entity: the one ``init`` was given (recorded in its info), else the
    user's name, as W&B defaults to; Quire keeps it but has no use for it."""
    given = record.info.get("entity")
    if isinstance(given, str) and given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without a passwd entry)
        return "quire"


def _row(row: HistoryRow) -> dict[str, Any]:
    got: dict[str, Any] = from_json(row.data)
    got["_step"] = row.step
    return got


def _keys(keys: object) -> list[str] | None:
    if keys is None:
        return None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValidationError(f"keys must be a list of strings, not {keys!r:.80}")
    return keys


def _strings(values: Iterable[str] | str | None, what: str) -> list[str]:
    if values is None:
        return []
    got = [values] if isinstance(values, str) else list(values)
    if not all(isinstance(v, str) for v in got):
        raise ValidationError(f"{what} must be strings, not {got!r:.80}")
    return got


def _logged(artifact: object, call: str) -> Any:
    if not isinstance(artifact, Artifact):
        raise TypeError(f"{call} takes an Artifact (from Api().artifact(name)), not {type(artifact).__name__}")
    if artifact.is_draft():
        raise ValidationError(
            f"{call} of a public run takes a logged artifact; {artifact.name!r} is a draft: log it with "
            "run.log_artifact (or quire artifact put) first"
        )
    return artifact._committed_record(call)


VIEWS.public_run = PublicRun


# -- Api().run / Api().runs -------------------------------------------------------------------

#: the operators of ``Api().runs(filters=)`` (MongoDB's, as W&B's filters use them)
_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
    "$in": lambda a, b: bool(set(a) & set(b)) if isinstance(a, list) else a in b,
    "$nin": lambda a, b: not set(a) & set(b) if isinstance(a, list) else a not in b,
    "$exists": lambda a, b: (a is not None) == bool(b),
}
_MISSING = object()


def _field_of(run: PublicRun, name: str) -> Any:
    """The value ``name`` means in filters and orders: ``state``, ``tags``, ``name`` /
    ``display_name``, ``group``, ``job_type``, ``created_at``, ``config.<key>``,
    ``summary_metrics.<key>`` (or ``summary.<key>``)."""
    head, _, rest = name.partition(".")
    if head == "config" and rest:
        source: Any = run.config
    elif head in ("summary_metrics", "summary") and rest:
        source = dict(run.summary)
    elif name in ("state", "tags", "group", "job_type", "created_at", "notes", "id"):
        return getattr(run, name)
    elif name in ("name", "display_name", "displayName"):
        return run.name
    else:
        raise ValidationError(
            f"Api().runs cannot filter or order by {name!r}: use state, tags, name, group, job_type, "
            "created_at, config.<key> or summary_metrics.<key> (see docs/compatibility.md)"
        )
    for part in rest.split("."):
        source = source.get(part, _MISSING) if isinstance(source, dict) else _MISSING
        if isinstance(source, dict) and set(source) == {"value"}:  # W&B's {"value": ...} config form
            source = source["value"]
    return None if source is _MISSING else source


def _matches(run: PublicRun, filters: dict[str, Any]) -> bool:
    for key, want in filters.items():
        if key in ("$and", "$or"):
            if not isinstance(want, list):
                raise ValidationError(f"{key} takes a list of filters, not {want!r:.80}")
            results = (_matches(run, f) for f in want)
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        if key == "$not":
            if _matches(run, want):
                return False
            continue
        have = _field_of(run, key)
        conditions = want if isinstance(want, dict) and want and all(k.startswith("$") for k in want) else {"$eq": want}
        for op, operand in conditions.items():
            if op not in _OPS:
                raise ValidationError(f"unknown filter operator {op!r}: use one of {', '.join(_OPS)}")
            if op == "$eq" and key == "tags" and isinstance(have, list) and not isinstance(operand, list):
                op, operand = "$in", [operand]  # {"tags": "x"}: runs tagged x
            try:
                if not _OPS[op](have, operand):
                    return False
            except TypeError:  # comparing a number to a string: no match, as a query gives
                return False
    return True


def _order_key(run: PublicRun, name: str) -> tuple[int, Any]:
    value = _field_of(run, name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0)  # runs without the value last
    return (0, value)


class RunApi:
    """The run verbs of ``Api`` (mixed into :class:`quire.sdk.api.Api`, which provides ``store``)."""

    store: Store
    settings: dict[str, Any]  #: ``project``: the one used when a path names none

    def run(self, path: str) -> PublicRun:
        """A run, by ``id``, ``project/id``, ``entity/project/id`` or
        ``entity/project/runs/id`` (the entity is ignored)."""
        if not isinstance(path, str) or not path.strip("/"):
            raise ValidationError(f"Api().run takes a path like entity/project/run_id, not {path!r}")
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[2] == "runs":
            parts = parts[:2] + parts[3:]
        if len(parts) > 3:
            raise ValidationError(f"Api().run takes [entity/][project/]run_id, not {path!r}")
        run_id, project = parts[-1], parts[-2] if len(parts) >= 2 else None
        record = self.store.catalog.run(run_id)
        if project is not None and project != record.project:
            raise ArtifactNotFoundError(f"no run {run_id!r} in project {project!r} (it is in {record.project!r})")
        return PublicRun(record, self.store)

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> list[PublicRun]:
        """A project's runs (``path``: ``project`` or ``entity/project``; default the Api's
        project), those ``filters`` match, in ``order`` (``+``/``-`` and a field).

        Filters, as W&B's MongoDB-style queries, on ``state``, ``tags``, ``name`` /
        ``display_name``, ``group``, ``job_type``, ``created_at``, ``config.<key>`` and
        ``summary_metrics.<key>``: a value (equal; for ``tags``: tagged so), or a dict of
        ``$eq $ne $gt $gte $lt $lte $in $nin $exists``; ``$and``/``$or`` of lists, ``$not``.
        Anything else is a ``ValidationError`` that says what is supported.
        """
        project = path.strip("/").split("/")[-1] if path else self.settings["project"]
        project = check_name(project or DEFAULT_PROJECT, "project name")
        if filters is not None and not isinstance(filters, dict):
            raise ValidationError(f"filters must be a dict, not {type(filters).__name__}")
        if not isinstance(order, str) or not order.lstrip("+-"):
            raise ValidationError(f"order must be a field with + or - before it, like '-created_at', not {order!r}")
        runs = [PublicRun(r, self.store) for r in self.store.catalog.project_runs(project)]
        if filters:
            runs = [r for r in runs if _matches(r, filters)]
        field_ = order.lstrip("+-")
        present = [r for r in runs if _order_key(r, field_)[0] == 0]
        absent = [r for r in runs if _order_key(r, field_)[0] == 1]
        try:
            present.sort(key=lambda r: _order_key(r, field_)[1], reverse=order.startswith("-"))
        except TypeError:
            raise ValidationError(
                f"runs hold values of different types under {field_!r}; they cannot be ordered"
            ) from None
        return present + absent
