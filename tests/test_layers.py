"""The shape of the package holds: layers point down (import-linter's contracts in
pyproject.toml), and no module or function grows past what a reader can hold."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import importlinter  # noqa: F401  (a dev dependency: the contract must run, not be skipped)
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "timeshift"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def test_import_contracts_are_kept() -> None:
    script = Path(sys.executable).with_name("lint-imports")
    argv = [str(script)] if script.exists() else [
        sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_and_function_sizes(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split it along its seams"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
