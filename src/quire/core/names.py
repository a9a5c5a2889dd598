"""Rules for names, aliases, tags, entry paths and artifact addresses.

Every check raises :class:`~quire.errors.ValidationError` naming the rule, before anything
is written.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..errors import ValidationError

DEFAULT_PROJECT = "uncategorized"
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_INDEX = re.compile(r"v(\d+)")
_TAG = re.compile(r"[-\w]+( +[-\w]+)*")
#: what separates an address's parts, so an alias cannot hold it (W&B's rule)
_ALIAS_SEPARATORS = re.compile(r"[/:]")
#: the catalog's alias and tag columns are this wide (W&B sets no limit of its own here)
MAX_ALIAS = MAX_TAG = 128
#: W&B's limit on an artifact's metadata: top-level keys
MAX_METADATA_KEYS = 100
_RUN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: how deep metadata may nest: deeper trees hit Python's recursion limit somewhere between
#: here and the catalog, depending on the stack of the call (a limit is the same everywhere)
MAX_METADATA_DEPTH = 100


def check_name(value: object, what: str = "artifact name") -> str:
    """Return ``value`` if it is a valid name: 1–128 of ``A-Z a-z 0-9 _ . -``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in {".", ".."}:
        raise ValidationError(f"invalid {what} {value!r}: use 1 to 128 letters, digits, '_', '.' or '-'")
    return value


def check_alias(value: object) -> str:
    """Return ``value`` if it is a valid alias, by W&B's rule: any text but ``/`` and ``:``
    (they separate an address's parts), so spaces are allowed; not a version index
    (``vN``), not empty, without NUL, and at most :data:`MAX_ALIAS` characters (the
    catalog's column)."""
    if not isinstance(value, str):
        raise ValidationError(f"invalid alias {value!r:.80}: an alias is a string, not {type(value).__name__}")
    if not value or "\x00" in value or len(value) > MAX_ALIAS or _ALIAS_SEPARATORS.search(value):
        raise ValidationError(
            f"invalid alias {value!r:.80}: use 1 to {MAX_ALIAS} characters other than '/', ':' and NUL"
        )
    if _INDEX.fullmatch(value):
        raise ValidationError(f"invalid alias {value!r}: 'vN' is a version index, not an alias")
    return value


def check_tag(value: object) -> str:
    """Return ``value`` if it is a valid tag, by W&B's rule: words of letters, digits,
    ``_`` and ``-`` with spaces between them, at most :data:`MAX_TAG` characters."""
    if not isinstance(value, str) or len(value) > MAX_TAG or not _TAG.fullmatch(value):
        raise ValidationError(
            f"invalid tag {value!r:.80}: use words of letters, digits, '_' and '-' with spaces "
            f"between them, at most {MAX_TAG} characters"
        )
    return value


def check_aliases(values: object) -> list[str]:
    """The aliases to set, checked: a string is one alias (as W&B takes it), ``latest``
    passes (the commit places it); a repeat is dropped with a warning (W&B drops it silently)."""
    return _unique([v if v == "latest" else check_alias(v) for v in _as_list(values, "aliases")], "alias")


def check_tags(values: object) -> list[str]:
    """The tags to set, checked, in order; a repeat is dropped with a warning (W&B drops it
    silently)."""
    return _unique([check_tag(v) for v in _as_list(values, "tags")], "tag")


def _as_list(values: object, what: str) -> list[object]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    if not isinstance(values, Iterable) or isinstance(values, bytes | dict):
        raise ValidationError(f"{what} must be a string or a list of strings, not {type(values).__name__}")
    return list(values)


def _unique(values: list[str], what: str) -> list[str]:
    unique = list(dict.fromkeys(values))
    if len(unique) < len(values):
        repeated = sorted({v for v in values if values.count(v) > 1})
        warnings.warn(f"{what} {', '.join(map(repr, repeated))} given more than once: kept once", stacklevel=3)
    return unique


