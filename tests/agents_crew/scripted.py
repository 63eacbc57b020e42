"""A scripted language model for the crew: the same script answers in process (a CrewAI ``BaseLLM``) and over
HTTP (an OpenAI-compatible ``POST /v1/chat/completions`` on 127.0.0.1).

A script maps an agent's role (CrewAI's system prompt begins "You are {role}.") to its steps; the step taken is
the number of ``role: "tool"`` messages in the request (each tool result moves the agent one step on), so the
script is stateless and deterministic. A step is a final answer (text, or a function of the messages giving
it) or a ``Call`` of a tool."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tests.contract.fake_server import Reply, Seen, WireFake

PROMPT_TOKENS = 100  # what every reply reports as its usage
COMPLETION_TOKENS = 20


@dataclass(frozen=True)
class Call:
    tool: str
    args: dict[str, Any]


Step = str | Call | Callable[[list[dict[str, Any]]], "str | Call"]


def tool_results(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]


def quote_last(lead: str) -> Callable[[list[dict[str, Any]]], str]:
    """A final answer that quotes the last tool result."""
    return lambda messages: f"{lead}\n\n{tool_results(messages)[-1]}"


def role_of(messages: list[dict[str, Any]]) -> str:
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    return system.removeprefix("You are ").split(".", 1)[0]


@dataclass
class Script:
    roles: dict[str, list[Step]]
    default: str = "I have nothing to add."
    #: every request: (role, the messages, the names of the tools offered)
    seen: list[tuple[str, list[dict[str, Any]], list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str | Call:
        role = role_of(messages)
        offered = [t["function"]["name"] for t in tools or []]
        with self.lock:
            self.seen.append((role, copy.deepcopy(messages), offered))
        steps = self.roles.get(role)
        if not steps:
            return self.default
        step = steps[min(len(tool_results(messages)), len(steps) - 1)]
        return step(messages) if callable(step) else step

    def roles_seen(self) -> list[str]:
        return [role for role, _, _ in self.seen]

    def offered(self, role: str) -> set[str]:
        return {name for r, _, names in self.seen if r == role for name in names}


def _tool_call(call: Call, n: int) -> dict[str, Any]:
    return {"id": f"call_{n}", "type": "function", "function": {"name": call.tool, "arguments": json.dumps(call.args)}}


# ---- in process --------------------------------------------------------------------------------------------------


def scripted_llm(script: Script, name: str = "scripted") -> Any:
    """A CrewAI LLM answering from ``script`` in this process (native tool calls)."""
    llm = _llm_class()(model=name)
    llm._script = script
    return llm


@cache
def _llm_class() -> type:
    from crewai.llms.base_llm import BaseLLM
    from pydantic import PrivateAttr

    class ScriptedLLM(BaseLLM):
        _script: Any = PrivateAttr(default=None)

        def call(self, messages: Any, tools: Any = None, *args: Any, **kwargs: Any) -> Any:
            if isinstance(messages, str):
                messages = [{"role": "user", "content": messages}]
            answer = self._script.reply(messages, tools)
            self._track_token_usage_internal(
                {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                }
            )
            if isinstance(answer, Call):
                return [_tool_call(answer, len(self._script.seen))]
            return answer

        def supports_function_calling(self) -> bool:
            return True

    return ScriptedLLM


# ---- over HTTP -------------------------------------------------------------------------------------------------


class ScriptedChatServer(WireFake):
    """An OpenAI-compatible chat completions server answering from a script (replaceable between asks)."""

    def __init__(self, script: Script, api_key: str = "sk-scripted") -> None:
        super().__init__()
        self.script = script
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def chats(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        if seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}, {}
        return None

    def route(self, seen: Seen) -> Reply:
        if seen.method != "POST" or not seen.path.endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {seen.path}", "type": "invalid_request_error"}}, {}
        body = seen.body
        answer = self.script.reply(body["messages"], body.get("tools"))
        if isinstance(answer, Call):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [_tool_call(answer, len(self.requests))],
            }
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": answer}, "stop"
        return (
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            },
            {},
        )

    def fault_body(self, status: int) -> Any:
        return {"error": {"message": f"status {status}", "type": "server_error", "param": None, "code": None}}
