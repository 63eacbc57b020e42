"""Offline answers: time to the first streamed token and to the whole answer, on the medium demo, beside a
baseline measured in the same run: one keyword search (what the search page does per query).

    python bench/ask_first_token.py [--size medium] [--data /tmp/sophia-ask-bench] [--rounds 5]

Goal (issue #11): first token p95 <= 300 ms on the medium demo. Each question kind is asked --rounds times,
in a process where the intent model and the record index are warm (their one-time cost is printed apart:
a page or the API process pays it once, at its first question). The demo is loaded once under --data and
kept between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.demo import demo_loaded, load_demo  # noqa: E402
from core.agents.ask import ask_stream  # noqa: E402
from core.auth import Identity  # noqa: E402
from core.observability.logging import configure_logging  # noqa: E402
from core.runtime import Runtime, open_runtime, prepare  # noqa: E402
from core.search.service import search  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

QUESTIONS = [
    "which accounts are at risk this month and why?",
    "which deals are stalled?",
    "which deals are slipping?",
    "whose rent volume dropped last month?",
    "which accounts have a high payment failure rate?",
    "who pays their invoices late?",
    "which accounts are stuck in onboarding?",
    "which accounts are disengaging?",
    "which champions left?",
    "which reps talk too much?",
    "who mentioned Zego?",
    "what's our pipeline?",
]
ADMIN = Identity(username="admin", role="admin", via="cli")


def runtime_for(data: Path, size: str) -> Runtime:
    rt = open_runtime(make_settings(data / size))
    prepare(rt)
    with rt.session() as session:
        loaded = demo_loaded(session=session)
    if not loaded or loaded.get("size") != size:
        print(f"loading the {size} demo ...", flush=True)
        load_demo(runtime=rt, size=size, seed=42)
    return rt


def one(rt: Runtime, question: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    for event in ask_stream(runtime=rt, identity=ADMIN, question=question):
        if event.type == "delta" and first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return (first if first is not None else total) * 1000, total * 1000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="medium")
    parser.add_argument("--data", default="/tmp/sophia-ask-bench", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure_logging(level="ERROR", json=True, process="bench")
    rt = runtime_for(args.data, args.size)

    started = time.perf_counter()
    one(rt, "hello")  # loads the intent model and the record index
    warmup = (time.perf_counter() - started) * 1000

    firsts, totals, per_kind = [], [], {}
    for question in QUESTIONS:
        runs = [one(rt, question) for _ in range(args.rounds)]
        firsts += [f for f, _ in runs]
        totals += [t for _, t in runs]
        per_kind[question] = (statistics.median(f for f, _ in runs), statistics.median(t for _, t in runs))

    baseline = []
    for question in QUESTIONS:
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            search(runtime=rt, embedder=None, backend=None, identity=ADMIN, query=question, mode="keyword")  # type: ignore[arg-type]
            baseline.append((time.perf_counter() - t0) * 1000)

    print(f"\nOffline ask on the {args.size} demo, {args.rounds} rounds x {len(QUESTIONS)} questions")
    print(f"one-time warm-up (intent model + record index): {warmup:,.0f} ms\n")
    print(f"{'question':52s} {'first token':>12s} {'whole answer':>13s}   (medians, ms)")
    for q, (f, t) in per_kind.items():
        print(f"{q:52s} {f:12.0f} {t:13.0f}")
    print()
    print(f"first token    p50 {statistics.median(firsts):7.0f} ms   p95 {p95(firsts):7.0f} ms   (goal p95 <= 300 ms)")
    print(f"whole answer   p50 {statistics.median(totals):7.0f} ms   p95 {p95(totals):7.0f} ms")
    print(f"baseline: one keyword search  p50 {statistics.median(baseline):7.0f} ms   p95 {p95(baseline):7.0f} ms")
    print(f"ratio first-token p95 / keyword-search p95: {p95(firsts) / p95(baseline):.2f}")


if __name__ == "__main__":
    main()
