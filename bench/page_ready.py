"""Page ready time in a real browser, on the medium demo: idle, and while the scheduler indexes the demo.

    python bench/page_ready.py [--size medium] [--rounds 3] [--pages dashboard,search,admin,connectors]

Finding 16 of issue 9: every page rendered in under a second on a quiet machine, but took 6-25 s while the
demo was being indexed in the background. This runs `sophia up` twice on one fresh data folder:

1. ``up --demo --no-jobs``: loads the demo, nothing indexes it; each page is opened ``--rounds`` times
   (the baseline, "idle");
2. ``up`` (with the scheduler): its first indexing run embeds the whole demo; each page is opened again
   while that run reports itself running ("while indexing").

A page is ready when its title is drawn and Streamlit reports the script run finished
(``data-test-script-state="notRunning"``), measured from ``page.goto`` in headless Chromium (Playwright),
signed in as the admin through the real form. Figures are medians in seconds, side by side.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "bench-admin-password"
PAGES = {
    "dashboard": ("", "Dashboard"),
    "search": ("search", "Search"),
    "admin": ("admin", "Admin"),
    "connectors": ("connectors", "Connectors"),
}
READY_JS = """([title]) => {
  const app = document.querySelector('[data-testid=stApp]');
  const h1 = [...document.querySelectorAll('h1')].map(h => h.innerText.trim());
  return app && app.getAttribute('data-test-script-state') === 'notRunning' && h1.includes(title);
}"""
PAGE_TIMEOUT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data: Path, args: list[str], app_port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    env |= {"SOPHIA_DATA_DIR": str(data), "SOPHIA_ADMIN_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "up",
            "--app-port",
            str(app_port),
            "--api-port",
            str(_free_port()),
            *args,
        ],
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        if "Press Ctrl-C to stop" in line:
            return proc
    raise SystemExit(f"sophia up did not start (code {proc.wait()})")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)


def _sign_in(page, url: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(READY_JS, arg=["Dashboard"], timeout=PAGE_TIMEOUT_MS)


def _ready_s(page, url: str, path: str, title: str) -> float:  # noqa: ANN001
    started = time.perf_counter()
    page.goto(f"{url}/{path}")
    page.wait_for_timeout(100)  # let the new run start before checking that it ended
    page.wait_for_function(READY_JS, arg=[title], timeout=PAGE_TIMEOUT_MS, polling=50)
    return time.perf_counter() - started


def _measure(url: str, pages: list[str], rounds: int, keep_going=lambda: True) -> dict[str, list[float]]:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {name: [] for name in pages}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        _sign_in(page, url)
        for _ in range(rounds):
            for name in pages:
                path, title = PAGES[name]
                took = _ready_s(page, url, path, title)
                if keep_going():  # a page that finished after indexing did is not an "indexing" figure
                    times[name].append(took)
        browser.close()
    return times


def _indexing(data: Path) -> bool:
    from core.config import load_settings
    from core.runtime import open_runtime
    from core.search.indexing import indexing_state

    rt = open_runtime(load_settings(data_dir=data))
    try:
        state = indexing_state(runtime=rt)
        return state is not None and state["state"] == "running" and bool(state.get("total"))
    finally:
        rt.engine.dispose()


def _wait_for_indexing(data: Path, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not _indexing(data):
        if time.monotonic() > deadline:
            raise SystemExit("the scheduler did not start indexing the demo")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    pages = args.pages.split(",")
    with tempfile.TemporaryDirectory(prefix="sophia-bench-") as tmp:
        data, port = Path(tmp) / "data", _free_port()
        url = f"http://127.0.0.1:{port}"
        up = _start(data, ["--demo", "--demo-size", args.size, "--no-jobs"], port)
        try:
            idle, idle_load = _measure(url, pages, args.rounds), os.getloadavg()[0]
        finally:
            _stop(up)
        up = _start(data, [], port)
        try:
            _wait_for_indexing(data)
            busy = _measure(url, pages, args.rounds, keep_going=lambda: _indexing(data))
            still, busy_load = _indexing(data), os.getloadavg()[0]
        finally:
            _stop(up)
    print(f"Page ready time, {args.size} demo, median of {args.rounds} opens (seconds; headless Chromium, 1440 px)")
    print(f"{'page':<12}{'idle':>8}{'while indexing':>16}{'ratio':>8}")
    for name in pages:
        a, b = _median(idle[name]), _median(busy[name])
        ratio = f"{b / a:.1f}x" if a and b else "-"
        print(f"{name:<12}{_fmt(a):>8}{_fmt(b):>16}{ratio:>8}   (n={len(idle[name])}/{len(busy[name])})")
    print("indexing was still running at the end" if still else "indexing finished during the run")
    # the machine's own load (other work than this bench) moves both figures: say what it was
    print(
        f"load average (1 min) after each phase: idle {idle_load:.1f}, while indexing {busy_load:.1f}, {os.cpu_count()} cores"
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
