"""The web UI's graphs: a version's lineage gathered from a real embedded store and drawn
as SVG, and a run's history drawn as a line chart."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import Markup

import quire
from quire.errors import ValidationError
from quire.server.web.graphs import (
    Graph,
    Node,
    layers,
    line_chart_svg,
    lineage,
    lineage_svg,
    numeric_series,
    run_node_id,
    text_width,
    version_node_id,
)
from quire.store import open_store
from quire.store.catalog import Catalog, HistoryRow, RunRecord, VersionRecord, now

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>'


def _log(run: quire.Run, name: str, folder: Path, content: str, type_: str = "dataset") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.txt").write_text(content)
    art = quire.Artifact(name, type_)
    art.add_file(str(folder / "data.txt"))
    run.log_artifact(art)


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Catalog, dict[str, VersionRecord]]:
    """A pipeline of four runs: ingest → raw → prep → clean → train → model → eval → report.

    ``prep`` also uses ``vocab``, which nothing made; ``train`` is named hostilely."""
    store = tmp_path / "s"
    files = tmp_path / "files"
    with quire.init(project="p", store=store, id="ingest", job_type="ingest") as run:
        _log(run, "raw", files / "raw", "raw")
        _log(run, "vocab", files / "vocab", "vocab")
    with quire.init(project="p", store=store, id="prep", job_type="prep") as run:
        run.use_artifact("raw:latest")
        run.use_artifact("vocab:latest")
        _log(run, "clean", files / "clean", "clean")
    with quire.init(project="p", store=store, id="train", name=HOSTILE, job_type=HOSTILE) as run:
        run.use_artifact("clean:latest")
        _log(run, "model", files / "model", "model", "model")
    with quire.init(project="p", store=store, id="eval", job_type="eval") as run:
        run.use_artifact("model:latest")
        _log(run, "report", files / "report", "report", "report")
    catalog = open_store(str(store)).catalog
    versions = {name: catalog.version("p", name, "v0") for name in ("raw", "vocab", "clean", "model", "report")}
    return catalog, versions


def _ids(graph: Graph) -> set[str]:
    return {node.id for node in graph.nodes}


def test_lineage_gathers_the_producer_consumers_and_their_inputs_and_outputs(chain) -> None:
    catalog, v = chain
    graph = lineage(catalog, v["clean"])
    assert graph.center == version_node_id(v["clean"].id) and not graph.cut and graph.hops == 2
    assert _ids(graph) == {
        version_node_id(v["clean"].id),
        run_node_id("prep"),
        run_node_id("train"),
        version_node_id(v["raw"].id),
        version_node_id(v["vocab"].id),
        version_node_id(v["model"].id),
    }
    # producer to product: input version → run → output version
    assert set(graph.edges) == {
        (version_node_id(v["raw"].id), run_node_id("prep")),
        (version_node_id(v["vocab"].id), run_node_id("prep")),
        (run_node_id("prep"), version_node_id(v["clean"].id)),
        (version_node_id(v["clean"].id), run_node_id("train")),
        (run_node_id("train"), version_node_id(v["model"].id)),
    }
    assert len(graph.edges) == len(set(graph.edges))
    center = graph.node(graph.center)
    assert (center.kind, center.label, center.sub, center.hop) == ("version", "clean:v0", "dataset", 0)
    train = graph.node(run_node_id("train"))
    assert (train.kind, train.label, train.sub, train.hop) == ("run", HOSTILE, HOSTILE, 1)
    prep = graph.node(run_node_id("prep"))
    assert (prep.label, prep.sub, prep.record.id) == ("run-prep", "prep", "prep")  # the name the sdk gave it
    assert graph.node(version_node_id(v["model"].id)).hop == 2


def test_lineage_stops_after_hops(chain) -> None:
    catalog, v = chain
    assert _ids(lineage(catalog, v["clean"], hops=0)) == {version_node_id(v["clean"].id)}
    one = lineage(catalog, v["clean"], hops=1)
    assert _ids(one) == {version_node_id(v["clean"].id), run_node_id("prep"), run_node_id("train")}
    assert set(one.edges) == {
        (run_node_id("prep"), version_node_id(v["clean"].id)),
        (version_node_id(v["clean"].id), run_node_id("train")),
    }
    three = lineage(catalog, v["clean"], hops=3)
    assert {run_node_id("ingest"), run_node_id("eval")} <= _ids(three)
    assert version_node_id(v["report"].id) not in _ids(three)  # four hops away
    assert (run_node_id("ingest"), version_node_id(v["raw"].id)) in three.edges
    assert version_node_id(v["report"].id) in _ids(lineage(catalog, v["clean"], hops=4))


def test_lineage_cut_at_the_limit_keeps_the_nearest_and_their_edges(chain) -> None:
    catalog, v = chain
    graph = lineage(catalog, v["clean"], limit=3)
    assert graph.cut and len(graph.nodes) == 3
    assert _ids(graph) == {version_node_id(v["clean"].id), run_node_id("prep"), run_node_id("train")}
    assert all(a in _ids(graph) and b in _ids(graph) for a, b in graph.edges) and len(graph.edges) == 2
    assert not lineage(catalog, v["clean"], limit=6).cut  # exactly enough
    svg = ET.fromstring(str(lineage_svg(graph, lambda node: "/x")))
    assert "cut at 3 nodes" in (svg.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
    alone = lineage(catalog, v["clean"], limit=1)
    assert alone.cut and len(alone.nodes) == 1
    svg = ET.fromstring(str(lineage_svg(alone, lambda node: "/x")))
    (note,) = [t for t in svg.iter(f"{SVG}text") if t.attrib.get("class") == "cut"]
    assert text_width(note.text or "", 11) <= float(svg.attrib["width"])  # said on the canvas, not clipped
    with pytest.raises(ValidationError, match="limit"):
        lineage(catalog, v["clean"], limit=0)
    with pytest.raises(ValidationError, match="hops"):
        lineage(catalog, v["clean"], hops=-1)


def _href(node: Node) -> str:
    return f"/p/p/{node.kind}/{node.record.id}?a=1&b=2"


def _boxes(svg: ET.Element) -> dict[str, ET.Element]:
    """Each node's link by its href."""
    return {a.attrib["href"]: a for a in svg.iter(f"{SVG}a")}


