from dataclasses import dataclass, field

from markupsafe import Markup


@dataclass
class Node:
    id: str
    kind: str
    label: str
    sub: str
    record: object


@dataclass
class Graph:
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    center: str = ""
    cut: bool = False


def lineage(catalog, version, hops=2, limit=60):
    return Graph()


def lineage_svg(graph, href):
    return Markup('<svg id="lineage"></svg>')


def line_chart_svg(series, width=640, height=240):
    return Markup("")


def numeric_series(rows):
    return {}
