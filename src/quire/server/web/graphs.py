"""Graphs the server draws as SVG: a version's lineage and a run's history chart.

Plain SVG markup, no JavaScript: a page embeds it and the browser draws it. Every piece
of text in it (collection and run names, job types, metric keys) is escaped as the
markup is built (``Markup.format`` escapes its arguments), so a run named ``<script>``
is shown as those characters, never run. Sizes come from the layout: the canvas grows
with the graph instead of clipping it.

Text widths are estimated, not measured (the server has no fonts): labels are set in a
monospace font, whose glyphs are 0.6 em wide, and long labels are shortened (the full
text is the node's tooltip).
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from markupsafe import Markup

from ...errors import ValidationError
from ...store.catalog import Catalog, HistoryRow, RunRecord, VersionRecord

NodeKind = Literal["run", "version"]
SVG_NS = "http://www.w3.org/2000/svg"


# -- lineage: gathering ---------------------------------------------------------------------


@dataclass
class Node:
    """A run or a version in a lineage graph.

    ``id`` is ``version:<version id>`` or ``run:<run id>``: a run's id is chosen by its
    user and could equal a version's, so the kind is part of it.
    """

    id: str
    kind: NodeKind
    label: str  #: ``collection:vN`` (``project/collection:vN`` from another project), a run's name or id
    sub: str | None  #: the version's type, the run's job type
    record: VersionRecord | RunRecord
    hop: int = 0  #: hops from the center


@dataclass
class Graph:
    """The runs and versions around a version, and the lineage edges between them.

    An edge goes from producer to product: an input version to the run that used it, a
    run to the version it made. Every edge between two nodes of the graph is in it.
    """

    nodes: list[Node]
    edges: list[tuple[str, str]]
    center: str  #: the id of the version the graph is drawn around
    cut: bool = False  #: nodes were left out to stay within the limit
    hops: int = 2  #: how far from the center it was gathered

    def node(self, node_id: str) -> Node:
        """The node with this id (``KeyError`` if it is not in the graph)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


def version_node_id(vid: str) -> str:
    """The node id of the version ``vid``."""
    return f"version:{vid}"


def run_node_id(run_id: str) -> str:
    """The node id of the run ``run_id``."""
    return f"run:{run_id}"


def lineage(catalog: Catalog, version: VersionRecord, *, hops: int = 2, limit: int = 60) -> Graph:
    """The lineage around ``version``: the runs and versions at most ``hops`` hops from it.

    A hop is one lineage edge, between a version and a run, whichever way it points: one
    hop from a version are the runs that made it (its ``output`` edges) and those that
    used it (``input``); one hop from a run are the versions it used and made. So the
    default two hops reach the version's producer and consumers, and each of those runs'
    other inputs and outputs. Nodes are taken nearest first, in the catalog's order (runs
    oldest first, versions by name and number), and at most ``limit`` of them: past that
    the graph is ``cut``.

    Raises:
        ValidationError: ``hops`` below 0 or ``limit`` below 1.
    """
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ValidationError(f"hops must be a whole number from 0, not {hops!r:.40}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a whole number from 1, not {limit!r:.40}")
    center = _version_node(version, version.project, 0)
    nodes = {center.id: center}
    edges: dict[tuple[str, str], None] = {}  # an ordered set
    cut = False
    frontier = [center]
    for hop in range(1, hops + 1):
        reached = []
        for node in frontier:
            for neighbour, edge in _neighbours(catalog, node, version.project, hop):
                if neighbour.id not in nodes:
                    if len(nodes) >= limit:
                        cut = True
                        continue
                    nodes[neighbour.id] = neighbour
                    reached.append(neighbour)
                edges.setdefault(edge)
        frontier = reached
    # The graph is bipartite and gathered breadth first, so an edge joins nodes at most
    # one hop apart, and the nearer was asked for its edges: none between kept nodes is
    # missing, even at the outer hop.
    return Graph(list(nodes.values()), list(edges), center.id, cut, hops)


def _neighbours(catalog: Catalog, node: Node, project: str, hop: int) -> Iterator[tuple[Node, tuple[str, str]]]:
    """The nodes one hop from ``node``, each with the edge between them."""
    if node.kind == "version":
        vid = node.record.id
        for run in catalog.runs_of(vid, "output"):
            found = _run_node(run, project, hop)
            yield found, (found.id, node.id)
        for run in catalog.runs_of(vid, "input"):
            found = _run_node(run, project, hop)
            yield found, (node.id, found.id)
    else:
        run_id = node.record.id
        for version in _sorted(catalog.versions_of(run_id, "input")):
            found = _version_node(version, project, hop)
            yield found, (found.id, node.id)
        for version in _sorted(catalog.versions_of(run_id, "output")):
            found = _version_node(version, project, hop)
            yield found, (node.id, found.id)


