"""How long the `sophia` command takes to start, beside a bare Python start measured in the same run.

    PYTHONPATH=$PWD python bench/cli_startup.py [--runs 5] [--data-dir DIR] [--query "failed ACH payments"]

It times the checkout in the current folder: run it from an export of an older commit to compare.

Each case is a fresh process (`python -m app.cli.main ...`), run --runs times; the table shows the median and
the best wall time and the median CPU time (user + system of the child). Baselines in the same run:
`python -c pass` (the floor) and importing every command module (what `sophia --help` did before the
commands were loaded lazily). With a data folder that holds indexed records (--data-dir, default
$SOPHIA_DATA_DIR), `sophia search` is timed too, with its own `took_ms`, and one cold search is broken
down step by step (imports, opening the product, the embedding model, the vector index, the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

COMMAND_MODULES = "app.cli.admin, app.cli.connectors, app.cli.data, app.cli.estuary, app.cli.index, "
COMMAND_MODULES += "app.cli.search, app.cli.up, app.cli.usergems"

# One cold search, step by step, in a fresh process (the same calls `sophia search` makes).
BREAKDOWN = """
import json, sys, time
marks = [("start", time.perf_counter())]
def mark(name): marks.append((name, time.perf_counter()))
import app.cli.search as cli_search
mark("import the search command (database layer, auth, models)")
from core.search.backends.registry import query_backend
from core.search.embeddings import make_embedder
from core.search.service import SearchFilters, search
mark("import the search service (numpy, faiss)")
rt = cli_search.open_product(machine_output=True)
identity = cli_search._identity(rt, None)
mark("open the product (settings, engine, migrations check)")
embedder = make_embedder(rt.settings, threads=1)  # as `sophia search` does
embedder.embed_query("warm up")
mark("load the embedding model (ONNX session) and embed once")
backend = query_backend(rt.settings)
backend.query(embedder.embed_query("warm up"), k=1)
mark("open the vector index and query it once")
response = search(runtime=rt, embedder=embedder, backend=backend, identity=identity, query=sys.argv[1], limit=10,
                  filters=SearchFilters())
mark("the search itself, everything warm")
print(json.dumps([(name, round(1000 * (t - marks[i][1]))) for i, (name, t) in enumerate(marks[1:])]))
"""


@dataclass
class Timing:
    label: str
    wall: list[float]
    cpu: list[float]
    took_ms: list[float]
    error: str = ""

    def row(self, floor: float) -> str:
        if self.error:
            return f"{self.label:<48} {self.error}"
        median = statistics.median(self.wall)
        took = f"  took_ms {statistics.median(self.took_ms):6.0f}" if self.took_ms else ""
        return (
            f"{self.label:<48} median {median:6.2f} s  best {min(self.wall):6.2f} s  "
            f"cpu {statistics.median(self.cpu):6.2f} s  {median / floor:5.1f}x bare{took}"
        )


def run(label: str, argv: list[str], runs: int, env: dict[str, str]) -> Timing:
    timing = Timing(label, [], [], [])
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        timing.wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        timing.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:  # e.g. --version on a checkout from before it existed
            timing.error = f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
            return timing
        if "--json" in argv:
            timing.took_ms.append(float(json.loads(done.stdout)["took_ms"]))
    return timing


def breakdown(query: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", BREAKDOWN, query], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"breakdown failed: {done.stderr.strip()[-500:]}")
    print("\none cold search, step by step (fresh process):")
    for name, ms in json.loads(done.stdout.strip().splitlines()[-1]):
        print(f"  {ms:6d} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=os.environ.get("SOPHIA_DATA_DIR"))
    parser.add_argument("--query", default="failed ACH payments")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    if args.data_dir:
        env["SOPHIA_DATA_DIR"] = args.data_dir
    cli = [sys.executable, "-m", "app.cli.main"]
    cases = [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
        ("import every command module (before: --help)", [sys.executable, "-c", f"import {COMMAND_MODULES}"]),
        ("sophia --help", [*cli, "--help"]),
        ("sophia --version", [*cli, "--version"]),
    ]
    if args.data_dir:
        cases.append((f"sophia search {args.query!r} --json", [*cli, "search", args.query, "--json"]))
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, {args.runs} runs each")
    timings = [run(label, argv, args.runs, env) for label, argv in cases]
    floor = statistics.median(timings[0].wall)
    for timing in timings:
        print(timing.row(floor))
    if args.data_dir:
        breakdown(args.query, env)
    else:
        print("(no --data-dir / SOPHIA_DATA_DIR: `sophia search` not timed)")


if __name__ == "__main__":
    main()
