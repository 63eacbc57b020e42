"""Estuary Flow change documents, pushed by its webhook materialization, applied through the ingest path.

Facts (../shared/reference/estuary.md): one POST per binding per transaction, body a JSON array of
documents, delivery at least once and in commit order per binding, a body that is not valid JSON (e.g.
``"\\n]"``) means "no documents" and must still get a 2xx. Each document carries ``_meta.op`` (c/u/d) and
``_meta.uuid`` (v1: its time is when it was published). A delete carries the key fields and ``_meta``.

Applying is idempotent: upserts by (source, external id), and per document key we keep the publish time
of the newest document applied, so a replayed or older document changes nothing.

A binding maps a collection path to a target:
- ``connector:NAME/STREAM``: documents in a vendor's shape, mapped by that configured connector's stream
  (the same mapping a pull sync uses);
- ``entity:ENTITY@SOURCE``: documents already in our model's shape (columns by name) for one source.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from core.audit import audit
from core.bus import EventBus
from core.db.models import EstuaryDocState, EstuaryFeed, QuarantinedRecord
from core.db.types import utcnow
from core.errors import AuthError, Conflict, InvalidInput, NotFound, TooLarge
from core.ingest import ENTITIES, Failure, delete_records, ingest_records
from core.observability.logging import get_logger
from core.pipelines.contract import KindInfo, StreamSpec, SyncSource
from core.pipelines.runner import RECORDS_STREAM, build_source
from core.runtime import Runtime

log = get_logger("estuary")
FEED_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
UUID_EPOCH_OFFSET_100NS = 0x01B21DD213814000  # 1582-10-15 to 1970-01-01, in 100 ns steps
MAX_DOCUMENTS_PER_POST = 50_000
# One POST is one binding's share of one Flow transaction; the API stops reading past this (413) and
# refuses a larger declared Content-Length before reading anything.
MAX_BODY_BYTES = 32 * 2**20
MAX_DEPTH = 64  # nesting levels of one document: deeper ones are quarantined, never parsed recursively
# what the database refuses in one record (a value beyond its column, a broken reference): that record is
# quarantined; anything else (a lost connection, a lock timeout) still fails the POST, which Flow retries
RECORD_DB_ERRORS = (DataError, IntegrityError, OverflowError)
_DUMMY_HASH = hashlib.sha256(b"no such feed").hexdigest()


@dataclass(frozen=True)
class Binding:
    collection: str
    target: str  # connector:NAME/STREAM or entity:ENTITY@SOURCE
    key: str = "/id"  # JSON pointer(s) of the collection key, comma separated

    def parsed(self) -> tuple[str, str, str]:
        kind, _, rest = self.target.partition(":")
        if kind == "connector" and "/" in rest:
            name, _, stream = rest.partition("/")
            return kind, name, stream
        if kind == "entity" and "@" in rest:
            entity, _, source = rest.partition("@")
            return kind, entity, source
        raise InvalidInput(
            f"binding {self.collection!r}: target {self.target!r} must be connector:NAME/STREAM or entity:ENTITY@SOURCE"
        )


@dataclass
class ApplyResult:
    feed: str
    collection: str
    received: int = 0
    upserted: int = 0
    deleted: int = 0
    skipped: int = 0  # replays and documents older than one already applied
    quarantined: int = 0
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "ids"}


# ---- feeds ----------------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_binding(text: str, *, key: str = "/id") -> Binding:
    collection, sep, target = text.partition("=")
    if not sep or not collection.strip() or not target.strip():
        raise InvalidInput(f"binding {text!r}: expected COLLECTION=TARGET")
    binding = Binding(collection.strip().strip("/"), target.strip(), key)
    kind, what, _ = binding.parsed()
    if kind == "entity" and what not in ENTITIES:
        raise InvalidInput(f"binding {text!r}: unknown entity {what!r}; expected one of {', '.join(sorted(ENTITIES))}")
    for pointer in key.split(","):
        if not pointer.startswith("/"):
            raise InvalidInput(f"key {key!r}: each key must be a JSON pointer such as /id")
    return binding


def create_feed(*, session: Session, name: str, bindings: Sequence[Binding], actor: str) -> tuple[EstuaryFeed, str]:
    """A new feed; returns it and its secret (shown once, stored only as a hash)."""
    if not FEED_NAME_RE.match(name):
        raise InvalidInput("feed name must be 2-64 characters: lower-case letters, digits, '_' or '-'")
    if not bindings:
        raise InvalidInput("a feed needs at least one binding (--bind COLLECTION=TARGET)")
    if session.scalar(select(EstuaryFeed.id).where(EstuaryFeed.name == name)) is not None:
        raise Conflict(f"an Estuary feed named {name!r} already exists")
    secret = secrets.token_urlsafe(32)
    feed = EstuaryFeed(
        name=name,
        secret_hash=_hash(secret),
        bindings={b.collection: {"target": b.target, "key": b.key} for b in bindings},
    )
    session.add(feed)
    session.flush()
    audit(session=session, actor=actor, action="estuary.feed_create", target=name, details={"bindings": feed.bindings})
    return feed, secret


def rotate_secret(*, session: Session, name: str, actor: str) -> str:
    feed = _get_feed(session, name)
    secret = secrets.token_urlsafe(32)
    feed.secret_hash = _hash(secret)
    audit(session=session, actor=actor, action="estuary.rotate_secret", target=name)
    return secret


def list_feeds(*, session: Session) -> list[EstuaryFeed]:
    return list(session.scalars(select(EstuaryFeed).order_by(EstuaryFeed.name)))


def _get_feed(session: Session, name: str) -> EstuaryFeed:
    feed = session.scalar(select(EstuaryFeed).where(EstuaryFeed.name == name))
    if feed is None:
        raise NotFound(f"no Estuary feed named {name!r}")
    return feed


def authenticate_feed(*, session: Session, name: str, secret: str | None) -> EstuaryFeed:
    """The feed, if the secret is its secret (compared in constant time); AuthError otherwise."""
    feed = session.scalar(select(EstuaryFeed).where(EstuaryFeed.name == name))
    expected = feed.secret_hash if feed is not None else _DUMMY_HASH
    given = _hash(secret or "")
    if not (hmac.compare_digest(given, expected) and feed is not None and secret and feed.enabled):
        raise AuthError("missing or wrong feed secret")
    return feed


# ---- documents ------------------------------------------------------------------------------


class NonFinite(str):
    """A number a document may not carry (NaN, Infinity, 1e400), kept as its text so that the document
    can be quarantined as it came instead of storing an infinite amount."""


def _finite_float(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=NonFinite)
# strings (skipped whole) and the structural characters: enough to find the array's elements and depths
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


@dataclass(frozen=True)
class Body:
    """One POST's documents: those to apply, and those refused as they came (quarantined)."""

    docs: list[dict[str, Any]]
    refused: list[Failure]


