"""The scheduler's ticks with a ManualClock (no sleeping), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shoal.db import history
from shoal.db.crypto import CredentialCipher
from shoal.db.findings import ObservedFinding, sync_findings
from shoal.db.inventory import create_registry, create_subscription, ensure_repository, record_push
from shoal.db.models import DailyCount, Job
from shoal.db.types import JobKind, JobState, RegistryKind
from shoal.model.advisory import Rating
from shoal.service import rematch
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.metrics import Metrics
from shoal.service.scheduler import Scheduler, slot
from tests.support.service import START

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def due_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`rematch.enqueue_due` replaced by a recorder that queues 2 re-matches per call."""
    calls: list[int] = []

    def enqueue_due(ctx: ServiceContext) -> int:
        calls.append(1)
        return 2

    monkeypatch.setattr(rematch, "enqueue_due", enqueue_due)
    return calls


def _inventory(ctx: ServiceContext) -> dict[str, int]:
    """Two subscriptions (one with its plan off), three registries, one image with two
    open findings (high fixable, low not) in the first."""
    cipher = CredentialCipher(CredentialCipher.generate_key())
    now = ctx.clock.now()
    with ctx.write() as s:
        on = create_subscription(s, "team-a", now=now)
        off = create_subscription(s, "team-b", plan_enabled=False, now=now)
        r1 = create_registry(
            s, on.id, "one", "http://127.0.0.1:5000", RegistryKind.DISTRIBUTION, cipher=cipher
        ).registry
        r2 = create_registry(
            s, on.id, "two", "http://127.0.0.1:5001", RegistryKind.DISTRIBUTION, cipher=cipher
        ).registry
        r3 = create_registry(
            s, off.id, "three", "http://127.0.0.1:5002", RegistryKind.HARBOR, cipher=cipher
        ).registry
        repo = ensure_repository(s, r1.id, "library/app", now=now)
        image = record_push(s, repo.id, DIGEST, platform="linux/amd64", at=now)
        sync_findings(
            s,
            image,
            [
                ObservedFinding(
                    "pkg:deb/debian/openssl@3.0.1",
                    "openssl",
                    "3.0.1",
                    "CVE-2024-1",
                    Rating.HIGH,
                    True,
                    ("3.0.2",),
                ),
                ObservedFinding(
                    "pkg:deb/debian/zlib@1.2", "zlib", "1.2", "CVE-2024-2", Rating.LOW, False
                ),
            ],
            now=now,
        )
        return {"on": on.id, "off": off.id, "r1": r1.id, "r2": r2.id, "r3": r3.id}


def _jobs(ctx: ServiceContext, kind: JobKind) -> list[Job]:
    with ctx.read() as s:
        return list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def test_first_tick_runs_every_due_task_then_nothing_until_due_again(
    ctx: ServiceContext, due_calls: list[int]
) -> None:
    ids = _inventory(ctx)
    ctx.metrics = Metrics()
    sched = Scheduler(ctx)

    first = sched.tick()
    assert first.now == START
    assert first.reassess == 2 and due_calls == [1]
    # discovery for the registries of the subscription whose plan is on, keyed per slot
    assert first.discovery == [ids["r1"], ids["r2"]]
    poll = slot(START, timedelta(minutes=ctx.settings.service.poll_minutes))
    jobs = _jobs(ctx, JobKind.DISCOVER_REGISTRY)
    assert [(j.idempotency_key, j.payload, j.state) for j in jobs] == [
        (f"discover_registry:{ids['r1']}@{poll}", {"registry_id": ids["r1"]}, JobState.QUEUED),
        (f"discover_registry:{ids['r2']}@{poll}", {"registry_id": ids["r2"]}, JobState.QUEUED),
    ]
    assert first.feeds is None  # feed_update_hours = 0: never
    assert _jobs(ctx, JobKind.UPDATE_FEEDS) == []
    # the daily counts: the subscription with findings gets its two rows, the other none
    assert first.snapshot == {ids["on"]: 2, ids["off"]: 0}
    with ctx.read() as s:
        counts = history.daily_counts(s, ids["on"], START.date(), START.date())
    assert sorted((c.severity.value, c.fixable, c.open_count) for c in counts) == [
        ("high", True, 1),
        ("low", False, 1),
    ]
    assert first.errors == {}
    assert set(first.did) == {"reassess", "discovery", "snapshot"}

    # the same instant again, and one minute later: nothing is due
    assert sched.tick().did == []
    ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert sched.tick().did == []
    assert due_calls == [1]

    sample = ctx.metrics.registry.get_sample_value
    assert sample("shoal_scheduler_runs_total", {"task": "discovery", "outcome": "ok"}) == 1
    assert sample("shoal_jobs_submitted_total", {"kind": "discover_registry"}) == 2
    assert sample("shoal_jobs_submitted_total", {"kind": "rematch_image"}) == 2


def test_each_task_comes_due_on_its_own_interval(ctx: ServiceContext, due_calls: list[int]) -> None:
    ids = _inventory(ctx)
    svc = ctx.settings.service
    sched = Scheduler(ctx)
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    sched.tick()
    # jump to the next poll slot boundary: discovery again with new keys
    poll_every = timedelta(minutes=svc.poll_minutes)
    clock.set(
        datetime.fromtimestamp((slot(START, poll_every) + 1) * poll_every.total_seconds(), UTC)
    )
    report = sched.tick()
    assert report.discovery == [ids["r1"], ids["r2"]]
    assert len(_jobs(ctx, JobKind.DISCOVER_REGISTRY)) == 4
    # re-assessment every reassess_check_minutes
    before = len(due_calls)
    clock.advance(timedelta(minutes=svc.reassess_check_minutes))
    assert sched.tick().reassess == 2
    assert len(due_calls) == before + 1
    # snapshot refreshed after snapshot_minutes, replacing the day's rows
    clock.advance(timedelta(minutes=svc.snapshot_minutes))
    assert sched.tick().snapshot == {ids["on"]: 2, ids["off"]: 0}
    with ctx.read() as s:
        assert len(s.scalars(select(DailyCount)).all()) == 2


