"""Tables and partitioned tables: types, bad input, storage in versions, reading back."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import quire
from quire.core.cache import cache_for
from quire.errors import ArtifactNotFoundError, ArtifactNotLoggedError, ValidationError
from quire.sdk import partitioned_table
from quire.store import open_store
from support import patience

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

UTC = dt.UTC


def log(*items: tuple[object, str], name: str = "preds", files: dict[str, bytes] | None = None) -> quire.Artifact:
    """Commit a version holding the given media objects (and files); return it as read back."""
    art = quire.Artifact(name, "dataset")
    for obj, path in items:
        art.add(obj, path)
    for path, data in (files or {}).items():
        with art.new_file(path, mode="wb") as f:
            f.write(data)
    art.save()
    return quire.Api().artifact(f"{name}:latest")


def parts_table(i: int, rows: int = 3) -> quire.Table:
    return quire.Table(columns=["id", "part", "score"], data=[[i * 100 + r, i, r / 2] for r in range(rows)])


# -- Table: types ------------------------------------------------------------------------


def test_every_cell_type_round_trips_through_a_version() -> None:
    columns = [
        "int",
        "float",
        "str",
        "bool",
        "ts",
        "ts_utc",
        "date",
        "list",
        "null",
        "np_vec",
        "np_mat",
        "np_scalar",
        "bytes",
    ]
    rows = [
        [
            1,
            0.5,
            "a",
            True,
            dt.datetime(2024, 1, 2, 3, 4, 5, 6),
            dt.datetime(2024, 1, 2, tzinfo=UTC),
            dt.date(2024, 1, 2),
            [1, 2],
            None,
            np.array([1.5, 2.5], dtype=np.float32),
            np.arange(4).reshape(2, 2),
            np.int16(7),
            b"\x00\xff",
        ],
        [None, 2, None, False, None, None, None, [], None, np.array([], dtype=np.float32), None, np.int16(-1), None],
    ]
    table = quire.Table(columns=columns, data=rows)
    got = log((table, "t")).get("t")

    types = got.to_arrow().schema
    assert [str(types.field(c).type) for c in columns] == [
        "int64",
        "double",
        "string",
        "bool",
        "timestamp[us]",
        "timestamp[us, tz=UTC]",
        "date32[day]",
        "list<element: int64>",
        "null",
        "list<element: float>",
        "list<element: list<element: int64>>",
        "int64",
        "binary",
    ]
    assert got.columns == columns
    assert got.data == [
        [
            1,
            0.5,
            "a",
            True,
            dt.datetime(2024, 1, 2, 3, 4, 5, 6),
            dt.datetime(2024, 1, 2, tzinfo=UTC),
            dt.date(2024, 1, 2),
            [1, 2],
            None,
            [1.5, 2.5],
            [[0, 1], [2, 3]],
            7,
            b"\x00\xff",
        ],
        [None, 2.0, None, False, None, None, None, [], None, [], None, -1, None],
    ]
    assert got == table


def test_columns_widen_int_to_float_and_null_to_a_type() -> None:
    table = quire.Table(columns=["x", "y"])
    table.add_data(1, None)
    table.add_data(2.5, None)
    assert table.to_arrow().schema.types == [pa.float64(), pa.null()]
    table.add_data(3, "late")
    assert table.to_arrow().schema.types == [pa.float64(), pa.string()]
    assert table.get_column("x") == [1.0, 2.5, 3.0]
    assert table.get_column("y") == [None, None, "late"]


def test_dataframe_round_trip_keeps_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "a": np.arange(5, dtype=np.int32),
            "b": np.linspace(0, 1, 5),
            "c": list("vwxyz"),
            "d": pd.date_range("2024-01-01", periods=5, freq="h"),
        }
    )
    got = log((quire.Table(dataframe=frame), "frame")).get("frame")
    pd.testing.assert_frame_equal(got.get_dataframe(), frame)
    assert got.get_column("a", convert_to="numpy").dtype == np.int32


def test_get_column_iterrows_and_add_column() -> None:
    table = quire.Table(columns=["a"], data=[[1], [2], [3]])
    table.add_column("b", np.array([0.1, 0.2, 0.3]))
    table.add_column("c", ["x", None, "z"])
    assert table.columns == ["a", "b", "c"]
    assert list(table.iterrows()) == [(0, [1, 0.1, "x"]), (1, [2, 0.2, None]), (2, [3, 0.3, "z"])]
    np.testing.assert_array_equal(table.get_column("b", convert_to="numpy"), [0.1, 0.2, 0.3])
    table.add_data(4, 0.4, "w")  # rows still go in after columns were added
    assert log((table, "t")).get("t").get_column("c") == ["x", None, "z", "w"]


def test_a_table_read_back_takes_more_rows_and_is_logged_again() -> None:
    got = log((quire.Table(columns=["a", "l"], data=[[1, [1, 2]], [None, None]]), "t")).get("t")
    got.add_data(3, [4])
    got.add_data(4.5, None)  # widens the stored int column
    again = log((got, "t")).get("t")
    assert again.data == [[1.0, [1, 2]], [None, None], [3.0, [4]], [4.5, None]]


def test_numpy_2d_data_and_polars_or_arrow_frames() -> None:
    table = quire.Table(columns=["p", "q"], data=np.array([[1, 2], [3, 4]], dtype=np.int16))
    assert table.data == [[1, 2], [3, 4]] and table.to_arrow().schema.types == [pa.int16(), pa.int16()]
    assert quire.Table(data=np.array([["a", "b"]])).data == [["a", "b"]]
    with pytest.raises(ValidationError, match="row 0 has 2 cells but the table has 1 columns"):
        quire.Table(columns=["only"], data=np.array([[1, 2]]))
    assert quire.Table(dataframe=pl.DataFrame({"k": [1, 2]})).data == [[1], [2]]
    assert quire.Table(dataframe=pa.table({"k": ["a"]})).data == [["a"]]


def test_declared_dtype_is_kept_and_enforced() -> None:
    table = quire.Table(columns=["small", "f"], dtype=[np.int8, "float32"])
    table.add_data(3, 1)
    assert table.to_arrow().schema.types == [pa.int8(), pa.float32()]
    with pytest.raises(ValidationError, match=r"column 'small' is declared int8, but 300"):
        table.add_data(300, 1.0)
    with pytest.raises(ValidationError, match=r"column 'small' holds int8 but got 1.5"):
        table.add_data(1.5, 1.0)
    with pytest.raises(ValidationError, match="names no column type"):
        quire.Table(columns=["a"], dtype="not-a-type")


# -- Table: bad input ----------------------------------------------------------------------


def test_row_of_the_wrong_length_is_refused() -> None:
    table = quire.Table(columns=["a", "b"])
    with pytest.raises(ValidationError, match=r"row has 3 cells but the table has 2 columns \(a, b\)"):
        table.add_data(1, 2, 3)
    with pytest.raises(ValidationError, match=r"row 1 has 1 cells but the table has 2 columns"):
        quire.Table(columns=["a", "b"], data=[[1, 2], [1]])
    assert table.data == []


def test_a_refused_row_leaves_column_types_unchanged() -> None:
    table = quire.Table(columns=["a", "b"])
    with pytest.raises(ValidationError, match="column 'b'"):
        table.add_data(1, object())
    table.add_data("text", 2)  # column 'a' was not fixed to int64 by the refused row
    assert table.data == [["text", 2]]


def test_mixed_types_in_a_column_are_refused() -> None:
    table = quire.Table(columns=["label"], data=[["cat"]])
    with pytest.raises(
        ValidationError, match=r"column 'label' holds string but got 3 of type int64.*allow_mixed_types=True"
    ):
        table.add_data(3)
    assert table.data == [["cat"]]  # the refused row was not added
    frame = pd.DataFrame({"ok": [1, 2], "bad": ["x", 2]})
    with pytest.raises(ValidationError, match="column 'bad'"):
        quire.Table(dataframe=frame)


def test_mixed_types_are_kept_with_their_own_types_when_allowed() -> None:
    cells = [1, "a", None, True, [1, 2], dt.datetime(2024, 5, 6), b"raw"]
    table = quire.Table(columns=["i", "m"], data=[[n, c] for n, c in enumerate(cells)], allow_mixed_types=True)
    got = log((table, "mixed")).get("mixed")
    assert got.get_column("m") == cells
    assert [type(v) for v in got.get_column("m")] == [type(v) for v in cells]
    assert got.get_dataframe()["m"].tolist() == cells
    # Stored as a struct with one child per type, so SQL can still reach each type.
    sql = duckdb.connect().register("t", got.to_arrow())
    assert sql.sql("select m.int64 from t where m.int64 is not null").fetchall() == [(1,)]
    # Numbers are one kind, as in a typed column: ints widen to floats beside a float.
    numbers = quire.Table(columns=["m"], data=[[1], ["a"], [2.5]], allow_mixed_types=True)
    assert numbers.get_column("m") == [1.0, "a", 2.5]


def test_a_column_turns_mixed_after_typed_rows() -> None:
    table = quire.Table(columns=["m"], allow_mixed_types=True)
    table.add_data(1)
    table.to_arrow()  # built as int64 first
    table.add_data("two")
    assert table.get_column("m") == [1, "two"]


def test_unsupported_cells_name_the_column_and_type() -> None:
    table = quire.Table(columns=["ok", "obj"])
    with pytest.raises(ValidationError, match=r"column 'obj': cells of type object .* not supported"):
        table.add_data(1, object())
    with pytest.raises(ValidationError, match=r"column 'obj': cells of type complex"):
        table.add_data(1, 1 + 2j)
    with pytest.raises(ValidationError, match=r"column 'obj': cells of type list"):
        table.add_data(1, [1, "a"])  # a list must hold one type
    with pytest.raises(ValidationError, match="column names must be unique; repeated: a"):
        quire.Table(columns=["a", "a"])
    with pytest.raises(ValidationError, match="column 'c' has 1 cells but the table has 0 rows"):
        quire.Table(columns=["a"]).add_column("c", [1])


# -- Table in a version ------------------------------------------------------------------------


def test_reading_a_table_fetches_only_its_file() -> None:
    big = os.urandom(3 << 20)
    version = log((quire.Table(columns=["a"], data=[[1]]), "t"), files={"weights.bin": big})
    cache = cache_for(open_store().local_dir)
    cache.cleanup(0)  # logging left nothing behind, but be sure the cache starts empty
    assert version["t"].data == [[1]]
    assert cache.path(version.get_entry("t.table.parquet").digest).exists()
    assert not cache.path(version.get_entry("weights.bin").digest).exists()
    assert not Path("artifacts").exists()  # nothing materialized in the working folder


@pytest.mark.slow
def test_tables_load_on_first_use(python_env: dict[str, str]) -> None:
    log((quire.Table(columns=["a"], data=[[5]]), "t"))
    code = (
        "import sys, quire\n"
        "assert 'pyarrow' not in sys.modules, 'import quire loaded pyarrow'\n"
        "print(quire.Api().artifact('preds:latest').get('t').data)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=python_env, capture_output=True, text=True, timeout=patience(1)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[[5]]"


def test_get_of_a_missing_name_is_none_as_in_wandb() -> None:
    version = log((quire.Table(columns=["a"]), "first"), (quire.PartitionedTable("parts"), "whole"))
    assert version.get("nope") is None
    assert version["nope"] is None
    assert version.get("first") == quire.Table(columns=["a"])


def test_get_on_a_draft_says_to_log_first() -> None:
    art = quire.Artifact("draft", "dataset")
    art.add(quire.Table(columns=["a"]), "t")
    with pytest.raises(ArtifactNotLoggedError, match="log it"):
        art.get("t")


# -- PartitionedTable ----------------------------------------------------------------------


def log_parts(n: int, rows: int = 3) -> quire.Artifact:
    items = [(parts_table(i, rows), f"parts/table_{i}") for i in range(n)]
    return log(*items, (quire.PartitionedTable("parts"), "distributed"))


def test_partitioned_table_gathers_every_part_sorted_by_path() -> None:
    version = log_parts(3)
    pt = version.get("distributed")
    assert isinstance(pt, quire.data_types.PartitionedTable)
    assert pt.parts == [f"parts/table_{i}.table.parquet" for i in range(3)]
    assert pt.columns == ["id", "part", "score"]
    rows = list(pt.iterrows())
    assert [i for i, _ in rows] == list(range(9))
    assert [r[0] for _, r in rows] == [0, 1, 2, 100, 101, 102, 200, 201, 202]
    assert pt.to_arrow().num_rows == 9
    assert pt.to_pandas()["id"].tolist() == [r[0] for _, r in rows]
    assert [Path(f).name for f in pt.dataset().files] == [f"table_{i}.table.parquet" for i in range(3)]


def test_get_lists_parts_without_fetching_them() -> None:
    version = log_parts(2)
    cache_for(open_store().local_dir).cleanup(0)
    pt = version.get("distributed")
    cache = cache_for(open_store().local_dir)
    assert pt.parts and not any(cache.path(version.get_entry(p).digest).exists() for p in pt.parts)


def test_duckdb_and_polars_agree_with_pandas() -> None:
    pt = log_parts(4, rows=50).get("distributed")
    expected = pt.to_pandas().groupby("part")["score"].sum().sort_index()
    sql = duckdb.connect().register("preds", pt.to_arrow())
    by_duckdb = sql.sql("select part, sum(score) as s from preds group by part order by part").fetchall()
    assert by_duckdb == list(expected.items())
    by_polars = pl.scan_pyarrow_dataset(pt.dataset()).group_by("part").agg(pl.col("score").sum()).sort("part").collect()
    assert by_polars.rows() == list(expected.items())


def test_iterrows_reads_one_part_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    pt = log_parts(4, rows=5).get("distributed")
    opened: list[Path] = []
    real = partitioned_table._batches

    def counting(file: Path):
        opened.append(file)
        return real(file)

    monkeypatch.setattr(partitioned_table, "_batches", counting)
    rows = pt.iterrows()
    assert next(rows) == (0, [0, 0, 0.0])
    assert len(opened) == 1
    for _ in range(5):
        next(rows)  # the 6th row is the first of part 2
    assert len(opened) == 2
    assert sum(1 for _ in rows) == 14 and len(opened) == 4


def test_parts_with_different_schemas_name_parts_and_columns() -> None:
    good = parts_table(0)
    other_type = quire.Table(columns=["id", "part", "score"], data=[[1, 1, "high"]])
    version = log((good, "parts/a"), (other_type, "parts/b"), (quire.PartitionedTable("parts"), "pt"))
    pt = version.get("pt")
    expected = r"column 'score' is double in parts/a.table.parquet but string in parts/b.table.parquet"
    with pytest.raises(ValidationError, match=expected):
        pt.to_arrow()
    with pytest.raises(ValidationError, match="different schemas"):
        next(pt.iterrows())

    missing = quire.Table(columns=["id", "part"], data=[[1, 1]])
    version = log((good, "parts/a"), (missing, "parts/b"), (quire.PartitionedTable("parts"), "pt"), name="other")
    with pytest.raises(ValidationError, match=r"parts/b.table.parquet has columns \['id', 'part'\].*missing: score"):
        version.get("pt").dataset()


def test_parts_whose_types_widen_are_read_as_one() -> None:
    nulls = quire.Table(columns=["id", "part", "score"], data=[[7, 1, None]])
    ints = quire.Table(columns=["id", "part", "score"], data=[[8, 2, 1]])
    pt = log(
        (parts_table(0, 1), "parts/a"), (nulls, "parts/b"), (ints, "parts/c"), (quire.PartitionedTable("parts"), "pt")
    ).get("pt")
    assert pt.to_arrow().column("score").to_pylist() == [0.0, None, 1.0]
    assert [r for _, r in pt.iterrows()] == [[0, 0, 0.0], [7, 1, None], [8, 2, 1.0]]


def test_a_stray_file_under_the_parts_folder_is_named() -> None:
    version = log(
        (parts_table(0), "parts/table_0"),
        (quire.PartitionedTable("parts"), "pt"),
        files={"parts/notes.txt": b"not a table"},
    )
    with pytest.raises(ValidationError, match=r"not tables \('parts/notes.txt'\)"):
        version.get("pt")


def test_a_folder_without_tables_is_not_found() -> None:
    version = log((quire.Table(columns=["a"]), "elsewhere/t"), (quire.PartitionedTable("parts"), "pt"))
    with pytest.raises(ArtifactNotFoundError, match=r"no tables under 'parts'.*available: elsewhere"):
        version.get("pt")


def test_an_unread_partitioned_table_is_only_a_pointer() -> None:
    with pytest.raises(ValidationError, match="only a pointer"):
        quire.PartitionedTable("parts").to_arrow()


# -- tables in patch versions --------------------------------------------------------------


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every key the store's object store is asked to write from now on, with its size."""
    objects = open_store().blobs.objects
    seen: dict[str, int] = {}
    put, put_file = objects.put, objects.put_file

    def spy_put(key: str, data: bytes) -> None:
        seen[key] = len(data)
        put(key, data)

    def spy_put_file(key: str, path: Path) -> None:
        seen[key] = path.stat().st_size
        put_file(key, path)

    monkeypatch.setattr(objects, "put", spy_put)
    monkeypatch.setattr(objects, "put_file", spy_put_file)
    return seen


