"""Ask Sophia over HTTP: ``POST /api/v1/ask`` answers as the caller (their role decides the tools and the records
an answer may use; their conversations and memory) in exactly the shape ``sophia ask --json`` prints; the writes an
answer proposes are approved or rejected by the same caller (``/api/v1/actions/{id}/approve|reject``).

The body is small: its declared length is checked before it is read, and reading stops past the cap, so a huge
body costs nothing; the question's own limit (``SOPHIA_ASK_MAX_QUESTION_CHARS``) is checked by core."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import CurrentIdentity, RuntimeDep, SessionDep, require_role
from api.schemas import ActionPublic, AskPublic
from core.agents import actions
from core.agents.ask import ask
from core.errors import TooLarge

router = APIRouter(prefix="/api/v1", tags=["ask"], dependencies=[Depends(require_role("viewer"))])

JSON_OVERHEAD = 4096  # the other fields and the braces
BYTES_PER_CHAR = 6  # a character escaped as \uXXXX in JSON


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=20_000, description="the question, in your own words")
    conversation_id: str | None = Field(default=None, max_length=64, description="continue this conversation")
    agent: str | None = Field(default=None, max_length=64, description="ask this specialist alone")


ActionId = Annotated[str, Path(min_length=1, max_length=64, description="a proposed action's id")]
BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": AskBody.model_json_schema()}}}}
ERRORS = {
    404: {"description": "no such conversation (of the caller's), or no enabled specialist of that name"},
    413: {"description": "the body is larger than a question can be"},
    422: {"description": "a bad body, or a question that is empty or too long"},
}


async def _body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"the body is over {cap} bytes: a question is at most the configured number of characters")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise TooLarge(f"the body is over {cap} bytes: a question is at most the configured number of characters")
    return bytes(body)


@router.post("/ask", openapi_extra=BODY_DOC, responses=ERRORS)
async def ask_sophia(
    request: Request, runtime: RuntimeDep, session: SessionDep, identity: CurrentIdentity
) -> AskPublic:
    """Ask a question; the answer, its citations, the agents and tools that answered, consensus and usage."""
    # the identity was read in the request's session: end its transaction now, so no pooled connection waits
    # idle in a transaction while an answer (a model may take a minute) is written in sessions of its own
    await run_in_threadpool(session.commit)
    cap = runtime.settings.ask_max_question_chars * BYTES_PER_CHAR + JSON_OVERHEAD
    raw = await _body(request, cap)
    try:
        body = AskBody.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None

    def answer() -> AskPublic:
        result = ask(
            runtime=runtime,
            identity=identity,
            question=body.question,
            agent=body.agent,
            conversation_id=body.conversation_id,
        )
        return AskPublic.model_validate(result.as_json())

    return await run_in_threadpool(answer)


def _action(item: actions.ActionItem) -> ActionPublic:
    return ActionPublic.model_validate(item.as_json() | {"summary": item.summary, "result": item.result})


@router.post("/actions/{action_id}/approve", responses={404: {}, 409: {"description": "already decided"}})
def approve(action_id: ActionId, runtime: RuntimeDep, identity: CurrentIdentity) -> ActionPublic:
    """Run a write an agent proposed in one of the caller's answers (the caller's role is checked again)."""
    return _action(actions.approve_action(runtime=runtime, identity=identity, action_id=action_id))


@router.post("/actions/{action_id}/reject", responses={404: {}, 409: {"description": "already decided"}})
def reject(action_id: ActionId, runtime: RuntimeDep, identity: CurrentIdentity) -> ActionPublic:
    """Refuse a write an agent proposed; it never runs."""
    return _action(actions.reject_action(runtime=runtime, identity=identity, action_id=action_id))
