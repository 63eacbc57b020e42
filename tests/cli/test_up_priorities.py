"""`sophia up` runs the scheduler at a lower CPU priority than the app and the API (finding 16: pages took
6-25 s while the scheduler's indexing embedded the demo on every core). The figures are in
bench/page_ready.py; here, that the scheduler's process and every thread it starts (the embedding model's
thread pool) get the lower priority, and the faces do not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.cli.up import JOBS_NICE, Child, _children

# a stand-in child: reports its own niceness and that of a thread it starts, as the scheduler's threads would be
REPORT = """
import os, sys, threading
seen = {}
t = threading.Thread(target=lambda: seen.update(thread=os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
t.start(); t.join()
open(sys.argv[1], "w").write(f"{os.getpriority(os.PRIO_PROCESS, 0)} {seen['thread']}")
"""


def test_the_scheduler_runs_at_a_lower_priority_than_the_faces() -> None:
    kids = {k.name: k for k in _children(host="127.0.0.1", app_port=1, api_port=2, app=True, api=True, jobs=True)}
    assert JOBS_NICE > 0
    assert (kids["jobs"].nice, kids["app"].nice, kids["api"].nice) == (JOBS_NICE, 0, 0)


def test_a_child_and_its_threads_get_its_priority(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    for nice in (0, JOBS_NICE):
        out = tmp_path / f"nice-{nice}"
        kid = Child("probe", [sys.executable, "-c", REPORT, str(out)], nice=nice)
        kid.start(dict(os.environ))
        assert kid.proc.wait(timeout=60) == 0
        expected = min(19, base + nice)
        assert out.read_text() == f"{expected} {expected}"
