"""The checks that keep the house: style, import layers and types run with the tests, so CI holds them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: run the README's set-up (bash deploy/setup.sh)")
    return found


def test_ruff_lint_and_import_order() -> None:
    res = run(tool("ruff"), "check", ".", "--output-format", "concise")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format() -> None:
    res = run(tool("ruff"), "format", "--check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_import_layers() -> None:
    """core imports no face and no connector; connectors import no face; no face imports another."""
    res = run(tool("lint-imports"), "--no-cache")
    assert res.returncode == 0, res.stdout + res.stderr


def test_types_of_core() -> None:
    """mypy over core/ (pyproject.toml: every function typed, bodies checked, no stale ignores)."""
    res = run(tool("mypy"))
    assert res.returncode == 0, res.stdout + res.stderr


def test_page_modules_stay_short() -> None:
    """A page lays out; what grows goes to its parts package or to app/ (ARCHITECTURE: none over 300 lines)."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "pages").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert long == {}, f"page modules over 300 lines: {long}"
