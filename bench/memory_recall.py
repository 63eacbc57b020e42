"""Memory recall latency at 10,000 memories of one user: Sophia's memory (mem0 over the ``memories`` table,
``core.memory``) beside mem0 with its default local store (qdrant, ``path=``), in the same run.

    python bench/memory_recall.py [--sizes 1000,10000] [--queries 200] [--adds 30]

Both sides are the same mem0 2.2.1 ``Memory.search`` with the same embedder (the local all-MiniLM-L6-v2, so
every figure includes embedding the query, about 8 ms on 2 cores); they differ in the vector store. Ours is
the whole ``search_memories`` call: the user check, mem0's search, and stamping what it returns as recalled.
The machines are noisy, so the two are measured query by query in turn (the same moment's noise on both) and
the ratio is printed beside them. Queries are all distinct (the embedder's query cache never answers).

The memories are 10,000 distinct short facts of one user, embedded once in batches and written through each
store's ``insert`` (what mem0's ``add`` calls after embedding one text; adding 10,000 one by one would time
the embedder). ``--adds`` then times that many whole ``add_memory`` calls on the full store, beside mem0's
``add`` on qdrant. Target (issue #11): recall p95 <= 20 ms at 10,000 memories.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.auth import create_user  # noqa: E402
from core.memory import add_memory, search_memories  # noqa: E402
from core.memory.embedding import memory_embedder  # noqa: E402
from core.memory.mem0_bridge import mem0_for, prepare_mem0_env  # noqa: E402
from core.memory.store import store_for  # noqa: E402
from core.runtime import open_runtime, prepare  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

USER = "bench-user"
TARGET_P95_MS = 20.0
PEOPLE = "Vera Omar Lena Raj Ines Tom Aiko Sam Priya Jon Mara Eli".split()
THINGS = (
    "weekly summaries|the renewal with Oakwood Residential|autopay failures|late invoices|the West region|"
    "the Q3 pipeline review|NSF returns|onboarding calls|the Yardi integration|site manager training|"
    "rent collection trends|the board deck|churn risk accounts|the pricing proposal|Slack digests"
).split("|")
VERBS = (
    "prefers|owns|asked about|worries about|is responsible for|wants a reminder about|presented|"
    "follows up on|escalated|signed off"
).split("|")
WHEN = "on Mondays|every morning|before quarter end|after each sync|by Friday|monthly|when ARR drops|in June".split("|")


def facts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct short facts of the kind an agent remembers."""
    out: set[str] = set()
    while len(out) < n:
        p, v, t, w = (rng.integers(0, len(x)) for x in (PEOPLE, VERBS, THINGS, WHEN))
        out.add(f"{PEOPLE[p]} {VERBS[v]} {THINGS[t]} {WHEN[w]} (note {int(rng.integers(0, 10 * n))})")
    return sorted(out)


def payloads(texts: list[str]) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    return [
        {"data": t, "hash": hashlib.md5(t.encode()).hexdigest(), "user_id": USER, "role": "user", "created_at": now}
        for t in texts
    ]


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, p))


def qdrant_memory(tmp: Path, embedding: object) -> object:
    """mem0 with its default local store, qdrant on a path, and our embedder (no LLM is called)."""
    from mem0 import Memory

    m = Memory.from_config(
        {
            "vector_store": {
                "provider": "qdrant",
                "config": {"path": str(tmp / "qdrant"), "collection_name": "bench", "embedding_model_dims": 384},
            },
            "embedder": {"provider": "openai", "config": {"api_key": "unused"}},
            "llm": {"provider": "openai", "config": {"api_key": "unused"}},
            "history_db_path": str(tmp / "qdrant-history.db"),
        }
    )
    m.embedding_model = embedding
    return m


