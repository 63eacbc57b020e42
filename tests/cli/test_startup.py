"""`sophia --help` and `--version` start without importing the product: the heavy stacks load with a command."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest

from app.cli.main import COMMANDS

HEAVY = (
    "sqlalchemy",
    "alembic",
    "numpy",
    "pandas",
    "pyarrow",
    "onnxruntime",
    "faiss",
    "streamlit",
    "httpx",
    "core.db",
    "core.search",
    "core.runtime",
    "core.metrics",
    "connectors",
    "app.cli.common",
)


# Runs the CLI as `python -m app.cli.main` would, and writes the names in sys.modules to a file when the process ends.
RUN_AND_LIST_MODULES = """
import atexit, runpy, sys
listing = sys.argv.pop(1)
atexit.register(lambda: open(listing, "w").write("\\n".join(sorted(sys.modules))))
runpy.run_module("app.cli.main", run_name="__main__", alter_sys=True)
"""


def imported_by(*args: str, tmp_path) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the CLI with ``args`` in a fresh interpreter: its output, and every module it had imported at exit."""
    listing = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    res = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *args],
        env={**env, "PYTHONPATH": os.getcwd()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return res, set(listing.read_text().split())


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [("--help",), ("--version",), ()])
def test_help_and_version_import_no_heavy_module(args, tmp_path) -> None:
    res, modules = imported_by(*args, tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert {"app.cli", "typer"} <= modules  # the listing was written
    assert heavy_among(modules) == []


def test_help_lists_every_command_without_loading_it(tmp_path) -> None:
    res, modules = imported_by("--help", tmp_path=tmp_path)
    for name, lazy in COMMANDS.items():
        assert name in res.stdout
        assert lazy.target.partition(":")[0] not in modules


def test_version_prints_the_package_version(tmp_path) -> None:
    res, _ = imported_by("--version", tmp_path=tmp_path)
    assert res.returncode == 0
    assert res.stdout.strip() == f"sophia {version('sophia')}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_command_loads_with_the_help_it_is_listed_with(name) -> None:
    lazy = COMMANDS[name]
    command = lazy.load(name)
    assert (command.help or "").strip().splitlines()[0] == lazy.help


def test_a_command_still_runs_and_reports_its_own_errors(tmp_path) -> None:
    res, modules = imported_by("demo", "load", "--size", "huge", tmp_path=tmp_path)
    assert res.returncode == 1
    assert res.stderr == "error: unknown size 'huge'; expected one of small, medium, large\n"
    assert "app.cli.data" in modules
