"""Column types for tables: how Python cells become typed Arrow columns and back.

A column's type is inferred from its first non-null cell, or declared with ``dtype``.
Later cells must fit it: ints widen into a float column, nulls fit anywhere, timestamps
of one time zone share a column. A cell that fits no type of its column is an error
unless the table allows mixed types; then the column becomes a **mixed column**.

A mixed column is stored as an Arrow struct with one child per type seen (named after
the type, e.g. ``int64`` and ``string``), exactly one of which is set in each row,
and the field is marked ``quire.mixed``. Parquet has no union type; a struct keeps every
value with its own type (nothing is turned into a string), and DuckDB or Polars can
still query each child. Reading a table back turns a mixed column into plain Python
values again.

A **media column** holds W&B media objects (``Image``, ``Audio``, ... of
:mod:`quire.sdk.media_types`), all of one kind, or None. It is stored as a struct of two
strings, ``path`` (the media file inside the artifact, ``media/images/<digest>.png``,
stored beside the table) and ``meta`` (the cell's W&B JSON description: caption, size,
boxes...), and the field is marked ``quire.media`` with W&B's type name
(``image-file``). A Parquet reader sees the paths (``SELECT img.path FROM t``); reading
the table back with Quire gives the media objects again.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import MissingExtraError, ValidationError
from .media_types import Media, media_from_cell

MIXED_KEY = b"quire.mixed"
MEDIA_KEY = b"quire.media"
MEDIA_STRUCT = pa.struct([("path", pa.string()), ("meta", pa.string())])

_PY_DTYPES: dict[Any, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    bool: pa.bool_(),
    bytes: pa.binary(),
    _dt.datetime: pa.timestamp("us"),
    _dt.date: pa.date32(),
    _dt.timedelta: pa.duration("us"),
}
# Cells of these Python types fit a column of the given type without inferring anything:
# the fast path of add_data, which otherwise costs an Arrow inference per cell.
_FAST = {
    (int, pa.int64()),
    (int, pa.float64()),
    (float, pa.float64()),
    (str, pa.string()),
    (bool, pa.bool_()),
}
_UNITS = ["s", "ms", "us", "ns"]
SUPPORTED = "ints, floats, strings, bools, bytes, datetimes, dates, lists, dicts, None and numpy arrays or scalars"


class UnsupportedCell(TypeError):
    """A cell whose Python type has no Arrow type."""


def arrow_type(spec: Any) -> pa.DataType:
    """The Arrow type a ``dtype`` entry names: an Arrow type, a Python or numpy type, or a string."""
    if isinstance(spec, pa.DataType):
        return spec
    if spec in _PY_DTYPES:
        return _PY_DTYPES[spec]
    try:
        if isinstance(spec, str):
            return pa.type_for_alias(spec)
        return pa.from_numpy_dtype(np.dtype(spec))
    except (TypeError, ValueError, pa.ArrowException):
        raise ValidationError(
            f"dtype {spec!r} names no column type; give an Arrow type (pa.int64()), a Python "
            "type (int, float, str, bool, datetime.datetime), a numpy dtype or a name like 'int32'"
        ) from None


def normalize(value: Any) -> Any:
    """A cell as Arrow can take it: numpy scalars as Python values, n-d arrays as nested lists."""
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            # Arrow rejects numpy datetimes inside Python lists; day precision is a date.
            return value.item() if np.datetime_data(value.dtype)[0] == "D" else value.astype("datetime64[us]").item()
        if isinstance(value, np.timedelta64):
            return value.astype("timedelta64[us]").item()
        return value.item()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return normalize(value[()])
        if value.ndim > 1 or value.dtype.kind not in "biuf":
            return [normalize(v) for v in value]
    return value


def infer(value: Any) -> pa.DataType:
    """The Arrow type of one normalized cell; ``UnsupportedCell`` when it has none."""
    kind = _PY_DTYPES.get(type(value))
    if kind is not None and kind != pa.timestamp("us"):  # datetimes may carry a time zone
        return kind
    try:
        return pa.scalar(value).type
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
        detail = str(exc).split("\n")[0]
        raise UnsupportedCell(f"{type(value).__name__} ({detail})") from None


def unify(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type holding cells of both ``a`` and ``b``, or None when there is none."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(f(a) for f in numeric) and any(f(b) for f in numeric):
        if pa.types.is_integer(a) and pa.types.is_integer(b):
            return pa.int64()
        return pa.float64()
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b) and a.tz == b.tz:
        return pa.timestamp(max(a.unit, b.unit, key=_UNITS.index), a.tz)
    if _is_list(a) and _is_list(b):
        inner = unify(a.value_type, b.value_type)
        return pa.list_(inner) if inner is not None else None
    if pa.types.is_struct(a) and pa.types.is_struct(b) and a.names == b.names:
        fields = [unify(a.field(i).type, b.field(i).type) for i in range(a.num_fields)]
        if all(f is not None for f in fields):
            return pa.struct([(n, f) for n, f in zip(a.names, fields, strict=False)])
    if {a, b} <= {pa.string(), pa.large_string()}:
        return pa.large_string()
    return None


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def is_mixed(field: pa.Field) -> bool:
    """Whether a stored field is a mixed column."""
    return bool(field.metadata and field.metadata.get(MIXED_KEY))


def media_kind(field: pa.Field) -> str | None:
    """W&B's type name of a media column's cells (``image-file``), or None."""
    kind = field.metadata.get(MEDIA_KEY) if field.metadata else None
    return kind.decode() if kind else None


class Column:
    """The type of one column as cells arrive.

    ``type`` is None until a non-null cell (or ``dtype``) fixes it; ``mixed`` holds the
    member types once the column is mixed.
    """

    def __init__(
        self,
        name: str,
        type: pa.DataType | None = None,
        declared: bool = False,
        allow_mixed: bool = False,
        mixed: list[pa.DataType] | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.declared = declared
        self.allow_mixed = allow_mixed
        self.mixed = mixed
        self.media: str | None = None  # a media column: its cells' W&B type name
        self.objects: dict[str, Media] = {}  # its cells' objects, by their description

    def _check_media(self, value: Any) -> Any:
        """Take a cell of a media column, or a media cell: the stored struct of it."""
        if not isinstance(value, Media):
            raise ValidationError(
                f"column {self.name!r} holds {self.media} media, not {value!r:.60}; "
                "a media column holds media objects of one type, or None"
            )
        if self.media is None and (
            self.mixed is not None or (self.type is not None and not pa.types.is_null(self.type))
        ):
            raise ValidationError(
                f"column {self.name!r} holds {self.mixed or self.type} but got a {type(value).__name__}; "
                "put media in a column of their own (media cells cannot share a column with other values)"
            )
        if self.media is not None and self.media != value._log_type:
            raise ValidationError(
                f"column {self.name!r} holds {self.media} media but got a {type(value).__name__} "
                f"({value._log_type}); a media column holds one type of media"
            )
        self.media, self.type = value._log_type, MEDIA_STRUCT
        meta = json.dumps(value.to_json(), sort_keys=True)
        self.objects.setdefault(meta, value)
        return {"path": value.path, "meta": meta}

    @classmethod
    def from_field(cls, field: pa.Field, allow_mixed: bool) -> Column:
        """The column a stored field is."""
        if is_mixed(field):
            return cls(field.name, None, False, True, [f.type for f in field.type])
        column = cls(field.name, field.type, False, allow_mixed)
        column.media = media_kind(field)
        return column

    def state(self) -> tuple[pa.DataType | None, list[pa.DataType] | None, str | None]:
        """What :meth:`check` may change, for :meth:`restore`."""
        return self.type, (list(self.mixed) if self.mixed is not None else None), self.media

    def restore(self, state: tuple[pa.DataType | None, list[pa.DataType] | None, str | None]) -> None:
        """Undo the changes since :meth:`state` was taken."""
        self.type, self.mixed, self.media = state

    def check(self, value: Any) -> Any:
        """Take one cell: return it normalized, widening the column's type if needed."""
        if value is None:
            return None
        if self.mixed is None and (type(value), self.type) in _FAST:
            return value
        if self.media is not None or isinstance(value, Media):
            return self._check_media(value)
        value = normalize(value)
        try:
            got = infer(value)
        except UnsupportedCell as exc:
            raise ValidationError(
                f"column {self.name!r}: cells of type {exc} are not supported; use {SUPPORTED}, "
                "or convert the value (e.g. str(value))"
            ) from None
        if self.mixed is not None:
            self._add_member(got)
            return value
        if self.type is None:
            self.type = got
            return value
        merged = unify(self.type, got)
        if self.declared and merged is not None and not _truncates(self.type, got):
            _fits_declared(self.name, value, self.type)
            return value
        if not self.declared and merged is not None:
            self.type = merged
            return value
        if not self.allow_mixed:
            raise ValidationError(
                f"column {self.name!r} holds {self.type} but got {value!r} of type {got}; "
                "make the cells one type, declare dtype=, or pass allow_mixed_types=True"
            )
        self.mixed = [self.type]
        self._add_member(got)
        return value

    def check_many(self, values: Sequence[Any]) -> Sequence[Any]:
        """Take a whole column of cells: like :meth:`check` on each, but a column of one
        plain Python type is checked by its set of types instead of cell by cell."""
        if self.mixed is None:
            kinds = set(map(type, values))
            kinds.discard(type(None))
            if self.type is None and len(kinds) == 1 and next(iter(kinds)) in (int, float, str, bool):
                self.type = _PY_DTYPES[next(iter(kinds))]
            if self.type is not None and all((k, self.type) in _FAST for k in kinds):
                return values
        return [self.check(v) for v in values]

    def _add_member(self, got: pa.DataType) -> None:
        assert self.mixed is not None
        for i, member in enumerate(self.mixed):
            merged = unify(member, got)
            if merged is not None:
                self.mixed[i] = merged
                return
        self.mixed.append(got)

    def field(self) -> pa.Field:
        """The Arrow field this column is stored as."""
        if self.mixed is not None:
            return pa.field(self.name, pa.struct([(str(t), t) for t in self.mixed]), metadata={MIXED_KEY: b"1"})
        if self.media is not None:
            return pa.field(self.name, MEDIA_STRUCT, metadata={MEDIA_KEY: self.media.encode()})
        return pa.field(self.name, self.type if self.type is not None else pa.null())

    def array(self, values: Sequence[Any]) -> pa.Array:
        """Build the column's Arrow array from its checked cells."""
        field = self.field()
        if self.mixed is None:
            return _build(self.name, values, field.type)
        members = [[None] * len(values) for _ in self.mixed]
        valid = [v is not None for v in values]
        for row, value in enumerate(values):
            if value is not None:
                members[self._member(value)][row] = value
        children = [_build(self.name, m, t) for m, t in zip(members, self.mixed, strict=False)]
        mask = pa.array([not v for v in valid], pa.bool_())
        return pa.StructArray.from_arrays(children, fields=list(field.type), mask=mask)

    def _member(self, value: Any) -> int:
        got = infer(value)
        assert self.mixed is not None
        return next(i for i, t in enumerate(self.mixed) if unify(t, got) == t)


