"""Memories in answers: a fact a user asked Sophia to remember changes that user's later answers, and only theirs;
a follow-up without names is about the conversation's subjects; nothing leaves the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from core.agents.ask import ask
from core.auth import Identity
from core.db.models import Account
from core.memory import list_memories
from tests.agents.conftest import ANALYST
from tests.conftest import ADMIN_PASSWORD, TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
OTTO = Identity(username="otto", role="viewer", via="cli")


def _account(rt, n: int = 3) -> str:
    with rt.session() as s:
        return s.scalars(select(Account.name).order_by(Account.name).offset(n).limit(1)).one()


def test_a_remembered_fact_changes_the_follow_up_answer_for_that_user_only(demo_rt) -> None:
    name = _account(demo_rt)
    question = f"what did we decide about the {name} renewal?"
    before = ask(runtime=demo_rt, identity=ANALYST, question=question)
    assert "7% discount" not in before.answer

    noted = ask(
        runtime=demo_rt, identity=ANALYST, question=f"remember that the {name} renewal was agreed at a 7% discount"
    )
    assert "store_memory" in {c["tool"] for c in noted.tool_calls}
    assert any("7% discount" in m.text for m in list_memories(runtime=demo_rt, user="ana"))

    after = ask(runtime=demo_rt, identity=ANALYST, question=question)
    assert "From your notes" in after.answer and "7% discount" in after.answer
    brief = ask(runtime=demo_rt, identity=ANALYST, question=f"tell me about {name}")
    assert "7% discount" in brief.answer  # recalled into other answers about the same account

    other = ask(runtime=demo_rt, identity=OTTO, question=question)
    assert "7% discount" not in other.answer
    assert not list_memories(runtime=demo_rt, user="otto")


def test_a_follow_up_without_names_is_about_the_conversations_subject(demo_rt) -> None:
    name = _account(demo_rt, 5)
    first = ask(runtime=demo_rt, identity=ANALYST, question=f"tell me about {name}")
    follow = ask(runtime=demo_rt, identity=ANALYST, question="is it at risk?", conversation_id=first.conversation_id)
    assert follow.consensus is not None
    assert follow.answer.startswith(f"**{name}:")
    fresh = ask(runtime=demo_rt, identity=ANALYST, question="is it at risk?")
    assert fresh.consensus is None


def test_an_offline_ask_connects_to_nothing(demo_rt) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPHIA_", "CREWAI_", "OPENAI_"))}
    env |= {
        "SOPHIA_DATA_DIR": str(demo_rt.settings.data_dir),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "PYTHONPATH": str(ROOT),
    }
    for question in (f"what did we decide about the {_account(demo_rt, 7)} pricing?",):  # search, memory, engine
        child = subprocess.run(
            [sys.executable, str(ROOT / "tests/agents_crew/offline_child.py"), question],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert child.returncode == 0, child.stderr[-3000:]
        report = json.loads(child.stdout.strip().splitlines()[-1])
        assert (report["refused"], report["connected"]) == ([], []), question
        assert report["offline"] is True and report["citations"] > 0, report
