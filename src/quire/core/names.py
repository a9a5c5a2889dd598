"""Rules for names, aliases, tags, entry paths and artifact addresses.

Every check raises :class:`~quire.errors.ValidationError` naming the rule, before anything
is written.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..errors import ValidationError

DEFAULT_PROJECT = "uncategorized"
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_INDEX = re.compile(r"v(\d+)")
_TAG = re.compile(r"[-\w]+( +[-\w]+)*")
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
    """Return ``value`` if it is a valid alias (a name that is not a version index)."""
    check_name(value, "alias")
    if _INDEX.fullmatch(str(value)):
        raise ValidationError(f"invalid alias {value!r}: 'vN' is a version index, not an alias")
    return str(value)


def check_tag(value: object) -> str:
    """Return ``value`` if it is a valid tag: words of letters, digits, '_' and '-'."""
    if not isinstance(value, str) or len(value) > 128 or not _TAG.fullmatch(value):
        raise ValidationError(f"invalid tag {value!r}: use letters, digits, '_' and '-' (single spaces between words)")
    return value


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


def check_metadata(value: object, what: str = "metadata") -> dict[str, Any]:
    """Return a JSON-safe deep copy of ``value`` (a dict with no NaN or infinity, nested
    at most :data:`MAX_METADATA_DEPTH` deep); ``what`` names it in messages."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a dict, not {type(value).__name__}")
    _check_depth(value, what)
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True, default=_reject)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from None
    except RecursionError:  # deep inside an object that _reject turned into a list
        raise ValidationError(f"{what} nests deeper than {MAX_METADATA_DEPTH} levels; flatten it") from None
    copy: dict[str, Any] = json.loads(text)  # a dict went in, so a dict comes out
    return copy


def _check_depth(value: object, what: str) -> None:
    """Refuse dicts and lists nested deeper than :data:`MAX_METADATA_DEPTH` (or in a cycle)."""
    level: list[Any] = [value]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_METADATA_DEPTH:
            raise ValidationError(
                f"{what} nests deeper than {MAX_METADATA_DEPTH} levels (or refers to itself); flatten it"
            )
        # by id: a container shared by many parents (or a cycle) counts once per level
        level = list(
            {
                id(child): child
                for node in level
                for child in (node.values() if isinstance(node, dict) else node)
                if isinstance(child, dict | list | tuple)
            }.values()
        )


def _reject(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):  # pragma: no cover - json handles it
        raise ValueError("NaN and infinity are not JSON")
    # numpy scalars and arrays are common in ML metadata; store them as plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


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