def test_a_new_day_snapshots_at_once(ctx: ServiceContext, due_calls: list[int]) -> None:
    ids = _inventory(ctx)
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    sched = Scheduler(ctx)
    clock.set(START.replace(hour=23, minute=59))
    assert sched.tick().snapshot is not None
    clock.advance(timedelta(minutes=2))  # 00:01 next day: well inside snapshot_minutes
    report = sched.tick()
    assert report.snapshot == {ids["on"]: 2, ids["off"]: 0}
    with ctx.read() as s:
        days = sorted({c.day for c in s.scalars(select(DailyCount))})
    assert days == [START.date(), START.date() + timedelta(days=1)]


def test_feed_updates_are_queued_once_per_slot_when_configured(
    ctx: ServiceContext, due_calls: list[int]
) -> None:
    ctx.settings.service.feed_update_hours = 6
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    sched = Scheduler(ctx)
    assert sched.tick().feeds is True
    clock.advance(timedelta(hours=1))
    assert sched.tick().feeds is None  # same 6-hour slot
    clock.advance(timedelta(hours=6))
    assert sched.tick().feeds is True
    jobs = _jobs(ctx, JobKind.UPDATE_FEEDS)
    every = timedelta(hours=6)
    assert [j.idempotency_key for j in jobs] == [
        f"update_feeds:schedule@{slot(START, every)}",
        f"update_feeds:schedule@{slot(START, every) + 1}",
    ]
    # the payload feeds.submit_feed_update writes: the settings' sources, online switch
    assert all(
        j.payload == {"sources": [], "from": None, "online": None, "force": False} for j in jobs
    )


def test_a_restart_within_the_slot_queues_nothing_twice(
    make_ctx: Callable[..., ServiceContext], due_calls: list[int]
) -> None:
    clock = ManualClock(START)
    first = make_ctx(clock=clock)
    first.settings.service.feed_update_hours = 24
    ids = _inventory(first)
    assert Scheduler(first).tick().discovery == [ids["r1"], ids["r2"]]
    clock.advance(timedelta(minutes=3))
    second = make_ctx(clock=clock)  # the service restarted
    second.settings.service.feed_update_hours = 24
    report = Scheduler(second).tick()
    assert report.discovery == [] and report.feeds is False
    assert len(_jobs(second, JobKind.DISCOVER_REGISTRY)) == 2
    assert len(_jobs(second, JobKind.UPDATE_FEEDS)) == 1


def test_one_failing_task_does_not_stop_the_others(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _inventory(ctx)

    def broken(ctx: ServiceContext) -> int:
        raise RuntimeError("window query failed\nsecond line")

    monkeypatch.setattr(rematch, "enqueue_due", broken)
    ctx.metrics = Metrics()
    report = Scheduler(ctx).tick()
    assert report.errors == {"reassess": "RuntimeError: window query failed"}
    assert report.discovery == [ids["r1"], ids["r2"]]
    assert report.snapshot is not None
    sample = ctx.metrics.registry.get_sample_value
    assert sample("shoal_scheduler_runs_total", {"task": "reassess", "outcome": "error"}) == 1


def test_a_failed_task_stays_due_and_runs_at_the_next_tick(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def flaky(ctx: ServiceContext) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database restarting")
        return 5

    monkeypatch.setattr(rematch, "enqueue_due", flaky)
    sched = Scheduler(ctx)
    assert "reassess" in sched.tick().errors
    again = sched.tick()  # the same instant: only the failed task is due
    assert again.did == ["reassess"] and again.reassess == 5 and again.errors == {}
    assert sched.tick().did == []


def test_reassessment_not_written_yet_is_reported_not_fatal(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pending(ctx: ServiceContext) -> int:
        raise NotImplementedError("rematch: being written")

    monkeypatch.setattr(rematch, "enqueue_due", pending)
    ctx.metrics = Metrics()
    report = Scheduler(ctx).tick()
    assert report.reassess is None
    assert report.errors == {"reassess": "NotImplementedError: rematch: being written"}
    sample = ctx.metrics.registry.get_sample_value
    assert sample("shoal_scheduler_runs_total", {"task": "reassess", "outcome": "unavailable"}) == 1


def test_the_thread_ticks_at_start_and_stops(ctx: ServiceContext, due_calls: list[int]) -> None:
    ids = _inventory(ctx)
    sched = Scheduler(ctx, interval=3600)
    sched.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_jobs(ctx, JobKind.DISCOVER_REGISTRY)) < 2:
            time.sleep(0.02)
    finally:
        sched.stop(timeout=30)
    assert [j.payload["registry_id"] for j in _jobs(ctx, JobKind.DISCOVER_REGISTRY)] == [
        ids["r1"],
        ids["r2"],
    ]
    assert due_calls == [1]


def test_a_context_without_a_queue_is_refused(ctx: ServiceContext) -> None:
    ctx.queue = None
    with pytest.raises(ValueError, match="needs a context with a job queue"):
        Scheduler(ctx)
