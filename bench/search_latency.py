"""Query latency of hybrid search at 100,000 and 1,000,000 chunks, beside exact brute-force vector search
with numpy on the same vectors, and the recall@10 of the embedded backend's vector query against exact.

    python bench/search_latency.py [--sizes 100000,1000000] [--queries 300]

Latency does not depend on what the text says, so the corpus is synthetic: chunks of 40-120 words drawn
from a Zipf-distributed vocabulary (keyword postings shaped like real text), vectors drawn around 4,096
topic centres (real embeddings of demo chunks) with a second topic mixed in and noise (neighbourhoods shaped like real embeddings,
not uniform noise, on which any approximate index looks worse than it is). Rows are written straight into
the documents/chunks tables (the FTS5 triggers index them as in production) and pushed to the embedded
backend through its ``upsert``; queries go through ``core.search.service.search`` with the real local
embedding model, so each hybrid figure includes embedding the query, the keyword query, the vector query,
fusion, the permission check and snippets. Every hybrid query carries a filter (type, a third of the corpus)
and runs as a viewer (the role filter).

Figures per size:
- exact numpy: ``X @ q`` + argpartition over all vectors (the baseline);
- vector: the embedded backend's query, unfiltered and with filters of 10% and 0.5% selectivity, and its
  recall@10 against exact (filtered exact for the filtered ones);
- hybrid: the whole ``search`` call, p50/p95.
Targets (issue 4): vector >= 10x faster than exact at 1M with recall@10 >= 0.95; hybrid p95 <= 25 ms at
100k and <= 80 ms at 1M.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.auth import Identity  # noqa: E402
from core.runtime import open_runtime, prepare  # noqa: E402
from core.search.backends.base import ChunkVector, VectorFilter  # noqa: E402
from core.search.backends.embedded import EmbeddedBackend  # noqa: E402
from core.search.embeddings import make_embedder  # noqa: E402
from core.search.service import SearchFilters, search  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

DIM = 384
CHUNKS_PER_DOC = 3
TYPES = ("call", "email", "slack_thread")  # a type filter selects a third
SOURCES = ("gong", "hubspot", "slack", "netsuite", "lattice")
VOCAB = 30_000
CENTRES = 2_000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = (
    "payment posting ledger resident autopay portal invoice renewal escalation returned nsf card fee "
    "eviction onboarding training site manager property units collections late outage incident delay "
    "pricing proposal contract discovery demo champion adoption settlement refund dispute credit"
).split()


def vocabulary(rng: np.random.Generator) -> list[str]:
    """Made-up words by Zipf rank; the domain words sit at ranks 60-100 (in a few per cent of chunks, as
    "payment" is in real text once stopwords, which queries drop, hold the top ranks)."""
    syll = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "pe", "da", "ro", "ze", "ul", "an", "or", "is"]
    words: list[str] = []
    while len(words) < VOCAB:
        words.append("".join(rng.choice(syll, rng.integers(2, 5))))
        words = list(dict.fromkeys(words))
    return words[:60] + [w for w in WORDS if w not in words] + words[60 : VOCAB - len(WORDS)]


def demo_centres(rt, n: int, rng: np.random.Generator) -> np.ndarray:  # noqa: ANN001
    """Topic centres that are real embeddings: chunks of the small demo, embedded by the local model."""
    from connectors.demo import load_demo
    from core.search.documents import build_documents

    load_demo(runtime=rt, size="small", seed=42)
    with rt.session() as session:
        chunks = [c for _, d in build_documents(session=session) for c in d.chunks]
    picked = [chunks[i] for i in rng.choice(len(chunks), min(n, len(chunks)), replace=False)]
    return make_embedder(rt.settings).embed(picked)


def texts(n: int, vocab: list[str], rng: np.random.Generator) -> list[str]:
    ranks = np.minimum(rng.zipf(1.15, size=n * 80) - 1, len(vocab) - 1)
    lengths = rng.integers(40, 120, n)
    out, pos = [], 0
    for length in lengths:
        out.append(" ".join(vocab[r] for r in ranks[pos : pos + length]))
        pos += length
        if pos + 120 > len(ranks):
            pos = 0
    return out


def vectors(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        i, j = rng.integers(0, len(centres), e - s), rng.integers(0, len(centres), e - s)
        a, b = rng.uniform(0.6, 1.0, (e - s, 1)), rng.uniform(0.0, 0.5, (e - s, 1))
        v = (a * centres[i] + b * centres[j] + rng.normal(0, 0.04, (e - s, DIM))).astype(np.float32)
        out[s:e] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, p))


def build(n: int, tmp: Path, rng: np.random.Generator) -> tuple:
    settings = make_settings(tmp)
    rt = open_runtime(settings)
    prepare(rt)
    started = time.monotonic()
    centres = demo_centres(rt, CENTRES, rng)
    print(f"  {len(centres)} topic centres embedded from the demo in {time.monotonic() - started:.0f} s", flush=True)
    vocab = vocabulary(rng)
    X = vectors(n, rng, centres)
    started = time.monotonic()
    db = sqlite3.connect(settings.data_dir / "sophia.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    n_docs = (n + CHUNKS_PER_DOC - 1) // CHUNKS_PER_DOC
    doc_type = np.array(TYPES)[rng.integers(0, len(TYPES), n_docs)]
    doc_source = np.array(SOURCES)[rng.integers(0, len(SOURCES), n_docs)]
    doc_at = [EPOCH + timedelta(minutes=int(m)) for m in rng.integers(0, 800 * 24 * 60, n_docs)]
    doc_role = np.where(rng.random(n_docs) < 0.05, "admin", "viewer")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db.executemany(
        "INSERT INTO documents (id, source, external_id, type, title, text, min_role, occurred_at, url, content_hash,"
        " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            (
                d + 1,
                str(doc_source[d]),
                f"bench/{d}",
                str(doc_type[d]),
                f"Document {d}",
                "",
                str(doc_role[d]),
                doc_at[d].replace(tzinfo=None).isoformat(sep=" "),
                f"/records/bench/{d}",
                "x",
                now,
                now,
            )
            for d in range(n_docs)
        ),
    )
    for s in range(0, n, 50_000):
        e = min(n, s + 50_000)
        body = texts(e - s, vocab, rng)
        db.executemany(
            "INSERT INTO chunks (id, document_id, position, text, content_hash, embedding, embedding_model, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (
                    c + 1,
                    c // CHUNKS_PER_DOC + 1,
                    c % CHUNKS_PER_DOC,
                    f"Document {c // CHUNKS_PER_DOC}\n{body[c - s]}",
                    "x",
                    X[c].tobytes(),
                    "all-MiniLM-L6-v2",
                    now,
                    now,
                )
                for c in range(s, e)
            ),
        )
        db.commit()
    db.close()
    written = time.monotonic() - started
    backend = EmbeddedBackend.from_settings(settings)
    backend.clear()
    started = time.monotonic()
    for s in range(0, n, 20_000):
        e = min(n, s + 20_000)
        backend.upsert(
            [
                ChunkVector(
                    chunk_id=c + 1,
                    vector=X[c],
                    document_id=c // CHUNKS_PER_DOC + 1,
                    source=str(doc_source[c // CHUNKS_PER_DOC]),
                    type=str(doc_type[c // CHUNKS_PER_DOC]),
                    occurred_at=doc_at[c // CHUNKS_PER_DOC],
                    min_role=str(doc_role[c // CHUNKS_PER_DOC]),
                )
                for c in range(s, e)
            ]
        )
    pushed = time.monotonic() - started
    started = time.monotonic()
    backend.query(X[0], k=10)  # this process loads the index
    loaded = time.monotonic() - started
    meta = dict(type=doc_type, source=doc_source, role=doc_role)
    print(
        f"  built: tables {written:.0f} s, backend push (with IVF training) {pushed:.0f} s, reader load {loaded:.1f} s",
        flush=True,
    )
    return rt, backend, X, centres, vocab, meta


def run(n: int, n_queries: int) -> dict:
    rng = np.random.default_rng(42)
    with tempfile.TemporaryDirectory(prefix="sophia-bench-") as tmp:
        print(f"\n{n:,} chunks", flush=True)
        rt, backend, X, centres, vocab, meta = build(n, Path(tmp), rng)
        Q = vectors(n_queries, np.random.default_rng(7), centres)
        chunk_type = np.repeat(meta["type"], CHUNKS_PER_DOC)[:n]
        chunk_source = np.repeat(meta["source"], CHUNKS_PER_DOC)[:n]

        def exact(q: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
            s = X @ q
            if allowed is not None:
                s = np.where(allowed, s, -np.inf)
            top = np.argpartition(-s, 10)[:10]
            return top[np.argsort(-s[top])] + 1

        t_exact, truth = [], []
        for q in Q:
            t = time.perf_counter()
            truth.append(exact(q))
            t_exact.append(time.perf_counter() - t)
        t_vec, rec = [], []
        for q, tr in zip(Q, truth, strict=True):
            t = time.perf_counter()
            got = backend.query(q, k=10)
            t_vec.append(time.perf_counter() - t)
            rec.append(len({c for c, _ in got} & set(tr.tolist())) / 10)
        print(f"  exact numpy       p50 {pct(t_exact, 50):7.2f} ms  p95 {pct(t_exact, 95):7.2f} ms")
        print(
            f"  vector (embedded) p50 {pct(t_vec, 50):7.2f} ms  p95 {pct(t_vec, 95):7.2f} ms  recall@10 {np.mean(rec):.4f}"
            f"  speed-up p50 {pct(t_exact, 50) / pct(t_vec, 50):.0f}x p95 {pct(t_exact, 95) / pct(t_vec, 95):.0f}x"
        )
        filters = {
            "type=call (33%)": (VectorFilter(types=["call"]), chunk_type == "call"),
            "type=email & source=gong (~7%)": (
                VectorFilter(types=["email"], sources=["gong"]),
                (chunk_type == "email") & (chunk_source == "gong"),
            ),
        }
        for label, (where, allowed) in filters.items():
            t_f, rec_f = [], []
            for q in Q[: max(50, n_queries // 3)]:
                tr = exact(q, allowed)
                t = time.perf_counter()
                got = backend.query(q, k=10, where=where)
                t_f.append(time.perf_counter() - t)
                rec_f.append(len({c for c, _ in got} & set(tr.tolist())) / 10)
            print(
                f"  vector {label:30s} p50 {pct(t_f, 50):6.2f} ms  p95 {pct(t_f, 95):6.2f} ms  recall@10 {np.mean(rec_f):.4f}"
            )
        embedder = make_embedder(rt.settings)
        viewer = Identity("bench", "viewer", "cli")
        qrng = np.random.default_rng(3)
        queries = [
            " ".join(
                qrng.choice(WORDS, 2, replace=False).tolist() + [vocab[int(i)] for i in qrng.integers(100, 5000, 2)]
            )
            for _ in range(n_queries)
        ]
        embedder.embed([queries[0]])  # load the model before timing
        t_h = []
        for text in queries:
            t = time.perf_counter()
            search(
                runtime=rt,
                embedder=embedder,
                backend=backend,
                identity=viewer,
                query=text,
                limit=10,
                filters=SearchFilters(type="call"),
            )
            t_h.append(time.perf_counter() - t)
        t_e = []
        for text in queries[: n_queries // 3]:
            t = time.perf_counter()
            embedder.embed([text + " x"])
            t_e.append(time.perf_counter() - t)
        print(
            f"  hybrid search     p50 {pct(t_h, 50):7.2f} ms  p95 {pct(t_h, 95):7.2f} ms  "
            f"(of which embedding the query p50 {pct(t_e, 50):.2f} ms)"
        )
        backend.close()
        rt.engine.dispose()
        return {
            "n": n,
            "exact_p95": pct(t_exact, 95),
            "vector_p95": pct(t_vec, 95),
            "recall": float(np.mean(rec)),
            "hybrid_p95": pct(t_h, 95),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    results = [run(int(s), args.queries) for s in args.sizes.split(",")]
    print(
        "\nsummary (targets: vector >= 10x exact at 1M with recall@10 >= 0.95; hybrid p95 <= 25 ms at 100k, <= 80 ms at 1M)"
    )
    for r in results:
        print(
            f"  {r['n']:>9,} chunks: exact p95 {r['exact_p95']:.1f} ms, vector p95 {r['vector_p95']:.2f} ms "
            f"({r['exact_p95'] / r['vector_p95']:.0f}x), recall@10 {r['recall']:.3f}, hybrid p95 {r['hybrid_p95']:.1f} ms"
        )


if __name__ == "__main__":
    main()
