"""`shoal serve` as a real subprocess: starts on a free loopback port with a temp data
dir, becomes ready, serves health/metrics, and stops cleanly on SIGINT/SIGTERM; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from shoal.db import current_revision
from shoal.service.metrics import expected_revisions
from tests.support.serve import SHOAL, child_env, start_serve


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_serve_starts_ready_and_stops_cleanly_on_sigint(
    backend: str,
    tmp_path: Path,
    bundled_vulndb: Path,
    pg_databases: Callable[[], str],
) -> None:
    data = tmp_path / "svc"
    url = pg_databases() if backend == "postgresql" else None
    with start_serve(data, database_url=url, vulndb=bundled_vulndb) as svc:
        assert svc.url.startswith("http://127.0.0.1:")
        ready = svc.wait_ready()
        assert ready["status"] == "ready"
        assert ready["checks"]["database"]["ok"] and ready["checks"]["vulndb"]["ok"]
        assert svc.client.get("/healthz").json() == {"status": "ok"}
        metrics = svc.client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'shoal_queue_depth{kind="scan_image"} 0.0' in metrics.text
        assert "shoal_database_up 1.0" in metrics.text
        assert "shoal_vulndb_present 1.0" in metrics.text
        assert svc.client.get("/openapi.json").status_code == 200
        # receiver URLs name the port it really listens on (started with --port 0)
        sub = svc.client.post("/api/v1/subscriptions", json={"name": "team"})
        assert sub.status_code == 201, sub.text
        reg = svc.client.post(
            "/api/v1/registries",
            json={
                "subscription_id": sub.json()["id"],
                "name": "local",
                "url": "http://127.0.0.1:5000",
                "kind": "distribution",
            },
        )
        assert reg.status_code == 201, reg.text
        assert reg.json()["receiver_url"].startswith(svc.url + "/api/v1/webhooks/")
    # leaving the block sent SIGINT and checked the exit code was 0
    assert svc.proc.returncode == 0
    assert "shoal serve: stopped" in svc.stdout()
    messages = [r["msg"] for r in svc.log_records()]
    assert "service started" in messages and messages[-1] == "service stopped"
    # the embedded default: SQLite and the key file under the data dir, private
    key = data / "credentials.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    db_url = url or f"sqlite:///{data / 'shoal.db'}"
    assert current_revision(db_url) in expected_revisions()
    # no secret in the log: neither the key nor a database password
    assert key.read_text().strip() not in svc.log_text()


def test_serve_restarts_on_the_same_data_dir_with_the_same_key(
    tmp_path: Path, bundled_vulndb: Path
) -> None:
    data = tmp_path / "svc"
    with start_serve(data, vulndb=bundled_vulndb, args=["--no-scheduler"]) as first:
        first.wait_ready()
    key = (data / "credentials.key").read_text()
    with start_serve(data, vulndb=bundled_vulndb, args=["--no-scheduler"]) as second:
        second.wait_ready()
        assert second.stop(signal.SIGTERM) == 0  # SIGTERM stops as cleanly as SIGINT
    assert (data / "credentials.key").read_text() == key
    assert second.log_records()[-1]["msg"] == "service stopped"


def test_serve_refuses_an_address_in_use_with_one_clear_line(
    tmp_path: Path, bundled_vulndb: Path
) -> None:
    import socket
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = subprocess.run(  # noqa: PLW1510  (the exit code is asserted)
            [*SHOAL, "serve", "--port", str(port), "--data-dir", str(tmp_path / "svc")],
            env=child_env(vulndb=bundled_vulndb),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_serve_refuses_a_bad_database_url_without_showing_its_password(tmp_path: Path) -> None:
    import subprocess

    r = subprocess.run(  # noqa: PLW1510  (the exit code is asserted)
        [
            *SHOAL,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "svc"),
            "--database-url",
            "mysql://root:hunter2@127.0.0.1/x",
        ],
        env=child_env(vulndb=tmp_path / "v.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "only sqlite and postgresql are supported" in r.stderr
    assert "hunter2" not in r.stderr + r.stdout


def test_a_job_a_crashed_run_left_running_is_run_after_the_restart(
    tmp_path: Path, bundled_vulndb: Path
) -> None:
    import time

    from sqlalchemy import select

    from shoal.db import jobs as dbjobs
    from shoal.db import make_engine, migrate
    from shoal.db.models import Job
    from shoal.db.session import session_factory
    from shoal.db.types import JobKind, JobState

    data = tmp_path / "svc"
    url = f"sqlite:///{data / 'shoal.db'}"
    data.mkdir()
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        with sessions() as s, s.begin():  # the crashed run had claimed it
            job_id = dbjobs.enqueue(
                s, JobKind.DISCOVER_REGISTRY, "gone@1", {"registry_id": 999}
            ).job_id
            assert dbjobs.claim_next(s) is not None
        with start_serve(data, vulndb=bundled_vulndb, args=["--no-scheduler"]) as svc:
            svc.wait_ready()
            deadline = time.monotonic() + 60
            state = JobState.RUNNING
            while time.monotonic() < deadline:
                with sessions() as s:
                    state = s.scalars(select(Job.state).where(Job.id == job_id)).one()
                if state is JobState.DONE:
                    break
                time.sleep(0.05)
            assert state is JobState.DONE, svc.log_text()[-3000:]
        requeued = [r for r in svc.log_records() if r["msg"].startswith("requeued jobs")]
        assert [r["jobs"] for r in requeued] == [1]
        with sessions() as s:
            assert s.scalars(select(Job.attempts).where(Job.id == job_id)).one() == 2
    finally:
        engine.dispose()
