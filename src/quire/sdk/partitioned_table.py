"""``PartitionedTable``: one table made of every table under a folder of a version.

Parallel writers each add their own ``Table`` under a folder (``parts/table_3``); the
finisher adds ``PartitionedTable("parts")``, which stores only a pointer
(``name.partitioned-table.json``). Reading it from a committed version gathers every
table under that folder, sorted by path, and fetches nothing until rows are asked for:
``iterrows()`` then reads one part at a time, and ``dataset()`` scans the cached Parquet
files in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..core.manifest import Entry
from ..core.names import check_path
from ..errors import ArtifactNotFoundError, ValidationError
from . import media
from .table import Table
from .table_types import is_mixed, python_values, to_pandas, unify

if TYPE_CHECKING:
    from .artifact import Artifact

_TYPE = "partitioned-table"


@media.register
class PartitionedTable:
    """The tables under ``parts_path``, read as one.

    Args:
        parts_path: the folder of the artifact that holds the parts (``Table`` objects
            added as ``parts_path/<name>``).
    """

    suffix = ".partitioned-table.json"

    def __init__(self, parts_path: str) -> None:
        self.parts_path = check_path(parts_path).rstrip("/")
        self._artifact: Artifact | None = None
        self._entries: list[Entry] = []
        self._files: list[Path] | None = None
        self._schema: pa.Schema | None = None

    def __repr__(self) -> str:
        where = f"{self._artifact.name}, {len(self._entries)} parts" if self._artifact else "draft"
        return f"<PartitionedTable {self.parts_path!r} ({where})>"

    # -- storage ------------------------------------------------------------------------

    def _write(self, path: Path) -> dict[str, Path]:
        path.write_text(json.dumps({"_type": _TYPE, "parts_path": self.parts_path}))
        return {}  # the parts are tables of their own

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> PartitionedTable:
        """The partitioned table stored at ``path``; its parts are listed, not fetched."""
        (file,) = media.local_files(artifact, [path])
        try:
            doc = json.loads(file.read_text())
            parts_path = doc["parts_path"] if doc.get("_type") == _TYPE else None
        except (ValueError, KeyError, AttributeError):
            parts_path = None
        if not isinstance(parts_path, str):
            raise ValidationError(f"{artifact.name}: {path!r} is not a partitioned table pointer")
        table = cls(parts_path)
        table._artifact = artifact
        table._entries = _part_entries(artifact, table.parts_path, path)
        return table

    # -- reading ------------------------------------------------------------------------

    @property
    def parts(self) -> list[str]:
        """The paths of the parts in the artifact, in the order their rows come."""
        self._check_bound()
        return [e.path for e in self._entries]

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """Yield ``(index, row)`` over every part in order, reading one part at a time."""
        schema = self._unified_schema()
        index = 0
        for file in self._local_files():
            for batch in _batches(file):
                batch = _conform(batch, schema)
                columns = [python_values(batch.column(i), f, self._artifact) for i, f in enumerate(schema)]
                for row in zip(*columns, strict=False):
                    yield index, list(row)
                    index += 1

    def dataset(self) -> ds.Dataset:
        """A ``pyarrow.dataset.Dataset`` over the cached Parquet parts, read in place.

        DuckDB (``duckdb.sql("select … from d")`` with ``d = pt.dataset()``), Polars
        (``pl.scan_pyarrow_dataset(d)``) and Ray Data (``ray.data.read_parquet(d.files)``)
        scan it without a copy. ``d.files`` are links named like the parts (in the local
        cache's ``views`` folder) to the cached bytes; don't write to them.
        """
        schema = self._unified_schema()
        assert self._artifact is not None
        links = media.local_files(self._artifact, self.parts, named=True)
        return ds.dataset([str(f) for f in links], schema=schema, format="parquet")

    def to_arrow(self) -> pa.Table:
        """Every row as one ``pyarrow.Table``."""
        return self.dataset().to_table()

    def to_pandas(self) -> Any:
        """Every row as a pandas DataFrame (needs ``pip install 'quire[pandas]'``)."""
        return to_pandas(self.to_arrow(), self._artifact)

    def get_dataframe(self) -> Any:
        """Same as :meth:`to_pandas`, named as ``Table`` names it."""
        return self.to_pandas()

    @property
    def columns(self) -> list[str]:
        """The column names (read from the parts' Parquet footers)."""
        return self._unified_schema().names

    def _check_bound(self) -> None:
        if self._artifact is None:
            raise ValidationError(
                f"PartitionedTable({self.parts_path!r}) is only a pointer until read back: "
                "add it to an artifact, log it, then artifact.get(name)"
            )

    def _local_files(self) -> list[Path]:
        self._check_bound()
        if self._files is None:
            assert self._artifact is not None
            self._files = media.local_files(self._artifact, self.parts)
        return self._files

    def _unified_schema(self) -> pa.Schema:
        """One schema for all parts; raises naming the parts and columns that differ."""
        if self._schema is None:
            schemas = [pq.read_schema(f) for f in self._local_files()]
            self._schema = _unify_schemas(self.parts, schemas)
        return self._schema


def _part_entries(artifact: Artifact, parts_path: str, pointer: str) -> list[Entry]:
    entries = [e for e in artifact.manifest.under(parts_path) if e.path != pointer]
    strays = [e.path for e in entries if not e.path.endswith(Table.suffix)]
    if strays:
        shown = ", ".join(repr(p) for p in strays[:10]) + (", ..." if len(strays) > 10 else "")
        raise ValidationError(
            f"{artifact.name}: {len(strays)} files under {parts_path!r} are not tables "
            f"({shown}); a partitioned table's folder may hold only tables "
            f"(*{Table.suffix}): remove them in a new version, or point at a folder of tables"
        )
    if not entries:
        folders = sorted({e.path.rsplit("/", 1)[0] for e in artifact.manifest if "/" in e.path})
        raise ArtifactNotFoundError(f"{artifact.name} holds no tables under {parts_path!r}", folders)
    return entries


def _unify_schemas(parts: list[str], schemas: list[pa.Schema]) -> pa.Schema:
    fields = {f.name: f for f in schemas[0]}
    origin = {name: parts[0] for name in fields}
    problems = []
    for part, schema in zip(parts[1:], schemas[1:], strict=False):
        names = set(schema.names)
        missing, extra = [n for n in fields if n not in names], sorted(names - set(fields))
        if missing or extra:
            problems.append(
                f"{part} has columns {schema.names} but {parts[0]} has {list(fields)}"
                + (f" (missing: {', '.join(missing)})" if missing else "")
                + (f" (extra: {', '.join(extra)})" if extra else "")
            )
            continue
        for field in schema:
            known = fields[field.name]
            merged = unify(known.type, field.type) if is_mixed(known) == is_mixed(field) else None
            if merged is None:
                problems.append(
                    f"column {field.name!r} is {_describe(known)} in {origin[field.name]} "
                    f"but {_describe(field)} in {part}"
                )
            elif merged != known.type:
                fields[field.name], origin[field.name] = known.with_type(merged), part
    if problems:
        raise ValidationError(
            f"the parts of the partitioned table have different schemas: {'; '.join(problems[:10])}; "
            "write every part with the same columns and types (or mixed types everywhere)"
        )
    return pa.schema(list(fields.values()))  # the parts' own metadata (pandas) is dropped


def _describe(field: pa.Field) -> str:
    return f"mixed {field.type}" if is_mixed(field) else str(field.type)


def _batches(file: Path) -> Iterator[pa.RecordBatch]:
    """The record batches of one part, read as they are consumed."""
    return pq.ParquetFile(file, memory_map=True).iter_batches()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema):
        return batch
    return pa.RecordBatch.from_arrays([batch.column(f.name).cast(f.type) for f in schema], schema=schema)
