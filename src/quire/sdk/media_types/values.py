"""``Histogram`` (W&B's JSON alone, no file) and the W&B types Quire does not store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ValidationError
from .. import media
from .base import numpy_of

if TYPE_CHECKING:
    from ..artifact import Artifact


class Histogram:
    """A histogram: of a sequence (``np.histogram`` with ``num_bins``, at most 512) or of
    ``np_histogram=(values, bins)``. Stored as W&B's JSON alone (``<name>.histogram.json``)."""

    suffix = ".histogram.json"
    MAX_LENGTH = 512

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        import numpy as np

        if np_histogram is not None:
            if len(np_histogram) != 2:
                raise ValidationError("quire.Histogram: np_histogram must be (values, bins), as np.histogram returns")
            values, bins = (list(np.asarray(x).tolist()) for x in np_histogram)
            if len(bins) != len(values) + 1:
                raise ValidationError("quire.Histogram: np_histogram needs one more bin edge than values")
        elif sequence is not None:
            array = numpy_of(sequence)
            if array.dtype.kind not in "biuf":
                raise ValidationError(f"quire.Histogram: values of dtype {array.dtype} are not numbers")
            counts, edges = np.histogram(array, bins=num_bins)
            values, bins = counts.tolist(), edges.tolist()
        else:
            raise ValidationError("quire.Histogram needs a sequence or np_histogram=(values, bins)")
        if len(values) > self.MAX_LENGTH:
            raise ValidationError(f"quire.Histogram: at most {self.MAX_LENGTH} bins, got {len(values)}")
        self.histogram, self.bins = values, bins

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {"_type": "histogram", "values": self.histogram, "bins": self.bins}

    def _write(self, path: Path) -> dict[str, Path]:
        path.write_text(json.dumps(self.to_json()))
        return {}

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> Histogram:
        (file,) = media.local_files(artifact, [path])
        doc = json.loads(file.read_text())
        if not isinstance(doc, dict) or doc.get("_type") != "histogram":
            raise ValidationError(f"{artifact.name}: {path!r} is not a histogram")
        return cls(np_histogram=(doc["values"], doc["bins"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return self.histogram == other.histogram and self.bins == other.bins

    __hash__ = None  # type: ignore[assignment]


media.register(Histogram)
