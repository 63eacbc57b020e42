"""`sophia search` for people: the snippet's matched terms in bold on a terminal, never as markdown asterisks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.cli.search import highlighted
from tests.conftest import TEST_SECRET

BOLD, RESET = "\x1b[1m", "\x1b[0m"


def sophia(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("search_output")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_") and k not in ("FORCE_COLOR", "NO_COLOR")}
    env = {**base, "SOPHIA_DATA_DIR": str(tmp / "data"), "SOPHIA_SECRET_KEY": TEST_SECRET, "TERM": "xterm"}
    note = tmp / "[draft] escalations.md"
    note.write_text("# Escalations\n\nError PR-5521 means the payment processor timed out; retry after five minutes.")
    done = sophia("ingest", str(note), env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_plain_output_shows_the_snippet_without_asterisks(env) -> None:
    res = sophia("search", "PR-5521", env=env)
    assert res.returncode == 0, res.stderr
    assert "Error PR-5521 means" in res.stdout
    assert "**" not in res.stdout and "\x1b[" not in res.stdout
    assert "1. [draft] escalations.md" in res.stdout  # a title is shown as written, not read as markup


def test_a_terminal_shows_the_matched_term_in_bold(env) -> None:
    res = sophia("search", "PR-5521", env={**env, "FORCE_COLOR": "1"})
    assert res.returncode == 0, res.stderr
    assert f"{BOLD}PR-5521{RESET}" in res.stdout and "**" not in res.stdout


def test_json_keeps_the_marks(env) -> None:
    res = sophia("search", "PR-5521", "--json", env=env)
    assert "**PR-5521**" in json.loads(res.stdout)["results"][0]["snippet"]


@pytest.mark.parametrize(
    ("snippet", "plain", "bold"),
    [
        ("…the **ACH** run **failed** twice", "…the ACH run failed twice", ["ACH", "failed"]),
        ("no marks here", "no marks here", []),
        ("a lone ** stays", "a lone ** stays", []),
    ],
)
def test_highlighted_turns_marks_into_bold_spans(snippet, plain, bold) -> None:
    text = highlighted(snippet)
    assert text.plain == plain
    assert [text.plain[s.start : s.end] for s in text.spans if s.style == "bold"] == bold