def run(n: int, n_queries: int, n_adds: int) -> dict:
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory(prefix="sophia-bench-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"\n{n:,} memories of one user", flush=True)
        rt = open_runtime(make_settings(tmp))
        prepare(rt)
        prepare_mem0_env(rt.settings)
        with rt.session() as session:
            create_user(session=session, username=USER, role="viewer", password="bench-password-1", actor="bench")
        ours = mem0_for(rt)
        theirs = qdrant_memory(tmp, ours.embedding_model)

        texts = facts(n + n_adds, rng)
        stored, extra = texts[:n], texts[n:]
        started = time.monotonic()
        X = memory_embedder().embed(stored, batch_size=64)
        print(f"  embedded in batches: {time.monotonic() - started:.0f} s", flush=True)
        ids = [str(uuid.uuid4()) for _ in stored]
        started = time.monotonic()
        for s in range(0, n, 1000):
            store_for(rt).insert(list(X[s : s + 1000]), payloads(stored[s : s + 1000]), ids[s : s + 1000])
        ours_written = time.monotonic() - started
        started = time.monotonic()
        for s in range(0, n, 1000):
            theirs.vector_store.insert(
                vectors=[v.tolist() for v in X[s : s + 1000]],
                payloads=payloads(stored[s : s + 1000]),
                ids=ids[s : s + 1000],
            )
        theirs_written = time.monotonic() - started
        print(f"  written: memories table {ours_written:.1f} s, qdrant local {theirs_written:.1f} s", flush=True)

        topics = [f"what does {p} want about {t}" for p in PEOPLE for t in THINGS]
        queries = [f"{topics[i % len(topics)]} ({i})" for i in range(2 * n_queries + 10)]
        for q in queries[:5]:  # warm up: our matrix is read, qdrant loads its segment
            search_memories(runtime=rt, user=USER, query=q)
            theirs.search(q, top_k=5, filters={"user_id": USER})
        t_ours, t_theirs, agree = [], [], []
        for i in range(n_queries):
            q_ours, q_theirs = queries[10 + 2 * i], queries[11 + 2 * i]
            t = time.perf_counter()
            got = search_memories(runtime=rt, user=USER, query=q_ours)
            t_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs.search(q_theirs, top_k=5, filters={"user_id": USER})
            t_theirs.append(time.perf_counter() - t)
            if i < 20:  # both stores rank the same vectors: the same top memory
                same = theirs.search(q_ours, top_k=5, filters={"user_id": USER})["results"]
                agree.append(bool(got) and bool(same) and got[0].text == same[0]["memory"])
        o50, o95, q50, q95 = pct(t_ours, 50), pct(t_ours, 95), pct(t_theirs, 50), pct(t_theirs, 95)
        print(f"  recall, ours (memories table)  p50 {o50:7.2f} ms  p95 {o95:7.2f} ms")
        print(f"  recall, mem0 + qdrant local    p50 {q50:7.2f} ms  p95 {q95:7.2f} ms")
        print(
            f"  ratio qdrant/ours              p50 {q50 / o50:5.1f}x     p95 {q95 / o95:5.1f}x    "
            f"same top memory on {sum(agree)}/{len(agree)} queries"
        )
        a_ours, a_theirs = [], []
        for i, text in enumerate(extra):
            t = time.perf_counter()
            add_memory(runtime=rt, user=USER, text=text, actor="bench")
            a_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs.add(text + f" ({i})", user_id=USER, infer=False)
            a_theirs.append(time.perf_counter() - t)
        if extra:
            print(
                f"  add (whole call), ours p50 {pct(a_ours, 50):.1f} ms, mem0 + qdrant p50 {pct(a_theirs, 50):.1f} ms"
            )
        theirs.close()
        rt.engine.dispose()
        return {"n": n, "ours_p95": o95, "theirs_p95": q95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--adds", type=int, default=30)
    args = parser.parse_args()
    results = [run(int(s), args.queries, args.adds) for s in args.sizes.split(",")]
    print(f"\nsummary (target: recall p95 <= {TARGET_P95_MS:.0f} ms at 10,000 memories)")
    for r in results:
        verdict = "met" if r["ours_p95"] <= TARGET_P95_MS else "MISSED"
        print(
            f"  {r['n']:>7,} memories: ours p95 {r['ours_p95']:.1f} ms ({verdict}), mem0 + qdrant local p95 "
            f"{r['theirs_p95']:.1f} ms, {r['theirs_p95'] / r['ours_p95']:.1f}x"
        )


if __name__ == "__main__":
    main()