def parse_body(body: bytes) -> Body:
    """The documents of one POST. A body that is empty or not JSON carries none (the materialization
    sends ``"\\n]"`` for a binding with no documents in a transaction); JSON that is not an array is
    refused. A document with a non-finite number, nested too deep, or not an object is refused alone."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return Body([], [])
    try:
        values = _DECODER.decode(text)
    except json.JSONDecodeError:
        return Body([], [])
    except (RecursionError, ValueError):  # nested beyond the parser's stack, or an integer too long
        values = None
    if values is not None and not isinstance(values, list):
        raise InvalidInput("expected a JSON array of documents")
    parsed = _each(values) if values is not None else _one_by_one(text)
    if len(parsed) > MAX_DOCUMENTS_PER_POST:
        raise InvalidInput(f"at most {MAX_DOCUMENTS_PER_POST} documents per request")
    docs = [v for v in parsed if not isinstance(v, Failure)]
    return Body(docs, [v for v in parsed if isinstance(v, Failure)])


def _each(values: list[Any]) -> list[dict[str, Any] | Failure]:
    return [_checked(v) for v in values]


def _checked(value: Any) -> dict[str, Any] | Failure:
    problem = _refusal(value)
    if problem is None:
        return value
    return Failure(None, problem, value if isinstance(value, dict) else {"document": value})


def _refusal(value: Any) -> str | None:
    """Why a parsed document cannot be applied, or None (walked without recursion)."""
    if not isinstance(value, dict):
        return "a document must be a JSON object"
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, NonFinite):
            return f"{item} is not a finite number"
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return f"the document is nested deeper than {MAX_DEPTH} levels"
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return None


def _one_by_one(text: str) -> list[dict[str, Any] | Failure]:
    """The slow way, for a body the parser could not take whole: split the array into its elements
    by their structure, refuse the ones nested too deep unparsed, and parse the others one by one."""
    parsed: list[dict[str, Any] | Failure] = []
    for element, depth in _elements(text):
        if depth > MAX_DEPTH:
            problem = f"the document is nested deeper than {MAX_DEPTH} levels"
            parsed.append(Failure(None, problem, {"excerpt": element[:200]}))
            continue
        try:
            parsed.append(_checked(_DECODER.decode(element)))
        except (RecursionError, ValueError) as exc:
            parsed.append(Failure(None, f"not a JSON document: {str(exc)[:200]}", {"excerpt": element[:200]}))
    return parsed


def _elements(text: str) -> list[tuple[str, int]]:
    """The top-level array's elements as text, each with how deep it nests; TooLarge when the body is
    not one array (it was too deep to parse, so it cannot be answered as "no documents")."""
    found: list[tuple[str, int]] = []
    depth, start, deepest = 0, 0, 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            if depth == 0 and (token != "[" or match.start() != 0):
                break
            depth += 1
            deepest = max(deepest, depth - 1)
            if depth == 1:
                start, deepest = match.end(), 0
        elif depth == 1 and token in ",]":
            found.append((text[start : match.start()].strip(), deepest))
            start, deepest = match.end(), 0
            depth -= token == "]"
            if depth == 0:
                return [(e, d) for e, d in found if e]
        else:
            depth -= token in "]}"
    raise TooLarge(f"the body is not a JSON array this server can read (nested deeper than {MAX_DEPTH} levels?)")


def published_us(doc: Mapping[str, Any]) -> int | None:
    """Microseconds since the epoch at which Flow published the document (from its v1 ``_meta.uuid``)."""
    try:
        u = uuid.UUID(str(doc["_meta"]["uuid"]))
    except (KeyError, TypeError, ValueError):
        return None
    if u.version != 1:
        return None
    return (u.time - UUID_EPOCH_OFFSET_100NS) // 10


def _pointer(doc: Mapping[str, Any], pointer: str) -> Any:
    value: Any = doc
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def document_key(doc: Mapping[str, Any], key: str) -> str:
    try:
        parts = [_pointer(doc, p.strip()) for p in key.split(",")]
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(f"the document has no collection key {key}") from None
    if any(p is None for p in parts):
        raise ValueError(f"the document's collection key {key} is null")
    return "/".join(str(p) for p in parts)


@dataclass(frozen=True)
class _Target:
    source: str
    entity: str
    mapper: SyncSource | None
    stream: StreamSpec | None

    def to_record(self, doc: Mapping[str, Any], key: str, key_fields: frozenset[str]) -> Mapping[str, Any] | Failure:
        body = {k: v for k, v in doc.items() if k != "_meta"}
        if self.mapper is None:  # our shape: the collection key becomes the external id
            return {**{k: v for k, v in body.items() if k not in key_fields}, "external_id": key}
        return self.mapper.transform(self.stream, body)  # type: ignore[arg-type]


def _target(runtime: Runtime, kinds: Mapping[str, KindInfo], binding: Binding) -> _Target:
    kind, what, extra = binding.parsed()
    if kind == "entity":
        return _Target(source=extra, entity=what, mapper=None, stream=None)
    source = build_source(runtime=runtime, kinds=kinds, name=what)
    spec = next((s for s in source.streams() if s.name == extra), None)
    if spec is None:
        raise InvalidInput(f"binding {binding.collection!r}: connector {what!r} has no stream {extra!r}")
    return _Target(source=source.source, entity=spec.entity, mapper=source, stream=spec)


def apply_documents(
    *,
    runtime: Runtime,
    kinds: Mapping[str, KindInfo],
    feed: EstuaryFeed,
    collection: str,
    docs: Sequence[Mapping[str, Any]],
    refused: Sequence[Failure] = (),
    bus: EventBus | None = None,
) -> ApplyResult:
    """Apply one POST's documents in order, in one transaction; bad documents (and those ``refused`` as
    they came) are quarantined, each alone, and the rest applied."""
    collection = collection.strip("/")
    spec = feed.bindings.get(collection)
    if spec is None:
        raise NotFound(f"feed {feed.name!r} has no binding for collection {collection!r}")
    binding = Binding(collection, spec["target"], spec.get("key", "/id"))
    target = _target(runtime, kinds, binding)
    result = ApplyResult(feed=feed.name, collection=collection, received=len(docs) + len(refused))
    latest, failures = _latest_per_key(docs, binding.key)
    result.skipped = len(docs) - len(latest) - len(failures)  # earlier versions of a key in this same POST
    failures.extend(_with_key(f, binding.key) for f in refused)
    batch = _Batch(feed.name, collection, target, binding.key, latest)
    try:
        result = _apply(runtime, batch, failures, result)
    finally:
        if target.mapper is not None:
            target.mapper.close()
    if bus is not None and (result.upserted or result.deleted):
        _announce(bus, target, result)
    log.info("estuary.applied", **result.as_dict())
    return result


def _with_key(failure: Failure, key: str) -> Failure:
    try:
        return replace(failure, external_id=document_key(failure.payload, key))
    except ValueError:
        return failure


@dataclass(frozen=True)
class _Batch:
    feed: str
    collection: str
    target: _Target
    key: str
    latest: dict


def _apply(runtime: Runtime, batch: _Batch, failures: list[Failure], result: ApplyResult) -> ApplyResult:
    """The whole batch at once; when the database refuses a record, again in a fresh transaction with
    each record in its own savepoint, so that only the records it refuses are quarantined."""
    try:
        with runtime.session() as session:
            return _apply_in(session, batch, list(failures), replace(result), one_by_one=False)
    except RECORD_DB_ERRORS:
        log.info("estuary.one_by_one", feed=batch.feed, collection=batch.collection)
    with runtime.session() as session:
        _take_write_lock(session)
        return _apply_in(session, batch, list(failures), replace(result), one_by_one=True)


def _take_write_lock(session: Session) -> None:
    """SQLite: open the transaction now (pysqlite would open it only at the first write, so the first
    SAVEPOINT would be outermost and its RELEASE a commit), taking the write lock up front."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _apply_in(
    session: Session, batch: _Batch, failures: list[Failure], result: ApplyResult, *, one_by_one: bool
) -> ApplyResult:
    fresh = _drop_stale(session, batch.feed, batch.collection, batch.latest, result)
    upserts, deletes = _split(fresh, batch.target, failures, _top_level_fields(batch.key))
    if upserts:
        write = _upsert_each if one_by_one else _upsert_all
        result.upserted, result.ids = write(session, batch.target, upserts, failures)
    if deletes:
        result.deleted = delete_records(
            session=session, source=batch.target.source, entity=batch.target.entity, external_ids=deletes
        )
    _remember(session, batch.feed, batch.collection, fresh)
    _quarantine(session, batch.feed, batch.collection, failures)
    result.quarantined = len(failures)
    return result


