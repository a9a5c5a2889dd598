"""The combined index's search against a plain bisect, on indexes larger than its window.

The model test (test_midx_model) works on small stores, whose indexes fit in one window;
here the digests are drawn skewed (few leading bytes, many duplicates) so that the
interpolation guesses badly and the halving and window paths all run.
"""

from __future__ import annotations

import bisect
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quire.hashing import hash_bytes
from quire.store import midx
from quire.store.midx import HEADER, MIDX_MAGIC, PACK_ROW, CombinedIndex


def write_index(path: Path, digests: list[bytes]) -> None:
    """A combined index of ``digests`` (sorted), written from the layout in midx's
    docstring: one pack, row i at offset i and length i + 1."""
    n = len(digests)
    body = HEADER.pack(MIDX_MAGIC, 1, n) + PACK_ROW.pack(b"0" * 32, 10**9)
    body += b"".join(digests)
    body += struct.pack(f"<{n}I", *([0] * n)) + struct.pack(f"<{n}I", *range(1, n + 1))
    body += struct.pack(f"<{n}Q", *range(n))
    path.write_bytes(body + bytes.fromhex(hash_bytes(body)))


def digest(lead: int, tail: int) -> bytes:
    """A raw digest whose leading byte is ``lead`` (skewed draws) and the rest from ``tail``."""
    return bytes([lead]) + tail.to_bytes(31, "big")


digests = st.lists(st.builds(digest, st.sampled_from([0, 1, 7, 200, 255]), st.integers(0, 40)), max_size=300)


@pytest.mark.parametrize("window", [1, 2, 5, 64])
@settings(max_examples=60, deadline=None)
@given(stored=digests, asked=digests)
def test_find_agrees_with_bisect(tmp_path_factory: pytest.TempPathFactory, window: int, stored, asked) -> None:
    stored = sorted(stored)
    path = tmp_path_factory.mktemp("midx") / "x.midx"
    write_index(path, stored)
    index = CombinedIndex("x", path)
    index.verify()
    mp = pytest.MonkeyPatch()
    mp.setattr(midx, "WINDOW", window)
    try:
        for raw in asked + stored[:20]:
            want = range(bisect.bisect_left(stored, raw), bisect.bisect_right(stored, raw))
            got = index.find(raw)
            assert (got.start, got.stop) == (want.start, want.stop) or (not got and not want)
            for row in got:
                assert index.row(row) == (0, row, row + 1)
    finally:
        mp.undo()
        index.close()
