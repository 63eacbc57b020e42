"""Incremental indexing: the latency of one changed record and the cost of an idle run (nothing changed),
beside today's full scan (every record's document rebuilt and its hash compared), in the same run.

    python bench/index_incremental.py [--base 100000] [--scale 1000000]

A fresh SQLite database gets ``--base`` activity records (notes of about 40 words), indexed once through the
real write path with a stand-in embedder that returns one fixed vector under the real model's name (so no
time goes into embedding 100k texts; the measured runs use the real model). The embedded vector backend is
taken to be in sync with the change log at that point. Then, at ``--base`` records:

- full scan: ``index_records`` (what the scheduler ran every two minutes before: nothing changed, every
  document rebuilt and compared);
- idle run: ``index_changes`` with nothing changed (median of 5);
- one changed record: an activity re-ingested with new text, then ``make_searchable`` (documents and chunks,
  the real model embedding the new chunk, the push to the embedded backend), median of 5.

Then the tables grow to ``--scale`` records by bulk inserts (records, documents and chunks with placeholder
vectors, all ingested a day ago: the incremental runs never read them) and the idle run and one change are
measured again, with the run after a delete (the one that checks documents against their records). The full
scan is not run at ``--scale`` (about 5 minutes per million on this machine, and its setup would need every
document's real chunks): it is projected linearly from ``--base`` (it reads every record once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, update  # noqa: E402

from core.db import models as m  # noqa: E402
from core.db.types import utcnow  # noqa: E402
from core.ingest.service import delete_records, ingest_records  # noqa: E402
from core.runtime import Runtime, open_runtime, prepare  # noqa: E402
from core.search.embeddings import DIM, MODEL_NAME, make_embedder  # noqa: E402
from core.search.indexing import index_changes, index_records  # noqa: E402
from core.search.searchable import make_searchable  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

WORDS = "autopay enrollment returned ACH payments rollout plan site manager training resident messaging".split()
INSERT_BATCH = 20_000


class FixedVector:
    """Stands in for the model while the bench database is built: one fixed unit vector per text."""

    model_name = MODEL_NAME
    dim = DIM

    def __init__(self) -> None:
        v = np.ones(DIM, np.float32)
        self.vector = v / np.linalg.norm(v)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, progress=None) -> np.ndarray:  # noqa: ANN001
        return np.tile(self.vector, (len(texts), 1))

    def embed_query(self, text: str) -> np.ndarray:
        return self.vector


def body(i: int) -> str:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(40)]
    return f"Note {i}: " + " ".join(words) + "."


def add_activities(rt: Runtime, start: int, stop: int, *, documents: bool) -> None:
    """Bulk rows ``start..stop-1`` ingested a day ago; with ``documents``, their documents and one chunk each
    (placeholder vectors: never pushed, never re-embedded)."""
    day_ago = utcnow() - timedelta(days=1)
    with rt.session() as s:
        account = s.scalar(select(m.Account.id))
    for lo in range(start, stop, INSERT_BATCH):
        hi = min(stop, lo + INSERT_BATCH)
        with rt.session() as s:
            ids = s.scalars(
                insert(m.Activity).returning(m.Activity.id, sort_by_parameter_order=True),
                [
                    {
                        "source": "hubspot",
                        "external_id": f"a-{i}",
                        "raw": {},
                        "account_id": account,
                        "type": "note",
                        "subject": f"Note {i}",
                        "body": body(i),
                        "occurred_at": day_ago,
                        "created_at": day_ago,
                        "updated_at": day_ago,
                        "ingested_at": day_ago,
                    }
                    for i in range(lo, hi)
                ],
            ).all()
            if not documents:
                continue
            docs = s.scalars(
                insert(m.Document).returning(m.Document.id, sort_by_parameter_order=True),
                [
                    {
                        "source": "hubspot",
                        "external_id": f"activities/a-{i}",
                        "type": "note",
                        "title": f"Note {i}",
                        "text": body(i),
                        "record_table": "activities",
                        "record_id": rid,
                        "content_hash": f"bulk-{i}",
                        "min_role": "viewer",
                    }
                    for i, rid in zip(range(lo, hi), ids, strict=True)
                ],
            ).all()
            s.execute(
                insert(m.Chunk),
                [
                    {
                        "document_id": did,
                        "position": 0,
                        "text": body(i),
                        "content_hash": f"bulk-{i}",
                        "embedding": b"\0\0\0\0",
                        "embedding_model": MODEL_NAME,
                    }
                    for i, did in zip(range(lo, hi), docs, strict=True)
                ],
            )


def median_s(run: Callable[[], object], times: int = 5) -> float:
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        taken.append(time.perf_counter() - started)
    return statistics.median(taken)


class Changer:
    """Re-ingests one existing activity with new text each call (a sync bringing one change)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt, self.n = rt, 0

    def __call__(self) -> None:
        self.n += 1
        record = {
            "external_id": "a-7",
            "type": "note",
            "subject": "Note 7",
            "body": f"Changed {self.n}: {body(self.n)}",
        }
        with self.rt.session() as s:
            ingest_records(
                session=s, source="hubspot", entity="activities", records=[record | {"occurred_at": utcnow()}]
            )