def _sorted(versions: list[VersionRecord]) -> list[VersionRecord]:
    """Versions by project, collection and number (a catalog lists a run's in no set order)."""
    return sorted(versions, key=lambda v: (v.project, v.collection, v.index))


def _version_node(version: VersionRecord, project: str, hop: int) -> Node:
    name = f"{version.collection}:{version.version}"
    label = name if version.project == project else f"{version.project}/{name}"
    return Node(version_node_id(version.id), "version", label, version.type, version, hop)


def _run_node(run: RunRecord, project: str, hop: int) -> Node:
    label = run.name or run.id
    if run.project != project:
        label = f"{run.project}/{label}"
    return Node(run_node_id(run.id), "run", label, run.job_type, run, hop)


# -- lineage: layout ------------------------------------------------------------------------

#: the longest label drawn in full (a longer one is shortened; its tooltip has it all)
LABEL_CHARS = 36
_LABEL_SIZE = 12  # px, the label's font size
_SUB_SIZE = 10  # px, the type's
_CHAR = 0.6  # a monospace glyph's width, in em
_PAD = 14  # px between a node's text and its outline
_NODE_HEIGHT = 44
_NODE_MIN_WIDTH = 72
_ROW_GAP = 16
_COLUMN_GAP = 64  # room for the edges' curves and arrow heads
_MARGIN = 12
_VIA_HEIGHT = 8  # the place a waypoint of a long edge takes in a column
_BACK_ROOM = 36  # below the nodes, where edges pointing backwards (a cycle) bend
_NOTE = 22  # the line saying the graph was cut

_FILL = {"version": "#e8f0fe", "run": "#fdf1e0"}
_STROKE = {"version": "#3b6fc4", "run": "#c27a1a"}
_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"


@dataclass
class _Box:
    """A node's (or waypoint's) place: its top left corner and its size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def mid(self) -> float:
        return self.y + self.h / 2


def text_width(text: str, size: float) -> float:
    """The width of ``text`` set in a monospace font of ``size`` px (a wide East Asian
    character takes two cells)."""
    cells = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return cells * _CHAR * size


def shorten(text: str, chars: int = LABEL_CHARS) -> str:
    """``text``, cut to ``chars`` characters with an ellipsis when longer."""
    return text if len(text) <= chars else text[: chars - 1] + "…"


def layers(graph: Graph) -> dict[str, int]:
    """Each node's layer (its column, from 0 on the left): a longest-path layering, so
    every edge points right, with each node that nothing points at moved right to the
    column before the leftmost node it points at (an input used late stays by its run).

    Lineage may hold a cycle (a run that logs the version it used): edges that close one
    (found depth first) are left out of the layering, and are drawn pointing back.
    """
    order = [node.id for node in graph.nodes]
    kept = _acyclic(order, graph.edges)
    preds: dict[str, list[str]] = {n: [] for n in order}
    succs: dict[str, list[str]] = {n: [] for n in order}
    for a, b in kept:
        succs[a].append(b)
        preds[b].append(a)
    layer: dict[str, int] = {}
    waiting = {n: len(preds[n]) for n in order}
    ready = [n for n in order if not waiting[n]]
    while ready:  # Kahn's topological order: each node after all its predecessors
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for succ in succs[node]:
            waiting[succ] -= 1
            if not waiting[succ]:
                ready.append(succ)
    for node in order:
        if not preds[node] and succs[node]:
            layer[node] = min(layer[s] for s in succs[node]) - 1
    low = min(layer.values(), default=0)
    return {n: layer[n] - low for n in order}


def _acyclic(order: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``edges`` without those that close a cycle, found by a depth-first walk from the
    nodes nothing points at, then from the rest, in ``order``."""
    succs: dict[str, list[str]] = {n: [] for n in order}
    pointed = set()
    for a, b in edges:
        succs[a].append(b)
        pointed.add(b)
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    back: set[tuple[str, str]] = set()
    for root in [n for n in order if n not in pointed] + order:
        if root in state:
            continue
        state[root] = 1
        path = [(root, iter(succs[root]))]
        while path:
            node, rest = path[-1]
            nxt = next(rest, None)
            if nxt is None:
                state[node] = 2
                path.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                path.append((nxt, iter(succs[nxt])))
    return [edge for edge in edges if edge not in back]


