"""`sophia ask` and `sophia agents` as the acceptance checks drive them, on the small demo: the --json contract's
keys exactly, the answer streamed with its sources, --user (a viewer's answer and conversation; unknown and
deactivated users refused), and the agents' list / show / edit / versions / revert round trip, audited.

Real `sophia` processes cost about 3 s each, so the contract is checked in a few of them; the agents round trip
runs the same `main()` in this process."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from app.cli.main import main
from connectors.demo import get_truth, load_demo
from core import auth
from core.config import get_settings
from core.db.models import Activity, AuditLog, Conversation
from core.runtime import Runtime, open_runtime, prepare
from tests.cli.test_cli import sophia
from tests.conftest import ADMIN_PASSWORD, TEST_SECRET, make_settings
from tests.utils.ask import ASK_JSON_KEYS

ROOT = Path(__file__).resolve().parents[2]
KEYS = ASK_JSON_KEYS


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Runtime:
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("ask-cli")))
    prepare(rt)
    load_demo(runtime=rt, size="small", seed=42, as_of=datetime.now(UTC).date())
    with rt.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
        auth.create_user(session=s, username="gone", role="analyst", password="gone-pass-12", actor="test")
        auth.set_active(session=s, username="gone", active=False, actor="test")
    yield rt
    rt.engine.dispose()


@pytest.fixture(scope="module")
def env(demo: Runtime) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "SOPHIA_DATA_DIR": str(demo.settings.data_dir),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


def conversation_owner(rt: Runtime, cid: str) -> str:
    with rt.session() as s:
        return s.get(Conversation, cid).username


def test_ask_json_is_the_contract_and_runs_as_the_first_admin(demo: Runtime, env) -> None:
    done = sophia("ask", "which deals are stalled?", "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert set(body) == KEYS
    assert body["offline"] is True and body["agents"] == ["sales_coach"]
    assert [set(c) for c in body["citations"]] == [{"doc_id", "table", "external_id", "title", "url"}] * len(
        body["citations"]
    )
    with demo.session() as s:
        truth = get_truth(session=s)
    assert {c["external_id"] for c in body["citations"] if c["table"] == "deals"} == {
        d["external_id"] for d in truth["stalled_deals"]
    }
    assert [set(t) for t in body["tool_calls"]] == [{"agent", "tool", "args", "ms"}]
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "cost_usd"}
    assert body["consensus"] is None and body["proposed_actions"] == []
    assert conversation_owner(demo, body["conversation_id"]) == "admin"  # a real user, not the CLI


def test_ask_as_a_viewer_answers_with_a_viewers_tools(demo: Runtime, env) -> None:
    done = sophia("ask", "which reps talk too much on calls?", "--user", "vera", "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert "call analysis needs the analyst role" in body["answer"] and body["tool_calls"] == []
    assert conversation_owner(demo, body["conversation_id"]) == "vera"


def test_ask_streams_the_answer_then_its_sources(env) -> None:
    done = sophia("ask", "which deals are stalled?", env=env)
    assert done.returncode == 0, done.stderr
    answer, _, sources = done.stdout.partition("\nSources:\n")
    assert answer.startswith("**Stalled deals**") and "offline engine" in answer
    lines = sources.strip().splitlines()
    assert lines and all(" http://localhost:8501/record?table=" in line for line in lines if "table=deals" in line)
    assert 'sales_coach → deal_pipeline(view="stalled")' in done.stderr  # the tool call, on stderr
    assert "conversation " in done.stderr and "--conversation" in done.stderr


def test_ask_approve_runs_the_proposed_write(demo: Runtime, env) -> None:
    with demo.session() as s:
        account = get_truth(session=s)["stalled_deals"][0]["account"]
    done = sophia("ask", f"create a task for {account} to send the renewal quote", "--approve", "--json", env=env)
    assert done.returncode == 0, done.stderr
    (action,) = json.loads(done.stdout)["proposed_actions"]
    assert set(action) == {"id", "tool", "args", "status"}
    assert (action["tool"], action["status"]) == ("crm_task", "executed")
    with demo.session() as s:
        assert s.scalar(select(Activity.subject).where(Activity.source == "sophia")) == "send the renewal quote"


@pytest.mark.parametrize(
    ("user", "needle"), [("ghost", "error: no user named 'ghost'"), ("gone", "error: user 'gone' is deactivated")]
)
def test_ask_refuses_unknown_and_deactivated_users(env, user, needle) -> None:
    done = sophia("ask", "which deals are stalled?", "--user", user, env=env)
    assert done.returncode == 1 and done.stderr.strip() == needle


# ---- sophia agents, in this process -----------------------------------------------------------------------------


@pytest.fixture
def cli(demo: Runtime, monkeypatch, capsys):  # noqa: ANN201
    """``sophia ARGS...`` through the same ``main`` in this process: (exit code, stdout, stderr). The command
    configures logging for its process; the test's logging is put back after."""
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(demo.settings.data_dir))
    monkeypatch.setenv("SOPHIA_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_settings.cache_clear()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


def test_agents_list_show_edit_versions_revert(demo: Runtime, cli) -> None:
    code, out, _ = cli("agents", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [a["name"] for a in listed] == ["strategy", "client_health", "finance", "people", "research", "sales_coach"]
    code, out, _ = cli("agents", "show", "research", "--json")
    shown = json.loads(out)
    assert shown == next(a for a in listed if a["name"] == "research")
    assert set(shown) >= {"name", "title", "goal", "backstory", "tools", "llm", "enabled", "version"}

    code, out, err = cli("agents", "edit", "research", "--set", "title=Researcher", "--set", "llm.temperature=0.2")
    assert code == 0, err
    assert out.strip() == f"research is now version {shown['version'] + 1}."
    code, out, _ = cli("agents", "versions", "research", "--json")
    versions = json.loads(out)
    assert versions[0]["changed"] == ["title", "llm.temperature"] and versions[0]["changed_by"] == "cli"
    code, out, _ = cli("agents", "revert", "research", "--version", str(shown["version"]), "--user", "admin")
    assert code == 0
    code, out, _ = cli("agents", "show", "research", "--json")
    back = json.loads(out)
    assert back["title"] == shown["title"] and back["llm"] == shown["llm"] and back["updated_by"] == "admin"
    with demo.session() as s:
        actors = [a.actor for a in s.scalars(select(AuditLog).where(AuditLog.action == "agent.edit"))]
    assert actors[-2:] == ["cli", "admin"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("agents", "edit", "research"), "give at least one --set KEY=VALUE"),
        (("agents", "edit", "research", "--set", "colour=blue"), "cannot edit 'colour'"),
        (("agents", "edit", "research", "--set", "title"), "--set takes KEY=VALUE"),
        (("agents", "edit", "research", "--set", "tools=search,teleport"), "unknown tool(s) teleport"),
        (("agents", "edit", "research", "--set", "title=X", "--user", "vera"), "needs the admin role"),
        (("agents", "show", "nobody"), "no agent named 'nobody'"),
        (("agents", "revert", "research", "--version", "99"), "has no version 99"),
    ],
)
def test_agents_bad_input_is_one_clear_line(cli, args, needle) -> None:
    code, _, err = cli(*args)
    assert code == 1 and err.startswith("error: ") and needle in err and len(err.strip().splitlines()) == 1, err
