"""``python -m quire.sdk.compat_page > docs/compatibility.md`` writes the compatibility page
from :mod:`quire.sdk.compat`'s map (a module of its own: ``quire.sdk.compat`` is imported
with ``quire``, so running it with ``-m`` would load it twice)."""

from __future__ import annotations

import sys

from quire.sdk.compat import page

if __name__ == "__main__":
    sys.stdout.write(page())
