"""`make demo` (`scripts/demo.py --once`) as a user runs it: the service, a registry
notifying it, the demo images pushed and scanned, the summary printed, and everything it
started stopped at the end; with the embedded SQLite and with PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.registry import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_demo_runs_the_service_and_stops_everything_it_started(
    backend: str, tmp_path: Path, pg_databases: Callable[[], str]
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env.update(
        SHOAL_DEMO_DIR=str(tmp_path / "demo"),
        SHOAL_DEMO_PORT=str(port),
        SHOAL_CACHE__DIR=str(tmp_path / "cache"),
    )
    if backend == "postgresql":
        env["SHOAL_DATABASE_URL"] = pg_databases()
    res = subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = res.stdout
    assert res.returncode == 0, out[-4000:] + res.stderr[-4000:]
    url = f"http://127.0.0.1:{port}"
    assert f"notifications to {url}/api/v1/webhooks/1" in out
    for repo in ("demo/app:1", "demo/tools:1", "demo/legacy:1"):
        assert f"scanned {repo} (linux/amd64" in out
    lines = out.splitlines()
    legacy = next(ln for ln in lines if "│ demo/legacy:1" in ln)
    assert "unhealthy" in legacy and "1 high" in legacy
    assert "Top findings by severity" in out
    top = next(ln for ln in lines if "│ high" in ln)
    assert "CVE-2023-43804" in top and "urllib3" in top and "1.26.17" in top
    assert f"docs: {url}/docs" in out
    assert out.rstrip().endswith("stopped shoal serve")
    assert "stopped registry" in out
    # nothing left listening
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))
    log = (tmp_path / "demo" / "service" / "serve.log").read_text()
    assert '"msg": "service stopped"' in log
