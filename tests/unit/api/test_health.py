"""/healthz, /readyz and /metrics through the real app (FastAPI TestClient), on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from shoal.api import create_app
from shoal.config import Settings
from shoal.db.crypto import CredentialCipher
from shoal.db.findings import ObservedFinding, sync_findings
from shoal.db.inventory import create_registry, create_subscription, ensure_repository, record_push
from shoal.db.types import JobKind, RegistryKind
from shoal.model.advisory import Rating
from shoal.service import handlers as handler_registry
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.metrics import Metrics
from shoal.vulndb.status import db_status
from tests.support.service import START


def _client(ctx: ServiceContext) -> TestClient:
    return TestClient(create_app(ctx), raise_server_exceptions=False)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_answers_while_the_process_lives(ctx: ServiceContext) -> None:
    r = _client(ctx).get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_when_migrated_and_the_vulnerability_db_is_there(ctx: ServiceContext) -> None:
    r = _client(ctx).get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["detail"].startswith("migrated to ")
    assert body["checks"]["vulndb"] == {
        "ok": True,
        "detail": f"data version {ctx.vulndb.version()}",
    }


def test_readyz_503_without_a_vulnerability_db(
    make_ctx: Callable[..., ServiceContext], tmp_path: Path
) -> None:
    ctx = make_ctx(vulndb=tmp_path / "none" / "vuln.db")
    r = _client(ctx).get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "5"
    body = r.json()
    assert body["type"].endswith("/not-ready") and body["title"] == "Not ready"
    assert body["detail"].startswith("vulndb: no vulnerability DB at ")
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["vulndb"]["ok"] is False


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Callable[[], str]
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return pg_databases()


def _ctx_on(url: str, vulndb: Path, tmp_path: Path) -> Iterator[ServiceContext]:
    settings = Settings.model_validate(
        {"vulndb": {"path": str(vulndb)}, "service": {"data_dir": str(tmp_path / "svc")}}
    )
    ctx = ServiceContext.create(settings, database_url=url, clock=ManualClock(START))
    try:
        yield ctx
    finally:
        ctx.close()


def test_readyz_503_on_a_database_that_is_not_migrated(
    unmigrated_url: str, bundled_vulndb: Path, tmp_path: Path
) -> None:
    for ctx in _ctx_on(unmigrated_url, bundled_vulndb, tmp_path):
        r = _client(ctx).get("/readyz")
        assert r.status_code == 503
        assert r.json()["detail"] == "database: database is not migrated (run `shoal serve`)"


def test_readyz_503_when_the_database_is_unreachable(bundled_vulndb: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://shoal:s3cret-pw@127.0.0.1:{port}/shoal?connect_timeout=5"
    for ctx in _ctx_on(url, bundled_vulndb, tmp_path):
        r = _client(ctx).get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["detail"] == (
            "database: database unreachable (OperationalError; see the service log)"
        )
        assert "s3cret-pw" not in r.text and str(port) not in r.text


def test_metrics_counts_jobs_queue_depth_inventory_and_feed_age(
    ctx: ServiceContext, bundled_vulndb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[dict[str, Any]] = []

    def handler(ctx: ServiceContext, payload: dict[str, Any]) -> None:
        if payload.get("boom"):
            raise RuntimeError("exploded on purpose")
        ran.append(payload)

    monkeypatch.setitem(handler_registry.HANDLERS, JobKind.SCAN_IMAGE, handler)
    ctx.metrics = Metrics(ctx, state_cache_seconds=0)
    assert ctx.queue is not None
    cipher = CredentialCipher(CredentialCipher.generate_key())
    with ctx.write() as s:
        sub = create_subscription(s, "team", now=START)
        reg = create_registry(
            s, sub.id, "r", "http://127.0.0.1:5000", RegistryKind.DISTRIBUTION, cipher=cipher
        ).registry
        repo = ensure_repository(s, reg.id, "app", now=START)
        image = record_push(s, repo.id, "sha256:" + "cd" * 32, platform="linux/amd64", at=START)
        sync_findings(
            s,
            image,
            [ObservedFinding("pkg:apk/alpine/musl@1.2", "musl", "1.2", "CVE-1", Rating.HIGH, True)],
            now=START,
        )
        ctx.queue.submit(s, JobKind.SCAN_IMAGE, "ok", {"n": 1})
        ctx.queue.submit(s, JobKind.SCAN_IMAGE, "bad", {"boom": True})
        for i in range(3):
            ctx.queue.submit(s, JobKind.DISCOVER_REGISTRY, f"d{i}", {"registry_id": reg.id})
    client = _client(ctx)

    before = _samples(client.get("/metrics").text)
    assert before[("shoal_queue_depth", (("kind", "scan_image"),))] == 2
    assert before[("shoal_queue_depth", (("kind", "discover_registry"),))] == 3
    assert before[("shoal_queue_depth", (("kind", "update_feeds"),))] == 0
    assert before[("shoal_images", ())] == 1
    assert before[("shoal_findings", (("state", "open"),))] == 1
    assert before[("shoal_database_up", ())] == 1
    assert before[("shoal_jobs_total", (("kind", "scan_image"), ("outcome", "done")))] == 0

    # run only the scans (the discovery handler is another component's)
    from shoal.service.queue import claim, run_job

    while (claimed := claim(ctx, (JobKind.SCAN_IMAGE,))) is not None:
        run_job(ctx, *claimed)
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    after = _samples(r.text)
    assert ran == [{"n": 1}]
    scan = (("kind", "scan_image"),)
    assert after[("shoal_jobs_total", (*scan, ("outcome", "done")))] == 1
    # the failing one: retried until its attempts ran out
    assert after[("shoal_jobs_total", (*scan, ("outcome", "retry")))] == 2
    assert after[("shoal_jobs_total", (*scan, ("outcome", "failed")))] == 1
    assert after[("shoal_job_duration_seconds_count", (*scan, ("outcome", "done")))] == 1
    assert after[("shoal_queue_depth", scan)] == 0
    assert after[("shoal_queue_depth", (("kind", "discover_registry"),))] == 3
    # what the database holds, whoever ran it (Celery workers count in their own process)
    assert after[("shoal_jobs_stored", (*scan, ("state", "done")))] == 1
    assert after[("shoal_jobs_stored", (*scan, ("state", "failed")))] == 1
    assert after[("shoal_jobs_stored", (("kind", "discover_registry"), ("state", "queued")))] == 3

    # feed age from the vulnerability DB's build time, on the context's clock
    built = datetime.fromisoformat(str(db_status(bundled_vulndb).built_at).replace("Z", "+00:00"))
    assert isinstance(ctx.clock, ManualClock)
    ctx.clock.set(built.astimezone(UTC) + timedelta(days=3))
    aged = _samples(client.get("/metrics").text)
    assert aged[("shoal_feed_age_seconds", ())] == 3 * 86400
    assert aged[("shoal_vulndb_present", ())] == 1
    assert aged[("shoal_vulndb_built_timestamp_seconds", ())] == built.timestamp()
    assert any(name == "shoal_feed_fetched_timestamp_seconds" for name, _ in aged)


def test_metrics_without_a_metrics_object_creates_one_per_context(
    make_ctx: Callable[..., ServiceContext],
) -> None:
    a, b = make_ctx(), make_ctx()
    assert a.metrics is None
    ra = _client(a).get("/metrics")
    rb = _client(b).get("/metrics")
    assert ra.status_code == rb.status_code == 200
    assert a.metrics is not None and b.metrics is not None
    assert a.metrics.registry is not b.metrics.registry  # never prometheus' global registry
    assert "shoal_queue_depth" in ra.text


def test_metrics_survive_a_database_outage(bundled_vulndb: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://shoal@127.0.0.1:{port}/shoal?connect_timeout=5"
    for ctx in _ctx_on(url, bundled_vulndb, tmp_path):
        r = _client(ctx).get("/metrics")
        assert r.status_code == 200
        samples = _samples(r.text)
        assert samples[("shoal_database_up", ())] == 0
        assert samples[("shoal_vulndb_present", ())] == 1
