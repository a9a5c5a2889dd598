"""The naming rules, for tools that check what a user typed before doing any work (the
command line, a server): a name that breaks a rule raises ``ValidationError`` saying
which rule, and nothing is written.

The rules themselves live in :mod:`quire.core.names`; this is their public face. Aliases
and tags follow W&B's rules (an alias is any text but ``/`` and ``:``; a tag is words of
letters, digits, ``_`` and ``-``); metadata is coerced as W&B coerces it.
"""

from __future__ import annotations

from ..core.names import (
    MAX_ALIAS,
    MAX_METADATA_KEYS,
    MAX_TAG,
    check_alias,
    check_aliases,
    check_metadata,
    check_name,
    check_tag,
    check_tags,
    parse_address,
)

__all__ = [
    "MAX_ALIAS",
    "MAX_METADATA_KEYS",
    "MAX_TAG",
    "check_alias",
    "check_aliases",
    "check_metadata",
    "check_name",
    "check_tag",
    "check_tags",
    "parse_address",
]
