"""`sophia index status|sync|rebuild|reconcile`, run as real processes against the fake Pinecone and Weaviate,
on the same SQLite database the chunks were written to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial

import numpy as np
import pytest

from core.db.models import Chunk, ChunkChange, Document
from core.runtime import Runtime
from core.search.embeddings import MODEL_NAME
from tests.contract import helpers
from tests.contract.fake_pinecone import FakePinecone
from tests.contract.fake_weaviate import FakeWeaviate
from tests.contract.vector_contract import foreign_vector, pinecone_put_foreign, weaviate_put_foreign

DIM = 384

sophia = partial(helpers.sophia, timeout=180)


@pytest.fixture
def fakes() -> Iterator[tuple[FakePinecone, FakeWeaviate]]:
    pc, wv = FakePinecone(dimension=DIM).start(), FakeWeaviate().start()
    yield pc, wv
    pc.stop()
    wv.stop()


@pytest.fixture
def env(env: dict[str, str], fakes) -> dict[str, str]:
    """The CLI's environment (the data dir the ``runtime`` fixture opens), with both fakes enabled."""
    pc, wv = fakes
    return {
        **env,
        "SOPHIA_VECTOR_BACKENDS": "pinecone,weaviate",
        "SOPHIA_PINECONE_API_KEY": pc.api_key,
        "SOPHIA_PINECONE_HOST": pc.host,
        "SOPHIA_WEAVIATE_URL": wv.url,
        "SOPHIA_WEAVIATE_GRPC_PORT": str(wv.grpc_port),
    }


def write_chunks(rt: Runtime, n: int, tag: str) -> list[int]:
    rng = np.random.default_rng(len(tag) + n)
    with rt.session() as s:
        doc = Document(source="file", external_id=tag, type="file", title=f"{tag}.txt", text="...", content_hash=tag)
        s.add(doc)
        s.flush()
        rows = []
        for p in range(n):
            v = rng.standard_normal(DIM).astype(np.float32)
            rows.append(
                Chunk(
                    document_id=doc.id,
                    position=p,
                    text=f"{tag} {p}",
                    content_hash=f"{tag}{p}",
                    embedding=(v / np.linalg.norm(v)).astype("<f4").tobytes(),
                    embedding_model=MODEL_NAME,
                )
            )
        s.add_all(rows)
        s.flush()
        s.add_all([ChunkChange(chunk_id=c.id, op="u") for c in rows])
        return [c.id for c in rows]


def status(env: dict[str, str]) -> dict:
    done = sophia("index", "status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # stdout is only JSON


def test_status_sync_outage_reconcile_rebuild(runtime: Runtime, env: dict[str, str], fakes) -> None:
    pc, wv = fakes
    ids = write_chunks(runtime, 6, "first")
    shown = status(env)
    assert shown.pop("records")["pending_records"] == 0  # chunks written directly: no record is waiting
    assert shown == {
        "backends": [
            {"name": "pinecone", "chunks": 0, "pending": 6, "last_sync": None, "error": None},
            {"name": "weaviate", "chunks": 0, "pending": 6, "last_sync": None, "error": None},
        ],
        "chunks": 6,
    }

    synced = sophia("index", "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    shown = status(env)
    assert [(b["name"], b["chunks"], b["pending"], b["error"]) for b in shown["backends"]] == [
        ("pinecone", 6, 0, None),
        ("weaviate", 6, 0, None),
    ]
    assert all(b["last_sync"] for b in shown["backends"])

    pc.stop()  # Pinecone is down; ingestion and the other backend go on
    ids += write_chunks(runtime, 3, "second")
    failed = sophia("index", "sync", env=env)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("error: pinecone: pinecone unavailable")
    shown = {b["name"]: b for b in status(env)["backends"]}
    assert shown["pinecone"]["error"] and shown["pinecone"]["pending"] == 3 and shown["pinecone"]["chunks"] == 6
    assert shown["weaviate"]["error"] is None and shown["weaviate"]["pending"] == 0

    pc.start()
    pc.namespaces[""].pop(str(ids[0]))  # and it lost a vector while it was away
    fixed = sophia("index", "reconcile", "--backend", "pinecone", "--json", env=env)
    assert fixed.returncode == 0, fixed.stderr
    [report] = json.loads(fixed.stdout)["backends"]
    assert report["missing"] == [ids[0]] and report["extra"] == [] and report["repaired"] == 1
    assert sorted(int(i) for i in pc.vectors()) == ids

    rebuilt = sophia("index", "rebuild", "--backend", "weaviate", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "weaviate: rebuilt, 9 chunks pushed" in rebuilt.stdout and "rebuild weaviate" in rebuilt.stderr
    assert [(b["chunks"], b["pending"], b["error"]) for b in status(env)["backends"]] == [(9, 0, None), (9, 0, None)]


def test_refusals_are_one_line(runtime: Runtime, env: dict[str, str]) -> None:
    unknown = sophia("index", "rebuild", "--backend", "milvus", env=env)
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: unknown vector backend 'milvus'")
    off = sophia("index", "sync", "--backend", "embedded", env=env)
    assert off.returncode == 1 and "not enabled" in off.stderr
    bad = sophia("index", "status", env={**env, "SOPHIA_VECTOR_BACKENDS": "embedded,milvus"})
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "SOPHIA_VECTOR_BACKENDS" in bad.stderr


def test_reconcile_removes_ids_sophia_did_not_write_whatever_their_shape(
    runtime: Runtime, env: dict[str, str], fakes
) -> None:
    """Finding 23: `sophia index reconcile --backend pinecone` crashed with ``invalid literal for int()``."""
    pc, wv = fakes
    ids = write_chunks(runtime, 4, "ours")
    assert sophia("index", "sync", env=env).returncode == 0
    pinecone_put_foreign(pc.host, pc.api_key, ["leftover-7", "doc#3", "0042"], values=foreign_vector(1, DIM))
    alien = weaviate_put_foreign(wv.url, wv.grpc_port, [{"source": "elsewhere"}], values=foreign_vector(2, DIM))
    fixed = sophia("index", "reconcile", "--json", env=env)
    assert fixed.returncode == 0, fixed.stderr
    reports = {r["backend"]: r for r in json.loads(fixed.stdout)["backends"]}
    assert sorted(reports["pinecone"]["extra"]) == ["0042", "doc#3", "leftover-7"]
    assert reports["pinecone"]["backend_count"] == 7 and reports["pinecone"]["missing"] == []
    assert reports["weaviate"]["extra"] == alien and reports["weaviate"]["backend_count"] == 5
    assert sorted(pc.vectors()) == sorted(str(i) for i in ids)
    assert len(wv.objects("SophiaChunk")) == len(ids)
