"""Tables: a partitioned table from parallel writers (T1); Parquet against W&B's JSON (T2)."""

from __future__ import annotations

from pathlib import Path

from bench.runner import Case, Context, Op, rmtree, run_op
from bench.workloads import vs, workload

T1_ROWS, T1_WRITERS = 10_000_000, 16
T2_ROWS = 200_000  # the most rows W&B accepts in an artifact's table


def _quire(ctx: Context, home: Path, name: str, args: dict) -> Op:
    return Op(name, args, ctx.quire_python, home, env={"QUIRE_STORE": str(home / "store")})


def partitioned_store(ctx: Context) -> Path:
    """A store holding the T1 partitioned table, with its parts in the local cache."""

    def build(home: Path) -> Path:
        run_op(_quire(ctx, home, "tables_write_parts", {"total": T1_ROWS, "writers": T1_WRITERS}))
        run_op(_quire(ctx, home, "tables_open", {"total": T1_ROWS}))
        return home

    return ctx.shared("tables-partitioned", build)


def _on_partitioned(ctx: Context, variant: str, name: str, cold: bool = False, tool: str = "quire") -> Case:
    def prepare(rep: Path) -> Op:
        home = partitioned_store(ctx)
        if cold:
            rmtree(home / "store" / "cache")
        return _quire(ctx, home, name, {"total": T1_ROWS})

    return Case(tool, variant, prepare)


@workload("T1", "a 10,000,000-row × 5-column table from 16 parallel writers, read back")
def t1(ctx: Context) -> list[Case]:
    """16 writer processes each turn 625,000 rows (int, float, float, string, bool; made
    before the clock starts) into a `Table` and upsert it as one part; a finisher adds a
    `PartitionedTable` and commits (fresh store each repetition). Then, from a new
    process: `get("table").to_arrow()` with an empty local cache and with the parts
    cached, `iterrows()` over every row, and, as the floor, pyarrow reading the same
    cached Parquet files itself. Rows per second = 10,000,000 ÷ the median."""
    write = Case(
        "quire",
        f"{T1_WRITERS} writers upsert a part, 1 finisher",
        lambda rep: _quire(ctx, rep, "tables_write_parts", {"total": T1_ROWS, "writers": T1_WRITERS}),
    )
    warm = _on_partitioned(ctx, "to_arrow(), parts cached", "tables_to_arrow")
    return [
        write,
        _on_partitioned(ctx, "to_arrow(), empty cache", "tables_to_arrow", cold=True),
        warm,
        _on_partitioned(ctx, "iterrows(), every row", "tables_iterrows"),
        vs(_on_partitioned(ctx, "pyarrow read_table of the cached parts", "parquet_read", tool="anchor"), warm),
    ]


def _wandb_json(ctx: Context) -> Path:
    """The JSON file of a W&B table of T2_ROWS rows, as wandb staged it for upload."""

    def build(home: Path) -> Path:
        run_op(Op("table_write", {"module": "wandb", "n": T2_ROWS, "init_kwargs": {}}, ctx.peers_python, home))
        staged = max((home / "wandb-data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else -1)
        return staged

    return ctx.shared("wandb-table", build)


def _quire_table(ctx: Context) -> Path:
    def build(home: Path) -> Path:
        run_op(_quire(ctx, home, "table_write", {"module": "quire", "n": T2_ROWS, "init_kwargs": {}}))
        return home

    return ctx.shared("quire-table", build)


@workload("T2", "200,000 rows × 5 columns: Quire's Parquet table against W&B's JSON table")
def t2(ctx: Context) -> list[Case]:
    """The largest table W&B accepts. Write: the rows, as Python lists in memory, become a
    `Table` in a committed version (`init`, `Artifact`, `add(Table(...))`, `log_artifact`,
    `finish`; the same code for both, wandb offline). Read: a committed version → the rows
    as Python lists: Quire `Api().artifact(...).get("table").data`; wandb has no server
    offline, so its row times what `artifact.get` does after the download:
    `Table.from_json(json.load(file)).data`."""
    quire_write = Case(
        "quire",
        "rows → Table → committed version",
        lambda rep: _quire(ctx, rep, "table_write", {"module": "quire", "n": T2_ROWS, "init_kwargs": {}}),
    )
    wandb_write = Case(
        "wandb",
        "offline: rows → Table → logged artifact",
        lambda rep: Op("table_write", {"module": "wandb", "n": T2_ROWS, "init_kwargs": {}}, ctx.peers_python, rep),
    )
    quire_read = Case(
        "quire",
        "committed version → rows",
        lambda rep: _quire(ctx, _quire_table(ctx), "quire_table_read", {"n": T2_ROWS}),
    )
    wandb_read = Case(
        "wandb",
        "JSON file → Table → rows",
        lambda rep: Op("wandb_table_read", {"file": str(_wandb_json(ctx)), "n": T2_ROWS}, ctx.peers_python, rep),
    )
    return [quire_write, vs(wandb_write, quire_write), quire_read, vs(wandb_read, quire_read)]