@dataclass
class _Layout:
    """Where everything goes: a box for each node and for each waypoint, and the
    waypoints each edge longer than one column passes through."""

    boxes: dict[str, _Box]
    via: dict[tuple[str, str], list[str]]


def _layout(graph: Graph, layer: dict[str, int]) -> _Layout:
    """Columns left to right, each as wide as its widest node and centred on the tallest.

    An edge spanning several columns gets a waypoint in each column between (a thin box
    that takes a place in the column like a node): the ordering then keeps room for it,
    and it is drawn through them, between nodes instead of across them.
    """
    at = dict(layer)
    sizes = {node.id: (_node_width(node), float(_NODE_HEIGHT)) for node in graph.nodes}
    links: list[tuple[str, str]] = []  # between neighbouring columns, waypoints included
    via: dict[tuple[str, str], list[str]] = {}
    for i, (a, b) in enumerate(graph.edges):
        if at[b] - at[a] > 1:
            points = [f"via:{i}:{k}" for k in range(at[a] + 1, at[b])]
            for k, point in zip(range(at[a] + 1, at[b]), points, strict=True):
                at[point] = k
                sizes[point] = (0.0, float(_VIA_HEIGHT))
            via[(a, b)] = points
            chain = [a, *points, b]
            links.extend(itertools.pairwise(chain))
        else:
            links.append((a, b))
    columns = _columns(list(sizes), at, links)
    tallest = max(_column_height(col, sizes) for col in columns)
    boxes: dict[str, _Box] = {}
    x: float = _MARGIN
    for col in columns:
        width = max(sizes[n][0] for n in col)
        y = _MARGIN + (tallest - _column_height(col, sizes)) / 2
        for n in col:
            w, h = sizes[n]
            # a node centred in its column; a waypoint across it (its edge runs straight through)
            boxes[n] = _Box(x + (width - w) / 2, y, w, h) if w else _Box(x, y, width, h)
            y += h + _ROW_GAP
        x += width + _COLUMN_GAP
    return _Layout(boxes, via)


def _column_height(col: list[str], sizes: dict[str, tuple[float, float]]) -> float:
    return sum(sizes[n][1] for n in col) + _ROW_GAP * (len(col) - 1)


def _columns(ids: list[str], layer: dict[str, int], links: list[tuple[str, str]]) -> list[list[str]]:
    """The nodes of each layer, top to bottom: in the order of ``ids``, then moved towards
    the mean position of their neighbours in the next column over (a few sweeps each
    way), which uncrosses most edges of a lineage graph."""
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for n in ids:
        columns[layer[n]].append(n)
    neighbours: dict[str, list[str]] = {n: [] for n in ids}
    for a, b in links:
        neighbours[a].append(b)
        neighbours[b].append(a)

    def sweep(indexes: Iterable[int], side: int) -> None:
        for i in indexes:
            placed = {n: pos for pos, n in enumerate(columns[i + side])}
            keys = {}
            for pos, n in enumerate(columns[i]):
                seen = [placed[m] for m in neighbours[n] if m in placed]
                keys[n] = sum(seen) / len(seen) if seen else pos
            columns[i].sort(key=keys.__getitem__)

    for _ in range(2):
        sweep(range(1, len(columns)), -1)
        sweep(range(len(columns) - 2, -1, -1), 1)
    return columns


def _node_width(node: Node) -> float:
    label = text_width(shorten(node.label), _LABEL_SIZE)
    sub = text_width(shorten(node.sub or ""), _SUB_SIZE)
    return max(_NODE_MIN_WIDTH, max(label, sub) + 2 * _PAD)


# -- lineage: drawing -----------------------------------------------------------------------


