"""Read latency of API-key requests beside bearer-token requests in the same run, on the real API server
(uvicorn, SQLite), and while another process holds the database's write lock.

    python bench/api_key_reads.py [--clients 20] [--requests 40] [--lock-s 3]

- concurrent reads: ``--clients`` threads each GET /api/v1/accounts ``--requests`` times, once with an API
  key and once with a token; p50/p95 of each. Tokens never wrote, so they are the baseline: API-key reads
  used to write ``last_used_at`` on every request and queue on SQLite's single write lock (issue 9: p95
  769 ms against 253 ms with 20 clients).
- under a held lock: one read of each kind while another connection holds ``BEGIN EXCLUSIVE`` for
  ``--lock-s`` seconds (it used to wait out the lock: a 10 s stall).
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from core.auth import create_api_key  # noqa: E402
from core.ingest import ingest_records  # noqa: E402
from core.runtime import open_runtime, prepare  # noqa: E402
from tests.conftest import ADMIN_PASSWORD, make_settings  # noqa: E402

ACCOUNTS = 200
URL_PATH = "/api/v1/accounts?limit=50"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_data(folder: Path) -> tuple[dict[str, str], str, str]:
    """A migrated database with accounts; returns the server's environment and two API keys (the second
    unused until the held-lock read, so its use is due to be recorded then)."""
    settings = make_settings(folder)
    rt = open_runtime(settings)
    prepare(rt)
    with rt.session() as session:
        records = [{"external_id": str(i), "name": f"Account {i}", "arr": 1000 * i} for i in range(ACCOUNTS)]
        ingest_records(session=session, source="hubspot", entity="accounts", records=records)
        _, key = create_api_key(session=session, username="admin", actor="bench")
        _, fresh = create_api_key(session=session, username="admin", actor="bench")
    rt.engine.dispose()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SOPHIA_DATA_DIR": str(settings.data_dir),
        "SOPHIA_SECRET_KEY": settings.signing_key(),
        "SOPHIA_LOG_LEVEL": "WARNING",
    }
    return env, key, fresh


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the API server did not start")


def timed(get: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    resp = get()
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise SystemExit(f"request failed: {resp.status_code} {resp.text[:200]}")
    return elapsed * 1000


def concurrent_reads(base: str, headers: dict[str, str], clients: int, requests: int) -> list[float]:
    def one_client(_: int) -> list[float]:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            return [timed(lambda: http.get(URL_PATH)) for _ in range(requests)]

    with ThreadPoolExecutor(clients) as pool:
        return [ms for batch in pool.map(one_client, range(clients)) for ms in batch]


def read_under_lock(base: str, headers: dict[str, str], db: Path, lock_s: float) -> float:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)  # released by the timer
    conn.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(lock_s, lambda: conn.execute("ROLLBACK"))
    release.start()
    try:
        return timed(lambda: httpx.get(base + URL_PATH, headers=headers, timeout=60))
    finally:
        release.join()
        conn.close()


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--lock-s", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env, key, fresh = prepare_data(Path(tmp))
        port = free_port()
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            resp = httpx.post(base + "/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
            token = {"Authorization": f"Bearer {resp.json()['access_token']}"}
            with_key = {"X-API-Key": key}
            concurrent_reads(base, token, 2, 5)  # warm up
            print(f"{args.clients} clients x {args.requests} reads of {URL_PATH} ({ACCOUNTS} accounts, SQLite)")
            for name, headers in (("bearer token (baseline)", token), ("API key", with_key)):
                ms = concurrent_reads(base, headers, args.clients, args.requests)
                print(f"  {name:<24} p50 {p(ms, 50):7.1f} ms   p95 {p(ms, 95):7.1f} ms")
            db = Path(env["SOPHIA_DATA_DIR"]) / "sophia.db"
            print(f"one read while another process holds the write lock for {args.lock_s:.0f} s")
            for name, headers in (("bearer token (baseline)", token), ("API key, first use", {"X-API-Key": fresh})):
                print(f"  {name:<24} {read_under_lock(base, headers, db, args.lock_s):7.1f} ms")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
