"""The catalog's verbs as a server's API offers them, for the server and its client: the
scope each needs, how the project it reaches is found, and the shape of its arguments.

One table, :data:`VERBS`, is the whole of the catalog's API: a verb not in it does not
exist on the server (``close`` and ``defer_run`` are the client's own). Arguments are
bound to the :class:`~quire.store.catalog.Catalog` protocol's own signature and checked
against its annotations before the catalog sees them, so a malformed call is a 400 that
changed nothing, never a 500 from deep in a transaction.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ArtifactNotFoundError, ValidationError
from . import catalog as c
from .catalog import Catalog
from .keys import Scope

#: how the project a call reaches is found:
#: ``arg:<name>``, the argument ``name``; ``record:<name>``, the ``project`` of the record
#: argument ``name``; ``version:<name>`` / ``run:<name>`` / ``pending:<name>``, the project
#: of the version / run / pending version whose id is the argument ``name``; ``any``, a
#: call about the store as a whole that any key with the scope may make (the gc fence's
#: state, the clock, a writer's lease); ``store``, one only a key for every project may make
Reach = str


@dataclass(frozen=True)
class Verb:
    """One catalog method as the server offers it."""

    scope: Scope
    reach: tuple[Reach, ...]  #: every project the call reaches (each checked)
    records_runs: bool = False  #: a catalog change: the client's deferred runs go with it


def _v(scope: Scope, *reach: Reach, runs: bool | None = None) -> Verb:
    return Verb(scope, reach, records_runs=scope != "read" if runs is None else runs)


VERBS: dict[str, Verb] = {
    # projects and collections
    "projects": _v("read", "any"),  # filtered to the key's project (see catalog_api)
    "project": _v("read", "arg:name"),
    "create_project": _v("write", "arg:name"),
    "update_project": _v("write", "arg:name"),
    "delete_project": _v("admin", "arg:name"),
    "collections": _v("read", "arg:project"),
    "count_collections": _v("read", "arg:project"),
    "collection_type": _v("read", "arg:project"),
    "collection": _v("read", "arg:project"),
    "update_collection": _v("write", "arg:project"),
    "delete_collection": _v("write", "arg:project"),
    # versions
    "commit": _v("write", "record:request"),
    "version": _v("read", "arg:project"),
    "version_by_id": _v("read", "version:vid"),
    "version_exists": _v("read", "version:vid"),
    "versions": _v("read", "arg:project"),
    "count_versions": _v("read", "arg:project"),
    "update_version": _v("write", "version:vid"),
    "delete_version": _v("write", "version:vid"),
    "link": _v("write", "version:source_id", "arg:project"),
    "links_to": _v("read", "version:source_id"),
    "expired_versions": _v("admin", "store"),
    "roots": _v("admin", "store"),
    # runs and lineage
    "create_run": _v("write", "record:run"),
    "finish_run": _v("write", "run:run_id"),
    "run": _v("read", "run:run_id"),
    "project_runs": _v("read", "arg:project"),
    "update_run": _v("write", "run:run_id"),
    "log_history": _v("write", "run:run_id"),
    "history": _v("read", "run:run_id"),
    "use_version": _v("write", "run:run_id", "version:vid"),
    "runs_of": _v("read", "version:vid"),
    "versions_of": _v("read", "run:run_id"),
    # pending versions
    "check_pending": _v("read", "arg:project"),
    "add_contribution": _v("write", "arg:project"),
    "finish": _v("write", "record:request"),
    "abort_pending": _v("admin", "pending:pending_id"),
    "pending": _v("read", "pending:pending_id"),
    "find_pending": _v("read", "arg:project"),
    "pending_versions": _v("read", "arg:project"),  # None: the key's project, if limited
    "resolve_pending": _v("read", "arg:project"),  # the found one's project is checked too
    "contributions": _v("read", "pending:pending_id"),
    # the gc fence and leases
    "gc_epoch": _v("read", "any"),
    "sweep": _v("read", "any"),
    "begin_sweep": _v("admin", "store", runs=False),
    "renew_sweep": _v("admin", "store", runs=False),
    "end_sweep": _v("admin", "store", runs=False),
    "open_lease": _v("write", "any", runs=False),
    "renew_lease": _v("write", "any", runs=False),
    "drop_lease": _v("write", "any", runs=False),
    "live_leases": _v("admin", "store"),
    "clock": _v("read", "any"),
}


@functools.cache
def signature(verb: str) -> inspect.Signature:
    """The protocol's signature of ``verb``, ``self`` dropped."""
    sig = inspect.signature(getattr(Catalog, verb))
    return sig.replace(parameters=list(sig.parameters.values())[1:])


