"""With a language model configured, what a user asks Sophia to remember goes through it once: it extracts the
facts (mem0's additive extraction, one JSON call), and the facts are what is stored and recalled. Without one, or
with SOPHIA_MEMORY_INFER=false, the text is stored as said and no request is made."""

from __future__ import annotations

import json

from core.memory import add_memory, list_memories, search_memories
from core.runtime import open_runtime, prepare
from tests.agents_crew.conftest import llm_settings
from tests.agents_crew.scripted import Script
from tests.conftest import make_settings

SAID = "ok so about Canyon Properties: we agreed the renewal at 6% off, and Joe says hi to everyone"
FACT = "Canyon Properties renewal agreed at a 6% discount"


def test_a_configured_model_extracts_the_fact_that_is_stored(tmp_path, chat_server) -> None:
    chat_server.script = Script({}, default=json.dumps({"memory": [{"text": FACT}]}))
    rt = open_runtime(make_settings(tmp_path, **llm_settings(chat_server)))
    prepare(rt)
    stored = add_memory(runtime=rt, user="admin", text=SAID, actor="test")
    assert stored.text == FACT
    (request,) = chat_server.chats()
    assert request["response_format"] == {"type": "json_object"}
    assert SAID in json.dumps(request["messages"])
    assert [m.text for m in list_memories(runtime=rt, user="admin")] == [FACT]
    assert search_memories(runtime=rt, user="admin", query="what discount did Canyon get?")[0].text == FACT
    rt.engine.dispose()


def test_turned_off_the_text_is_stored_as_said_and_nothing_is_asked(tmp_path, chat_server) -> None:
    rt = open_runtime(make_settings(tmp_path, **llm_settings(chat_server, memory_infer=False)))
    prepare(rt)
    add_memory(runtime=rt, user="admin", text=SAID, actor="test")
    assert [m.text for m in list_memories(runtime=rt, user="admin")] == [SAID]
    assert chat_server.chats() == []
    rt.engine.dispose()
