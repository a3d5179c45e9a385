"""The job queue in the database: idempotent enqueue, atomic claim, restart recovery.

One interface for every kind of work (scan, re-match, discovery, feed update), so a
later Celery backend can replace the in-process worker without touching callers.

- `enqueue` inserts or ignores on the idempotency key (for scans: digest + analyser
  version + DB version), so duplicate webhook deliveries collapse into one job.
- `claim_next` hands each queued job to exactly one worker: on PostgreSQL through
  ``FOR UPDATE SKIP LOCKED`` (concurrent claimers skip rows another holds instead of
  waiting on them); on SQLite through one ``UPDATE ... WHERE id = (SELECT ...)
  RETURNING`` statement, atomic because SQLite has one writer at a time.
- `requeue_running` puts jobs a crashed process left running back in the queue; the
  service calls it at start-up, before its workers start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from shoal.db.dialect import insert_for
from shoal.db.models import Job
from shoal.db.types import JobKind, JobState

MAX_ERROR_CHARS = 2000
DEFAULT_MAX_ATTEMPTS = 3


def scan_key(digest: str, analyser_version: str, db_version: str) -> str:
    """Idempotency key of a scan: the same image, analyser and DB give the same result."""
    return f"{digest}|{analyser_version}|{db_version}"


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: int
    created: bool  # False: a job with this key already existed


def enqueue(
    session: Session,
    kind: JobKind,
    key: str,
    payload: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Enqueued:
    stmt = (
        insert_for(session, Job)
        .values(
            kind=kind,
            idempotency_key=f"{kind.value}:{key}",
            state=JobState.QUEUED,
            attempts=0,
            payload=payload or {},
            created_at=now or _now(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Job.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        return Enqueued(int(new_id), True)
    old = session.execute(
        select(Job.id).where(Job.idempotency_key == f"{kind.value}:{key}")
    ).scalar_one()
    return Enqueued(int(old), False)


def claim_next(
    session: Session, kinds: Sequence[JobKind] = (), *, now: datetime | None = None
) -> Job | None:
    """Take the oldest queued job (of `kinds`, if given) and mark it running; None when
    the queue is empty. Commit promptly: on PostgreSQL the row stays locked until then."""
    pick = select(Job.id).where(Job.state == JobState.QUEUED)
    if kinds:
        pick = pick.where(Job.kind.in_(kinds))
    pick = pick.order_by(Job.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(Job)
        .where(Job.id == pick.scalar_subquery(), Job.state == JobState.QUEUED)
        .values(state=JobState.RUNNING, attempts=Job.attempts + 1, started_at=now or _now())
        .returning(Job)
        # refresh a Job this session already holds (expire_on_commit is off)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return session.execute(stmt).scalars().one_or_none()


def complete(session: Session, job_id: int, *, now: datetime | None = None) -> bool:
    """Mark a running job done; False when it was not running (e.g. requeued meanwhile)."""
    return _finish(session, job_id, JobState.DONE, None, now)


def fail(
    session: Session,
    job_id: int,
    error: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
) -> JobState | None:
    """Record a failed run: back to the queue while attempts remain, else failed.
    Returns the new state, None when the job was not running."""
    now = now or _now()
    retry = Job.attempts < max_attempts
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.RUNNING)
        .values(
            # one statement decides and writes, so two reports of one run cannot race
            state=case((retry, JobState.QUEUED.value), else_=JobState.FAILED.value),
            last_error=error[:MAX_ERROR_CHARS],
            started_at=case((retry, None), else_=Job.started_at),
            finished_at=case((retry, None), else_=now),
        )
        .returning(Job.state)
        .execution_options(synchronize_session="fetch")
    )
    state = session.execute(stmt).scalar_one_or_none()
    return None if state is None else JobState(state)


def requeue_running(session: Session) -> int:
    """Put every job left running (by a process that died) back in the queue."""
    result = session.execute(
        update(Job)
        .where(Job.state == JobState.RUNNING)
        .values(state=JobState.QUEUED, started_at=None)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def queue_depth(session: Session) -> dict[JobKind, int]:
    """Queued jobs per kind (for /metrics)."""
    rows = session.execute(
        select(Job.kind, func.count()).where(Job.state == JobState.QUEUED).group_by(Job.kind)
    ).all()
    return {kind: int(n) for kind, n in rows}


def _finish(
    session: Session, job_id: int, state: JobState, error: str | None, now: datetime | None
) -> bool:
    values: dict[str, Any] = {
        "state": state,
        "last_error": error[:MAX_ERROR_CHARS] if error else None,
    }
    values["finished_at"] = (now or _now()) if state in (JobState.DONE, JobState.FAILED) else None
    if state is JobState.QUEUED:
        values["started_at"] = None
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.RUNNING)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0) > 0


def _now() -> datetime:
    return datetime.now(UTC)
