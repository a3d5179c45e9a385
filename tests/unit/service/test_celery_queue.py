"""The Celery job queue against the real Redis at 127.0.0.1:6379 (a private DB number
and a queue name per test) and a real Celery worker (in a thread of this process, so
handlers can be replaced), on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from shoal.config import Settings
from shoal.db import jobs as dbjobs
from shoal.db.models import Job
from shoal.db.types import JobKind, JobState
from shoal.service import celery_queue
from shoal.service import handlers as handler_registry
from shoal.service.celery_queue import CeleryQueue, claim_job, create_celery_app, use_context
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.metrics import Metrics

BROKER = "redis://127.0.0.1:6379/11"  # tests only; each test its own queue name


@pytest.fixture
def app(ctx: ServiceContext) -> Iterator[Celery]:
    """A shoal Celery app on the real Redis with a queue name of its own; its tasks run
    in `ctx`. The queue is deleted afterwards."""
    name = f"shoal-test-{secrets.token_hex(6)}"
    settings = Settings.model_validate(
        {
            **ctx.settings.model_dump(mode="json"),
            "service": {
                **ctx.settings.service.model_dump(mode="json"),
                "broker_url": BROKER,
                "celery_queue": name,
            },
        }
    )
    celery = create_celery_app(settings)
    use_context(celery, ctx)
    yield celery
    # an empty queue does not exist on Redis: nothing to purge then
    with celery.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(name)
    celery.close()


@pytest.fixture
def cq(ctx: ServiceContext, app: Celery) -> Iterator[CeleryQueue]:
    """`ctx` with a CeleryQueue (no sweeper thread: tests call `sweep`)."""
    old = ctx.queue
    queue = CeleryQueue(ctx, app=app, sweep_seconds=0)
    ctx.queue = queue
    ctx.metrics = Metrics()
    yield queue
    ctx.queue = old


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    def handler(ctx: ServiceContext, payload: dict[str, Any]) -> None:
        if payload.get("boom"):
            raise RuntimeError("exploded on purpose")
        got.append(payload)

    monkeypatch.setitem(handler_registry.HANDLERS, JobKind.SCAN_IMAGE, handler)
    return got


@pytest.fixture
def worker(app: Celery, cq: CeleryQueue) -> Iterator[None]:
    """A real Celery worker consuming the app's queue, in a thread."""
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30
    ):
        yield


def _state(ctx: ServiceContext, job_id: int) -> Job:
    with ctx.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _wait_for(what: str, done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_job_is_sent_only_after_its_transaction_commits(
    ctx: ServiceContext, cq: CeleryQueue
) -> None:
    assert cq.broker_depth() == 0
    with pytest.raises(RuntimeError, match="request failed"), ctx.write() as s:
        cq.submit(s, JobKind.SCAN_IMAGE, "rolled-back", {"n": 0})
        raise RuntimeError("request failed")
    assert cq.broker_depth() == 0
    with ctx.read() as s:
        assert s.scalars(select(Job)).all() == []

    with ctx.write() as s:
        first = cq.submit(s, JobKind.SCAN_IMAGE, "k", {"n": 1})
        assert cq.broker_depth() == 0  # not before the commit
    assert cq.broker_depth() == 1
    with ctx.write() as s:  # the same key again: no new row, nothing sent
        again = cq.submit(s, JobKind.SCAN_IMAGE, "k", {"n": 2})
    assert again.job_id == first.job_id and not again.created
    assert cq.broker_depth() == 1


def test_a_celery_worker_claims_the_row_and_runs_it_through_run_job(
    ctx: ServiceContext, cq: CeleryQueue, seen: list[dict[str, Any]], worker: None
) -> None:
    with ctx.write() as s:
        job_id = cq.submit(s, JobKind.SCAN_IMAGE, "a", {"n": 1}).job_id
    _wait_for("the job to finish", lambda: _state(ctx, job_id).state is JobState.DONE)
    assert seen == [{"n": 1}]
    job = _state(ctx, job_id)
    assert job.attempts == 1 and job.finished_at == ctx.clock.now()
    assert ctx.metrics is not None
    done = ctx.metrics.registry.get_sample_value(
        "shoal_jobs_total", {"kind": "scan_image", "outcome": "done"}
    )
    assert done == 1


def test_duplicate_messages_run_a_job_once(
    ctx: ServiceContext, cq: CeleryQueue, seen: list[dict[str, Any]], worker: None
) -> None:
    with ctx.write() as s:
        job_id = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "dup", {"n": 7}).job_id
        marker = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "marker", {"n": 8}).job_id
    assert cq.send([job_id, job_id, job_id, marker]) == 4
    # the solo worker takes messages in order: once the marker ran, so did the duplicates
    _wait_for("the marker job", lambda: _state(ctx, marker).state is JobState.DONE)
    assert seen == [{"n": 7}, {"n": 8}]
    assert _state(ctx, job_id).attempts == 1


