"""Detection speed: a full run of every detector on the small, medium and large demo, per type, and how it
grows with the data, beside a baseline measured in the same run: one plain read of every row the detectors
look at (``SELECT count(*)`` of each table, i.e. the cost of touching the data once).

    python bench/insights_speed.py [--sizes small,medium,large] [--data /tmp/sophia-insights-speed]

The detection job runs every 15 minutes: a full run must stay well inside that. Each size is loaded once
into its own SQLite database under --data (kept between runs: loading the large demo takes ~40 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from connectors.demo import demo_loaded, load_demo  # noqa: E402
from core.db import models as m  # noqa: E402
from core.insights import run_detection  # noqa: E402
from core.insights.detectors import all_detectors  # noqa: E402
from core.observability.logging import configure_logging  # noqa: E402
from core.runtime import Runtime, open_runtime, prepare  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

TABLES = (m.Account, m.Deal, m.Activity, m.Call, m.TranscriptSegment, m.Invoice, m.Payment, m.RentPaymentVolume)
SCHEDULE_S = 15 * 60
REPEAT = 3


def runtime_for(data: Path, size: str) -> Runtime:
    rt = open_runtime(make_settings(data / size))
    prepare(rt)
    with rt.session() as session:
        loaded = demo_loaded(session=session)
    if not loaded or loaded.get("size") != size:
        print(f"loading the {size} demo ...", flush=True)
        load_demo(runtime=rt, size=size, seed=42)
    return rt


def timed(fn) -> float:  # noqa: ANN001
    runs = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def scan(rt: Runtime) -> int:
    with rt.session() as session:
        return sum(session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--data", default="/tmp/sophia-insights-speed")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    types = list(all_detectors())
    rows = {}
    for size in args.sizes.split(","):
        rt = runtime_for(Path(args.data), size)
        records = scan(rt)
        baseline = timed(lambda rt=rt: scan(rt))
        run_detection(runtime=rt)  # the first run creates the insights; the timed runs are the steady state
        full = timed(lambda rt=rt: run_detection(runtime=rt))
        per_type = {t: timed(lambda rt=rt, t=t: run_detection(runtime=rt, types=[t])) for t in types}
        rows[size] = (records, baseline, full, per_type)
        rt.engine.dispose()
        print(
            f"{size:6} {records:>9,} rows: full detection {full:7.3f} s, baseline read {baseline:6.3f} s "
            f"({full / baseline:5.1f}x); {100 * full / SCHEDULE_S:.2f} % of the 15-minute interval",
            flush=True,
        )
    sizes = list(rows)
    print(f"\nper type (median of {REPEAT}, seconds):")
    print(f"{'type':22}" + "".join(f"{s:>10}" for s in sizes))
    for t in types:
        print(f"{t:22}" + "".join(f"{rows[s][3][t]:10.3f}" for s in sizes))
    if len(sizes) > 1:
        first, last = rows[sizes[0]], rows[sizes[-1]]
        print(
            f"\ngrowth {sizes[0]} -> {sizes[-1]}: data x{last[0] / first[0]:.1f}, detection x{last[2] / first[2]:.1f}, "
            f"baseline read x{last[1] / first[1]:.1f}"
        )


if __name__ == "__main__":
    main()