def measure(rt: Runtime, embedder: object, change: Changer, label: str) -> dict[str, float]:
    index_changes(runtime=rt, embedder=embedder)  # settle (a first run after bulk inserts checks the tables)
    idle = median_s(lambda: index_changes(runtime=rt, embedder=embedder))

    def one() -> None:
        change()
        done = make_searchable(runtime=rt, embedder=embedder)
        assert done.index is not None and done.index.documents_updated == 1, done.index
        assert not done.behind, done.behind

    latency = median_s(one)
    with rt.session() as s:
        delete_records(session=s, source="hubspot", entity="activities", external_ids=[f"a-{3 + change.n}"])
    started = time.perf_counter()
    after_delete = index_changes(runtime=rt, embedder=embedder)
    deleted_s = time.perf_counter() - started
    assert after_delete.documents_deleted == 1, after_delete
    print(
        f"  {label}: idle run {idle * 1000:.1f} ms, one changed record searchable in {latency * 1000:.0f} ms, "
        f"run after a delete {deleted_s * 1000:.0f} ms"
    )
    return {"idle": idle, "latency": latency, "delete": deleted_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=int, default=100_000, help="records for the full-scan comparison")
    parser.add_argument("--scale", type=int, default=1_000_000, help="records for the incremental figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sophia-bench-") as tmp:
        settings = make_settings(Path(tmp))
        rt = open_runtime(settings)
        prepare(rt)
        with rt.session() as s:
            ingest_records(
                session=s, source="hubspot", entity="accounts", records=[{"external_id": "co", "name": "Co"}]
            )
            s.execute(update(m.Account).values(ingested_at=utcnow() - timedelta(days=1)))
        add_activities(rt, 0, args.base, documents=False)
        started = time.perf_counter()
        index_records(runtime=rt, embedder=FixedVector())  # the first index, through the real write path
        print(f"setup: {args.base:,} records indexed (fixed vectors) in {time.perf_counter() - started:.0f} s")
        with rt.session() as s:  # the embedded backend is taken as in sync with the log so far
            top = s.scalar(select(func.max(m.ChunkChange.id))) or 0
            s.add(m.IndexSyncState(backend="embedded", last_change_id=top, chunks_indexed=0))
        embedder = make_embedder(settings)
        embedder.embed(["warm up"])  # load the model outside the timings
        change = Changer(rt)

        started = time.perf_counter()
        full = index_records(runtime=rt, embedder=embedder)
        full_s = time.perf_counter() - started
        print(f"at {args.base:,} records:")
        print(f"  today's full scan: {full_s:.1f} s ({full.documents_unchanged:,} unchanged documents compared)")
        base = measure(rt, embedder, change, "incremental")

        started = time.perf_counter()
        add_activities(rt, args.base, args.scale, documents=True)
        print(f"setup: grown to {args.scale:,} records in {time.perf_counter() - started:.0f} s")
        print(f"at {args.scale:,} records:")
        print(f"  today's full scan, projected from {args.base:,}: {full_s * args.scale / args.base:.0f} s")
        scaled = measure(rt, embedder, change, "incremental")
        print(
            f"idle run at {args.scale:,}: {scaled['idle'] * 1000:.1f} ms against a full scan of "
            f"{full_s * args.scale / args.base:.0f} s ({full_s * args.scale / args.base / scaled['idle']:,.0f}x less); "
            f"at {args.base:,}: {base['idle'] * 1000:.1f} ms against {full_s:.1f} s"
        )


if __name__ == "__main__":
    main()