def _upsert_all(
    session: Session, target: _Target, upserts: list[Mapping[str, Any]], failures: list[Failure]
) -> tuple[int, list[str]]:
    res = ingest_records(session=session, source=target.source, entity=target.entity, records=upserts)
    failures.extend(res.failures)
    return res.written, list(res.ids)


def _upsert_each(
    session: Session, target: _Target, upserts: list[Mapping[str, Any]], failures: list[Failure]
) -> tuple[int, list[str]]:
    written, ids = 0, list[str]()
    for record in upserts:
        try:
            with session.begin_nested():
                n, these = _upsert_all(session, target, [record], failures)
        except RECORD_DB_ERRORS as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
            failures.append(Failure(str(record.get("external_id")), f"the database refused it: {reason}", record))
            continue
        written, ids = written + n, ids + these
    return written, ids


def _latest_per_key(
    docs: Sequence[Mapping[str, Any]], key: str
) -> tuple[dict[str, tuple[Mapping[str, Any], int | None]], list[Failure]]:
    """Documents arrive in order per binding (delta updates): the last one per key is the state."""
    latest: dict[str, tuple[Mapping[str, Any], int | None]] = {}
    failures: list[Failure] = []
    for doc in docs:
        try:
            k = document_key(doc, key)
        except ValueError as exc:
            failures.append(Failure(None, str(exc), doc))
            continue
        latest.pop(k, None)  # keep insertion order = order of the last occurrence
        latest[k] = (doc, published_us(doc))
    return latest, failures


