"""`shoal serve --queue celery` with a separate `shoal worker` process, both real
subprocesses, on the real Redis and a real Distribution registry: the scheduler's
discovery job goes through the broker to the worker, which polls the registry and
records the outcome in the shared database; on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from shoal.db import make_engine, migrate
from shoal.db.crypto import CredentialCipher
from shoal.db.inventory import create_registry, create_subscription
from shoal.db.models import Job
from shoal.db.session import session_factory
from shoal.db.types import JobKind, JobState, RegistryKind
from tests.support.registry import start_registry
from tests.support.serve import start_serve, start_worker

BROKER = "redis://127.0.0.1:6379/11"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_jobs_reach_a_separate_celery_worker_through_redis(
    backend: str,
    tmp_path: Path,
    bundled_vulndb: Path,
    pg_databases: Callable[[], str],
) -> None:
    data = tmp_path / "svc"
    url = pg_databases() if backend == "postgresql" else f"sqlite:///{data / 'shoal.db'}"
    registry = start_registry(tmp_path / "registry")
    queue = f"shoal-it-{secrets.token_hex(6)}"
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        with sessions() as s, s.begin():
            sub = create_subscription(s, "team")
            reg_id = create_registry(
                s,
                sub.id,
                "local",
                registry.url,
                RegistryKind.DISTRIBUTION,
                cipher=CredentialCipher(CredentialCipher.generate_key()),
            ).registry.id

        worker = start_worker(
            data, database_url=url, vulndb=bundled_vulndb, broker_url=BROKER, queue_name=queue
        )
        try:
            svc = start_serve(
                data,
                database_url=url,
                vulndb=bundled_vulndb,
                args=["--queue", "celery", "--broker-url", BROKER, "--queue-name", queue],
            )
            with svc:
                svc.wait_ready()

                def discovery() -> Job | None:
                    with sessions() as s:
                        return s.scalars(
                            select(Job).where(Job.kind == JobKind.DISCOVER_REGISTRY)
                        ).first()

                deadline = time.monotonic() + 60
                job = discovery()
                while time.monotonic() < deadline and (
                    job is None or job.state not in (JobState.DONE, JobState.FAILED)
                ):
                    time.sleep(0.1)
                    job = discovery()
                assert job is not None, svc.log_text()[-3000:]
                assert job.state is JobState.DONE, (job.last_error, worker.log_text()[-4000:])
                assert job.payload == {"registry_id": reg_id} and job.attempts == 1
        finally:
            assert worker.stop(signal.SIGTERM) == 0, worker.log_text()[-4000:]
        # it was the Celery worker that ran it (the service runs no job with queue=celery)
        assert "succeeded" in worker.log_text() and "'done'" in worker.log_text()
        assert '"task": "discovery"' not in svc.log_text()  # no scheduler task failed
        # the registry was asked for its catalog by the worker
        assert "/v2/_catalog" in registry.log_text()
    finally:
        engine.dispose()
        registry.stop()
