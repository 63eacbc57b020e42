"""The Estuary Flow webhook: change documents from a webhook materialization, one POST per binding.

Two ways to send the feed's secret (estuary.md 2.2: which header options the deployed image offers is
unconfirmed, so both are accepted): a header added with the materialization's custom headers
(``Authorization: Bearer <secret>`` or ``X-Sophia-Token: <secret>``), or a secret path segment
(``/webhooks/estuary/s/<secret>/<feed>/<collection>``) for images that cannot add headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import RuntimeDep, app_bus
from connectors.registry import KINDS
from core import estuary
from core.db.models import EstuaryFeed
from core.errors import TooLarge
from core.runtime import Runtime

router = APIRouter(prefix="/webhooks/estuary", tags=["webhooks"])


def _header_secret(authorization: str | None, token: str | None) -> str | None:
    if token:
        return token.strip()
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def _too_large(cap: int) -> TooLarge:
    return TooLarge(f"the body is over {cap // 2**20} MiB: send smaller transactions")


def _check_declared_length(request: Request, cap: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)


async def _read_body(request: Request, cap: int) -> bytes:
    """The body, read chunk by chunk and given up as soon as it passes ``cap``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise _too_large(cap)
    return bytes(body)


async def _receive(request: Request, runtime: Runtime, feed_name: str, collection: str, secret: str | None) -> dict:
    _check_declared_length(request, estuary.MAX_BODY_BYTES)

    def authenticate() -> EstuaryFeed:
        with runtime.session() as session:
            feed = estuary.authenticate_feed(session=session, name=feed_name, secret=secret)
            session.expunge(feed)
            return feed

    feed = await run_in_threadpool(authenticate)  # the secret first: an unknown caller's body is never read
    body = await _read_body(request, estuary.MAX_BODY_BYTES)

    def work() -> dict:
        parsed = estuary.parse_body(body)
        if not parsed.docs and not parsed.refused:
            return {"received": 0, "upserted": 0, "deleted": 0, "skipped": 0, "quarantined": 0}
        result = estuary.apply_documents(
            runtime=runtime,
            kinds=KINDS,
            feed=feed,
            collection=collection,
            docs=parsed.docs,
            refused=parsed.refused,
            bus=app_bus(request),
        )
        return result.as_dict()

    return await run_in_threadpool(work)


@router.post("/s/{secret}/{feed}/{collection:path}", summary="Receive documents (secret in the path)")
async def receive_with_path_secret(
    request: Request, runtime: RuntimeDep, secret: str, feed: str, collection: str
) -> dict:
    return await _receive(request, runtime, feed, collection, secret)


@router.post("/{feed}/{collection:path}", summary="Receive documents (secret in a header)")
async def receive(
    request: Request,
    runtime: RuntimeDep,
    feed: str,
    collection: str,
    authorization: Annotated[str | None, Header()] = None,
    x_sophia_token: Annotated[str | None, Header()] = None,
) -> dict:
    return await _receive(request, runtime, feed, collection, _header_secret(authorization, x_sophia_token))