def _drop_stale(session: Session, feed: str, collection: str, latest: dict, result: ApplyResult) -> dict:
    if not latest:
        return latest
    known = dict(
        session.execute(
            select(EstuaryDocState.doc_key, EstuaryDocState.published_us).where(
                EstuaryDocState.feed == feed,
                EstuaryDocState.collection == collection,
                EstuaryDocState.doc_key.in_(list(latest)),
            )
        ).all()
    )
    fresh = {}
    for k, (doc, at) in latest.items():
        if at is not None and k in known and at <= known[k]:
            result.skipped += 1
        else:
            fresh[k] = (doc, at)
    return fresh


def _op(doc: Mapping[str, Any]) -> str:
    meta = doc.get("_meta")
    return str(meta.get("op", "u")) if isinstance(meta, Mapping) else "u"


def _top_level_fields(key: str) -> frozenset[str]:
    return frozenset(p.strip().lstrip("/") for p in key.split(",") if p.strip().count("/") == 1)


def _split(
    fresh: dict, target: _Target, failures: list[Failure], key_fields: frozenset[str]
) -> tuple[list[Mapping[str, Any]], list[str]]:
    upserts: list[Mapping[str, Any]] = []
    deletes: list[str] = []
    for k, (doc, _) in fresh.items():
        if _op(doc) == "d":
            deletes.append(k)
            continue
        record = target.to_record(doc, k, key_fields)
        if isinstance(record, Failure):
            failures.append(record)
        else:
            upserts.append(record)
    return upserts, deletes


