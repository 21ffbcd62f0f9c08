"""The import-layers contract: the layer table of docs/DEVELOPING.md is what the code does.

Every module of the package is parsed with :mod:`ast`; every ``import``/``from ... import``
(module level, inside functions, under ``if TYPE_CHECKING:``) of an ``ice_widgets`` module
is an edge. The test fails when a module has no row in the table, a row names a module
that does not exist, an edge is not allowed by the importing module's row, or the edges
form a cycle. The checker itself is exercised on small made-up packages, so it is known
to fail when it should.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ice_widgets"
DOC = ROOT / "docs" / "DEVELOPING.md"
NAME = "ice_widgets"


# --------------------------------------------------------------------------- the table


@dataclass
class Row:
    modules: list[str]  # dotted names
    layer: str
    layers: set[str] = field(default_factory=set)  # layers it may import
    lazy_layers: set[str] = field(default_factory=set)  # ... only lazily
    modules_ok: set[str] = field(default_factory=set)  # single modules it may import
    everything: bool = False
    everything_lazily: bool = False


def dotted(path: str, package: str = NAME) -> str:
    """``widgets/_card.py`` -> ``ice_widgets.widgets._card``; ``__init__.py`` -> ``ice_widgets``."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def parse_table(text: str, package: str = NAME) -> list[Row]:
    """The rows of the table under the ``## Layers`` heading."""
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    rows: list[Row] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        modules = [dotted(m, package) for m in re.findall(r"`([^`]+\.py)`", cells[0])]
        row = Row(modules=modules, layer=cells[1])
        for item in (i.strip() for i in cells[3].split(",")):
            lazily = item.endswith("(lazily)")
            item = item.removesuffix("(lazily)").strip()
            if item == "nothing":
                continue
            if item == "everything":
                row.everything, row.everything_lazily = True, lazily
            elif item.startswith("`"):
                row.modules_ok.add(dotted(item.strip("`"), package))
            elif lazily:
                row.lazy_layers.add(item)
            else:
                row.layers.add(item)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- the code


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    lazy: bool  # inside a function or under `if TYPE_CHECKING:`


def module_files(root: Path, package: str = NAME) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        found[dotted(path.relative_to(root).as_posix(), package)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, source: str, known: set[str], package: str = NAME) -> list[Edge]:
    """The package-internal imports of one module's source, each resolved to a module."""
    tree = ast.parse(source)
    is_package = module in {package} or any(k.startswith(module + ".") for k in known)
    edges: list[Edge] = []

    def resolve(base: str, names: list[str]) -> list[str]:
        out = []
        for name in names:
            candidate = f"{base}.{name}"
            out.append(candidate if candidate in known else base)
        return out

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.body:
                    visit_one(sub, True)
                for sub in child.orelse:
                    visit_one(sub, lazy)
                continue
            visit_one(child, child_lazy)

    def visit_one(child: ast.AST, lazy: bool) -> None:
        targets: list[str] = []
        if isinstance(child, ast.Import):
            targets = [a.name for a in child.names]
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                parts = module.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[: len(parts) - (child.level - 1)]
                base = ".".join(parts + ([child.module] if child.module else []))
            else:
                base = child.module or ""
            targets = resolve(base, [a.name for a in child.names])
        for target in targets:
            if target == package or target.startswith(package + "."):
                # `import a.b.c` binds a module: the longest known prefix is the edge
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                edges.append(Edge(module, target, getattr(child, "lineno", 0), lazy))
        visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return edges


# --------------------------------------------------------------------------- the check


