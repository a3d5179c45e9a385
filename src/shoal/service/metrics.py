"""Prometheus metrics and readiness of one service instance.

`Metrics` owns its own `CollectorRegistry` (never prometheus' global one, so two
services in one process, e.g. tests, never mix). Counters and histograms are fed by
the code that does the work (`queue.run_job` calls `job_finished`, the scheduler
`scheduler_ran`); what the database and the vulnerability DB hold is read at scrape
time by `StateCollector` (queue depth by kind, images, findings, feed age), cached for
a few seconds so a busy scraper cannot turn /metrics into a load generator.

`readiness(ctx)` is what /readyz answers: the database reachable and migrated to the
revision this shoal ships, and a vulnerability DB to match against.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from shoal.db.jobs import queue_depth
from shoal.db.models import Finding, Image, Job
from shoal.db.types import FindingState, JobKind, JobState

if TYPE_CHECKING:
    from shoal.service.context import ServiceContext

log = logging.getLogger("shoal.service.metrics")

STATE_CACHE_SECONDS = 10.0
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class Metrics:
    """The service's counters and histograms; `collect_state(ctx)` adds the gauges read
    from the databases at scrape time."""

    def __init__(
        self, ctx: ServiceContext | None = None, *, state_cache_seconds: float = STATE_CACHE_SECONDS
    ) -> None:
        self._state_cache_seconds = state_cache_seconds
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter(
            "shoal_jobs_total",
            "Jobs finished, by kind and outcome (done, retry, failed)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "shoal_job_duration_seconds",
            "Job run time, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
            buckets=DURATION_BUCKETS,
        )
        self.scheduler_runs = Counter(
            "shoal_scheduler_runs_total",
            "Scheduler tasks run, by task and outcome (ok, error, unavailable)",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.jobs_submitted = Counter(
            "shoal_jobs_submitted_total",
            "Jobs the scheduler queued, by kind",
            ["kind"],
            registry=self.registry,
        )
        # every label combination present from the start: a dashboard sees zeros,
        # not gaps, before the first scan
        for kind in JobKind:
            for outcome in ("done", "retry", "failed"):
                self.jobs.labels(kind.value, outcome)
        self._state: StateCollector | None = None
        if ctx is not None:
            self.collect_state(ctx)

    def collect_state(self, ctx: ServiceContext) -> None:
        """Add the scrape-time gauges of `ctx` (once)."""
        if self._state is None:
            self._state = StateCollector(ctx, cache_seconds=self._state_cache_seconds)
            self.registry.register(self._state)

    def job_finished(self, kind: JobKind, outcome: str, seconds: float) -> None:
        self.jobs.labels(kind.value, outcome).inc()
        self.job_seconds.labels(kind.value, outcome).observe(seconds)

    def scheduler_ran(self, task: str, outcome: str) -> None:
        self.scheduler_runs.labels(task, outcome).inc()


_METRICS_LOCK = threading.Lock()


def metrics_for(ctx: ServiceContext) -> Metrics:
    """`ctx.metrics`, created (with its state gauges) on first use."""
    with _METRICS_LOCK:
        if ctx.metrics is None:
            ctx.metrics = Metrics(ctx)
        else:
            ctx.metrics.collect_state(ctx)
        return ctx.metrics


class StateCollector(Collector):
    """Gauges read from the service database and the vulnerability DB at scrape time."""

    def __init__(self, ctx: ServiceContext, *, cache_seconds: float = STATE_CACHE_SECONDS) -> None:
        self._ctx = ctx
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # collected lazily: registering must not query the database

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if (
                self._cached is not None
                and time.monotonic() - self._cached[0] < self._cache_seconds
            ):
                return list(self._cached[1])
            metrics = list(self._gather())
            self._cached = (time.monotonic(), metrics)
            return metrics

    def _gather(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("shoal_database_up", "1 when the service database answered")
        try:
            with self._ctx.read() as s:
                depth = queue_depth(s)
                stored = {
                    (JobKind(k), JobState(st)): int(n)
                    for k, st, n in s.execute(
                        select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
                    )
                }
                images = int(s.scalar(select(func.count()).select_from(Image)) or 0)
                by_state = {
                    FindingState(st): int(n)
                    for st, n in s.execute(
                        select(Finding.state, func.count()).group_by(Finding.state)
                    )
                }
        except Exception as e:
            log.warning("metrics: database query failed", extra={"error": str(e)[:300]})
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            q = GaugeMetricFamily("shoal_queue_depth", "Queued jobs, by kind", labels=["kind"])
            for kind in JobKind:
                q.add_metric([kind.value], depth.get(kind, 0))
            yield q
            j = GaugeMetricFamily(
                "shoal_jobs_stored",
                "Jobs in the database by kind and state: every backend's, Celery workers' too",
                labels=["kind", "state"],
            )
            for kind in JobKind:
                for job_state in JobState:
                    j.add_metric([kind.value, job_state.value], stored.get((kind, job_state), 0))
            yield j
            yield GaugeMetricFamily("shoal_images", "Images stored", value=images)
            f = GaugeMetricFamily("shoal_findings", "Findings stored, by state", labels=["state"])
            for st in FindingState:
                f.add_metric([st.value], by_state.get(st, 0))
            yield f
        yield from self._feed_age()

    def _feed_age(self) -> Iterator[Metric]:
        from shoal.vulndb.status import db_status

        present = GaugeMetricFamily(
            "shoal_vulndb_present", "1 when a vulnerability DB is there to match against"
        )
        try:
            st = db_status(self._ctx.vulndb.path, now=self._ctx.clock.now())
        except Exception:
            present.add_metric([], 0)
            yield present
            return
        present.add_metric([], 1)
        yield present
        if st.age_seconds is not None:
            yield GaugeMetricFamily(
                "shoal_feed_age_seconds",
                "Seconds since the vulnerability DB was built (the feeds' age)",
                value=max(0, st.age_seconds),
            )
        built = _epoch(st.built_at)
        if built is not None:
            yield GaugeMetricFamily(
                "shoal_vulndb_built_timestamp_seconds",
                "When the vulnerability DB was built (Unix time)",
                value=built,
            )
        src = GaugeMetricFamily(
            "shoal_feed_fetched_timestamp_seconds",
            "When each feed's data was fetched (Unix time), by source",
            labels=["source"],
        )
        for source in st.sources:
            t = _epoch(source.fetched_at)
            if t is not None:
                src.add_metric([source.name], t)
        yield src
        yield GaugeMetricFamily(
            "shoal_vulndb_advisories", "Advisories in the vulnerability DB", value=st.advisories
        )


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.timestamp() if t.tzinfo else None


# --- readiness -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


@cache
def expected_revisions() -> frozenset[str]:
    """The migration heads this shoal ships (what a migrated database is at)."""
    from importlib.resources import files

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(files("shoal.db") / "migrations"))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def readiness(ctx: ServiceContext) -> Readiness:
    """Database reachable and at this shoal's migration head; vulnerability DB present.
    Never raises: a failing check says why in one line (no secrets: URLs are not shown)."""
    return Readiness([_check_database(ctx), _check_vulndb(ctx)])


_LAST_DB_ERROR: dict[int, str] = {}  # id(ctx) -> the last error logged (log changes only)


def _check_database(ctx: ServiceContext) -> Check:
    try:
        with ctx.read() as s:
            rows = [str(r[0]) for r in s.execute(text("SELECT version_num FROM alembic_version"))]
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        if "alembic_version" in first:
            return Check("database", False, "database is not migrated (run `shoal serve`)")
        # the answer goes to unauthenticated probes: the error class only; the log (once
        # per distinct error, probes come every few seconds) has the message
        if _LAST_DB_ERROR.get(id(ctx)) != first:
            _LAST_DB_ERROR[id(ctx)] = first
            log.warning("readiness: database unreachable", extra={"error": first})
        return Check(
            "database", False, f"database unreachable ({type(e).__name__}; see the service log)"
        )
    _LAST_DB_ERROR.pop(id(ctx), None)
    want = expected_revisions()
    if frozenset(rows) != want:
        return Check(
            "database",
            False,
            f"database at revision {','.join(sorted(rows)) or 'none'}, "
            f"this shoal needs {','.join(sorted(want))}",
        )
    return Check("database", True, f"migrated to {','.join(sorted(rows))}")


def _check_vulndb(ctx: ServiceContext) -> Check:
    try:
        version = ctx.vulndb.current().version
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        return Check("vulndb", False, first)
    return Check("vulndb", True, f"data version {version}")
