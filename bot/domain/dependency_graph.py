"""A plan's "blocked by" edges as a graph (networkx): cycles, redundant edges, critical path, width.

Pure functions over work items; the planner uses them to drop implied edges and the backlog checks
use them to judge any planner's plan. Edges point from the blocker to the item it blocks, so a
topological order is an order in which the work can be done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from bot.domain.models import WorkItem


@dataclass(frozen=True)
class RedundantEdge:
    """`item` depends on `dep`, which it already reaches through `via` (a dependency of its own)."""

    item: str
    dep: str
    via: str


def dependency_graph(items: Sequence[WorkItem]) -> nx.DiGraph[str]:
    """Every item a node (in plan order), an edge dep -> item for each dependency inside the plan."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(item.key for item in items)
    for item in items:
        for dep in item.depends_on:
            if dep != item.key and dep in graph:
                graph.add_edge(dep, item.key)
    return graph


def find_cycle(graph: nx.DiGraph[str]) -> list[str] | None:
    """A cycle as the path of items, ending where it starts ("A -> B -> A"), or None."""
    try:
        edges = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    # Edges run blocker -> blocked; the cycle is reported as "depends on", as the items read.
    nodes = [edge[0] for edge in edges]
    return [nodes[0], *reversed(nodes[1:]), nodes[0]]


def redundant_edges(graph: nx.DiGraph[str]) -> list[RedundantEdge]:
    """Edges implied by others (transitive reduction); empty for a graph with a cycle."""
    if not nx.is_directed_acyclic_graph(graph):
        return []
    reduced = nx.transitive_reduction(graph)
    found = []
    for dep, item in graph.edges:
        if reduced.has_edge(dep, item):
            continue
        # A direct dependency of `item` through which `dep` is reached anyway: named in the message.
        via = next(p for p in graph.predecessors(item) if p != dep and nx.has_path(graph, dep, p))
        found.append(RedundantEdge(item=item, dep=dep, via=via))
    return found


def critical_path(graph: nx.DiGraph[str]) -> list[str]:
    """The longest chain of items, each blocked by the one before (one item when none is blocked)."""
    if graph.number_of_nodes() == 0 or not nx.is_directed_acyclic_graph(graph):
        return []
    # Ties are broken by plan order, so the same plan always yields the same critical path.
    position = {node: n for n, node in enumerate(graph.nodes)}
    order = list(nx.lexicographical_topological_sort(graph, key=position.__getitem__))
    return list(nx.dag_longest_path(graph, topo_order=order))


def parallel_width(graph: nx.DiGraph[str]) -> int:
    """The most items that can be worked at once when each starts as soon as its blockers are done."""
    if graph.number_of_nodes() == 0 or not nx.is_directed_acyclic_graph(graph):
        return 0
    return max(len(generation) for generation in nx.topological_generations(graph))