def _x(link: ET.Element) -> float:
    """The middle of a node's shape, across."""
    shape = link.find(f"{SVG}rect")
    if shape is not None:
        return float(shape.attrib["x"]) + float(shape.attrib["width"]) / 2
    polygon = link.find(f"{SVG}polygon")
    assert polygon is not None
    xs = [float(point.split(",")[0]) for point in polygon.attrib["points"].split()]
    return (min(xs) + max(xs)) / 2


def test_lineage_svg_parses_links_every_node_and_lays_out_left_to_right(chain) -> None:
    catalog, v = chain
    graph = lineage(catalog, v["clean"])
    markup = lineage_svg(graph, _href)
    assert isinstance(markup, Markup)
    svg = ET.fromstring(str(markup))
    assert svg.tag == f"{SVG}svg" and svg.attrib["id"] == "lineage" and svg.attrib["role"] == "img"
    labelled = svg.attrib["aria-labelledby"].split()
    assert {el.attrib.get("id") for el in svg.iter() if el.tag in (f"{SVG}title", f"{SVG}desc")} >= set(labelled)
    assert svg.find(f"{SVG}title").text == "Lineage of clean:v0"  # type: ignore[union-attr]
    links = _boxes(svg)
    assert set(links) == {_href(node) for node in graph.nodes} and len(links) == len(graph.nodes) == 6
    for node in graph.nodes:  # each link wraps its shape and its label
        link = links[_href(node)]
        shape = "rect" if node.kind == "version" else "polygon"
        assert link.find(f"{SVG}{shape}") is not None
        assert node.label in [text.text for text in link.iter(f"{SVG}text")]
    centers = [a for a in links.values() if "center" in a.attrib["class"].split()]
    assert [a.attrib["href"] for a in centers] == [_href(graph.node(graph.center))]
    # every edge drawn, pointing right: raw and vocab, then prep, clean, train, model
    assert len(list(svg.iter(f"{SVG}path"))) == len(graph.edges) + 1  # and the arrow head's
    x = {node.id: _x(links[_href(node)]) for node in graph.nodes}
    for a, b in graph.edges:
        assert x[a] < x[b]
    assert x[version_node_id(v["raw"].id)] == x[version_node_id(v["vocab"].id)]  # one column
    # the canvas holds every node
    width, height = float(svg.attrib["width"]), float(svg.attrib["height"])
    assert svg.attrib["viewBox"] == f"0 0 {svg.attrib['width']} {svg.attrib['height']}"
    for shape in svg.iter(f"{SVG}rect"):
        assert float(shape.attrib["x"]) + float(shape.attrib["width"]) <= width
        assert float(shape.attrib["y"]) + float(shape.attrib["height"]) <= height


