"""The runtime: migrations, credentials key file, vulnerability DB, queue and scheduler
start/stop, restart recovery; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shoal.config import Settings
from shoal.db import current_revision
from shoal.db import jobs as dbjobs
from shoal.db.crypto import KEY_ENV_VAR, CredentialCipher, RegistryCredentials
from shoal.db.errors import CredentialError
from shoal.db.models import Job
from shoal.db.types import JobKind, JobState
from shoal.errors import ConfigError
from shoal.service import handlers as handler_registry
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.metrics import expected_revisions
from shoal.service.queue import InProcessQueue
from shoal.service.runtime import KEY_FILE_NAME, Runtime, bind_socket, ensure_key_file
from tests.support.service import START


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Callable[[], str]
) -> str:
    """An empty, never migrated database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'service.db'}"
    return pg_databases()


def _settings(tmp_path: Path, vulndb: Path, **service: Any) -> Settings:
    return Settings.model_validate(
        {
            "vulndb": {"path": str(vulndb)},
            "cache": {"dir": str(tmp_path / "cache")},
            "service": {"data_dir": str(tmp_path / "data"), "workers": 0, **service},
        }
    )


@pytest.fixture
def runtimes() -> Iterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for rt in made:
        rt.stop()


def test_prepare_migrates_creates_the_key_file_once_and_reuses_it(
    fresh_db_url: str, tmp_path: Path, bundled_vulndb: Path, runtimes: list[Runtime]
) -> None:
    assert current_revision(fresh_db_url) is None
    settings = _settings(tmp_path, bundled_vulndb)
    first = Runtime(settings, database_url=fresh_db_url, clock=ManualClock(START))
    runtimes.append(first)
    ctx = first.prepare()
    assert current_revision(fresh_db_url) in expected_revisions()
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert isinstance(ctx.queue, InProcessQueue) and ctx.metrics is not None
    assert ctx.cipher is not None
    token = ctx.cipher.encrypt(RegistryCredentials("ci", "pa55"))
    first.stop()

    # a restart: same key file, same key (stored credentials still decrypt), no new file
    before = key_file.read_text()
    second = Runtime(settings, database_url=fresh_db_url, clock=ManualClock(START))
    runtimes.append(second)
    again = second.prepare()
    assert key_file.read_text() == before
    assert again.cipher is not None
    assert again.cipher.decrypt(token) == RegistryCredentials("ci", "pa55")
    assert sorted(p.name for p in key_file.parent.iterdir() if "key" in p.name) == [KEY_FILE_NAME]


def test_the_key_from_the_environment_wins_and_no_file_is_written(
    tmp_path: Path, bundled_vulndb: Path, monkeypatch: pytest.MonkeyPatch, runtimes: list[Runtime]
) -> None:
    key = CredentialCipher.generate_key()
    monkeypatch.setenv(KEY_ENV_VAR, key)
    rt = Runtime(_settings(tmp_path, bundled_vulndb), database_url=f"sqlite:///{tmp_path / 's.db'}")
    runtimes.append(rt)
    ctx = rt.prepare()
    assert ctx.cipher is not None
    token = ctx.cipher.encrypt(RegistryCredentials("u", "p"))
    assert CredentialCipher(key).decrypt(token) == RegistryCredentials("u", "p")
    assert not (tmp_path / "data" / KEY_FILE_NAME).exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEY_FILE_NAME
    ensure_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(CredentialError, match=r"readable by others \(mode 0644\): chmod 600 it"):
        ensure_key_file(path)


def test_an_empty_key_file_is_refused_and_a_damaged_one_named(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    with pytest.raises(CredentialError, match="holds no usable key"):
        ensure_key_file(path)
    path.write_text("not-a-fernet-key\n")
    rt = Runtime(
        Settings.model_validate({"service": {"data_dir": str(tmp_path)}}),
        database_url=f"sqlite:///{tmp_path / 's.db'}",
    )
    with pytest.raises(CredentialError, match="is not a Fernet key") as raised:
        rt.prepare()
    assert "not-a-fernet-key" not in str(raised.value)  # the message never echoes it


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEY_FILE_NAME
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def one() -> None:
        barrier.wait()
        keys.append(ensure_key_file(path))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]  # no temp file left


def test_prepare_builds_the_vulnerability_db_from_bundled_data(
    tmp_path: Path, runtimes: list[Runtime]
) -> None:
    vulndb = tmp_path / "vdb" / "vuln.db"
    rt = Runtime(_settings(tmp_path, vulndb), database_url=f"sqlite:///{tmp_path / 's.db'}")
    runtimes.append(rt)
    ctx = rt.prepare()
    assert vulndb.is_file()
    assert ctx.vulndb.version() not in (None, "empty")