def _truncates(declared: pa.DataType, got: pa.DataType) -> bool:
    """Whether storing a cell of type ``got`` in a ``declared`` column would drop a fraction."""
    if _is_list(declared) and _is_list(got):
        return _truncates(declared.value_type, got.value_type)
    return pa.types.is_integer(declared) and pa.types.is_floating(got)


def _fits_declared(name: str, value: Any, declared: pa.DataType) -> None:
    try:
        pa.scalar(value, type=declared)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise ValidationError(f"column {name!r} is declared {declared}, but {value!r} does not fit: {exc}") from None


def _build(name: str, values: Sequence[Any], type: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise ValidationError(f"column {name!r}: cannot store its cells as {type}: {exc}") from None


def python_values(
    column: pa.ChunkedArray | pa.Array, field: pa.Field, source: Any = None, objects: dict[str, Media] | None = None
) -> list[Any]:
    """A stored column as Python values (a mixed column's rows as their own values, a
    media column's as media objects: those in ``objects`` if made in this process, else
    read from the artifact ``source`` the table came from)."""
    values = column.to_pylist()
    if is_mixed(field):
        return [_pick(v) for v in values]
    if media_kind(field) is not None:
        known = objects or {}
        return [None if v is None else known.get(v["meta"]) or media_from_cell(v, source) for v in values]
    return values


def _pick(row: dict[str, Any] | None) -> Any:
    if row is None:
        return None
    return next((v for v in row.values() if v is not None), None)


def to_pandas(table: pa.Table, source: Any = None, objects: dict[str, Media] | None = None) -> Any:
    """A pandas DataFrame of an Arrow table; mixed and media columns become object columns."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtraError("reading a table as a DataFrame", "pandas") from None
    mixed = [f for f in table.schema if is_mixed(f) or media_kind(f) is not None]
    frame = table.drop_columns([f.name for f in mixed]).to_pandas() if mixed else table.to_pandas()
    for field in mixed:
        values = python_values(table.column(field.name), field, source, objects)
        frame.insert(table.schema.get_field_index(field.name), field.name, pd.Series(values, dtype=object))
    return frame
