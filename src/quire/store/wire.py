"""The wire format of the server's HTTP API, shared by the server and its client backend.

Values cross as JSON. The catalog's plain records (the dataclasses of
:mod:`quire.store.catalog`, and :class:`~quire.store.objects.ObjectInfo`) are tagged with
their class name, so the client gets back the very records a local catalog returns;
tuples, sets, bytes and the floats JSON lacks (NaN, infinities) are tagged too, a value
JSON cannot hold at all crosses as its kind (:class:`Opaque`, which the catalog behind
refuses as it would the value), and a dict whose keys would look like a tag is wrapped.
Only the classes in :data:`RECORDS` are ever built from a message: a record name outside
it is refused, never looked up.

Errors cross as ``{"error": {"type", "message", "attrs"}}``: ``type`` is the name of a
class of :mod:`quire.errors`, rebuilt on the client with its attributes, so a caller's
``except MovedOnError`` works the same through a server as on the store behind it.
:func:`status_of` is the one map from an error class to its HTTP status.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from typing import Any

from .. import errors
from . import catalog as _catalog
from .objects import ObjectInfo

API = "/api/v1"  #: the prefix of every versioned route

#: the record classes a message may name, by class name
RECORDS: dict[str, type] = {
    name: cls
    for name, cls in vars(_catalog).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == _catalog.__name__
}
RECORDS[ObjectInfo.__name__] = ObjectInfo

_TAGS = ("$r", "$t", "$s", "$b", "$d", "$f", "$x")


class WireError(errors.ValidationError):
    """A message that is not valid Quire wire JSON (an unknown record, a bad tag)."""


def encode(value: Any) -> Any:
    """``value`` as JSON-able data (records, tuples, sets and bytes tagged)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"$f": repr(value)}  # JSON has no NaN or infinity; a run's summary may
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if RECORDS.get(name) is not type(value):
            raise TypeError(f"{name} is not a record the wire carries")
        return {"$r": name, "f": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [encode(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"$s": sorted((encode(v) for v in value), key=repr)}
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only dicts with str keys cross the wire")
        body = {k: encode(v) for k, v in value.items()}
        return {"$d": body} if any(k in _TAGS for k in value) else body
    # Not JSON: sent as what it is, so the catalog behind refuses it with the very error a
    # local catalog gives (it checks the values it stores; see Opaque)
    return {"$x": type(value).__name__}


class Opaque:
    """A value that could not cross the wire (an ``object()`` in a run's summary, say),
    standing for it on the server: no catalog stores it, each refuses it as it would the
    value itself."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<a {self.kind} that JSON cannot hold>"


def decode(data: Any) -> Any:
    """The value :func:`encode` made ``data`` from; ``WireError`` for anything else."""
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise WireError(f"a {type(data).__name__} is not wire data")
    tags = [k for k in _TAGS if k in data]
    if not tags:
        return {k: decode(v) for k, v in data.items()}
    tag = tags[0]
    try:
        if tag == "$r":
            cls = RECORDS.get(data["$r"]) if isinstance(data["$r"], str) else None
            fields = data.get("f")
            if cls is None or not isinstance(fields, dict):
                raise WireError(f"{data['$r']!r} is not a record the wire carries")
            return cls(**{k: decode(v) for k, v in fields.items()})
        if tag == "$t":
            return tuple(decode(v) for v in data["$t"])
        if tag == "$s":
            return {decode(v) for v in data["$s"]}
        if tag == "$b":
            return base64.b64decode(data["$b"], validate=True)
        if tag == "$x":
            return Opaque(str(data["$x"])[:60])
        if tag == "$f":
            if data["$f"] not in ("nan", "inf", "-inf"):
                raise WireError(f"{data['$f']!r:.40} is not a number the wire tags")
            return float(data["$f"])
        return {k: decode(v) for k, v in data["$d"].items()}
    except WireError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise WireError(f"bad wire data for {tag}: {exc}") from None


# -- errors -------------------------------------------------------------------------------

#: the error classes a message may name, by class name
ERRORS: dict[str, type[errors.QuireError]] = {
    name: cls for name, cls in vars(errors).items() if isinstance(cls, type) and issubclass(cls, errors.QuireError)
}

#: HTTP status by error class: the first entry the error is an instance of wins
_STATUS: list[tuple[type[BaseException], int]] = [
    (errors.PermissionDeniedError, 403),  # before its base class, AuthenticationError
    (errors.AuthenticationError, 401),
    (errors.ObjectNotFoundError, 404),
    (errors.ArtifactNotFoundError, 404),
    (errors.MovedOnError, 409),
    (errors.ConcurrentGCError, 409),
    (errors.ConflictError, 409),
    (errors.PendingVersionError, 409),
    (errors.CollectionTypeError, 409),
    (errors.ArtifactStatusError, 409),
    (errors.TooLargeError, 413),
    (errors.UsageError, 400),
    (errors.UnreachableError, 503),
    (errors.CommitOutcomeUnknownError, 503),
    (errors.StoreError, 500),
]


def status_of(exc: BaseException) -> int:
    """The HTTP status a server answers ``exc`` with."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: errors.QuireError) -> dict[str, Any]:
    """``exc`` as the JSON body of an error answer: its class, message and plain attributes."""
    attrs: dict[str, Any] = {}
    for name, value in vars(exc).items():
        if name in ("message", "context", "exc", "obj") or name.startswith("_"):
            continue
        try:
            attrs[name] = encode(value)
        except TypeError:
            continue  # an attribute the wire cannot carry stays on the server
    return {"error": {"type": type(exc).__name__, "message": str(exc), "attrs": attrs}}


def error_from(body: Any, status: int) -> errors.QuireError:
    """The error a server's answer ``body`` (with HTTP ``status``) describes, rebuilt as its
    class of :mod:`quire.errors` (a ``CommError`` when the body names none)."""
    info = body.get("error") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        return errors.CommError(f"the server answered HTTP {status} without a Quire error body")
    message = str(info.get("message", ""))
    cls = ERRORS.get(str(info.get("type")), errors.CommError)
    exc = cls.__new__(cls)
    errors.QuireError.__init__(exc, message)
    attrs = info.get("attrs")
    if isinstance(attrs, dict):
        for name, value in attrs.items():
            try:
                setattr(exc, str(name), decode(value))
            except (WireError, AttributeError):
                continue
    return exc
