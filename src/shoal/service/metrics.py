"""Prometheus metrics of one service instance (its own registry, not the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from shoal.db.types import JobKind


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter(
            "shoal_jobs_total",
            "Jobs finished, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "shoal_job_duration_seconds",
            "Job run time, by kind",
            ["kind"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )

    def job_finished(self, kind: JobKind, outcome: str, seconds: float) -> None:
        self.jobs.labels(kind.value, outcome).inc()
        self.job_seconds.labels(kind.value).observe(seconds)
