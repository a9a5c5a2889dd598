"""Quire's map of the W&B surface: what is supported, accepted but ignored, or not
supported, and the error a missing W&B name raises (naming the call and pointing at
``docs/compatibility.md``)."""

from __future__ import annotations


def missing(obj: object, name: str) -> AttributeError:
    """The error for ``obj.name`` when ``obj`` has no such attribute."""
    return AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