def big_part(i: int) -> quire.Table:
    """A part of about 1.3 MB: stored as a blob of its own, not in a pack."""
    rng = np.random.default_rng(i)
    frame = pd.DataFrame({"id": np.arange(100_000) + i * 1_000_000, "part": i, "score": rng.random(100_000)})
    return quire.Table(dataframe=frame)


def log_big_and_small_parts() -> quire.Artifact:
    parts = [(big_part(i), f"parts/table_{i}") for i in range(2)] + [
        (parts_table(i), f"parts/table_{i}") for i in (2, 3)
    ]
    return log(*parts, (quire.PartitionedTable("parts"), "pt"))


def test_appending_a_part_in_a_new_draft_uploads_only_the_new_part(writes: dict[str, int]) -> None:
    v0 = log_big_and_small_parts()
    assert v0.size > 2 << 20
    writes.clear()

    draft = v0.new_draft()
    draft.add(parts_table(4), "parts/table_4")
    draft.save()

    # Only small writes (the new part and the manifest, in packs): no old part again.
    assert writes and not any(k.startswith("objects/") for k in writes), writes
    assert sum(writes.values()) < 16 << 10, writes
    pt = quire.Api().artifact("preds:v1").get("pt")
    assert pt.parts[-1] == "parts/table_4.table.parquet"
    assert pt.to_arrow().num_rows == 2 * 100_000 + 3 * 3


def test_an_incremental_artifact_appends_a_part_to_the_latest_version(writes: dict[str, int]) -> None:
    log_big_and_small_parts()
    writes.clear()
    patch = quire.Artifact("preds", "dataset", incremental=True)
    patch.add(parts_table(9), "parts/table_9")
    patch.save()
    assert sum(writes.values()) < 16 << 10, writes
    pt = quire.Api().artifact("preds:latest").get("pt")
    assert len(pt.parts) == 5 and pt.to_arrow().num_rows == 2 * 100_000 + 3 * 3