def check_text(value: object, what: str, max_length: int | None = None) -> str:
    """Return ``value`` if it is text a catalog column can hold: a string without NUL
    (PostgreSQL refuses it, SQLite would keep it: refused on both), at most ``max_length``
    characters (the column's width; SQLite does not enforce it)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__} ({value!r:.80})")
    if "\x00" in value:
        raise ValidationError(f"{what} {value!r:.80} holds a NUL character; remove it")
    if max_length is not None and len(value) > max_length:
        raise ValidationError(
            f"{what} is {len(value)} characters long ({value[:40]!r}...); the catalog holds at most {max_length}"
        )
    return value


def check_run_id(value: object) -> str:
    """Return ``value`` if it is a valid run id: 1–64 of ``A-Z a-z 0-9 _ . -``."""
    if not isinstance(value, str) or not _RUN_ID.fullmatch(value):
        raise ValidationError(f"invalid run id {value!r:.80}: use 1 to 64 letters, digits, '_', '.' or '-'")
    return value


_PLAIN_PATH = re.compile(r"(?!\.{1,2}(?:/|$))[^/\\\x00:]+(?:/(?!\.{1,2}(?:/|$))[^/\\\x00]+)*")


#: what a file system holds: bytes in one part of a path (NAME_MAX), in a whole path
#: (PATH_MAX, less its NUL); and parts (folders are made one per level)
MAX_PATH_PART, MAX_PATH, MAX_PATH_DEPTH = 255, 4095, 255


def check_path(value: object) -> str:
    """Return the normalised logical path of an entry (posix, relative, inside the
    artifact, short enough for a file system to hold)."""
    if isinstance(value, str) and len(value) <= MAX_PATH_PART and value.isascii() and _PLAIN_PATH.fullmatch(value):
        return value  # already normal and short: the common case, checked in one regex
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValidationError(f"invalid entry path {value!r}: it must be a non-empty string")
    text = value.replace("\\", "/")
    if text.startswith("/") or re.match(r"[A-Za-z]:/", text):
        raise ValidationError(f"invalid entry path {value!r}: it must be relative, not absolute")
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if not parts:
        raise ValidationError(f"invalid entry path {value!r}: it names no file")
    if ".." in parts:
        raise ValidationError(f"invalid entry path {value!r}: '..' would leave the artifact")
    path = "/".join(parts)
    if (
        len(path.encode("utf-8", "surrogateescape")) > MAX_PATH
        or len(parts) > MAX_PATH_DEPTH
        or any(len(p.encode("utf-8", "surrogateescape")) > MAX_PATH_PART for p in parts)
    ):
        raise ValidationError(
            f"invalid entry path {value[:60]!r}... ({len(path)} characters, {len(parts)} parts): "
            f"no file system holds it; keep each part under {MAX_PATH_PART + 1} bytes, the path "
            f"under {MAX_PATH + 1} and its depth under {MAX_PATH_DEPTH + 1}"
        )
    return path


def check_metadata(value: object, what: str = "metadata", max_keys: int | None = MAX_METADATA_KEYS) -> dict[str, Any]:
    """Return ``value`` as JSON-safe data (a new dict), coerced as W&B coerces artifact
    metadata: NaN becomes None; numpy (and torch, jax) scalars and arrays, sets and tuples
    become numbers and lists; ``datetime``, ``date`` and ``time`` ISO text; a slice a
    ``slice_start/stop/step`` dict; an enum its name; a dataclass a dict; a function its
    dotted name; ``bytes`` UTF-8 text; other objects (``Path``, ``Decimal``, ``UUID``) their
    ``str``. A JSON string is parsed, ``None`` is empty.

    Refused (``ValidationError``, naming the key): infinity (W&B refuses it too), keys that
    are not strings or numbers, two keys that would become one, more than ``max_keys``
    top-level keys (W&B's 100), nesting deeper than :data:`MAX_METADATA_DEPTH` (or a
    cycle), and objects with no text of their own (W&B would store ``<object at 0x…>``).
    """
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as exc:
            raise ValidationError(f"{what} is a string but not JSON ({exc}); pass a dict") from None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a dict, not {type(value).__name__}")
    if max_keys is not None and len(value) > max_keys:
        raise ValidationError(f"{what} has {len(value)} keys; W&B allows at most {max_keys}: nest some of them")
    copy: dict[str, Any] = _jsonable(value, what, 0)
    return copy


def _jsonable(obj: object, where: str, depth: int) -> Any:
    """``obj`` as JSON data (see :func:`check_metadata`); ``where`` names it in errors."""
    if obj is None or type(obj) in (bool, int, str):
        return obj
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            raise ValidationError(f"{where} is {obj}: JSON has no infinity (W&B refuses it too); store a string")
        return float(obj)
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, bool | int | str):  # subclasses, stored as the plain value
        return int(obj) if isinstance(obj, int) else str.__str__(obj)
    if isinstance(obj, Mapping | Sequence | set | frozenset) and not isinstance(obj, bytes | bytearray):
        if depth >= MAX_METADATA_DEPTH:  # named from its root: the path down is as long as the nesting
            root = where.split("[", 1)[0]
            raise ValidationError(
                f"{root} nests deeper than {MAX_METADATA_DEPTH} levels (or refers to itself); flatten it"
            )
        if isinstance(obj, Mapping):
            out: dict[str, Any] = {}
            for key, item in obj.items():
                name = _json_key(key, where)
                if name in out:
                    raise ValidationError(f"{where} has two keys that are both {name!r} in JSON; rename one")
                out[name] = _jsonable(item, f"{where}[{name!r}]", depth + 1)
            return out
        items = [_jsonable(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(obj)]
        if isinstance(obj, set | frozenset):  # no order of its own: give it one, the same every time
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return items
    if isinstance(obj, slice):
        return {
            k: _jsonable(getattr(obj, k[6:]), where, depth + 1) for k in ("slice_start", "slice_step", "slice_stop")
        }
    if isinstance(obj, datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, bytes):
        try:
            return obj.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{where} is bytes that are not UTF-8 text; store them in a file") from None
    if callable(getattr(obj, "tolist", None)):  # numpy, torch, jax scalars and arrays
        return _jsonable(obj.tolist(), where, depth)  # type: ignore[attr-defined]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj), where, depth)
    if callable(obj):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj)}".lstrip(".")
    cls = type(obj)
    if cls.__module__ == "builtins" or (cls.__str__ is object.__str__ and cls.__repr__ is object.__repr__):
        raise ValidationError(
            f"{where} is of type {cls.__name__}, which has no JSON form; store a number, text, a list or a dict"
        )
    return str(obj)


def _json_key(key: object, where: str) -> str:
    """A dict key as JSON writes it (W&B's rule): text as it is, numbers, True and None as their JSON."""
    if isinstance(key, str):
        return str(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise ValidationError(f"{where} has a key {key!r:.40} of type {type(key).__name__}; keys must be strings")


@dataclass(frozen=True)
class Address:
    """A parsed ``[entity/][project/]name[:vN|:alias]``; ``version`` is ``vN`` or an alias."""

    project: str
    name: str
    version: str = "latest"

    @property
    def index(self) -> int | None:
        """The N of ``vN``, or None when the address names an alias."""
        m = _INDEX.fullmatch(self.version)
        return int(m.group(1)) if m else None

    def __str__(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"


def parse_address(text: object, default_project: str | None = None) -> Address:
    """Parse an artifact address; no project means ``default_project``, no suffix ``latest``."""
    if not isinstance(text, str) or not text:
        raise ValidationError(f"invalid artifact address {text!r}: expected [project/]name[:vN|:alias]")
    body, _, version = text.partition(":")
    parts = body.split("/")
    if len(parts) > 3 or (_ and not version):
        raise ValidationError(f"invalid artifact address {text!r}: expected [entity/][project/]name[:vN|:alias]")
    name = check_name(parts[-1])
    project = parts[-2] if len(parts) >= 2 else (default_project or DEFAULT_PROJECT)
    check_name(project, "project name")
    if version and not _INDEX.fullmatch(version):  # vN is an index, anything else an alias
        check_alias(version)
    return Address(project, name, version or "latest")
