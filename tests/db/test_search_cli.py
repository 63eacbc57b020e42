"""`sophia ingest`, `sophia search` and `sophia reindex` as other tools drive them: real processes, a fresh
data folder, the exact JSON contract, one `error:` line and a non-zero exit on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import TEST_SECRET

SEARCH_KEYS = {"rank", "doc_id", "title", "source", "type", "snippet", "score", "url", "similar"}


def sophia(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {
        **base,
        "SOPHIA_DATA_DIR": str(tmp_path / "data"),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": "admin-password-1",
    }


def test_ingest_then_search_with_the_exact_json_contract(env, tmp_path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "escalations.md").write_text(
        "# Escalations\n\nError PR-5521 means the payment processor timed out; retry after five minutes."
    )
    (folder / "sub" / "notes.txt").write_text("Lunch order for the offsite: tacos and salads.")
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    done = sophia("ingest", str(folder), "--json", env=env)
    assert done.returncode == 1  # one file failed
    report = json.loads(done.stdout)
    assert (report["imported"], report["failed"]) == (2, 1)
    assert next(f for f in report["files"] if f["name"] == "bad.pdf")["error"].startswith("not a readable PDF")

    found = sophia("search", "PR-5521", "--json", env=env)
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    assert set(body) == {"query", "took_ms", "results"} and body["query"] == "PR-5521"
    assert isinstance(body["took_ms"], (int, float))
    top = body["results"][0]
    assert set(top) == SEARCH_KEYS
    assert (top["rank"], top["title"], top["source"], top["type"]) == (1, "escalations.md", "file", "md")
    assert isinstance(top["doc_id"], str) and isinstance(top["score"], (int, float)) and top["url"]
    assert "**PR-5521**" in top["snippet"]

    paraphrase = json.loads(
        sophia(
            "search", "what does it mean when the card processor times out", "--json", "--limit", "1", env=env
        ).stdout
    )
    assert [r["title"] for r in paraphrase["results"]] == ["escalations.md"]
    filtered = json.loads(sophia("search", "tacos", "--json", "--type", "md", env=env).stdout)
    assert all(r["type"] == "md" for r in filtered["results"])
    unowned = json.loads(sophia("search", "tacos", "--json", "--owner", "rep@payready.com", env=env).stdout)
    assert unowned["results"] == []  # imported files have no owner
    human = sophia("search", "tacos", env=env)
    assert human.returncode == 0 and "notes.txt" in human.stdout
    assert "score" not in human.stdout.lower()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("search", "   "), "the query is empty"),
        (("search", "x", "--since", "yesterday"), "--since"),
        (("search", "x", "--limit", "0"), "limit must be between"),
        (("search", "x", "--account", "Nobody Inc"), "no account matches"),
        (("search", "x", "--as", "ghost"), "no user named"),
        (("ingest", "/nonexistent/folder"), "no such file or folder"),
    ],
)
def test_failures_are_one_clear_line(env, args, needle) -> None:
    done = sophia(*args, env=env)
    assert done.returncode != 0
    assert needle in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(("error:", "could not import"))


def test_reindex_json_on_an_empty_database(env) -> None:
    done = sophia("reindex", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["documents_seen"] == 0


def test_documents_list_and_delete_and_a_changed_file_replaces_its_document(env, tmp_path) -> None:
    note = tmp_path / "plan.md"
    note.write_text("Rollout plan: pilot with the aardvark cohort first.")
    assert sophia("ingest", str(note), env=env).returncode == 0
    note.write_text("Rollout plan: pilot with the pangolin cohort first.")  # same file, new content
    again = json.loads(sophia("ingest", str(note), "--json", env=env).stdout)
    listed = json.loads(sophia("documents", "list", "--json", env=env).stdout)["documents"]
    assert [d["name"] for d in listed] == ["plan.md"] and listed[0]["doc_id"] == again["files"][0]["doc_id"]
    assert listed[0]["origin"] == str(note.resolve())
    found = json.loads(sophia("search", "aardvark", "--json", env=env).stdout)["results"]
    assert all("aardvark" not in r["snippet"] for r in found)

    done = sophia("documents", "delete", listed[0]["doc_id"], env=env)
    assert done.returncode == 0 and "deleted document" in done.stdout, done.stderr
    assert json.loads(sophia("documents", "list", "--json", env=env).stdout)["documents"] == []
    assert json.loads(sophia("search", "pangolin", "--json", env=env).stdout)["results"] == []
    missing = sophia("documents", "delete", listed[0]["doc_id"], env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: no document {listed[0]['doc_id']}"
