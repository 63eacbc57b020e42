"""A local Weaviate speaking what the official v4 client uses, on 127.0.0.1: REST and gRPC.

REST (``/v1``): ``GET /meta`` (version 1.32, so the client takes its gRPC paths for aggregate and named
vectors), ``GET /.well-known/ready`` and ``/live``, ``GET /.well-known/openid-configuration`` (404: no OIDC),
``GET /schema``, ``GET|DELETE /schema/{Class}``, ``POST /schema`` (create; 422 when it exists).

gRPC (``weaviate.v1.Weaviate``, served with the stubs the ``weaviate`` package ships in
``weaviate/proto/v1``): ``BatchObjects`` (insert or replace by uuid; named vectors checked against the
collection's vector config and dimension), ``BatchDelete`` (by filter), ``Search`` (filters; ``near_vector``
with exact cosine distance by numpy; ``after`` cursor paging in uuid order; requested properties and
metadata, vectors included), ``Aggregate`` (object count, with filters), and ``grpc.health.v1.Health/Check``.

Filters: equal, not equal, <, <=, >, >=, contains any/all/none, is null, and/or/not, on properties (int,
number, text, date, boolean) and on ``_id``. With an API key, REST wants ``Authorization: Bearer <key>`` and
gRPC the same in its metadata. Both servers can be stopped and restarted on the same ports (a backend that is
down); the stored data survives.
"""

from __future__ import annotations

import json
import threading
import uuid as uuid_lib
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import grpc
import numpy as np
from google.protobuf.json_format import MessageToDict
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

from tests.contract.fake_server import HttpHandler, Listener

VERSION = "1.32.4"
DEFAULT_LIMIT = 10  # QUERY_DEFAULTS_LIMIT
MAX_RESULTS = 10_000  # QUERY_MAXIMUM_RESULTS
Op = base_pb2.Filters.Operator


