"""A local Pinecone speaking the REST shapes the official SDK (v10, API version 2026-07) uses, on 127.0.0.1.

Two servers, as Pinecone has: the control plane (``GET /indexes/{name}`` → the index's description and
data-plane host) and the index's data plane (``POST /vectors/upsert``, ``POST /query`` with a metadata
filter, ``POST /vectors/delete`` by ids or ``deleteAll``, ``GET /vectors/fetch``, ``GET /vectors/list``
paginated, ``POST /describe_index_stats``). ``Api-Key`` is checked on both. Pinecone's documented limits are
enforced (1,000 vectors per upsert, 1,000 ids per delete, 100 ids per list page, top_k <= 10,000, the index
dimension, metadata values string/number/bool/list of strings and never null), and search is exact cosine
with numpy. Both servers can be stopped and restarted on the same ports (a backend that is down), and a
status can be injected for the next N data-plane requests.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from tests.contract.fake_server import HttpHandler, Listener

UPSERT_MAX = 1000
DELETE_MAX = 1000
LIST_LIMIT_MAX = 100
TOP_K_MAX = 10_000
DEFAULT_NAMESPACE_KEY = "__default__"


@dataclass
class Seen:
    plane: str  # "control" | "data"
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    status: int = 0


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class FakePinecone:
    def __init__(
        self, *, api_key: str = "pcsk_fake_0123456789abcdef", index_name: str = "sophia", dimension: int = 384
    ) -> None:
        self.api_key = api_key
        self.index_name = index_name
        self.dimension = dimension
        # namespace -> id -> (values float32, metadata)
        self.namespaces: dict[str, dict[str, tuple[np.ndarray, dict[str, Any]]]] = {}
        self.requests: list[Seen] = []
        self._faults: list[list[int]] = []  # [status, remaining]
        self._lock = threading.RLock()
        self._planes = {plane: Listener(_Handler, pinecone=self, plane=plane) for plane in ("control", "data")}

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakePinecone:
        for listener in self._planes.values():
            listener.start()
        return self

    def stop(self) -> None:
        """Down: nothing listens on either port and open keep-alive connections are cut (data is kept)."""
        for listener in self._planes.values():
            listener.stop()

    @property
    def host(self) -> str:
        """The index's data-plane URL (what SOPHIA_PINECONE_HOST holds)."""
        return self._planes["data"].url

    @property
    def control_url(self) -> str:
        return self._planes["control"].url

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` data-plane requests with ``status``."""
        with self._lock:
            self._faults.append([status, times])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # ---- state ------------------------------------------------------------------------------------------

    def vectors(self, namespace: str = "") -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        with self._lock:
            return dict(self.namespaces.get(namespace, {}))

    def data_requests(self, path: str | None = None) -> list[Seen]:
        return [r for r in self.requests if r.plane == "data" and (path is None or r.path == path)]

    def control_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.plane == "control"]

    # ---- control plane ----------------------------------------------------------------------------------

    def describe(self, name: str) -> dict[str, Any]:
        if name != self.index_name:
            raise BadRequest(f"Resource {name} not found", 404)
        return {
            "name": self.index_name,
            "host": self.host,
            "status": {"ready": True, "state": "Ready"},
            "schema": {"fields": {"values": {"type": "dense_vector", "dimension": self.dimension, "metric": "cosine"}}},
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled",
            "tags": None,
        }

    # ---- data plane ---------------------------------------------------------------------------------------

    def upsert(self, body: dict[str, Any]) -> dict[str, Any]:
        vectors = body.get("vectors") or []
        if len(vectors) > UPSERT_MAX:
            raise BadRequest(f"Request contains {len(vectors)} vectors; the maximum is {UPSERT_MAX}")
        staged: list[tuple[str, np.ndarray, dict[str, Any]]] = []
        for v in vectors:
            vid, values, metadata = v.get("id"), v.get("values") or [], v.get("metadata") or {}
            if not isinstance(vid, str) or not vid:
                raise BadRequest("Vector ID must be a non-empty string")
            if len(values) != self.dimension:
                raise BadRequest(
                    f"Vector dimension {len(values)} does not match the dimension of the index {self.dimension}"
                )
            for key, value in metadata.items():
                ok = isinstance(value, (str, bool, int, float)) or (
                    isinstance(value, list) and all(isinstance(x, str) for x in value)
                )
                if not ok:
                    raise BadRequest(
                        f"Metadata value for field '{key}' must be a string, number, boolean or list of strings, got {value!r}"
                    )
            staged.append((vid, np.asarray(values, dtype=np.float32), dict(metadata)))
        with self._lock:
            space = self.namespaces.setdefault(body.get("namespace") or "", {})
            for vid, values, metadata in staged:
                space[vid] = (values, metadata)
        return {"upsertedCount": len(staged)}

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        namespace = body.get("namespace") or ""
        with self._lock:
            if body.get("deleteAll"):
                if namespace not in self.namespaces:
                    raise BadRequest("Namespace not found", 404)
                self.namespaces.pop(namespace, None)
                return {}
            ids = body.get("ids") or []
            if len(ids) > DELETE_MAX:
                raise BadRequest(f"Request contains {len(ids)} ids; the maximum is {DELETE_MAX}")
            space = self.namespaces.get(namespace, {})
            for vid in ids:
                space.pop(vid, None)
        return {}

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        top_k = int(body.get("topK") or 0)
        if not 1 <= top_k <= TOP_K_MAX:
            raise BadRequest(f"topK must be between 1 and {TOP_K_MAX}")
        q = np.asarray(body.get("vector") or [], dtype=np.float32)
        if q.shape != (self.dimension,):
            raise BadRequest(
                f"Query vector dimension {q.size} does not match the dimension of the index {self.dimension}"
            )
        flt = body.get("filter") or {}
        with self._lock:
            items = [
                (vid, vals, md)
                for vid, (vals, md) in self.namespaces.get(body.get("namespace") or "", {}).items()
                if matches(md, flt)
            ]
        if not items:
            return {"matches": [], "namespace": body.get("namespace") or "", "usage": {"readUnits": 1}}
        matrix = np.stack([vals for _, vals, _ in items]).astype(np.float64)
        denom = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(q) or 1.0)
        scores = matrix @ q.astype(np.float64) / np.where(denom == 0, 1.0, denom)
        order = sorted(range(len(items)), key=lambda i: (-scores[i], items[i][0]))[:top_k]
        out = []
        for i in order:
            vid, vals, md = items[i]
            match: dict[str, Any] = {
                "id": vid,
                "score": float(scores[i]),
                "values": vals.tolist() if body.get("includeValues") else [],
            }
            if body.get("includeMetadata"):
                match["metadata"] = md
            out.append(match)
        return {"matches": out, "namespace": body.get("namespace") or "", "usage": {"readUnits": 5}}

    def fetch(self, query: dict[str, list[str]]) -> dict[str, Any]:
        namespace = (query.get("namespace") or [""])[0]
        with self._lock:
            space = self.namespaces.get(namespace, {})
            found = {
                vid: {"id": vid, "values": space[vid][0].tolist(), "metadata": space[vid][1]}
                for vid in query.get("ids", [])
                if vid in space
            }
        return {"vectors": found, "namespace": namespace, "usage": {"readUnits": 1}}

    def list_ids(self, query: dict[str, list[str]]) -> dict[str, Any]:
        namespace = (query.get("namespace") or [""])[0]
        limit = int((query.get("limit") or [LIST_LIMIT_MAX])[0])
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise BadRequest(f"limit must be between 1 and {LIST_LIMIT_MAX}")
        prefix = (query.get("prefix") or [""])[0]
        token = (query.get("paginationToken") or [None])[0]
        after = base64.urlsafe_b64decode(token.encode()).decode() if token else None
        with self._lock:
            ids = sorted(vid for vid in self.namespaces.get(namespace, {}) if vid.startswith(prefix))
        if after is not None:
            ids = [vid for vid in ids if vid > after]
        page, more = ids[:limit], len(ids) > limit
        body: dict[str, Any] = {
            "vectors": [{"id": vid} for vid in page],
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }
        if more:
            body["pagination"] = {"next": base64.urlsafe_b64encode(page[-1].encode()).decode()}
        return body

    def stats(self, body: dict[str, Any]) -> dict[str, Any]:
        flt = (body or {}).get("filter") or {}
        with self._lock:
            counts = {
                ns or DEFAULT_NAMESPACE_KEY: sum(1 for _, md in space.values() if matches(md, flt))
                for ns, space in self.namespaces.items()
                if space
            }
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
            "dimension": self.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": "cosine",
            "vectorType": "dense",
        }


# ---- the metadata filter language ---------------------------------------------------------------------------


def matches(md: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(md, sub) for sub in cond):
                return False
        elif key == "$or":
            if not any(matches(md, sub) for sub in cond):
                return False
        elif key.startswith("$"):
            raise BadRequest(f"unknown top-level operator {key}")
        elif not _field_matches(md, key, cond if isinstance(cond, dict) else {"$eq": cond}):
            return False
    return True


def _field_matches(md: dict[str, Any], key: str, ops: dict[str, Any]) -> bool:
    present = key in md
    value = md.get(key)
    values = value if isinstance(value, list) else [value]
    for op, arg in ops.items():
        if op == "$exists":
            ok = present == bool(arg)
        elif not present:
            ok = op in ("$ne", "$nin")
        elif op == "$eq":
            ok = arg in values
        elif op == "$ne":
            ok = arg not in values
        elif op == "$in":
            if not isinstance(arg, list):
                raise BadRequest("$in requires an array")
            ok = any(v in arg for v in values)
        elif op == "$nin":
            ok = not any(v in arg for v in values)
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            if not isinstance(arg, (int, float)) or isinstance(arg, bool):
                raise BadRequest(f"{op} requires a number")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                ok = False
            else:
                ok = {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op]
        else:
            raise BadRequest(f"unknown operator {op}")
        if not ok:
            return False
    return True


# ---- HTTP -----------------------------------------------------------------------------------------------------


class _Handler(HttpHandler):
    pinecone: FakePinecone
    plane: str

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.pinecone
        parts = urlsplit(self.path)
        raw = self.read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"code": 3, "message": "invalid JSON body", "details": []})
            return
        seen = Seen(
            self.plane,
            method,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            body,
            {k.lower(): v for k, v in self.headers.items()},
        )
        with fake._lock:
            fake.requests.append(seen)
            fault = next((f for f in fake._faults if f[1] > 0), None) if self.plane == "data" else None
            if fault is not None:
                fault[1] -= 1
        if fault is not None:
            seen.status = fault[0]
            self._send(fault[0], {"code": 14, "message": "injected failure", "details": []})
            return
        if self.headers.get("Api-Key") != fake.api_key:
            seen.status = 401
            self._send(401, {"error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"}, "status": 401})
            return
        try:
            status, out = 200, self._route(method, parts.path, seen.query, body or {})
        except BadRequest as exc:
            status = exc.status
            out = (
                {
                    "error": {"code": "NOT_FOUND" if status == 404 else "INVALID_ARGUMENT", "message": exc.message},
                    "status": status,
                }
                if self.plane == "control"
                else {"code": 5 if status == 404 else 3, "message": exc.message, "details": []}
            )
        seen.status = status
        self._send(status, out)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
        fake = self.pinecone
        if self.plane == "control":
            if method == "GET" and path.startswith("/indexes/"):
                return fake.describe(unquote(path.removeprefix("/indexes/")))
            raise BadRequest(f"no route {method} {path}", 404)
        routes = {
            ("POST", "/vectors/upsert"): lambda: fake.upsert(body),
            ("POST", "/query"): lambda: fake.query(body),
            ("POST", "/vectors/delete"): lambda: fake.delete(body),
            ("GET", "/vectors/fetch"): lambda: fake.fetch(query),
            ("GET", "/vectors/list"): lambda: fake.list_ids(query),
            ("POST", "/describe_index_stats"): lambda: fake.stats(body),
        }
        handler = routes.get((method, path))
        if handler is None:
            raise BadRequest(f"no route {method} {path}", 404)
        return handler()

    def _send(self, status: int, body: Any) -> None:
        self.send_data(status, json.dumps(body).encode(), "application/json")
