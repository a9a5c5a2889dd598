"""A pack's index as arrays: what gc's sweep reads of each pack, one pack at a time.

The rows of ``packs/<id>.idx`` (see :mod:`quire.store.packs`) are 48 bytes each: a raw
digest, then offset and length as big-endian 64-bit numbers. Read as six big-endian
64-bit words a row, the first word is the digest's first 8 bytes — the **prefix** gc's
live set holds — and the last two are offset and length, so a sweep compares a whole
pack against the live set without making a string or a tuple per blob.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .packs import IDX_ROW, PackSlot, check_covers, index_body, pack_of

if TYPE_CHECKING:
    import numpy as np

_WORDS = IDX_ROW.size // 8  # a row is 6 words: 4 of digest, offset, length


def prefix_of(digest: str) -> int:
    """The first 8 bytes of a hex digest as a number (what a pack row's first word reads)."""
    return int(digest[:16], 16)


class PackRows:
    """The rows of one pack's index (read by :func:`read_rows`)."""

    def __init__(self, key: str, body: bytes, words: np.ndarray) -> None:
        self.key = key  #: the index's key
        self._body = body
        self._words = words

    def __len__(self) -> int:
        return len(self._words)

    @property
    def prefixes(self) -> np.ndarray:
        """The first 8 bytes of each row's digest, as uint64."""
        import numpy as np

        return self._words[:, 0].astype(np.uint64)

    @property
    def lengths(self) -> np.ndarray:
        """Each row's length in bytes, as uint64."""
        import numpy as np

        return self._words[:, _WORDS - 1].astype(np.uint64)

    def digest(self, row: int) -> str:
        """The hex digest of row number ``row``."""
        start = row * IDX_ROW.size
        return self._body[start : start + 32].hex()

    @property
    def slots(self) -> dict[str, PackSlot]:
        """Digest → slot of every row (one object per blob: for small packs and tests)."""
        pack = pack_of(self.key)
        return {d.hex(): PackSlot(pack, o, n) for d, o, n in IDX_ROW.iter_unpack(self._body)}


def read_rows(key: str, raw: bytes, pack_size: int) -> PackRows:
    """The rows of the index ``key`` of a ``pack_size``-byte pack; ``StoreError`` when the
    index is damaged (the same checks as :func:`quire.store.packs.read_index`: the rows'
    lengths add up to the pack's size)."""
    import numpy as np

    body = index_body(key, raw)
    words = np.frombuffer(body, dtype=">u8").reshape(-1, _WORDS)
    check_covers(key, int(words[:, _WORDS - 1].sum(dtype=np.uint64)), pack_size)
    return PackRows(key, body, words)