class WeaviateError(Exception):
    def __init__(self, message: str, status: int = 422, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


@dataclass
class StoredObject:
    uuid: str
    properties: dict[str, Any]  # python values: int, float, str, bool, datetime (aware), lists
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Collection:
    config: dict[str, Any]
    objects: dict[str, StoredObject] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config["class"]

    def data_type(self, prop: str) -> str | None:
        for p in self.config.get("properties", []):
            if p["name"] == prop:
                return p["dataType"][0]
        return None

    @property
    def vector_names(self) -> list[str]:
        return list((self.config.get("vectorConfig") or {}).keys())


class FakeWeaviate:
    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.collections: dict[str, Collection] = {}
        self.rest_requests: list[tuple[str, str]] = []
        self.grpc_calls: list[str] = []
        self._lock = threading.RLock()
        self._rest = Listener(_RestHandler, weaviate=self)
        self._grpc: grpc.Server | None = None
        self._grpc_port = 0

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakeWeaviate:
        self._rest.start()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(_Servicer(self), server)
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "grpc.health.v1.Health",
                    {
                        "Check": grpc.unary_unary_rpc_method_handler(
                            lambda req, ctx: health_weaviate_pb2.WeaviateHealthCheckResponse(
                                status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
                            ),
                            request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
                            response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
                        ),
                    },
                )
            ]
        )
        self._grpc_port = server.add_insecure_port(f"127.0.0.1:{self._grpc_port}")
        server.start()
        self._grpc = server
        return self

    def stop(self) -> None:
        """Down: nothing listens on either port; open connections are cut (the data is kept)."""
        self._rest.stop()
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(5)
            self._grpc = None

    @property
    def url(self) -> str:
        """What SOPHIA_WEAVIATE_URL holds."""
        return self._rest.url

    @property
    def grpc_port(self) -> int:
        return self._grpc_port

    # ---- state --------------------------------------------------------------------------------------------

    def objects(self, collection: str) -> dict[str, StoredObject]:
        with self._lock:
            coll = self.collections.get(collection)
            return dict(coll.objects) if coll else {}

    def _coll(self, name: str) -> Collection:
        coll = self.collections.get(name) or self.collections.get(name[:1].upper() + name[1:])
        if coll is None:
            raise WeaviateError(f"could not find class {name} in schema", 404, grpc.StatusCode.UNKNOWN)
        return coll

    def authorized(self, header: str | None) -> bool:
        return self.api_key is None or header == f"Bearer {self.api_key}"

    # ---- schema (REST) --------------------------------------------------------------------------------------

    def create_collection(self, config: dict[str, Any]) -> dict[str, Any]:
        name = config.get("class") or ""
        if not name or not name[0].isupper():
            raise WeaviateError(f"'{name}' is not a valid class name")
        with self._lock:
            if name in self.collections:
                raise WeaviateError(f"class name {name} already exists")
            for p in config.get("properties", []):
                if p.get("name") in ("id", "_id", "_additional", "vector"):
                    raise WeaviateError(f"'{p.get('name')}' is a reserved property name")
            stored = json.loads(json.dumps(config))
            stored.setdefault("invertedIndexConfig", {"bm25": {"b": 0.75, "k1": 1.2}})
            stored.setdefault("multiTenancyConfig", {"enabled": False})
            self.collections[name] = Collection(stored)
            return stored

    # ---- objects (gRPC) ---------------------------------------------------------------------------------------

    def batch_objects(self, request: batch_pb2.BatchObjectsRequest) -> batch_pb2.BatchObjectsReply:
        errors = []
        with self._lock:
            for index, obj in enumerate(request.objects):
                try:
                    self._put(obj)
                except WeaviateError as exc:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=exc.message))
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def _put(self, obj: batch_pb2.BatchObject) -> None:
        coll = self._coll(obj.collection)
        uid = str(uuid_lib.UUID(obj.uuid))
        props = _props_from_batch(coll, obj.properties)
        vectors: dict[str, np.ndarray] = {}
        if obj.vector_bytes or len(obj.vector):
            raise WeaviateError(
                f"collection {coll.name} has named vectors {coll.vector_names}: send the vector by name"
            )
        for vec in obj.vectors:
            if vec.name not in coll.vector_names:
                raise WeaviateError(f"collection {coll.name} has no named vector '{vec.name}'")
            vectors[vec.name] = np.frombuffer(vec.vector_bytes, dtype="<f4").copy()
        for vname, arr in vectors.items():
            dim = coll.dims.get(vname)
            if dim is not None and arr.size != dim and any(vname in o.vectors for o in coll.objects.values()):
                raise WeaviateError(
                    f"new node has a vector with length {arr.size}. Existing nodes have vectors with length {dim}"
                )
        for vname, arr in vectors.items():
            coll.dims[vname] = arr.size
        coll.objects[uid] = StoredObject(uid, props, vectors)  # a batch write replaces the whole object

    def batch_delete(self, request: batch_delete_pb2.BatchDeleteRequest) -> batch_delete_pb2.BatchDeleteReply:
        with self._lock:
            coll = self._coll(request.collection)
            hits = [o for o in coll.objects.values() if _matches(coll, o, request.filters)]
            if len(hits) > MAX_RESULTS:
                raise WeaviateError(f"query maximum results exceeded ({MAX_RESULTS})")
            if not request.dry_run:
                for o in hits:
                    del coll.objects[o.uuid]
        return batch_delete_pb2.BatchDeleteReply(
            took=0.001,
            failed=0,
            matches=len(hits),
            successful=0 if request.dry_run else len(hits),
            objects=[
                batch_delete_pb2.BatchDeleteObject(uuid=uuid_lib.UUID(o.uuid).bytes, successful=True) for o in hits
            ]
            if request.verbose
            else [],
        )

    def search(self, request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        with self._lock:
            coll = self._coll(request.collection)
            hits = [
                o
                for o in coll.objects.values()
                if not request.HasField("filters") or _matches(coll, o, request.filters)
            ]
            distances: dict[str, float] = {}
            if request.HasField("near_vector"):
                name, query = _near_vector(coll, request.near_vector)
                hits = [o for o in hits if name in o.vectors]
                if hits:
                    matrix = np.stack([o.vectors[name] for o in hits]).astype(np.float64)
                    denom = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
                    sims = matrix @ query / np.where(denom == 0, 1.0, denom)
                    distances = {o.uuid: float(1.0 - s) for o, s in zip(hits, sims, strict=True)}
                hits.sort(key=lambda o: (distances[o.uuid], o.uuid))
            else:
                hits.sort(key=lambda o: uuid_lib.UUID(o.uuid).int)  # Weaviate's cursor order
                if request.after:
                    after = uuid_lib.UUID(request.after).int
                    hits = [o for o in hits if uuid_lib.UUID(o.uuid).int > after]
            limit = request.limit or DEFAULT_LIMIT
            if limit > MAX_RESULTS:
                raise WeaviateError(f"query maximum results exceeded ({MAX_RESULTS})")
            hits = hits[request.offset : request.offset + limit]
            results = [self._result(coll, o, request, distances.get(o.uuid)) for o in hits]
        return search_get_pb2.SearchReply(took=0.001, results=results)

    def _result(
        self, coll: Collection, obj: StoredObject, request: search_get_pb2.SearchRequest, distance: float | None
    ) -> search_get_pb2.SearchResult:
        md_req = request.metadata
        meta = search_get_pb2.MetadataResult(id=obj.uuid, id_as_bytes=uuid_lib.UUID(obj.uuid).bytes)
        if md_req.distance and distance is not None:
            meta.distance, meta.distance_present = distance, True
        if md_req.vector or md_req.vectors:
            wanted = list(md_req.vectors) or coll.vector_names
            for vname in wanted:
                if vname in obj.vectors:
                    meta.vectors.append(
                        base_pb2.Vectors(
                            name=vname,
                            vector_bytes=obj.vectors[vname].astype("<f4").tobytes(),
                            type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32,
                        )
                    )
        preq = request.properties
        names = (
            list(obj.properties)
            if (not request.HasField("properties") or preq.return_all_nonref_properties)
            else list(preq.non_ref_properties)
        )
        props = properties_pb2.Properties()
        for pname in names:
            if pname in obj.properties:
                props.fields[pname].CopyFrom(_value(coll.data_type(pname), obj.properties[pname]))
        return search_get_pb2.SearchResult(
            metadata=meta,
            properties=search_get_pb2.PropertiesResult(non_ref_props=props, target_collection=coll.name),
        )

    def aggregate(self, request: aggregate_pb2.AggregateRequest) -> aggregate_pb2.AggregateReply:
        with self._lock:
            coll = self._coll(request.collection)
            n = sum(
                1
                for o in coll.objects.values()
                if not request.HasField("filters") or _matches(coll, o, request.filters)
            )
        single = aggregate_pb2.AggregateReply.Single()
        if request.objects_count:
            single.objects_count = n
        return aggregate_pb2.AggregateReply(took=0.001, single_result=single)


# ---- property values ------------------------------------------------------------------------------------------


def _parse_date(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WeaviateError(
            f"invalid date property: requires a string with a RFC3339 formatted date, but the given value is '{text}'"
        ) from None
    if at.tzinfo is None:
        raise WeaviateError(f"invalid date property: '{text}' has no time zone")
    return at.astimezone(UTC)


def _props_from_batch(coll: Collection, props: batch_pb2.BatchObject.Properties) -> dict[str, Any]:
    out: dict[str, Any] = {}
    raw = MessageToDict(props.non_ref_properties)
    for name, value in raw.items():
        dtype = coll.data_type(name)
        if dtype is None:
            raise WeaviateError(f"no such prop with name '{name}' found in class '{coll.name}' in the schema")
        if value is None:
            continue
        if dtype == "int":
            if not isinstance(value, (int, float)) or float(value) != int(value):
                raise WeaviateError(f"invalid integer property '{name}' on class '{coll.name}': requires an integer")
            out[name] = int(value)
        elif dtype == "number":
            out[name] = float(value)
        elif dtype == "text":
            if not isinstance(value, str):
                raise WeaviateError(f"invalid text property '{name}' on class '{coll.name}': requires a string")
            out[name] = value
        elif dtype == "date":
            out[name] = _parse_date(value)
        elif dtype == "boolean":
            out[name] = bool(value)
        else:
            out[name] = value
    for arr in props.text_array_properties:
        out[arr.prop_name] = list(arr.values)
    for arr in props.int_array_properties:
        out[arr.prop_name] = list(arr.values)
    return out


def _value(dtype: str | None, value: Any) -> properties_pb2.Value:
    if dtype == "date":
        return properties_pb2.Value(date_value=value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    if dtype == "int":
        return properties_pb2.Value(int_value=int(value))
    if dtype == "number":
        return properties_pb2.Value(number_value=float(value))
    if dtype == "boolean":
        return properties_pb2.Value(bool_value=bool(value))
    return properties_pb2.Value(text_value=str(value))


# ---- filters and vectors -----------------------------------------------------------------------------------------


def _filter_values(f: base_pb2.Filters) -> list[Any]:
    for name in ("value_text_array", "value_int_array", "value_number_array", "value_boolean_array"):
        if f.HasField(name):
            return list(getattr(f, name).values)
    for name in ("value_text", "value_int", "value_number", "value_boolean"):
        if f.HasField(name):
            return [getattr(f, name)]
    return []


def _coerce(dtype: str | None, value: Any) -> Any:
    if dtype == "date" and isinstance(value, str):
        return _parse_date(value)
    if dtype == "uuid":
        return str(uuid_lib.UUID(str(value)))
    return value


def _matches(coll: Collection, obj: StoredObject, f: base_pb2.Filters) -> bool:
    op = f.operator
    if op == Op.OPERATOR_AND:
        return all(_matches(coll, obj, sub) for sub in f.filters)
    if op == Op.OPERATOR_OR:
        return any(_matches(coll, obj, sub) for sub in f.filters)
    if op == Op.OPERATOR_NOT:
        return not any(_matches(coll, obj, sub) for sub in f.filters)
    prop = f.target.property if f.HasField("target") else (f.on[0] if f.on else "")
    if prop in ("_id", "id"):
        dtype, current = "uuid", obj.uuid
    else:
        dtype = coll.data_type(prop)
        if dtype is None:
            raise WeaviateError(f"no such prop with name '{prop}' found in class '{coll.name}' in the schema")
        current = obj.properties.get(prop)
    wanted = [_coerce(dtype, v) for v in _filter_values(f)]
    if op == Op.OPERATOR_IS_NULL:
        return (current is None) == bool(f.value_boolean)
    if current is None:
        return op in (Op.OPERATOR_NOT_EQUAL, Op.OPERATOR_CONTAINS_NONE)
    have = current if isinstance(current, list) else [current]
    if op == Op.OPERATOR_CONTAINS_ANY:
        return any(v in wanted for v in have)
    if op == Op.OPERATOR_CONTAINS_ALL:
        return all(v in have for v in wanted)
    if op == Op.OPERATOR_CONTAINS_NONE:
        return not any(v in wanted for v in have)
    if len(wanted) != 1:
        raise WeaviateError(f"operator {Op.Name(op)} needs one value")
    target = wanted[0]
    compare = {
        Op.OPERATOR_EQUAL: lambda a: a == target,
        Op.OPERATOR_NOT_EQUAL: lambda a: a != target,
        Op.OPERATOR_GREATER_THAN: lambda a: a > target,
        Op.OPERATOR_GREATER_THAN_EQUAL: lambda a: a >= target,
        Op.OPERATOR_LESS_THAN: lambda a: a < target,
        Op.OPERATOR_LESS_THAN_EQUAL: lambda a: a <= target,
    }.get(op)
    if compare is None:
        raise WeaviateError(f"operator {Op.Name(op)} is not supported by this fake")
    return any(compare(a) for a in have)


def _near_vector(coll: Collection, nv: Any) -> tuple[str, np.ndarray]:
    targets = list(nv.targets.target_vectors) if nv.HasField("targets") else list(nv.target_vectors)
    if nv.vectors:
        vec = nv.vectors[0]
        name, raw = (vec.name or (targets[0] if targets else "")), vec.vector_bytes
    elif nv.vector_bytes:
        name, raw = (targets[0] if targets else ""), nv.vector_bytes
    else:
        raise WeaviateError("near_vector without a vector")
    if not name:
        if len(coll.vector_names) != 1:
            raise WeaviateError(f"collection {coll.name} has several named vectors: name the target vector")
        name = coll.vector_names[0]
    if name not in coll.vector_names:
        raise WeaviateError(f"collection {coll.name} has no named vector '{name}'")
    query = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    dim = coll.dims.get(name)
    if dim is not None and query.size != dim:
        raise WeaviateError(f"vector search: dimension mismatch: query has {query.size}, index has {dim}")
    return name, query


# ---- gRPC --------------------------------------------------------------------------------------------------


class _Servicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, fake: FakeWeaviate) -> None:
        self.fake = fake

    def _run(self, name: str, context: grpc.ServicerContext, fn: Any) -> Any:
        self.fake.grpc_calls.append(name)
        auth = dict(context.invocation_metadata()).get("authorization")
        if not self.fake.authorized(auth):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unauthorized: invalid api key")
        try:
            return fn()
        except WeaviateError as exc:
            context.abort(exc.code, exc.message)

    def BatchObjects(self, request, context):  # noqa: N802
        return self._run("BatchObjects", context, lambda: self.fake.batch_objects(request))

    def BatchDelete(self, request, context):  # noqa: N802
        return self._run("BatchDelete", context, lambda: self.fake.batch_delete(request))

    def Search(self, request, context):  # noqa: N802
        return self._run("Search", context, lambda: self.fake.search(request))

    def Aggregate(self, request, context):  # noqa: N802
        return self._run("Aggregate", context, lambda: self.fake.aggregate(request))


# ---- REST ----------------------------------------------------------------------------------------------------


class _RestHandler(HttpHandler):
    weaviate: FakeWeaviate

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.weaviate
        path = urlsplit(self.path).path
        raw = self.read_body()
        fake.rest_requests.append((method, path))
        open_paths = (
            "/v1/.well-known/ready",
            "/v1/.well-known/live",
            "/v1/.well-known/openid-configuration",
            "/v1/meta",
        )
        if path not in open_paths and not fake.authorized(self.headers.get("Authorization")):
            self._send(
                401,
                {"code": 401, "message": "anonymous access not enabled, please provide an auth scheme such as OIDC"},
            )
            return
        try:
            body = json.loads(raw) if raw else None
            status, out = self._route(method, path, body)
        except WeaviateError as exc:
            status, out = exc.status, {"error": [{"message": exc.message}]}
        except ValueError:
            status, out = 400, {"error": [{"message": "invalid JSON"}]}
        self._send(status, out)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        fake = self.weaviate
        if method == "GET" and path == "/v1/meta":
            return 200, {
                "hostname": "http://[::]:8080",
                "version": VERSION,
                "modules": {},
                "grpcMaxMessageSize": 104858000,
            }
        if method == "GET" and path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
            return 200, None
        if method == "GET" and path == "/v1/.well-known/openid-configuration":
            return 404, None
        if path == "/v1/schema":
            if method == "GET":
                with fake._lock:
                    return 200, {"classes": [c.config for c in fake.collections.values()]}
            if method == "POST":
                return 200, fake.create_collection(body or {})
        if path.startswith("/v1/schema/") and path.count("/") == 3:
            name = unquote(path.removeprefix("/v1/schema/"))
            with fake._lock:
                if method == "GET":
                    coll = fake.collections.get(name)
                    return (200, coll.config) if coll else (404, None)
                if method == "DELETE":
                    fake.collections.pop(name, None)
                    return 200, None
        raise WeaviateError(f"no route {method} {path}", 404)

    def _send(self, status: int, body: Any) -> None:
        if body is None:
            self.send_data(status, b"", None)
        else:
            self.send_data(status, json.dumps(body, default=str).encode(), "application/json")
