"""`sophia up` hands the app the project's Streamlit settings (theme, toolbar) wherever it is started from.

Streamlit reads ``.streamlit/config.toml`` only from its working directory; started from another folder, the
app lost its theme and showed a "Deploy" button. The check runs in a fresh interpreter in an empty folder
(no ``.streamlit`` there, none in ``HOME``), parses the argv `up` builds for the app with Streamlit's own
``run`` command and loads Streamlit's configuration from it, as ``streamlit run`` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from streamlit import config
from streamlit.web import bootstrap, cli
from app.cli.up import _children

(app,) = _children(host="127.0.0.1", app_port=8601, api_port=8101, app=True, api=False, jobs=False)
args = app.argv[app.argv.index("run") + 1 :]
params = cli.main_run.make_context("run", args).params
bootstrap.load_config_options(flag_options=params)
names = json.loads(input())
print(json.dumps({name: config.get_option(name) for name in names}))
"""


def _settings(table: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= _settings(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_app_gets_the_projects_streamlit_settings_when_up_runs_from_another_folder(tmp_path) -> None:
    wanted = _settings(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        input=json.dumps(list(wanted)),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == wanted
    assert seen["client.toolbarMode"] == "minimal"  # no "Deploy" button
    assert seen["theme.primaryColor"] == "#12A39A"
