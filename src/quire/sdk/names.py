"""The naming rules, for tools that check what a user typed before doing any work (the
command line, a server): a name that breaks a rule raises ``ValidationError`` saying
which rule, and nothing is written.

The rules themselves live in :mod:`quire.core.names`; this is their public face.
"""

from __future__ import annotations

from ..core.names import check_alias, check_name

__all__ = ["check_alias", "check_name"]