def violations(rows: list[Row], files: dict[str, str], package: str = NAME) -> list[str]:
    """Everything wrong between the table and the sources (empty when they agree)."""
    problems: list[str] = []
    row_of: dict[str, Row] = {}
    for row in rows:
        for module in row.modules:
            if module in row_of:
                problems.append(f"{module} has two rows in the layer table")
            row_of[module] = row
    layers = {row.layer for row in rows}
    for row in rows:
        for name in row.layers | row.lazy_layers:
            if name not in layers:
                problems.append(f"layer {row.layer!r} may import {name!r}, which is no layer of the table")
    for module in sorted(set(row_of) - set(files)):
        problems.append(f"the layer table names {module}, which does not exist")
    for module in sorted(set(files) - set(row_of)):
        problems.append(f"{module} is missing from the layer table of docs/DEVELOPING.md")
    known = set(files)
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, source in sorted(files.items()):
        row = row_of.get(module)
        for edge in imports_of(module, source, known, package):
            if edge.target == module:
                continue
            graph[module].add(edge.target)
            target_row = row_of.get(edge.target)
            if row is None or target_row is None:
                continue
            where = f"{module} line {edge.line} imports {edge.target}"
            if row.everything and (edge.lazy or not row.everything_lazily):
                continue
            if target_row.layer == row.layer or edge.target in row.modules_ok:
                continue
            if target_row.layer in row.layers:
                continue
            if target_row.layer in row.lazy_layers or row.everything:
                if edge.lazy:
                    continue
                problems.append(f"{where} at module level; layer {row.layer!r} may import it only lazily")
                continue
            problems.append(f"{where} (layer {target_row.layer!r}); layer {row.layer!r} may not import it")
    problems.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(graph))
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                strong(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(_a_cycle(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            strong(node)
    return found


def _a_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    path, seen = [start], {start}
    node = start
    while True:
        nxt = min(n for n in graph[node] if n in component)
        if nxt in seen:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
        seen.add(nxt)
        node = nxt


# --------------------------------------------------------------------------- the tests


def _real() -> tuple[list[Row], dict[str, str]]:
    rows = parse_table(DOC.read_text(encoding="utf-8"))
    files = {m: p.read_text(encoding="utf-8") for m, p in module_files(PACKAGE).items()}
    return rows, files


def test_the_code_follows_the_layer_table_of_developing_md() -> None:
    rows, files = _real()
    assert len(rows) >= 15, "the layer table of docs/DEVELOPING.md was not found or not parsed"
    problems = violations(rows, files)
    assert not problems, "\n".join(problems)


def test_the_import_graph_sees_lazy_and_type_checking_imports() -> None:
    _, files = _real()
    known = set(files)
    edges = {(e.source, e.target, e.lazy) for m, s in files.items() for e in imports_of(m, s, known)}
    # function-level: the accessor's refresh calls fetch_jobs
    assert ("ice_widgets._accessor", "ice_widgets._fetch", True) in edges
    # `from ice_widgets.widgets import _render` is an edge to the submodule, at module level
    assert ("ice_widgets.widgets._card", "ice_widgets.widgets._render", False) in edges
    # the facade's TYPE_CHECKING block
    assert ("ice_widgets", "ice_widgets._client", True) in edges
    # the emulator reads its constants from their own module, not from its facade
    assert ("ice_widgets.emulator._server", "ice_widgets.emulator._constants", False) in edges
    assert not any(s.startswith("ice_widgets.emulator.") and t == "ice_widgets.emulator" for s, t, _ in edges)


# the checker, on made-up packages

TOY_DOC = """# toy

## Layers

| module | layer | what it holds | may import |
|---|---|---|---|
| `low.py` | low | a | nothing |
| `mid.py`, `mid2.py` | mid | b | low |
| `top.py` | top | c | mid, low (lazily) |
| `__init__.py` | facade | d | everything (lazily) |

## Next
"""


def _toy(**sources: str) -> list[str]:
    files = {"toy": "", "toy.low": "", "toy.mid": "", "toy.mid2": "", "toy.top": ""}
    files.update({("toy" if k == "init" else f"toy.{k}"): v for k, v in sources.items()})
    return violations(parse_table(TOY_DOC, "toy"), files, "toy")


def test_checker_accepts_a_package_that_follows_its_table() -> None:
    assert (
        _toy(
            mid="from toy import low\nfrom toy.mid2 import x\n",
            top="from toy.mid import y\ndef f():\n    from toy import low\n",
            init="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.top import z\n",
        )
        == []
    )


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"low": "from toy import mid\n"}, "toy.low line 1 imports toy.mid (layer 'mid'); layer 'low'"),
        ({"low": "def f():\n    import toy.top\n"}, "toy.low line 2 imports toy.top"),
        ({"low": "from . import mid\n"}, "toy.low line 1 imports toy.mid"),
        ({"top": "from toy.low import x\n"}, "at module level; layer 'top' may import it only lazily"),
        ({"init": "from toy.top import z\n"}, "toy line 1 imports toy.top at module level"),
        ({"low": "import toy\n"}, "toy.low line 1 imports toy (layer 'facade')"),
        (
            {"mid": "from toy.mid2 import a\n", "mid2": "def f():\n    from toy.mid import b\n"},
            "import cycle: toy.mid -> toy.mid2 -> toy.mid",
        ),
        ({"extra": ""}, "toy.extra is missing from the layer table"),
    ],
)
def test_checker_reports_what_breaks_the_table(sources: dict[str, str], expected: str) -> None:
    problems = _toy(**sources)
    assert any(expected in p for p in problems), problems


def test_checker_reports_stale_rows() -> None:
    rows = parse_table(TOY_DOC, "toy")
    problems = violations(rows, {"toy": "", "toy.low": "", "toy.mid": "", "toy.top": ""}, "toy")
    assert problems == ["the layer table names toy.mid2, which does not exist"]
