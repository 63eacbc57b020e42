"""Retrieval quality on the labelled questions (tests/data/search/questions.json) over the small demo,
for each mode and for each step that shapes the page, beside plain fusion in the same run.

    python bench/search_quality.py [--data DIR] [--floors 0,0.2,0.3,0.4] [--show "a query"]

The demo is loaded and indexed into DIR once (reused when DIR holds it). Figures per kind of question:
recall@10 and nDCG@10 (as tests/db/test_search_quality.py counts them: a document folded into a result as
"and N similar" counts at that result's rank) and the mean number of results shown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.demo import load_demo  # noqa: E402
from core.auth import Identity  # noqa: E402
from core.runtime import open_runtime, prepare  # noqa: E402
from core.search import fusion  # noqa: E402
from core.search.backends.embedded import EmbeddedBackend  # noqa: E402
from core.search.embeddings import make_embedder  # noqa: E402
from core.search.indexing import index_records  # noqa: E402
from core.search.query import SearchFilters, parse_query, resolve_scope  # noqa: E402
from core.search.retrieval import keyword_chunks, visible_chunks  # noqa: E402
from core.search.service import KEYWORD_CANDIDATES, VECTOR_CANDIDATES, _hits  # noqa: E402
from core.search.sync import sync_backend  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

QUESTIONS = json.loads((ROOT / "tests" / "data" / "search" / "questions.json").read_text())
ADMIN = Identity("admin", "admin", "cli")


def open_indexed(data: Path):  # noqa: ANN201
    settings = make_settings(data)
    rt = open_runtime(settings)
    fresh = not (data / "data" / "ready").exists()
    if fresh:
        prepare(rt)
        load_demo(runtime=rt, size="small", seed=42, as_of=date(2026, 3, 15))
        index_records(runtime=rt, embedder=make_embedder(settings))
    backend = EmbeddedBackend.from_settings(settings)
    if fresh:
        assert sync_backend(runtime=rt, backend=backend).ok
        (data / "data" / "ready").write_text("yes")
    return rt, backend, make_embedder(settings)


def ranked(rt, backend, embedder, question: str, mode: str):  # noqa: ANN001, ANN201
    terms = parse_query(question)
    with rt.session() as session:
        scope = resolve_scope(session, ADMIN, SearchFilters())
        kw = keyword_chunks(session, terms, scope, KEYWORD_CANDIDATES) if mode != "vector" else []
        vec = []
        if mode != "keyword":
            found = backend.query(embedder.embed_query(question), k=VECTOR_CANDIDATES, where=scope.vector_filter())
            vec = visible_chunks(session, found, scope)
        return fusion.fuse(session, kw, vec, terms, mode)


def shaped(rt, candidates, variant: str, floor: float):  # noqa: ANN001, ANN201
    with rt.session() as session:
        if variant == "fusion":
            return candidates[:10]
        kept = fusion.above_floor(candidates, floor)
        if variant == "floor":
            return kept[:10]
        groups = fusion.collapse(session, kept, want=14)
        return groups[:10] if variant == "floor+collapse" else fusion.diversify(groups, limit=10)


def keys(rt, results):  # noqa: ANN001, ANN201
    """(for each shown result, its document and the near-duplicates folded into it; how many were folded)."""
    with rt.session() as session:
        hits = _hits(session, rt, results, parse_query(""))
    groups = [[(h.source, h.external_id)] + [(s.source, s.external_id) for s in h.similar] for h in hits]
    return groups, [len(h.similar) for h in hits]


def scores(groups, relevant) -> tuple[float, float]:  # noqa: ANN001
    """As tests/db/test_search_quality.py counts: a folded document counts at its result's rank."""
    rel = {(r["source"], r["external_id"]) for r in relevant}
    n = min(10, len(rel))
    ranks = [i for i, group in enumerate(groups[:10]) for k in group if k in rel]
    dcg = sum(1 / math.log2(i + 2) for i in ranks)
    return min(1.0, len(ranks) / n), min(1.0, dcg / sum(1 / math.log2(i + 2) for i in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/tmp/sophia-search-quality")
    parser.add_argument("--floors", default="0.3")
    parser.add_argument("--modes", default="hybrid,keyword,vector")
    parser.add_argument("--show", action="append", default=[])
    args = parser.parse_args()
    rt, backend, embedder = open_indexed(Path(args.data))
    kinds = sorted({q["kind"] for q in QUESTIONS})
    variants = [("fusion", 0.0)] + [
        (v, float(f)) for f in args.floors.split(",") for v in ("floor", "floor+collapse", "floor+collapse+mix")
    ]
    print(f"{len(QUESTIONS)} questions: " + ", ".join(f"{k} {sum(q['kind'] == k for q in QUESTIONS)}" for k in kinds))
    for mode in args.modes.split(","):
        cands = {q["question"]: ranked(rt, backend, embedder, q["question"], mode) for q in QUESTIONS}
        for variant, floor in variants:
            if mode != "hybrid" and variant != "fusion":
                continue
            row = []
            for kind in kinds:
                qs = [q for q in QUESTIONS if q["kind"] == kind]
                got = [keys(rt, shaped(rt, list(cands[q["question"]]), variant, floor)) for q in qs]
                pairs = [scores(g, q["relevant"]) for (g, _), q in zip(got, qs, strict=True)]
                shown = sum(len(g) for g, _ in got) / len(got)
                row.append(
                    f"{kind} {sum(p[0] for p in pairs) / len(pairs):.3f} / {sum(p[1] for p in pairs) / len(pairs):.3f}"
                    f" ({shown:.1f} shown)"
                )
            print(f"{mode:7} {variant:20} floor {floor:.2f}  " + "  ".join(row))
    for question in args.show:
        for variant in ("fusion", "floor+collapse+mix"):
            cands = ranked(rt, backend, embedder, question, "hybrid")
            with rt.session() as session:
                hits = _hits(session, rt, shaped(rt, cands, variant, fusion.FLOOR), parse_query(question))
            print(f"\n{question!r} ({variant}):")
            for h in hits:
                print(f"  {h.source:9} {h.external_id}" + (f"  and {len(h.similar)} similar" if h.similar else ""))
    backend.close()


if __name__ == "__main__":
    main()
