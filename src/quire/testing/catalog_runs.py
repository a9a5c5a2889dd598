"""Part of the shipped catalog suite (mixed into :class:`quire.testing.CatalogTests`):
Runs beyond creating one: updates, listings, history (resume, config, summary)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ..errors import ArtifactNotFoundError, ValidationError
from ..store.catalog import RUN_TEXT_LIMIT, Catalog, HistoryRow, RunRecord, now


def _run(run_id: str, project: str = "p") -> RunRecord:
    return RunRecord(run_id, project, f"run {run_id}", "g", "train", {"lr": 0.1}, "running", now())


def _row(step: int, **data: Any) -> HistoryRow:
    return HistoryRow(step, data, now())


class RunCatalogTests:
    """Tests that take the fixtures of :class:`quire.testing.CatalogTests` (``catalog``,
    ``open_catalog``, ``backdoor``)."""

    def test_project_runs_lists_a_projects_runs_oldest_first(self, catalog: Catalog) -> None:
        for run_id, project in (("a", "p"), ("b", "q"), ("c", "p")):
            catalog.create_run(_run(run_id, project))
        assert [r.id for r in catalog.project_runs("p")] == ["a", "c"]
        assert [r.id for r in catalog.project_runs("q")] == ["b"]
        assert catalog.project_runs("nowhere") == []

    def test_project_runs_pages_oldest_or_newest_first(self, catalog: Catalog) -> None:
        ids = [f"r{i:02}" for i in range(7)]
        for run_id in ids:
            catalog.create_run(_run(run_id, "p"))
        catalog.create_run(_run("other", "q"))
        order = [r.id for r in catalog.project_runs("p")]
        assert sorted(order) == ids  # every run of p, none of q
        assert [r.id for r in catalog.project_runs("p", descending=True)] == order[::-1]
        assert [r.id for r in catalog.project_runs("p", limit=3)] == order[:3]
        assert [r.id for r in catalog.project_runs("p", limit=3, offset=3)] == order[3:6]
        assert [r.id for r in catalog.project_runs("p", descending=True, limit=2, offset=1)] == order[::-1][1:3]
        assert catalog.project_runs("p", offset=7) == []
        for limit, offset in ((0, 0), (-1, 0), (True, 0), (None, -1), ("3", 0)):
            with pytest.raises(ValidationError):
                catalog.project_runs("p", limit=limit, offset=offset)  # type: ignore[arg-type]

    def test_update_run_replaces_the_fields_given(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        got = catalog.update_run(
            "r1",
            name="renamed",
            group="g2",
            job_type="eval",
            config={"lr": 0.2, "layers": [1, 2]},
            summary={"loss": 0.5, "nested": {"a": None}},
            tags=["baseline", "with space"],
            notes="a note",
            info={"entity": "team", "mode": "offline"},
        )
        again = catalog.run("r1")
        assert got == again
        assert (again.name, again.group, again.job_type, again.notes) == ("renamed", "g2", "eval", "a note")
        assert again.config == {"lr": 0.2, "layers": [1, 2]}
        assert again.summary == {"loss": 0.5, "nested": {"a": None}}
        assert again.tags == ["baseline", "with space"]
        assert again.info == {"entity": "team", "mode": "offline"}
        assert again.state == "running"
        # None leaves a field as it is; an empty value replaces it
        catalog.update_run("r1", summary={"loss": 0.4})
        kept = catalog.run("r1")
        assert (kept.name, kept.config, kept.tags, kept.summary) == ("renamed", again.config, again.tags, {"loss": 0.4})
        catalog.update_run("r1", tags=[], config={})
        assert (catalog.run("r1").tags, catalog.run("r1").config) == ([], {})

    def test_a_run_made_before_any_update_reads_empty_fields(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        got = catalog.run("r1")
        assert (got.tags, got.notes, got.summary, got.info) == ([], None, {}, {})

    def test_a_finished_run_reopens_and_keeps_its_config_and_summary(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        catalog.update_run("r1", summary={"loss": 0.3})
        catalog.finish_run("r1", "crashed")
        assert catalog.run("r1").finished_at is not None
        reopened = catalog.update_run("r1", state="running")
        assert (reopened.state, reopened.finished_at) == ("running", None)
        assert (reopened.config, reopened.summary) == ({"lr": 0.1}, {"loss": 0.3})
        catalog.finish_run("r1", "finished")
        assert catalog.run("r1").state == "finished"

    def test_history_rows_replace_by_step_and_read_by_range(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        assert catalog.history("r1") == []
        catalog.log_history("r1", [_row(0, loss=1.0), _row(1, loss=0.8), _row(2, loss=0.6, acc="high")])
        catalog.log_history("r1", [_row(1, loss=0.7), _row(5, loss=0.1)])
        assert [(r.step, r.data) for r in catalog.history("r1")] == [
            (0, {"loss": 1.0}),
            (1, {"loss": 0.7}),
            (2, {"loss": 0.6, "acc": "high"}),
            (5, {"loss": 0.1}),
        ]
        assert [r.step for r in catalog.history("r1", start=1, stop=5)] == [1, 2]
        assert [r.step for r in catalog.history("r1", start=2)] == [2, 5]
        assert catalog.history("r1", start=6) == []
        catalog.log_history("r1", [])  # nothing to write is no error
        assert len(catalog.history("r1")) == 4

    def test_history_is_per_run(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        catalog.create_run(_run("r2"))
        catalog.log_history("r1", [_row(0, x=1)])
        catalog.log_history("r2", [_row(0, x=2)])
        assert [r.data for r in catalog.history("r1")] == [{"x": 1}]
        assert [r.data for r in catalog.history("r2")] == [{"x": 2}]

    def test_a_deferred_run_is_recorded_by_its_update_or_history(self, open_catalog: Callable[[], Catalog]) -> None:
        # (one test, not parametrized: the suite's runner counts its tests by name)
        writes: dict[str, Callable[[Catalog, str], object]] = {
            "update": lambda c, r: c.update_run(r, summary={"loss": 1.0}),
            "history": lambda c, r: c.log_history(r, [HistoryRow(0, {"loss": 1.0}, now())]),
        }
        other = open_catalog()
        for run_id, write in writes.items():
            catalog = open_catalog()
            catalog.defer_run(_run(run_id))
            write(catalog, run_id)
            got = other.run(run_id)
            assert (got.name, got.state, got.config) == (f"run {run_id}", "running", {"lr": 0.1})
        assert other.run("update").summary == {"loss": 1.0}
        assert [r.data for r in other.history("history")] == [{"loss": 1.0}]

    def test_a_handle_shares_the_catalog_but_defers_runs_of_its_own(self, catalog: Catalog) -> None:
        catalog.create_run(_run("made"))
        handle = catalog.handle()
        assert handle.catalog_id == catalog.catalog_id and handle.run("made").id == "made"
        handle.defer_run(_run("deferred"))
        catalog.update_run("made", summary={"x": 1})  # the other handle's write: not the run's
        with pytest.raises(ArtifactNotFoundError):
            catalog.run("deferred")
        with pytest.raises(ArtifactNotFoundError):  # its own write fails: nor is it recorded then
            handle.update_run("ghost", summary={"x": 1})
        with pytest.raises(ArtifactNotFoundError):
            catalog.run("deferred")
        handle.update_run("deferred", summary={"x": 2})
        assert catalog.run("deferred").summary == {"x": 2}

    def test_unknown_run_ids_are_not_found_and_create_nothing(self, catalog: Catalog) -> None:
        with pytest.raises(ArtifactNotFoundError, match="ghost"):
            catalog.update_run("ghost", summary={"a": 1})
        with pytest.raises(ArtifactNotFoundError, match="ghost"):
            catalog.log_history("ghost", [_row(0, a=1)])
        with pytest.raises(ArtifactNotFoundError, match="ghost"):
            catalog.history("ghost")
        with pytest.raises(ArtifactNotFoundError):
            catalog.run("ghost")

    def test_an_update_the_catalog_cannot_hold_is_refused_and_changes_nothing(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        before = catalog.run("r1")
        refused: list[tuple[dict[str, Any], str]] = [
            ({"name": "n" * (RUN_TEXT_LIMIT + 1)}, str(RUN_TEXT_LIMIT)),
            ({"group": "g" * (RUN_TEXT_LIMIT + 1)}, str(RUN_TEXT_LIMIT)),
            ({"job_type": "j" * (RUN_TEXT_LIMIT + 1)}, str(RUN_TEXT_LIMIT)),
            ({"notes": "a\x00b"}, "NUL"),
            ({"state": "paused"}, "paused"),
            ({"tags": ["ok", 3]}, "strings"),
            ({"summary": {"loss": float("nan")}}, "JSON"),
            ({"config": {"lr": float("inf")}}, "JSON"),
            ({"name": "fine", "info": {"x": float("nan")}}, "JSON"),  # nothing of it is applied
        ]
        for fields, message in refused:
            with pytest.raises(ValidationError, match=message):
                catalog.update_run("r1", **fields)
            assert catalog.run("r1") == before, fields

    def test_notes_are_not_limited_to_the_text_limit(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        catalog.update_run("r1", notes="n" * (RUN_TEXT_LIMIT * 4))
        assert catalog.run("r1").notes == "n" * (RUN_TEXT_LIMIT * 4)

    def test_a_history_row_the_catalog_cannot_hold_is_refused_with_the_rest(self, catalog: Catalog) -> None:
        catalog.create_run(_run("r1"))
        for bad in (
            HistoryRow(-1, {"a": 1}, "t"),
            HistoryRow(0, {"a": float("nan")}, "t"),
            HistoryRow(0, {"a": object()}, "t"),
        ):
            with pytest.raises(ValidationError, match="step"):
                catalog.log_history("r1", [_row(3, fine=True), bad])
            assert catalog.history("r1") == [], bad