def lineage_svg(graph: Graph, href: Callable[[Node], str]) -> Markup:
    """``graph`` as an ``<svg id="lineage">``: layers left to right (:func:`layers`),
    versions as rounded rectangles and runs as hexagons, each a link to ``href(node)``,
    the center outlined thicker (class ``center``), edges as curves with arrow heads."""
    layer = layers(graph)
    layout = _layout(graph, layer)
    boxes = layout.boxes
    center = graph.node(graph.center)
    back = [(a, b) for a, b in graph.edges if layer[b] <= layer[a]]
    width = max(box.x + box.w for box in boxes.values()) + _MARGIN
    bottom = max(box.y + box.h for box in boxes.values()) + (_BACK_ROOM if back else 0)
    height = bottom + _MARGIN + (_NOTE if graph.cut else 0)
    note = f"Cut at {len(graph.nodes)} nodes: the lineage goes on."
    if graph.cut:
        width = max(width, text_width(note, _SUB_SIZE + 1) + 2 * _MARGIN)
    runs = sum(node.kind == "run" for node in graph.nodes)
    summary = (
        f"{_count(runs, 'run')} and {_count(len(graph.nodes) - runs, 'version')} "
        f"within {_count(graph.hops, 'hop')} of {center.label}"
    )
    if graph.cut:
        summary += f"; cut at {len(graph.nodes)} nodes, more are linked"
    parts = [
        Markup(
            '<svg xmlns="{ns}" id="lineage" class="lineage" role="img" aria-labelledby="lineage-title lineage-desc"'
            ' width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{font}">'
        ).format(ns=SVG_NS, w=_num(width), h=_num(height), font=_FONT),
        Markup('<title id="lineage-title">Lineage of {}</title>').format(center.label),
        Markup('<desc id="lineage-desc">{}</desc>').format(summary),
        Markup(
            '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
            ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>'
        ),
        Markup('<g class="edges" fill="none" stroke="#888" stroke-width="1.4">'),
    ]
    for a, b in graph.edges:
        parts.append(
            Markup('<path d="{}" marker-end="url(#lineage-arrow)"/>').format(
                _edge_path([boxes[n] for n in (a, *layout.via.get((a, b), []), b)], bottom)
            )
        )
    parts.append(Markup('</g><g class="nodes">'))
    for node in graph.nodes:
        parts.append(_node_svg(node, boxes[node.id], href(node), node.id == graph.center))
    parts.append(Markup("</g>"))
    if graph.cut:
        parts.append(
            Markup('<text class="cut" x="{}" y="{}" font-size="{}" fill="#555">{}</text>').format(
                _MARGIN, _num(height - _MARGIN), _SUB_SIZE + 1, note
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _edge_path(chain: list[_Box], bottom: float) -> str:
    """A curve from the right side of the first box to the left side of the last, through
    the waypoints between (straight across each); when the last is not to the right (an
    edge closing a cycle), from bottom to bottom, bending below the nodes."""
    a, b = chain[0], chain[-1]
    if b.x <= a.x:
        x1, x2 = a.x + a.w / 2, b.x + b.w / 2
        y1, y2, low = a.y + a.h, b.y + b.h, bottom - 4
        return f"M{_num(x1)},{_num(y1)} C{_num(x1)},{_num(low)} {_num(x2)},{_num(low)} {_num(x2)},{_num(y2)}"
    path = [f"M{_num(a.x + a.w)},{_num(a.mid)}"]
    for here, there in itertools.pairwise(chain):
        x1, x2 = here.x + here.w, there.x
        bend = (x2 - x1) / 2
        path.append(
            f"C{_num(x1 + bend)},{_num(here.mid)} {_num(x2 - bend)},{_num(there.mid)} {_num(x2)},{_num(there.mid)}"
        )
        if there is not b:
            path.append(f"L{_num(there.x + there.w)},{_num(there.mid)}")
    return " ".join(path)


def _node_svg(node: Node, box: _Box, href: str, is_center: bool) -> Markup:
    """One node: a link wrapping its outline, its label and its type, with the full text as
    its tooltip."""
    kind = node.kind
    stroke_width = "3" if is_center else "1.4"
    fill = "#c9dcfb" if is_center and kind == "version" else _FILL[kind]
    if kind == "version":
        shape = Markup('<rect x="{}" y="{}" width="{}" height="{}" rx="8" ry="8"').format(
            _num(box.x), _num(box.y), _num(box.w), _num(box.h)
        )
    else:
        tip = 10.0
        corners = [
            (box.x + tip, box.y),
            (box.x + box.w - tip, box.y),
            (box.x + box.w, box.mid),
            (box.x + box.w - tip, box.y + box.h),
            (box.x + tip, box.y + box.h),
            (box.x, box.mid),
        ]
        shape = Markup('<polygon points="{}"').format(" ".join(f"{_num(x)},{_num(y)}" for x, y in corners))
    shape += Markup(' fill="{}" stroke="{}" stroke-width="{}"/>').format(fill, _STROKE[kind], stroke_width)
    tooltip = f"{node.label} ({node.sub})" if node.sub else node.label
    cx = _num(box.x + box.w / 2)
    label_y = box.mid - 2 if node.sub else box.mid + _LABEL_SIZE / 3
    texts = Markup('<text x="{}" y="{}" text-anchor="middle" font-size="{}" fill="#1a1a1a">{}</text>').format(
        cx, _num(label_y), _LABEL_SIZE, shorten(node.label)
    )
    if node.sub:
        texts += Markup(
            '<text class="sub" x="{}" y="{}" text-anchor="middle" font-size="{}" fill="#555">{}</text>'
        ).format(cx, _num(box.mid + _SUB_SIZE + 2), _SUB_SIZE, shorten(node.sub))
    classes = f"node {kind} center" if is_center else f"node {kind}"
    return Markup('<a href="{}" class="{}"><title>{}</title>{}{}</a>').format(href, classes, tooltip, shape, texts)


def _num(value: float) -> str:
    """A coordinate as SVG takes it: at most one decimal, no exponent."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# -- history chart --------------------------------------------------------------------------

#: how the sdk stores a non-finite float in a history row (``quire.sdk.config``; spelled
#: out here: ``quire.server.web`` never imports the sdk)
FLOAT_TAG = "_quire_float"
#: series colours, told apart by most forms of colour blindness
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f3c8d", "#4d4d4d")
_TICK = 11  # px, the axis labels' font size
_LEGEND_ROW = 18


def numeric_series(rows: list[HistoryRow]) -> dict[str, list[tuple[float, float]]]:
    """The numeric keys of a run's history: for each, its ``(step, value)`` points in the
    order of ``rows``, keys in the order they first appear.

    A value counts when it is an int or a float (not a bool), or a non-finite float as
    the sdk stores one (``{"_quire_float": "nan"}``: kept as ``nan``, so a chart skips
    it); other values (strings, lists, media) are left out, and so are the keys the sdk
    adds itself (``_runtime``, ``_timestamp``: those starting with ``_``).
    """
    series: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        for key, value in row.data.items():
            if key.startswith("_"):
                continue
            number = _number(value)
            if number is not None:
                series.setdefault(key, []).append((float(row.step), number))
    return series


def _number(value: Any) -> float | None:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(FLOAT_TAG), str):
        try:
            return float(value[FLOAT_TAG])
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an int past the largest float
        return None


def line_chart_svg(series: dict[str, list[tuple[float, float]]], *, width: int = 640, height: int = 240) -> Markup:
    """``series`` as an ``<svg id="history-chart">``: one line per series (x the step, y
    the value) on shared axes labelled with their least and greatest values, and a legend
    below, which adds rows to ``height`` as it needs (and ``width`` grows to hold the
    axis labels if it must). Points with a NaN or infinite
    coordinate are skipped; a series left with none is not drawn, and when none is
    left the chart is empty (an empty ``Markup``)."""
    drawn = {
        name: sorted((x, y) for x, y in points if math.isfinite(x) and math.isfinite(y))
        for name, points in series.items()
    }
    drawn = {name: points for name, points in drawn.items() if points}
    if not drawn:
        return Markup("")
    xs = [x for points in drawn.values() for x, _ in points]
    ys = [y for points in drawn.values() for _, y in points]
    x_low, x_high = _span(min(xs), max(xs))
    y_low, y_high = _span(min(ys), max(ys))
    y_labels = (_tick(y_high), _tick(y_low))
    left = _MARGIN + max(text_width(label, _TICK) for label in y_labels) + 6
    width = max(width, int(left) + 120)
    right = width - _MARGIN - text_width(_tick(x_high), _TICK) / 2
    top, base = float(_MARGIN), height - _MARGIN - _TICK - 6.0
    base = max(base, top + 40)

    def px(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * (right - left)

    def py(y: float) -> float:
        return base - (y - y_low) / (y_high - y_low) * (base - top)

    legend, legend_height = _legend(list(drawn), width, base + _TICK + 14)
    total = base + _TICK + 10 + legend_height + _MARGIN
    parts = [
        Markup(
            '<svg xmlns="{ns}" id="history-chart" class="history-chart" role="img"'
            ' aria-labelledby="history-chart-title" width="{w}" height="{h}" viewBox="0 0 {w} {h}"'
            ' font-family="{font}">'
        ).format(ns=SVG_NS, w=width, h=_num(total), font=_FONT),
        Markup('<title id="history-chart-title">History of {}</title>').format(", ".join(drawn)),
        Markup('<g class="axes" stroke="#888" stroke-width="1"><line x1="{l}" y1="{t}" x2="{l}" y2="{b}"/>').format(
            l=_num(left), t=_num(top), b=_num(base)
        ),
        Markup('<line x1="{}" y1="{b}" x2="{}" y2="{b}"/></g>').format(_num(left), _num(right), b=_num(base)),
        Markup('<g class="ticks" font-size="{}" fill="#444">').format(_TICK),
        Markup('<text class="y-max" x="{}" y="{}" text-anchor="end">{}</text>').format(
            _num(left - 4), _num(top + _TICK * 0.8), y_labels[0]
        ),
        Markup('<text class="y-min" x="{}" y="{}" text-anchor="end">{}</text>').format(
            _num(left - 4), _num(base), y_labels[1]
        ),
        Markup('<text class="x-min" x="{}" y="{}" text-anchor="start">{}</text>').format(
            _num(left), _num(base + _TICK + 4), _tick(x_low)
        ),
        Markup('<text class="x-max" x="{}" y="{}" text-anchor="middle">{}</text></g>').format(
            _num(right), _num(base + _TICK + 4), _tick(x_high)
        ),
        Markup('<g class="series" fill="none" stroke-width="1.5">'),
    ]
    for i, (name, points) in enumerate(drawn.items()):
        colour = PALETTE[i % len(PALETTE)]
        kept = _thin(points, int(right - left))
        coords = " ".join(f"{_num(px(x))},{_num(py(y))}" for x, y in kept)
        parts.append(
            Markup('<polyline data-series="{}" stroke="{}" points="{}"><title>{}</title></polyline>').format(
                name, colour, coords, name
            )
        )
        if len(kept) == 1:  # a line of one point draws nothing: a dot instead
            ((x, y),) = kept
            parts.append(
                Markup('<circle cx="{}" cy="{}" r="2.5" fill="{}" stroke="none"/>').format(
                    _num(px(x)), _num(py(y)), colour
                )
            )
    parts.append(Markup("</g>"))
    parts.append(legend)
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _span(low: float, high: float) -> tuple[float, float]:
    """An axis's range: the values' own, widened around a single value so it has a length."""
    if high > low:
        return low, high
    pad = abs(low) * 0.05 or 1.0
    return low - pad, high + pad


def _tick(value: float) -> str:
    """An axis label: four significant digits, without a trailing ``.0``."""
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _thin(points: list[tuple[float, float]], columns: int) -> list[tuple[float, float]]:
    """At most about four points per pixel column of the plot: in each of ``columns``
    equal runs of steps, the first, lowest, highest and last point (the line looks the
    same, the markup stays small however long the run)."""
    columns = max(columns, 1)
    if len(points) <= 4 * columns:
        return points
    low, high = points[0][0], points[-1][0]
    if high == low:
        return [min(points, key=lambda p: p[1]), max(points, key=lambda p: p[1])]
    buckets: dict[int, list[tuple[float, float]]] = {}
    for point in points:
        buckets.setdefault(min(int((point[0] - low) / (high - low) * columns), columns - 1), []).append(point)
    kept: list[tuple[float, float]] = []
    for bucket in buckets.values():
        chosen = {bucket[0], min(bucket, key=lambda p: p[1]), max(bucket, key=lambda p: p[1]), bucket[-1]}
        kept.extend(sorted(chosen))
    return kept


def _legend(names: list[str], width: int, top: float) -> tuple[Markup, float]:
    """The legend: a swatch and the name of each series, in rows that wrap at ``width``;
    the markup and its height."""
    parts = [Markup('<g class="legend" font-size="{}" fill="#222">').format(_TICK)]
    x, y = float(_MARGIN), top
    for i, name in enumerate(names):
        label = shorten(name, 48)
        item = 18 + text_width(label, _TICK) + 14
        if x > _MARGIN and x + item > width - _MARGIN:
            x, y = float(_MARGIN), y + _LEGEND_ROW
        parts.append(
            Markup(
                '<g class="legend-item"><rect x="{}" y="{}" width="12" height="4" fill="{}"/>'
                '<text x="{}" y="{}">{}</text></g>'
            ).format(_num(x), _num(y - 4), PALETTE[i % len(PALETTE)], _num(x + 16), _num(y), label)
        )
        x += item
    parts.append(Markup("</g>"))
    return Markup("").join(parts), y - top + _LEGEND_ROW
