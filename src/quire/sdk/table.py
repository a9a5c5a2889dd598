"""``Table``: rows and typed columns, stored in an artifact as one Parquet file.

``artifact.add(table, "predictions")`` stores ``predictions.table.parquet``;
``artifact.get("predictions")`` (or ``artifact["predictions"]``) reads it back, fetching
only that file into the local cache. Columns have Arrow types (see
:mod:`quire.sdk.table_types`), so the file is readable by any Parquet reader.

Cells may hold media (``quire.Image(...)``, ``Audio``, ...): their files are stored in the
artifact beside the table, under ``media/<kind>/``, as W&B stores them, and the column
holds each cell's path and description (see :mod:`quire.sdk.table_types`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.names import check_path
from ..errors import ValidationError
from ..hashing import hash_file
from . import media
from .media_types import Media
from .table_types import MEDIA_STRUCT, Column, arrow_type, is_mixed, media_kind, python_values, to_pandas

if TYPE_CHECKING:
    from .artifact import Artifact

DEFAULT_COLUMNS = ["Input", "Output", "Expected"]  # W&B's default


@media.register
class Table:
    """A table of rows with named, typed columns.

    Args:
        columns: column names (default ``["Input", "Output", "Expected"]``, as in W&B).
        data: rows (a list of lists, or a 2-D numpy array); a DataFrame is taken as ``dataframe``.
        rows: an older name for ``data``.
        dataframe: a pandas DataFrame, a ``pyarrow.Table`` or anything with ``to_arrow()``
            (Polars); its columns and types are kept.
        dtype: one type for every column, or one per column (an Arrow type, a Python type,
            a numpy dtype or a name like ``"int32"``); cells must then fit it.
        optional: accepted for W&B compatibility; every column may hold None.
        allow_mixed_types: let a column hold cells of several types (stored as a mixed
            column, see :mod:`quire.sdk.table_types`) instead of raising.

    Raises:
        ValidationError: a row of the wrong length, a cell whose type differs from its
            column's (unless ``allow_mixed_types``), or a cell of an unsupported type.
    """

    suffix = ".table.parquet"

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = None,
    ) -> None:
        self.allow_mixed_types = allow_mixed_types
        self.log_mode = log_mode  # accepted for W&B: logging a table stores it as it is now
        self._source: Artifact | None = None  # the artifact it was read from: its media files
        data = rows if data is None else data
        if dataframe is None and _is_frame(data):
            dataframe, data = data, None
        if dataframe is not None:
            self._init_arrow(_frame_to_arrow(dataframe, dtype, allow_mixed_types))
            return
        if isinstance(data, np.ndarray):
            if data.ndim != 2:
                raise ValidationError(f"Table data as a numpy array must be 2-D (rows × columns), not {data.ndim}-D")
            names = list(columns) if columns is not None else [str(i) for i in range(data.shape[1])]
            if data.dtype.kind in "biuf" and len(names) == data.shape[1]:  # typed columns, no per-cell check
                arrays = {n: data[:, i] for i, n in enumerate(names)}
                self._init_arrow(_frame_to_arrow(pa.table(arrays), dtype, allow_mixed_types))
                return
            columns, data = names, data.tolist()
        names = list(columns) if columns is not None else list(DEFAULT_COLUMNS)
        _check_names(names)
        types = _dtypes(dtype, len(names))
        self._columns = [Column(n, t, t is not None, allow_mixed_types) for n, t in zip(names, types, strict=False)]
        _declare_media(self._columns, dtype)
        self._pending: list[list[Any]] = []
        cells = self._by_column(data if data is not None else [])
        checked = [c.check_many(v) for c, v in zip(self._columns, cells, strict=False)]
        self._arrow = pa.Table.from_arrays(
            [c.array(v) for c, v in zip(self._columns, checked, strict=False)], schema=self._schema()
        )

    def _init_arrow(self, arrow: pa.Table) -> None:
        _check_names(arrow.column_names)
        self._columns = [Column.from_field(f, self.allow_mixed_types) for f in arrow.schema]
        self._arrow = arrow
        self._pending = []

    # -- building -----------------------------------------------------------------------

    def add_data(self, *row: Any) -> None:
        """Append one row: one cell per column, in column order."""
        if len(row) != len(self._columns):
            raise ValidationError(
                f"row has {len(row)} cells but the table has {len(self._columns)} columns "
                f"({', '.join(self.columns)}): {list(row)!r}"
            )
        before = [c.state() for c in self._columns]
        try:
            self._pending.append([c.check(v) for c, v in zip(self._columns, row, strict=False)])
        except ValidationError:  # a refused row leaves no trace, not even a column type
            for column, state in zip(self._columns, before, strict=False):
                column.restore(state)
            raise

    add_row = add_data

    def _by_column(self, data: Any) -> list[Sequence[Any]]:
        """Rows turned into columns, after checking every row's length."""
        rows = data if isinstance(data, list) else list(data)
        width = len(self._columns)
        for i, row in enumerate(rows):
            if len(row) != width:
                raise ValidationError(
                    f"row {i} has {len(row)} cells but the table has {width} columns "
                    f"({', '.join(self.columns)}): {list(row)!r}"
                )
        return list(zip(*rows, strict=False)) if rows else [() for _ in self._columns]

    def add_column(self, name: str, data: Any, optimize: bool = False) -> None:
        """Append a column holding ``data`` (a list, a numpy array, an Arrow array, a Series)."""
        _check_names([*self.columns, name])
        table = self._table()
        if self._columns and len(data) != table.num_rows:
            raise ValidationError(f"column {name!r} has {len(data)} cells but the table has {table.num_rows} rows")
        column = Column(name, None, False, self.allow_mixed_types)
        array = _fast_array(data)
        if array is None:
            array = column.array([column.check(v) for v in _cells(data)])
        else:
            column.type = array.type
        field = column.field()
        if self._columns:
            self._arrow = table.append_column(field, array)
        else:  # the first column sets the row count
            self._arrow = pa.Table.from_arrays([array], schema=pa.schema([field]))
        self._columns.append(column)

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], dict[str, Any]]) -> None:
        """Add the columns ``fn(index, row)`` returns (a dict of name → cell) for every
        row, where ``row`` maps each column name to its cell, as in W&B."""
        computed: dict[str, list[Any]] = {}
        rows = list(self.iterrows())
        for index, row in rows:
            new = fn(index, dict(zip(self.columns, row, strict=False)))
            if not isinstance(new, dict):
                raise ValidationError(f"add_computed_columns: fn must return a dict of column → cell, not {new!r:.60}")
            if index == 0:
                computed = {k: [] for k in new}
            if set(new) != set(computed):
                raise ValidationError(
                    f"add_computed_columns: row {index} gave columns {sorted(new)}, row 0 gave {sorted(computed)}"
                )
            for name, value in new.items():
                computed[name].append(value)
        before = (list(self._columns), self._arrow, list(self._pending))
        try:
            for name, values in computed.items():
                self.add_column(name, values)
        except ValidationError:  # all the columns or none
            self._columns, self._arrow, self._pending = before[0], before[1], before[2]
            raise

    def cast(self, col_name: str, dtype: Any, optional: bool = False) -> None:
        """Give column ``col_name`` the type ``dtype`` (its cells must fit it)."""
        if col_name not in self.columns:
            raise ValidationError(f"the table has no column {col_name!r}; its columns: {', '.join(self.columns)}")
        table = self._table()
        i = self.columns.index(col_name)
        field = table.schema.field(i)
        if _is_media_class(dtype):  # W&B's cast(col, wandb.Image): the column holds that media only
            if media_kind(field) == dtype._log_type:
                return
            if table.column(i).null_count != table.num_rows:
                raise ValidationError(f"column {col_name!r} holds {field.type}, not {dtype.__name__} media")
            column = Column(col_name, None, False, self.allow_mixed_types)
            _declare_media([column], dtype)
            self._arrow = table.set_column(i, column.field(), pa.nulls(table.num_rows, MEDIA_STRUCT))
            self._columns[i] = column
            return
        if media_kind(field) is not None or is_mixed(field):
            raise ValidationError(f"column {col_name!r} holds media or mixed cells, which cast cannot change")
        target = arrow_type(dtype)
        try:
            array = table.column(i).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise ValidationError(f"cannot cast column {col_name!r} to {target}: {exc}") from None
        self._arrow = table.set_column(i, pa.field(col_name, target), array)
        self._columns[i] = Column(col_name, target, True, self.allow_mixed_types)

    # -- reading ------------------------------------------------------------------------

    def get_index(self) -> list[int]:
        """The row indices, ``[0, 1, ..., n - 1]`` (W&B returns them as an index column)."""
        return list(range(self._table().num_rows))

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self._arrow.num_rows + len(self._pending)

    def _objects(self) -> dict[str, Media]:
        """The media objects of this table's cells made in this process, by description."""
        return {k: v for c in self._columns for k, v in c.objects.items()}

    @property
    def columns(self) -> list[str]:
        """The column names."""
        return [c.name for c in self._columns]

    @property
    def data(self) -> list[list[Any]]:
        """Every row as a list of Python values (a copy: edit with ``add_data``)."""
        return [list(row) for _, row in self.iterrows()]

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """Yield ``(index, row)`` for every row, as W&B does."""
        index = 0
        table = self._table()
        objects = self._objects()
        for batch in table.to_batches():
            columns = [python_values(batch.column(i), f, self._source, objects) for i, f in enumerate(table.schema)]
            for row in zip(*columns, strict=False):
                yield index, list(row)
                index += 1

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """One column's cells: a list, or a numpy array with ``convert_to="numpy"``."""
        if name not in self.columns:
            raise ValidationError(f"the table has no column {name!r}; its columns: {', '.join(self.columns)}")
        if convert_to not in (None, "numpy"):
            raise ValidationError(f"convert_to must be None or 'numpy', not {convert_to!r}")
        table = self._table()
        field = table.schema.field(name)
        if convert_to == "numpy" and not is_mixed(field) and media_kind(field) is None:
            return table.column(name).to_numpy()
        values = python_values(table.column(name), field, self._source, self._objects())
        return np.array(values, dtype=object) if convert_to == "numpy" else values

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame (needs ``pip install 'quire[pandas]'``)."""
        return to_pandas(self._table(), self._source, self._objects())

    def to_arrow(self) -> pa.Table:
        """The table as a ``pyarrow.Table`` (mixed columns stay structs)."""
        return self._table()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self.columns == other.columns and self.data == other.data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        rows = self._arrow.num_rows + len(self._pending)
        return f"<Table {rows} rows × {len(self._columns)} columns: {', '.join(self.columns)}>"

    # -- storage ------------------------------------------------------------------------

    def _schema(self) -> pa.Schema:
        return pa.schema([c.field() for c in self._columns])

    def _table(self) -> pa.Table:
        """The Arrow table of every row, with the pending rows built in."""
        schema = self._schema()
        if not self._pending and self._arrow.schema == schema:
            return self._arrow
        arrays = []
        for i, (column, field) in enumerate(zip(self._columns, schema, strict=False)):
            old, old_field = self._arrow.column(i), self._arrow.schema.field(i)
            new = [row[i] for row in self._pending]
            if old_field.type == field.type and is_mixed(old_field) == is_mixed(field):
                arrays.append(pa.chunked_array([*old.chunks, column.array(new)], field.type))
            elif column.mixed is None:  # widened (null → int, int → float): a cast keeps it columnar
                arrays.append(pa.chunked_array([*old.cast(field.type).chunks, column.array(new)], field.type))
            else:  # turned mixed: rebuild from Python values
                arrays.append(column.array(python_values(old, old_field) + new))
        self._arrow = pa.Table.from_arrays(arrays, schema=schema)
        self._pending = []
        return self._arrow

    def _write(self, path: Path) -> dict[str, Path]:
        """Write the Parquet file; return the media files of its cells."""
        table = self._table()
        pq.write_table(table, path)
        files: dict[str, Path] = {}
        for field in table.schema:
            if media_kind(field) is not None:
                for cell in python_values(table.column(field.name), field, self._source, self._objects()):
                    if cell is not None:
                        files.update(cell._files())
        return files

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> Table:
        """The table stored at ``path`` of a committed version (only that file is fetched;
        the files of media cells when they are read)."""
        (file,) = media.local_files(artifact, [path])
        table = cls._from_arrow(pq.read_table(file, memory_map=True))
        table._source = artifact
        return table

    @classmethod
    def _from_arrow(cls, arrow: pa.Table, allow_mixed_types: bool = False) -> Table:
        table = cls.__new__(cls)
        table.allow_mixed_types = allow_mixed_types
        table.log_mode = None
        table._source = None
        table._init_arrow(arrow)
        return table


def _check_names(names: Sequence[Any]) -> None:
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise ValidationError(f"column names must be non-empty strings, got {bad[0]!r}")
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dups:
        raise ValidationError(f"column names must be unique; repeated: {', '.join(dups)}")


def _specs(dtype: Any, n: int) -> list[Any]:
    if isinstance(dtype, (list, tuple)):
        if len(dtype) != n:
            raise ValidationError(f"dtype lists {len(dtype)} types for {n} columns")
        return list(dtype)
    return [dtype] * n


def _is_media_class(spec: Any) -> bool:
    return isinstance(spec, type) and issubclass(spec, Media)


def _dtypes(dtype: Any, n: int) -> list[pa.DataType | None]:
    """The declared Arrow type of each column (None: inferred, or a media column)."""
    if dtype is None:
        return [None] * n
    return [arrow_type(d) if d is not None and not _is_media_class(d) else None for d in _specs(dtype, n)]


def _declare_media(columns: list[Column], dtype: Any) -> None:
    """Columns declared with a media class (``dtype=[quire.Image, int]``) take only that media."""
    if dtype is None:
        return
    for column, spec in zip(columns, _specs(dtype, len(columns)), strict=True):
        if _is_media_class(spec):
            column.media, column.type = spec._log_type, MEDIA_STRUCT


def _is_frame(obj: Any) -> bool:
    return isinstance(obj, pa.Table) or hasattr(obj, "to_arrow") or type(obj).__name__ == "DataFrame"


def _cells(data: Any) -> list[Any]:
    return data.tolist() if hasattr(data, "tolist") and not isinstance(data, np.ndarray) else list(data)


def _fast_array(data: Any) -> pa.Array | pa.ChunkedArray | None:
    """An Arrow array of a column given whole, without a per-cell check, where that is safe."""
    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        return data
    if isinstance(data, np.ndarray) and data.ndim == 1 and data.dtype.kind in "biuf":
        return pa.array(data)
    return None


def _frame_to_arrow(frame: Any, dtype: Any, allow_mixed: bool) -> pa.Table:
    if isinstance(frame, pa.Table):
        arrow = frame
    elif hasattr(frame, "to_arrow"):  # Polars and friends
        arrow = frame.to_arrow()
    else:
        names = [str(c) for c in frame.columns]
        if dtype is None:
            try:
                return pa.Table.from_pandas(frame, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                pass  # a column of mixed or odd objects: the per-cell check names it
        types = _dtypes(dtype, len(names))
        columns = [Column(n, t, t is not None, allow_mixed) for n, t in zip(names, types, strict=False)]
        arrays = [c.array([c.check(v) for v in frame.iloc[:, i].tolist()]) for i, c in enumerate(columns)]
        return pa.Table.from_arrays(arrays, schema=pa.schema([c.field() for c in columns]))
    if dtype is not None:
        types = _dtypes(dtype, arrow.num_columns)
        arrow = arrow.cast(pa.schema([(f.name, t or f.type) for f, t in zip(arrow.schema, types, strict=False)]))
    return arrow


@media.register
class JoinedTable:
    """Two tables of an artifact and the key that joins them, as W&B's ``JoinedTable``.

    Args:
        table1, table2: a ``Table`` (stored with the joined table, under
            ``media/tables/``), or the name of a table already added to the artifact.
        join_key: the column both tables share, or ``[left, right]`` column names.

    Stored as ``<name>.joined-table.json`` (``_type``, ``table1``, ``table2``: the tables'
    paths in the artifact, ``join_key``); reading it back reads the two tables.
    """

    suffix = ".joined-table.json"

    def __init__(self, table1: Table | str, table2: Table | str, join_key: str | Sequence[str]) -> None:
        for table in (table1, table2):
            if not isinstance(table, (Table, str)):
                raise ValidationError(
                    f"JoinedTable joins Tables or the names of tables in the artifact, not {type(table).__name__}"
                )
        keys = [join_key] if isinstance(join_key, str) else list(join_key)
        if len(keys) not in (1, 2) or not all(isinstance(k, str) and k for k in keys):
            raise ValidationError(f"JoinedTable: join_key must be a column name or [left, right], not {join_key!r}")
        for table, key in zip((table1, table2), (keys[0], keys[-1]), strict=True):
            if isinstance(table, Table) and key not in table.columns:
                raise ValidationError(f"JoinedTable: a table has no column {key!r}; its columns: {table.columns}")
        self._table1, self._table2, self._join_key = table1, table2, join_key

    @property
    def table1(self) -> Table | str:
        return self._table1

    @property
    def table2(self) -> Table | str:
        return self._table2

    @property
    def join_key(self) -> str | Sequence[str]:
        return self._join_key

    def _needs(self) -> list[str]:
        """The tables given by name: they must be in the artifact already."""
        return [_table_path(t) for t in (self._table1, self._table2) if isinstance(t, str)]

    def _write(self, path: Path) -> dict[str, Path]:
        files: dict[str, Path] = {}
        refs = []
        for i, table in enumerate((self._table1, self._table2), start=1):
            if isinstance(table, str):
                refs.append(_table_path(table))
                continue
            local = path.parent / f"t{i}{Table.suffix}"
            files.update(table._write(local))
            stored = f"media/tables/t{i}_{hash_file(local)[0][:20]}{Table.suffix}"
            files[stored] = local
            refs.append(stored)
        doc = {"_type": "joined-table", "table1": refs[0], "table2": refs[1], "join_key": self._join_key}
        path.write_text(json.dumps(doc))
        return files

    @classmethod
    def read(cls, artifact: Artifact, path: str) -> JoinedTable:
        """The joined table at ``path``, with both its tables read from the artifact."""
        (file,) = media.local_files(artifact, [path])
        doc = json.loads(file.read_text())
        if not isinstance(doc, dict) or doc.get("_type") != "joined-table":
            raise ValidationError(f"{artifact.name}: {path!r} is not a joined table")
        tables = [Table.read(artifact, doc[k]) for k in ("table1", "table2")]
        return cls(tables[0], tables[1], doc["join_key"])

    def joined(self) -> Table:
        """The inner join of the two tables on the key: the left table's columns, then the
        right one's but its key (a name both have gets ``_2``); cells keep their types."""
        if not isinstance(self._table1, Table) or not isinstance(self._table2, Table):
            raise ValidationError("JoinedTable.joined needs both tables: read it back from a logged artifact")
        keys = [self._join_key] if isinstance(self._join_key, str) else list(self._join_key)
        left, right = self._table1, self._table2
        li, ri = left.columns.index(keys[0]), right.columns.index(keys[-1])
        matches: dict[Any, list[list[Any]]] = {}
        for _, row in right.iterrows():
            matches.setdefault(row[ri], []).append(row[:ri] + row[ri + 1 :])
        extra = [c + "_2" if c in left.columns else c for i, c in enumerate(right.columns) if i != ri]
        rows = [lrow + rrow for _, lrow in left.iterrows() for rrow in matches.get(lrow[li], [])]
        return Table(columns=left.columns + extra, data=rows, allow_mixed_types=True)

    def get_dataframe(self) -> Any:
        """:meth:`joined` as a pandas DataFrame."""
        return self.joined().get_dataframe()


def _table_path(name: str) -> str:
    return check_path(name if name.endswith(Table.suffix) else name + Table.suffix)