def test_start_requeues_jobs_left_running_runs_them_and_stop_is_clean(
    service_db_url: str,
    tmp_path: Path,
    bundled_vulndb: Path,
    monkeypatch: pytest.MonkeyPatch,
    runtimes: list[Runtime],
) -> None:
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def handler(ctx: ServiceContext, payload: dict[str, Any]) -> None:
        seen.append(payload)
        if len(seen) == 2:
            done.set()

    monkeypatch.setitem(handler_registry.HANDLERS, JobKind.SCAN_IMAGE, handler)
    # a previous run died holding a job
    crashed = Runtime(
        _settings(tmp_path, bundled_vulndb), database_url=service_db_url, run_scheduler=False
    )
    runtimes.append(crashed)
    dead = crashed.prepare()
    with dead.write() as s:
        left = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "left", {"n": 1}).job_id
        assert dbjobs.claim_next(s) is not None
    crashed.stop()

    rt = Runtime(
        _settings(tmp_path, bundled_vulndb, workers=2),
        database_url=service_db_url,
        run_scheduler=False,
    )
    runtimes.append(rt)
    with rt as running:
        ctx = running.ctx
        assert ctx is not None and ctx.queue is not None
        with ctx.write() as s:
            ctx.queue.submit(s, JobKind.SCAN_IMAGE, "new", {"n": 2})
        assert done.wait(30)
    assert rt.ctx is None  # stopped and closed
    assert sorted(p["n"] for p in seen) == [1, 2]
    check = Runtime(_settings(tmp_path, bundled_vulndb), database_url=service_db_url)
    runtimes.append(check)
    with check.prepare().read() as s:
        states = {i: st for i, st in s.execute(select(Job.id, Job.state))}
    assert states[left] is JobState.DONE
    assert set(states.values()) == {JobState.DONE}


def test_stop_requeues_a_job_that_does_not_finish_in_time(
    service_db_url: str,
    tmp_path: Path,
    bundled_vulndb: Path,
    monkeypatch: pytest.MonkeyPatch,
    runtimes: list[Runtime],
) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(ctx: ServiceContext, payload: dict[str, Any]) -> None:
        started.set()
        release.wait(60)

    monkeypatch.setitem(handler_registry.HANDLERS, JobKind.SCAN_IMAGE, slow)
    rt = Runtime(
        _settings(tmp_path, bundled_vulndb, workers=1, stop_timeout=0.2),
        database_url=service_db_url,
        run_scheduler=False,
    )
    runtimes.append(rt)
    ctx = rt.start()
    assert ctx.queue is not None
    with ctx.write() as s:
        job_id = ctx.queue.submit(s, JobKind.SCAN_IMAGE, "slow").job_id
    assert started.wait(30)
    try:
        rt.stop()  # the job is still running after stop_timeout: back to the queue
    finally:
        release.set()
    check = Runtime(_settings(tmp_path, bundled_vulndb), database_url=service_db_url)
    runtimes.append(check)
    with check.prepare().read() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.state is JobState.QUEUED and job.started_at is None


def test_start_runs_the_scheduler_and_stop_joins_it(
    service_db_url: str,
    tmp_path: Path,
    bundled_vulndb: Path,
    monkeypatch: pytest.MonkeyPatch,
    runtimes: list[Runtime],
) -> None:
    from shoal.service import rematch

    ticked = threading.Event()

    def enqueue_due(ctx: ServiceContext) -> int:
        ticked.set()
        return 0

    monkeypatch.setattr(rematch, "enqueue_due", enqueue_due)
    rt = Runtime(_settings(tmp_path, bundled_vulndb), database_url=service_db_url)
    runtimes.append(rt)
    rt.start()
    assert rt.scheduler is not None
    assert ticked.wait(30)
    rt.stop()
    assert rt.scheduler is None


def test_serve_in_a_thread_answers_and_stops_on_request(
    service_db_url: str, tmp_path: Path, bundled_vulndb: Path
) -> None:
    from shoal.api import create_app

    rt = Runtime(
        _settings(tmp_path, bundled_vulndb, port=0),
        app_factory=create_app,
        database_url=service_db_url,
        run_scheduler=False,
    )
    urls: list[str] = []
    listening = threading.Event()

    def on_listening(url: str) -> None:
        urls.append(url)
        listening.set()

    errors: list[BaseException] = []

    def run() -> None:
        try:
            rt.serve(on_listening=on_listening, access_log=False)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    try:
        assert listening.wait(30)
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline:
            try:
                status = httpx.get(urls[0] + "/readyz", timeout=10).status_code
            except httpx.TransportError:
                status = 0
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200
    finally:
        rt.request_stop()  # the server exists once on_listening was called
        t.join(60)
    assert not t.is_alive() and errors == []
    assert rt.ctx is None
    # the free port it took is in the settings (receiver URLs are built from them)
    assert urls[0] == f"http://127.0.0.1:{rt.settings.service.port}"
    assert rt.settings.service.port != 0


def test_bind_socket_names_the_address_in_use() -> None:
    first = bind_socket("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}: "):
            bind_socket("127.0.0.1", port)
    finally:
        first.close()