def _remember(session: Session, feed: str, collection: str, fresh: dict) -> None:
    for k, (doc, at) in fresh.items():
        if at is None:
            continue
        row = session.scalar(
            select(EstuaryDocState).where(
                EstuaryDocState.feed == feed, EstuaryDocState.collection == collection, EstuaryDocState.doc_key == k
            )
        )
        if row is None:
            session.add(EstuaryDocState(feed=feed, collection=collection, doc_key=k, published_us=at, op=_op(doc)[:1]))
        else:
            row.published_us, row.op = at, _op(doc)[:1]


def _quarantine(session: Session, feed: str, collection: str, failures: list[Failure]) -> None:
    for f in failures:
        session.add(
            QuarantinedRecord(
                connector=f"estuary:{feed}",
                stream=collection,
                external_id=f.external_id,
                error=f.error[:2000],
                payload=json.loads(json.dumps(dict(f.payload), default=str)),
                created_at=utcnow(),
            )
        )


def _announce(bus: EventBus, target: _Target, result: ApplyResult) -> None:
    event = {
        "source": target.source,
        "entity": target.entity,
        "count": result.upserted,
        "deleted": result.deleted,
        "ids": result.ids[:1000],
        "via": f"estuary:{result.feed}",
        "collection": result.collection,
    }
    try:
        bus.publish(RECORDS_STREAM, event)
    except Exception as exc:  # the change is committed; a bus outage must not turn it into a retry storm
        log.warning("estuary.publish_failed", feed=result.feed, error=type(exc).__name__)