@functools.cache
def _hints(verb: str) -> dict[str, Any]:
    return typing.get_type_hints(getattr(Catalog, verb), vars(c))


def bind(verb: str, args: list[Any], kwargs: dict[str, Any]) -> inspect.BoundArguments:
    """``args`` and ``kwargs`` bound to ``verb``'s parameters, defaults applied and each
    checked against its annotation; ``ValidationError`` naming the first that is wrong."""
    try:
        bound = signature(verb).bind(*args, **kwargs)
    except TypeError as exc:
        raise ValidationError(f"catalog verb {verb!r}: {exc}") from None
    bound.apply_defaults()
    hints = _hints(verb)
    for name, value in bound.arguments.items():
        problem = check(value, hints.get(name, Any))
        if problem:
            raise ValidationError(f"catalog verb {verb!r}, argument {name!r}: {problem}")
    return bound


def check(value: Any, hint: Any) -> str | None:
    """What is wrong with ``value`` as a ``hint`` (None: nothing). Records are checked
    field by field; the types the catalog's annotations use are understood, anything else
    is let through to the catalog's own checks."""
    origin, params = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return None
    if hint is None or hint is type(None):
        return None if value is None else f"{value!r:.60} is not None"
    if origin in (typing.Union, types.UnionType):
        problems = [check(value, p) for p in params]
        return None if None in problems else " or ".join(p for p in problems if p)
    if origin is Literal:
        return None if value in params else f"{value!r:.60} is not one of {', '.join(map(repr, params))}"
    if origin is list or hint is list:
        # the items are the catalog's to check (it says what a tag or an alias may be)
        return None if isinstance(value, list) else f"a {type(value).__name__} is not a list"
    if origin is tuple or hint is tuple:
        return None if isinstance(value, tuple) else f"a {type(value).__name__} is not a tuple"
    if origin is dict or hint is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return f"a {type(value).__name__} is not an object with text keys"
        return None
    if hint is bool:
        return None if isinstance(value, bool) else f"{value!r:.60} is not true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{value!r:.60} is not an integer"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"{value!r:.60} is not a number"
    if hint is str:
        return None if isinstance(value, str) else f"{value!r:.60} is not text"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if type(value) is not hint:
            return f"a {type(value).__name__} is not a {hint.__name__}"
        fields = typing.get_type_hints(hint, vars(c))
        for f in dataclasses.fields(hint):
            if problem := check(getattr(value, f.name), fields[f.name]):
                return f"{hint.__name__}.{f.name}: {problem}"
        return None
    return None


def projects_reached(catalog: Catalog, reach: Reach, arguments: dict[str, Any]) -> tuple[str | None, bool]:
    """``(project, known)`` the ``reach`` of a call finds: ``known`` False for a call that
    names none (``any``, ``store``, or an optional project left out)."""
    how, _, name = reach.partition(":")
    if how in ("any", "store"):
        return None, False
    value: Any = arguments.get(name)
    if how == "arg":
        return (value, True) if isinstance(value, str) else (None, False)
    if how == "record":
        return str(value.project), True
    lookups: dict[str, Callable[[str], Any]] = {
        "version": catalog.version_by_id,
        "run": catalog.run,
        "pending": catalog.pending,
    }
    try:
        return str(lookups[how](str(value)).project), True
    except ArtifactNotFoundError:
        # Not found is the verb's own answer to give (no project's secret is told).
        return None, True
