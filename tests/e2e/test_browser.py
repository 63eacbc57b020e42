"""End to end: `sophia up` on free ports, log in through the real form in headless Chromium, see the
dashboard, search the demo once the scheduler has indexed it and open a result's record, see the insights the
scheduler detected and open an account from one, look at Monitoring, then Ctrl-C stops the whole group."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "e2e-admin-password"

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.2)
    raise AssertionError(f"{needle!r} not printed by sophia up; output:\n{''.join(seen)}")


@pytest.fixture
def running(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: run `bash deploy/setup.sh`")
    app_port, api_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    env.update(
        SOPHIA_DATA_DIR=str(tmp_path / "data"),
        SOPHIA_SECRET_KEY=TEST_SECRET,
        SOPHIA_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "up",
            "--demo",
            "--demo-size",
            "small",
            "--app-port",
            str(app_port),
            "--api-port",
            str(api_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = _wait_for_line(proc, "Press Ctrl-C to stop", timeout=240)
        yield {
            "proc": proc,
            "app": f"http://127.0.0.1:{app_port}",
            "api": f"http://127.0.0.1:{api_port}",
            "output": output,
            "ports": (app_port, api_port),
            "shots": tmp_path,
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_login_and_dashboard_then_ctrl_c_stops_everything(running) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert f"localhost:{running['ports'][0]}" in running["output"]
    assert httpx.get(f"{running['api']}/healthz").status_code == 200

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(running["app"])
        page.get_by_role("textbox", name="Username").fill("admin")
        page.get_by_role("textbox", name="Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong username or password").first).to_be_visible(timeout=60_000)

        page.get_by_role("textbox", name="Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Pipeline by stage").first).to_be_visible(timeout=90_000)
        expect(page.get_by_text("Current ARR").first).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(
            path=os.environ.get("SOPHIA_TEST_SCREENSHOT", str(running["shots"] / "dashboard.png")), full_page=True
        )

        # the scheduler indexes the demo in the background; once it has, a search finds a call and opens it
        # (results mix sources: the call is the one whose links row also links out to Gong)
        page.get_by_role("link", name="Search").first.click()
        page.get_by_placeholder("e.g.").first.fill("Yardi integration")
        call_links = (
            page.locator('[data-testid="stHorizontalBlock"]')
            .filter(has_text="Open in Gong")
            .filter(has_text="Open record")
        )
        deadline = time.monotonic() + 240
        while True:
            page.get_by_role("button", name="Search").first.click()
            page.wait_for_timeout(2000)
            if call_links.count() or time.monotonic() > deadline:
                break
        call_links.last.get_by_text("Open record").click()
        expect(page.get_by_text("Back to search").first).to_be_visible(timeout=60_000)
        assert "/record?doc=" in page.url
        expect(page.get_by_text("Open in Gong").first).to_be_visible()

        # the scheduler detected insights at its start: the feed shows them with their evidence, and an
        # account name opens the account page
        page.get_by_role("link", name="Insights").first.click()
        expect(page.get_by_text("Evidence (").first).to_be_visible(timeout=60_000)
        page.locator('a[href*="account?account="]').first.click()
        expect(page.get_by_text("Rent volume and failure rate").first).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Monitoring").first.click()
        expect(page.get_by_text("Every check").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Pipelines").first).to_be_visible()
        browser.close()

    proc = running["proc"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    for port in running["ports"]:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still served after Ctrl-C"


def test_children_do_not_outlive_a_killed_supervisor(tmp_path) -> None:
    """Even a SIGKILLed `sophia up` leaves no app, API or scheduler behind holding its ports."""
    api_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    env.update(
        SOPHIA_DATA_DIR=str(tmp_path / "data"),
        SOPHIA_SECRET_KEY=TEST_SECRET,
        SOPHIA_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "up", "--no-app", "--api-port", str(api_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for_line(proc, "Press Ctrl-C to stop", timeout=120)
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", api_port)) != 0:
                return
        time.sleep(0.3)
    raise AssertionError(f"the API still serves on {api_port} after its supervisor was killed")
