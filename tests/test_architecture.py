"""The one-way architecture the README promises: reports read stores and import no suite, suites import no
report, and no module imports itself back through others (imports inside functions count too: a lazy import
is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evals", "tasks", "runners", "reports", "conf")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """The modules ``path`` imports, relative imports resolved: ``from a.b import c`` is a.b.c when that is a
    module, else a.b. A package's ``__init__`` that Python runs on the way to a submodule is not counted (it
    is the submodule that is used)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return out


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the tree it imports."""
    files = {_module_name(p, root): p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")}
    return {m: {i for i in _imports(p, m, set(files)) if i in files and i != m} for m, p in files.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of more than one module (Tarjan), as a sorted module list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_reports_and_tasks_do_not_import_each_other() -> None:
    g = graph()
    crossing = sorted((m, i) for m, deps in g.items() for i in deps
                      if (m.startswith("reports.") and i.split(".")[0] == "tasks")
                      or (m.startswith("tasks.") and i.split(".")[0] == "reports"))
    assert crossing == []


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_the_checks_see_a_crossing_and_a_circle(tmp_path: Path) -> None:
    """The walk on a small tree with both faults: it must report each (a check that cannot fail proves nothing)."""
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "reports" / "summary.py").write_text("def f():\n    from tasks.suite import section\n")
    (tmp_path / "tasks" / "suite.py").write_text("from . import helper\nsection = 1\n")
    (tmp_path / "tasks" / "helper.py").write_text("import tasks.suite\n")
    g = graph(tmp_path)
    assert "tasks.suite" in g["reports.summary"]
    assert cycles(g) == [["tasks.helper", "tasks.suite"]]
