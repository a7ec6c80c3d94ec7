"""The house's rules, checked rather than remembered (README, "Development").

* imports only run down the pipeline (the import-linter layers contract in
  pyproject.toml), and the contract really fails when an upward import is added;
* no import cycle among guidekit's modules, counting imports inside functions;
* no module imports another module's ``_private`` names;
* every stage package states its boundary (a docstring and ``__all__``).
"""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "guidekit"
STAGES = (
    "framework",
    "answers",
    "intake",
    "store",
    "scoring",
    "render",
    "report",
    "research",
    "widgets",
)


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def test_the_layers_contract_is_kept():
    result = _lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_layers_contract_fails_on_an_upward_import(tmp_path):
    """A copy of the package where scoring imports the report stage breaks the contract."""
    shutil.copytree(PACKAGE, tmp_path / "guidekit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    rules = tmp_path / "guidekit" / "scoring" / "recommend.py"
    rules.write_text(
        rules.read_text(encoding="utf-8")
        + "\n\ndef _upward():\n    import guidekit.report.batch\n",
        encoding="utf-8",
    )
    result = _lint_imports(tmp_path, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "guidekit.scoring is not allowed to import guidekit.report" in result.stdout
    assert "guidekit.scoring.recommend -> guidekit.report.batch" in result.stdout


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_counting_imports_inside_functions():
    graph = grimp.build_graph("guidekit")  # grimp reads every import statement, nested ones too
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.endswith("__")
                ]
                if private and (node.module.startswith("guidekit") or node.level):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module} {private}")
    assert found == []


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_states_its_boundary(stage):
    module = importlib.import_module(f"guidekit.{stage}")
    assert (module.__doc__ or "").strip(), f"guidekit.{stage} has no docstring"
    assert module.__all__, f"guidekit.{stage} has no __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"guidekit.{stage}.__all__ names {name}, which it lacks"


def test_the_documented_api_is_where_the_readme_says():
    import guidekit as gk
    from guidekit import research as rs
    from guidekit.report import AgencyReport
    from guidekit.store import open_store
    from guidekit.widgets import workshop

    for name in ("load_framework", "read_responses", "validate_responses", "score", "Responses"):
        assert callable(getattr(gk, name))
    assert callable(rs.load) and callable(rs.agencies)
    assert callable(open_store) and callable(workshop) and isinstance(AgencyReport, type)