def test_lineage_svg_escapes_hostile_names(chain) -> None:
    catalog, v = chain
    graph = lineage(catalog, v["model"])
    text = str(lineage_svg(graph, _href))
    svg = ET.fromstring(text)
    assert not [el for el in svg.iter() if "script" in el.tag.lower()]
    assert "<script" not in text and "&lt;script&gt;" in text
    link = _boxes(svg)[_href(graph.node(run_node_id("train")))]
    shown = [t.text for t in link.iter(f"{SVG}text")]
    assert HOSTILE in shown  # the label and the job type, as text
    assert link.find(f"{SVG}title").text == f"{HOSTILE} ({HOSTILE})"  # type: ignore[union-attr]
    assert link.attrib["href"].endswith("?a=1&b=2")  # the href escaped as an attribute, read back whole


def test_a_long_label_is_shortened_and_the_canvas_grows_with_it(tmp_path: Path) -> None:
    store = tmp_path / "s"
    long_name = "n" * 200
    with quire.init(project="p", store=store, id="r1", name=long_name) as run:
        _log(run, "data", tmp_path / "f", "x")
    catalog = open_store(str(store)).catalog
    graph = lineage(catalog, catalog.version("p", "data", "v0"))
    svg = ET.fromstring(str(lineage_svg(graph, _href)))
    link = _boxes(svg)[_href(graph.node(run_node_id("r1")))]
    (label,) = [t.text or "" for t in link.iter(f"{SVG}text")]
    assert label.endswith("…") and len(label) < 60
    assert link.find(f"{SVG}title").text == long_name  # type: ignore[union-attr]
    left, _, right, _ = _bounds(link)
    assert right - left > text_width(label, 12) and right <= float(svg.attrib["width"])  # the node holds its label


