"""The layers never point back up (README "Layout").

Three layers: the kernel ``gfm`` at the bottom imports no stage; each stage imports the kernel and
the stages before it only; the shell ``pipeline`` on top is imported by nothing but tests and
benchmarks. Every import counts, including the ones inside functions and ``importlib`` calls.

The stage order is the data flow. ``validation`` comes before ``warehouse`` because the raw gate
runs before dbt: ``warehouse.transform`` calls the raw and marts gates, and ``validation`` reads
the raw contract (``ingest``) and the marts' files, never the runner.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KERNEL = "gfm"
STAGES = ("ingest", "validation", "warehouse", "feature_repo", "embedding_jobs", "vector_index")
SHELL = "pipeline"
PROJECT = {KERNEL, *STAGES, SHELL}
# folders allowed to import the shell; everything else in the repository is checked
SHELL_USERS = {"tests", "benchmarks"}
SKIP_DIRS = {".venv", "build", "node_modules", "__pycache__"}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every absolute module name a source file imports, with its line.

    Relative imports stay inside their own top-level package, so they cannot cross a layer and
    are left out.
    """
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                out.append((node.lineno, node.args[0].value))
    return out


def python_files(top: str | None = None) -> list[Path]:
    """The repository's Python files, under one top-level folder or everywhere."""
    root = REPO / top if top else REPO
    files = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(REPO).parts
        if not any(p in SKIP_DIRS or p.startswith(".") for p in parts):
            files.append(path)
    return sorted(files)


def violations(top: str, allowed: set[str]) -> list[str]:
    """``file:line imports module`` for each project import outside ``allowed`` under ``top``."""
    bad = []
    for path in python_files(top):
        for line, module in imported_modules(path.read_text(encoding="utf-8")):
            package = module.split(".")[0]
            if package in PROJECT and package not in allowed:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return bad


def test_the_kernel_imports_no_stage_and_no_shell() -> None:
    assert violations(KERNEL, {KERNEL}) == []


@pytest.mark.parametrize("index", range(len(STAGES)), ids=STAGES)
def test_a_stage_imports_only_the_kernel_and_earlier_stages(index: int) -> None:
    stage = STAGES[index]
    assert (REPO / stage / "__init__.py").is_file(), f"{stage}/ is not a package"
    assert violations(stage, {KERNEL, *STAGES[: index + 1]}) == []


def test_only_tests_and_benchmarks_import_the_shell() -> None:
    bad = []
    for path in python_files():
        top = path.relative_to(REPO).parts[0]
        if top in SHELL_USERS or top == SHELL:
            continue
        source = path.read_text(encoding="utf-8")
        bad += [
            f"{path.relative_to(REPO)}:{line} imports {module}"
            for line, module in imported_modules(source)
            if module.split(".")[0] == SHELL
        ]
    assert bad == []


def test_the_import_walk_sees_imports_inside_functions_and_importlib_calls() -> None:
    source = (
        "import os\n"
        "from . import sibling\n"
        "def f():\n"
        "    from pipeline.cli import app\n"
        "    import vector_index.search as s\n"
        "    return importlib.import_module('feature_repo.store')\n"
    )
    assert sorted(imported_modules(source)) == [
        (1, "os"),
        (4, "pipeline.cli"),
        (5, "vector_index.search"),
        (6, "feature_repo.store"),
    ]
