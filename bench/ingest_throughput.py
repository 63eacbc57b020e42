"""Records/s through the HubSpot connector's full path (fake HubSpot -> transform -> database), beside
the raw read rate of the same fake server in the same run, on SQLite and on PostgreSQL.

    python bench/ingest_throughput.py [--companies 1000] [--skip-postgres]

A portal of N companies holds 8N records (N companies, 2N contacts, N deals with stage history, 4N
engagements). Three figures per database, each a full read of the portal:

- raw read:   plain HTTP paging of the list endpoint (100 per page), JSON decoded, nothing else: the
              fastest the fake serves records, the baseline;
- fetch only: the connector's own reads (search pages of 200 + association/history enrichment), no
              transform, no database;
- full path:  ``sync_connector``: fetch, map, validate, upsert, quarantine, cursor, run record, bus event.

The client-side rate limits are raised for the run (the fake is local): at HubSpot's documented limits
(4 searches/s, 100 requests/10 s) the vendor, not Sophia, sets the pace; the ceiling that implies is
printed too. PostgreSQL: 127.0.0.1:5432 database ``test`` (SOPHIA_TEST_PG_URL), a fresh schema.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from connectors.hubspot.connector import STREAMS  # noqa: E402
from connectors.registry import KINDS  # noqa: E402
from core import pipelines  # noqa: E402
from core.bus import make_bus  # noqa: E402
from core.crypto import SecretBox  # noqa: E402
from core.runtime import Runtime, open_runtime, prepare  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.contract.fake_hubspot import OBJECT_TYPES, FakeHubSpot, populate  # noqa: E402
from tests.utils.services import pg_schema  # noqa: E402

BENCH_SETTINGS = {
    "page_size": "200",  # HubSpot's search maximum
    "search_lag_s": "0",
    "search_requests_per_s": "100",  # raised: see the module docstring
    "requests_per_10s": "1000",
}
DOCUMENTED_SEARCH_PER_S = 4
DOCUMENTED_GENERAL_PER_S = 10


def raw_read(fake: FakeHubSpot) -> tuple[int, float]:
    """Every live record through the list endpoint, 100 a page: the server's own read rate."""
    count = 0
    started = time.perf_counter()
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.token}"}) as http:
        for object_type in OBJECT_TYPES:
            after = None
            while True:
                params = {"limit": 100, **({"after": after} if after else {})}
                data = http.get(f"/crm/v3/objects/{object_type}", params=params).raise_for_status().json()
                count += len(data["results"])
                after = (data.get("paging") or {}).get("next", {}).get("after")
                if not after:
                    break
    return count, time.perf_counter() - started


def fetch_only(runtime: Runtime, name: str) -> tuple[int, float, int]:
    """The connector's reads alone; returns records, seconds and requests per record page."""
    source = pipelines.build_source(runtime=runtime, kinds=KINDS, name=name)
    count = pages = 0
    started = time.perf_counter()
    try:
        for spec in source.streams():
            cursor = None
            while True:
                page = source.fetch_page(spec, cursor)
                count += len(page.records)
                pages += bool(page.records)
                cursor = page.next_cursor.dump()
                if page.done:
                    break
    finally:
        source.close()
    return count, time.perf_counter() - started, pages


def full_path(runtime: Runtime, name: str) -> tuple[int, float]:
    bus = make_bus(runtime.settings)
    started = time.perf_counter()
    try:
        result = pipelines.sync_connector(runtime=runtime, kinds=KINDS, name=name, bus=bus)
    finally:
        bus.close()
    elapsed = time.perf_counter() - started
    if result.status != "succeeded":
        raise SystemExit(f"bench sync failed: {result.error}")
    return sum(r.tally.written for r in result.runs), elapsed


def add(runtime: Runtime, fake: FakeHubSpot, name: str) -> None:
    with runtime.session() as session:
        pipelines.add_connector(
            session=session,
            box=SecretBox.from_settings(runtime.settings),
            kinds=KINDS,
            kind="hubspot",
            name=name,
            values={"base_url": fake.url, "token": fake.token, **BENCH_SETTINGS},
            actor="bench",
        )


def measure(label: str, runtime: Runtime, fake: FakeHubSpot) -> None:
    prepare(runtime)
    add(runtime, fake, "bench-fetch")
    add(runtime, fake, "bench")
    raw_n, raw_s = raw_read(fake)
    fetch_n, fetch_s, _ = fetch_only(runtime, "bench-fetch")
    full_n, full_s = full_path(runtime, "bench")
    raw_rate, fetch_rate, full_rate = raw_n / raw_s, fetch_n / fetch_s, full_n / full_s
    print(f"[{label}]")
    print(f"  raw read    {raw_n:>7} records {raw_s:7.2f} s {raw_rate:9.0f} records/s   (baseline)")
    print(
        f"  fetch only  {fetch_n:>7} records {fetch_s:7.2f} s {fetch_rate:9.0f} records/s   "
        f"{fetch_rate / raw_rate:5.2f}x raw"
    )
    print(
        f"  full path   {full_n:>7} records {full_s:7.2f} s {full_rate:9.0f} records/s   "
        f"{full_rate / raw_rate:5.2f}x raw, {full_rate / fetch_rate:5.2f}x fetch"
    )


def vendor_ceiling(records: int, fake: FakeHubSpot) -> float:
    """Records/s HubSpot's documented limits allow for this portal: each page costs one search plus its
    enrichment calls, searches at 4/s and everything at 10/s."""
    seconds = 0.0
    for obj in STREAMS:
        n = len(fake.live(obj.object_type))
        pages = max(1, -(-n // int(BENCH_SETTINGS["page_size"])))
        calls = pages * (1 + len(obj.associations) + (len(obj.history) and -(-200 // 50)))
        seconds += max(pages / DOCUMENTED_SEARCH_PER_S, calls / DOCUMENTED_GENERAL_PER_S)
    return records / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000, help="portal size: 8 records per company")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    fake = FakeHubSpot().start()
    try:
        populate(fake, companies=args.companies)
        total = sum(len(fake.live(t)) for t in OBJECT_TYPES)
        print(
            f"HubSpot fake with {total} records ({args.companies} companies); page size {BENCH_SETTINGS['page_size']}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            rt = open_runtime(make_settings(Path(tmp)))
            try:
                measure("SQLite", rt, fake)
            finally:
                rt.engine.dispose()
            if not args.skip_postgres:
                with pg_schema() as url:
                    rt = open_runtime(make_settings(Path(tmp) / "pg", database_url=url))
                    try:
                        measure("PostgreSQL", rt, fake)
                    finally:
                        rt.engine.dispose()
        print(
            f"At HubSpot's documented limits (4 searches/s, 100 requests/10 s) this portal reads at most "
            f"~{vendor_ceiling(total, fake):.0f} records/s, whatever the database."
        )
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
