"""The direction of PASS's imports, as a contributor relies on it (DESIGN.md, "Parts").

Slack code renders and translates; it reaches Redis, GitHub and the rest only through ports that
bootstrap fills in, so no module under bot/slack imports bot/adapters; use cases (bot/services)
know nothing of Slack's rendering. And no module of bot/
imports itself back through others: an import circle (module-level, inside a function, or under
TYPE_CHECKING, all alike) means two parts cannot be understood, tested or moved apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

BOT = Path(__file__).resolve().parent.parent / "bot"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    """Every dotted name an import statement may load: the module, and each imported name as a
    submodule of it (`from bot.slack import cards`). Relative imports are resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(root: Path) -> nx.DiGraph:
    """Module -> module it imports, for every module of the package at `root`: every import
    statement anywhere in the file (functions, TYPE_CHECKING blocks) counts."""
    files = {module_name(f, root): f for f in root.rglob("*.py")}
    if not files:
        raise FileNotFoundError(f"no Python modules under {root}")
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in imported_names(node, name, is_package):
                    if target in files and target != name:
                        graph.add_edge(name, target)
    return graph


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_no_slack_module_imports_an_adapter() -> None:
    graph = import_graph(BOT)
    edges = sorted((a, b) for a, b in graph.edges if inside(a, "bot.slack") and inside(b, "bot.adapters"))
    assert edges == [], "Slack code must reach adapters through ports wired in bot/bootstrap.py: " + ", ".join(
        f"{a} imports {b}" for a, b in edges
    )


def test_no_service_imports_slack_code() -> None:
    """Use cases hand values to their senders (the digest sender renders the digest itself)."""
    graph = import_graph(BOT)
    edges = sorted((a, b) for a, b in graph.edges if inside(a, "bot.services") and inside(b, "bot.slack"))
    assert edges == [], "services must not know Slack's rendering: " + ", ".join(f"{a} imports {b}" for a, b in edges)


def test_only_the_package_entry_imports_an_entry_point() -> None:
    """Entry points (CLI, worker, doctor, web, dev) are the outermost layer: they call services,
    nothing calls them; `python -m bot` is the one way in from outside."""
    graph = import_graph(BOT)
    edges = sorted(
        (a, b)
        for a, b in graph.edges
        if inside(b, "bot.entrypoints") and not inside(a, "bot.entrypoints") and a != "bot.__main__"
    )
    assert edges == [], "only entry points import entry points: " + ", ".join(f"{a} imports {b}" for a, b in edges)


def test_no_bot_module_imports_itself_back_through_others() -> None:
    cycles = sorted(" -> ".join([*c, c[0]]) for c in nx.simple_cycles(import_graph(BOT)))
    assert cycles == [], "import circles among bot modules:\n" + "\n".join(cycles)


def test_the_graph_sees_imports_inside_functions_relative_ones_and_submodules(tmp_path: Path) -> None:
    """The two checks above can fail: a circle closed only by a function-level import, a relative
    import, and `from package import module` are all seen."""
    pkg = tmp_path / "bot"
    (pkg / "slack").mkdir(parents=True)
    (pkg / "adapters").mkdir()
    for init in (pkg, pkg / "slack", pkg / "adapters"):
        (init / "__init__.py").write_text("")
    (pkg / "slack" / "cards.py").write_text("from ..adapters import store\n")
    (pkg / "adapters" / "store.py").write_text("def later():\n    from bot.slack import cards\n")
    (pkg / "adapters" / "leaf.py").write_text("import bot.adapters.store\n")

    graph = import_graph(pkg)

    assert set(graph.edges) >= {
        ("bot.slack.cards", "bot.adapters.store"),
        ("bot.adapters.store", "bot.slack.cards"),
        ("bot.adapters.leaf", "bot.adapters.store"),
    }
    assert [sorted(c) for c in nx.simple_cycles(graph)] == [["bot.adapters.store", "bot.slack.cards"]]
