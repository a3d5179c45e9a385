"""The periodic work of the service, in one thread: `Scheduler.tick(now)` does what is
due and says what it did; the thread only calls it every `service.scheduler_seconds`.

What is due (every "now" from `ctx.clock`, so tests move a `ManualClock` and call
`tick` without sleeping):

- re-assessment of images in use: `shoal.service.rematch.enqueue_due(ctx)` every
  `service.reassess_check_minutes` (it picks the images whose last assessment is older
  than `service.reassess_hours`);
- polling discovery: a `discover_registry` job per registry (of a subscription whose
  plan is on) every `service.poll_minutes`;
- feed updates: an `update_feeds` job every `service.feed_update_hours` (0: never);
- the daily counts of open findings (`shoal.db.history.snapshot_daily_counts`) per
  subscription: at the first tick of each UTC day and then every
  `service.snapshot_minutes`, each run replacing that day's numbers, so a day's row
  ends up holding (nearly) its end-of-day state rather than its first minute's.

Periodic jobs are keyed by time slot (`<registry id>@<slot>`, `<slot>`): a restart, or
a second service instance on the same PostgreSQL database, within one slot queues
nothing twice. One failing task is logged and counted, the others still run, and it
stays due: the next tick tries it again.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from shoal.db.history import snapshot_daily_counts
from shoal.db.models import Registry, Subscription
from shoal.db.types import JobKind
from shoal.service.context import ServiceContext

log = logging.getLogger("shoal.service.scheduler")


@dataclass
class TickReport:
    """What one tick did. `None` fields: that task was not due."""

    now: datetime
    reassess: int | None = None  # re-matches queued by enqueue_due
    discovery: list[int] | None = None  # registry ids whose discovery was queued now
    feeds: bool | None = None  # True: a feed update was queued (False: this slot's existed)
    snapshot: dict[int, int] | None = None  # subscription id -> daily-count rows written
    errors: dict[str, str] = field(default_factory=dict)  # task -> one-line error

    @property
    def did(self) -> list[str]:
        """The tasks that ran this tick (also those that failed)."""
        out = [
            name
            for name in ("reassess", "discovery", "feeds", "snapshot")
            if getattr(self, name) is not None
        ]
        return out + [t for t in self.errors if t not in out]


def slot(now: datetime, every: timedelta) -> int:
    """The number of the time slot `now` falls in (slots of length `every` since the
    Unix epoch): the same for every process, so it can key a job."""
    return math.floor(now.timestamp() / every.total_seconds())


class Scheduler:
    def __init__(self, ctx: ServiceContext, *, interval: float | None = None) -> None:
        if ctx.queue is None:
            raise ValueError("the scheduler needs a context with a job queue")
        self._ctx = ctx
        svc = ctx.settings.service
        self.interval = interval if interval is not None else svc.scheduler_seconds
        self._reassess_every = timedelta(minutes=svc.reassess_check_minutes)
        self._poll_every = timedelta(minutes=svc.poll_minutes)
        self._feeds_every = (
            timedelta(hours=svc.feed_update_hours) if svc.feed_update_hours > 0 else None
        )
        self._snapshot_every = timedelta(minutes=svc.snapshot_minutes)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # when each task last ran (in memory: slot keys make a restart harmless)
        self._last_reassess: datetime | None = None
        self._last_poll_slot: int | None = None
        self._last_feeds_slot: int | None = None
        self._last_snapshot: datetime | None = None
        self._reassess_unavailable_logged = False

    # the thread ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="shoal-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.tick()
                if report.did:
                    log.info(
                        "scheduler tick",
                        extra={"did": ",".join(report.did), "errors": len(report.errors)},
                    )
            except Exception:  # tick catches per task; this is a bug's last line
                log.exception("scheduler tick failed")
            self._stop.wait(self.interval)

    # one tick ------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Do whatever is due at `now` (default: the context's clock)."""
        with self._lock:
            now = now or self._ctx.clock.now()
            report = TickReport(now)
            # a task that failed stays due: the next tick tries it again
            last = self._last_reassess
            due = last is None or now - last >= self._reassess_every
            if due and self._run(report, "reassess", lambda: self._reassess(report)):
                self._last_reassess = now
            poll = slot(now, self._poll_every)
            due = poll != self._last_poll_slot
            if due and self._run(report, "discovery", lambda: self._discovery(report, poll)):
                self._last_poll_slot = poll
            if self._feeds_every is not None:
                feeds = slot(now, self._feeds_every)
                due = feeds != self._last_feeds_slot
                if due and self._run(report, "feeds", lambda: self._feeds(report, feeds)):
                    self._last_feeds_slot = feeds
            last = self._last_snapshot
            due = last is None or last.date() != now.date() or now - last >= self._snapshot_every
            if due and self._run(report, "snapshot", lambda: self._snapshot(report, now.date())):
                self._last_snapshot = now
            return report

    def _run(self, report: TickReport, task: str, fn: Callable[[], str]) -> bool:
        """Run one task, recording its outcome; False when it raised."""
        try:
            outcome = fn()
        except Exception as e:
            first = (str(e).strip().splitlines() or [""])[0][:300]
            report.errors[task] = f"{type(e).__name__}: {first}".rstrip(": ")
            log.warning("scheduler task failed", extra={"task": task, "error": first})
            log.debug("scheduler task %s failed", task, exc_info=True)
            outcome = "error"
        if self._ctx.metrics is not None:
            self._ctx.metrics.scheduler_ran(task, outcome)
        return outcome != "error"

    def _reassess(self, report: TickReport) -> str:
        from shoal.service import rematch

        try:
            report.reassess = int(rematch.enqueue_due(self._ctx))
        except NotImplementedError as e:  # while re-assessment is not there yet
            if not self._reassess_unavailable_logged:
                log.warning("re-assessment not available yet", extra={"reason": str(e)[:200]})
                self._reassess_unavailable_logged = True
            report.errors["reassess"] = f"NotImplementedError: {e}"
            return "unavailable"
        if report.reassess:
            self._submitted(JobKind.REMATCH_IMAGE, report.reassess)
        return "ok"

    def _discovery(self, report: TickReport, poll_slot: int) -> str:
        queue = self._ctx.queue
        assert queue is not None
        queued: list[int] = []
        with self._ctx.write() as s:
            ids = s.scalars(
                select(Registry.id)
                .join(Subscription, Subscription.id == Registry.subscription_id)
                .where(Subscription.plan_enabled.is_(True))
                .order_by(Registry.id)
            ).all()
            for rid in ids:
                q = queue.submit(
                    s, JobKind.DISCOVER_REGISTRY, f"{rid}@{poll_slot}", {"registry_id": rid}
                )
                if q.created:
                    queued.append(rid)
        report.discovery = queued
        self._submitted(JobKind.DISCOVER_REGISTRY, len(queued))
        return "ok"

    def _feeds(self, report: TickReport, feeds_slot: int) -> str:
        from shoal.service.feeds import submit_feed_update

        with self._ctx.write() as s:  # the settings' sources and online switch
            q = submit_feed_update(s, self._ctx, key=f"schedule@{feeds_slot}")
        report.feeds = q.created
        self._submitted(JobKind.UPDATE_FEEDS, int(q.created))
        return "ok"

    def _snapshot(self, report: TickReport, day: date) -> str:
        written: dict[int, int] = {}
        with self._ctx.read() as s:
            subs = s.scalars(select(Subscription.id).order_by(Subscription.id)).all()
        for sub in subs:  # one short transaction each: never hold the writer long
            with self._ctx.write() as s:
                written[sub] = snapshot_daily_counts(s, sub, day)
        report.snapshot = written
        return "ok"

    def _submitted(self, kind: JobKind, n: int) -> None:
        if n and self._ctx.metrics is not None:
            self._ctx.metrics.jobs_submitted.labels(kind.value).inc(n)