def test_a_failing_job_is_sent_again_until_its_attempts_run_out(
    ctx: ServiceContext,
    cq: CeleryQueue,
    seen: list[dict[str, Any]],
    worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(celery_queue, "RETRY_BACKOFF_MAX", 0.0)  # no waiting between tries
    with ctx.write() as s:
        job_id = cq.submit(s, JobKind.SCAN_IMAGE, "bad", {"boom": True}).job_id
    _wait_for("the job to fail", lambda: _state(ctx, job_id).state is JobState.FAILED)
    job = _state(ctx, job_id)
    assert job.attempts == dbjobs.DEFAULT_MAX_ATTEMPTS
    assert job.last_error == "RuntimeError: exploded on purpose"
    assert seen == []


def test_start_sends_rows_never_sent_and_requeues_stale_running_ones(
    ctx: ServiceContext, cq: CeleryQueue, seen: list[dict[str, Any]], app: Celery
) -> None:
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    now = clock.now()
    with ctx.write() as s:  # queued by a process that died before sending them
        stale = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "stale", {"n": 1}, now=now).job_id
        unsent = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "unsent", {"n": 2}, now=now).job_id
        fresh = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "fresh", {"n": 3}, now=now).job_id
    clock.set(now - timedelta(hours=2))
    assert claim_job(ctx, stale) is not None  # a worker took it two hours ago and died
    clock.set(now)
    assert claim_job(ctx, fresh) is not None  # another worker is running this one now
    assert cq.broker_depth() == 0
    cq.start()
    try:
        with start_worker(
            app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30
        ):
            _wait_for(
                "both lost jobs to run",
                lambda: {_state(ctx, unsent).state, _state(ctx, stale).state} == {JobState.DONE},
            )
    finally:
        cq.stop()
    assert sorted(p["n"] for p in seen) == [1, 2]
    # the job another worker is running (started just now) is left alone
    assert _state(ctx, fresh).state is JobState.RUNNING


def test_the_sweeper_resends_queued_rows_when_the_broker_lost_them(
    ctx: ServiceContext, cq: CeleryQueue
) -> None:
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    with ctx.write() as s:
        lost = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "lost", now=clock.now()).job_id
    assert cq.sweep() == (0, 0)  # too young to be called lost
    clock.advance(timedelta(minutes=5))
    assert cq.sweep() == (0, 1)
    assert cq.broker_depth() == 1
    assert cq.sweep() == (0, 0)  # the broker holds it now: nothing more sent
    assert _state(ctx, lost).state is JobState.QUEUED


def test_a_broker_that_is_down_loses_nothing(
    ctx: ServiceContext, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ctx.settings.model_copy(deep=True)
    settings.service.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    down = CeleryQueue(ctx, app=create_celery_app(settings), sweep_seconds=0)
    with caplog.at_level(logging.WARNING, "shoal.service.celery_queue"), ctx.write() as s:
        job_id = down.submit(s, JobKind.SCAN_IMAGE, "kept", {"n": 1}).job_id
    assert _state(ctx, job_id).state is JobState.QUEUED  # committed, waiting to be sent
    assert "sending jobs to the broker failed; they stay queued" in caplog.messages
    down.app.close()


def test_jobs_submitted_from_threads_each_get_sent(ctx: ServiceContext, cq: CeleryQueue) -> None:
    def submit(i: int) -> None:
        with ctx.write() as s:
            cq.submit(s, JobKind.DISCOVER_REGISTRY, f"t{i}", {"registry_id": i})

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cq.broker_depth() == 6