def test_a_run_that_logs_the_version_it_used_is_a_cycle_drawn_back(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with quire.init(project="p", store=store, id="maker") as run:
        _log(run, "data", tmp_path / "a", "same")
    with quire.init(project="p", store=store, id="loop") as run:
        run.use_artifact("data:latest")
        _log(run, "data", tmp_path / "b", "same")  # the same files: v0 again, with an output edge
    catalog = open_store(str(store)).catalog
    version = catalog.version("p", "data", "latest")
    assert version.index == 0
    graph = lineage(catalog, version)
    vid = version_node_id(version.id)
    assert set(graph.edges) == {(run_node_id("maker"), vid), (run_node_id("loop"), vid), (vid, run_node_id("loop"))}
    layer = layers(graph)
    assert layer[run_node_id("maker")] < layer[vid]
    svg = ET.fromstring(str(lineage_svg(graph, _href)))
    assert len(_boxes(svg)) == 3
    assert len(list(svg.find(f"{SVG}g").iter(f"{SVG}path"))) == 3  # type: ignore[union-attr]


def test_lineage_within_no_hops_is_the_version_alone(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with quire.init(project="p", store=store) as run:
        _log(run, "data", tmp_path / "a", "x")
    catalog = open_store(str(store)).catalog
    version = catalog.version("p", "data", "v0")
    graph = lineage(catalog, version, hops=0)
    assert [node.id for node in graph.nodes] == [graph.center] and graph.edges == []
    svg = ET.fromstring(str(lineage_svg(graph, _href)))
    assert len(_boxes(svg)) == 1


def test_a_run_without_a_name_is_labelled_by_its_id_and_another_projects_by_project(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with quire.init(project="p", store=store) as run:
        _log(run, "data", tmp_path / "a", "x")
    catalog = open_store(str(store)).catalog
    version = catalog.version("p", "data", "v0")
    catalog.create_project("q")
    catalog.create_run(RunRecord("anon7", "q", None, None, None, {}, "running", now()))
    catalog.use_version("anon7", version.id)
    graph = lineage(catalog, version, hops=1)
    node = graph.node(run_node_id("anon7"))
    assert (node.label, node.sub) == ("q/anon7", None)
    svg = ET.fromstring(str(lineage_svg(graph, _href)))
    link = _boxes(svg)[_href(node)]
    assert [t.text for t in link.iter(f"{SVG}text")] == ["q/anon7"]  # no type line


# -- the history chart ----------------------------------------------------------------------


def _polylines(svg: ET.Element) -> dict[str, list[tuple[float, float]]]:
    return {
        line.attrib["data-series"]: [tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]  # type: ignore[misc]
        for line in svg.iter(f"{SVG}polyline")
    }


def test_the_chart_of_logged_history_skips_nan_and_text(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with quire.init(project="p", store=store, id="r1") as run:
        run.log({"loss": 1.0, "acc": 0.5, "note": "start", "flag": True})
        run.log({"loss": float("nan"), "acc": 0.6})
        run.log({"loss": 0.25, "acc": float("inf"), "n": 3})
    rows = open_store(str(store)).catalog.history("r1")
    series = numeric_series(rows)
    assert list(series) == ["loss", "acc", "n"]  # not note (text), flag (bool), _runtime, _timestamp
    assert series["loss"][0] == (0.0, 1.0) and math.isnan(series["loss"][1][1]) and series["loss"][2] == (2.0, 0.25)
    assert series["acc"][:2] == [(0.0, 0.5), (1.0, 0.6)] and series["acc"][2] == (2.0, math.inf)
    assert series["n"] == [(2.0, 3.0)]

    markup = line_chart_svg(series)
    svg = ET.fromstring(str(markup))
    assert svg.attrib["id"] == "history-chart" and svg.attrib["role"] == "img"
    lines = _polylines(svg)
    assert [len(lines[k]) for k in ("loss", "acc", "n")] == [2, 2, 1]
    assert len(list(svg.iter(f"{SVG}circle"))) == 1  # n's one point, as a dot
    # x = step, y = value: loss falls from step 0 to step 2 (SVG's y grows downwards)
    (x0, y0), (x2, y2) = lines["loss"]
    assert x0 < x2 and y0 < y2
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.text in ("loss", "acc", "n")]
    assert legend == ["loss", "acc", "n"]
    ticks = {t.attrib.get("class"): t.text for t in svg.iter(f"{SVG}text") if t.attrib.get("class")}
    assert ticks == {"y-max": "3", "y-min": "0.25", "x-min": "0", "x-max": "2"}
    width, height = float(svg.attrib["width"]), float(svg.attrib["height"])
    for points in lines.values():
        assert all(0 <= x <= width and 0 <= y <= height for x, y in points)


def test_the_chart_is_empty_without_numbers_and_escapes_keys() -> None:
    assert line_chart_svg({}) == Markup("")
    assert line_chart_svg({"loss": [(0.0, math.nan), (1.0, math.inf)]}) == Markup("")
    rows = [HistoryRow(0, {"note": "a", "_runtime": 1.5}, "t"), HistoryRow(1, {"note": "b"}, "t")]
    assert numeric_series(rows) == {}
    assert line_chart_svg(numeric_series(rows)) == Markup("")
    text = str(line_chart_svg({HOSTILE: [(0.0, 1.0), (1.0, 2.0)]}))
    svg = ET.fromstring(text)
    assert "<script" not in text and not [el for el in svg.iter() if "script" in el.tag.lower()]
    assert list(_polylines(svg)) == [HOSTILE]


def test_a_long_history_is_thinned_to_the_plot_and_keeps_its_extremes() -> None:
    rng = random.Random(15)
    points = [(float(step), rng.uniform(0, 1)) for step in range(20_000)]
    points[12_345] = (12_345.0, 7.0)  # a spike the line must still show
    svg = ET.fromstring(str(line_chart_svg({"loss": points}, width=400)))
    (line,) = _polylines(svg).values()
    assert len(line) < 4 * 400
    top = min(y for _, y in line)
    assert top == pytest.approx(float(svg.find(f"{SVG}g").find(f"{SVG}line").attrib["y1"]))  # type: ignore[union-attr]
    assert [x for x, _ in line] == sorted(x for x, _ in line)


def _bounds(link: ET.Element) -> tuple[float, float, float, float]:
    """A node shape's left, top, right and bottom."""
    rect = link.find(f"{SVG}rect")
    if rect is not None:
        x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
        return x, y, x + float(rect.attrib["width"]), y + float(rect.attrib["height"])
    polygon = link.find(f"{SVG}polygon")
    assert polygon is not None
    points = [tuple(map(float, p.split(","))) for p in polygon.attrib["points"].split()]
    return min(p[0] for p in points), min(p[1] for p in points), max(p[0] for p in points), max(p[1] for p in points)


def test_an_edge_spanning_columns_runs_between_the_nodes_it_passes(chain, tmp_path: Path) -> None:
    catalog, v = chain
    with quire.init(project="p", store=tmp_path / "s", id="late", job_type="late") as run:
        run.use_artifact("raw:latest")  # raw is two columns left of model, which late also uses
        run.use_artifact("model:latest")
    graph = lineage(catalog, v["model"], hops=3)
    layer = layers(graph)
    raw, late = version_node_id(v["raw"].id), run_node_id("late")
    assert layer[late] - layer[raw] > 1
    svg = ET.fromstring(str(lineage_svg(graph, _href)))
    boxes = [_bounds(a) for a in svg.iter(f"{SVG}a")]
    edges = svg.find(f"{SVG}g")
    assert edges is not None and edges.attrib["class"] == "edges"
    straight = []  # the waypoints' runs across the columns between
    for path in edges.iter(f"{SVG}path"):
        words = path.attrib["d"].split()
        straight += [tuple(map(float, w[1:].split(","))) for w in words if w.startswith("L")]
    assert straight
    for x, y in straight:
        assert not any(left <= x <= right and top <= y <= bottom for left, top, right, bottom in boxes)
