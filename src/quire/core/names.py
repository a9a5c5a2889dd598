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


def check_name(value: object, what: str = "artifact name") -> str:
    """Return ``value`` if it is a valid name: 1–128 of ``A-Z a-z 0-9 _ . -``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in {".", ".."}:
        raise ValidationError(
            f"invalid {what} {value!r}: use 1 to 128 letters, digits, '_', '.' or '-'"
        )
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
        raise ValidationError(
            f"invalid tag {value!r}: use letters, digits, '_' and '-' (single spaces between words)"
        )
    return value


_PLAIN_PATH = re.compile(r"(?!\.{1,2}(?:/|$))[^/\\\x00:]+(?:/(?!\.{1,2}(?:/|$))[^/\\\x00]+)*")


def check_path(value: object) -> str:
    """Return the normalised logical path of an entry (posix, relative, inside the artifact)."""
    if isinstance(value, str) and _PLAIN_PATH.fullmatch(value):
        return value  # already normal: the common case, checked in one regex
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
    return "/".join(parts)


def check_metadata(value: object) -> dict[str, Any]:
    """Return a JSON-safe deep copy of ``value`` (a dict with no NaN or infinity)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"metadata must be a dict, not {type(value).__name__}")
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True, default=_reject)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"metadata is not JSON-serialisable: {exc}") from None
    return json.loads(text)


def _reject(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):  # pragma: no cover - json handles it
        raise ValueError("NaN and infinity are not JSON")
    # numpy scalars and arrays are common in ML metadata; store them as plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()  # type: ignore[no-any-return]
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
    if version:
        if not _INDEX.fullmatch(version):
            check_alias(version)
    return Address(project, name, version or "latest")
