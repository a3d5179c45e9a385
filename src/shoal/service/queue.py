"""One job interface for all work: scan image, re-match image, discover registry,
update feeds.

Callers `submit` a job inside their own transaction (so "event received" and "work
queued" commit together: a crash after the commit loses nothing, a crash before it
leaves no half-state), and the job is keyed: submitting the same key again is a no-op,
which is how duplicate webhook deliveries of one digest become one scan.

The database row (`shoal.db.jobs`) is the source of truth for every backend. What
differs is who runs it:
- `InProcessQueue`: worker threads in this process claim jobs from the table
  (woken at once after a commit that queued work, and every few seconds regardless).
- `shoal.service.celery_queue.CeleryQueue`: after commit, the job id is sent to a
  Celery worker (Redis broker), which claims and runs the same row through `run_job`.
Either way a restart recovers: `requeue_running` at start-up, then the queue is
drained again.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from shoal.db import jobs as dbjobs
from shoal.db.models import Job
from shoal.db.types import JobKind, JobState
from shoal.service.context import ServiceContext

log = logging.getLogger("shoal.service.queue")

Handler = Callable[[ServiceContext, dict[str, Any]], None]
_WAKE_KEY = "shoal_queue_wake"
POLL_SECONDS = 5.0


class JobQueue(Protocol):
    def submit(
        self, session: Session, kind: JobKind, key: str, payload: dict[str, Any] | None = None
    ) -> dbjobs.Enqueued:
        """Queue a job in `session`'s transaction; runs after that transaction commits."""
        ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


def handlers() -> dict[JobKind, Handler]:
    """Every job kind's handler (the one registration point: `shoal.service.handlers`)."""
    from shoal.service.handlers import HANDLERS

    return HANDLERS


def run_job(ctx: ServiceContext, job_id: int, kind: JobKind, payload: dict[str, Any]) -> bool:
    """Run one claimed job and record the outcome; True when it succeeded.

    A handler raising marks the job failed (retried up to `dbjobs.DEFAULT_MAX_ATTEMPTS`);
    the message is stored, the traceback logged."""
    handler = handlers()[kind]
    started = time.monotonic()
    try:
        handler(ctx, payload)
    except Exception as e:
        log.warning(
            "job failed",
            extra={"job_id": job_id, "kind": kind.value, "error": str(e)[:500]},
        )
        log.debug("job %s traceback:\n%s", job_id, traceback.format_exc())
        with ctx.write() as s:
            state = dbjobs.fail(s, job_id, f"{type(e).__name__}: {e}", now=ctx.clock.now())
        if ctx.metrics is not None:
            ctx.metrics.job_finished(
                kind, "failed" if state is JobState.FAILED else "retry", time.monotonic() - started
            )
        return False
    with ctx.write() as s:
        dbjobs.complete(s, job_id, now=ctx.clock.now())
    if ctx.metrics is not None:
        ctx.metrics.job_finished(kind, "done", time.monotonic() - started)
    return True


def claim(
    ctx: ServiceContext, kinds: tuple[JobKind, ...] = ()
) -> tuple[int, JobKind, dict[str, Any]] | None:
    with ctx.write() as s:
        job: Job | None = dbjobs.claim_next(s, kinds, now=ctx.clock.now())
        if job is None:
            return None
        return job.id, job.kind, dict(job.payload)


def drain(ctx: ServiceContext, *, max_jobs: int = 100_000) -> int:
    """Run queued jobs in this thread until none is left (tests, `shoal serve --once`).
    Returns how many ran."""
    ran = 0
    while ran < max_jobs:
        claimed = claim(ctx)
        if claimed is None:
            break
        run_job(ctx, *claimed)
        ran += 1
    return ran


class InProcessQueue:
    """Jobs in the database, run by `workers` threads of this process."""

    def __init__(self, ctx: ServiceContext, workers: int) -> None:
        self._ctx = ctx
        self._workers = workers
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running_lock = threading.Lock()
        self._running: dict[int, int] = {}  # worker thread ident -> job id it runs

    def submit(
        self, session: Session, kind: JobKind, key: str, payload: dict[str, Any] | None = None
    ) -> dbjobs.Enqueued:
        queued = dbjobs.enqueue(session, kind, key, payload, now=self._ctx.clock.now())
        if queued.created and not session.info.get(_WAKE_KEY):
            session.info[_WAKE_KEY] = True
            event.listen(session, "after_commit", self._after_commit, once=True)
        return queued

    def _after_commit(self, session: Session) -> None:
        session.info.pop(_WAKE_KEY, None)
        self._wake.set()

    def start(self) -> None:
        """Requeue what a previous run left running, then start the worker threads."""
        self._stopping.clear()
        with self._ctx.write() as s:
            n = dbjobs.requeue_running(s)
        if n:
            log.info("requeued jobs a previous run left running", extra={"jobs": n})
        for i in range(self._workers):
            t = threading.Thread(target=self._loop, name=f"shoal-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; wait up to `timeout` for the jobs being run to finish, then
        put those still running back in the queue (the next start runs them again)."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        left = [t for t in self._threads if t.is_alive()]
        self._threads.clear()
        with self._running_lock:
            unfinished = sorted(self._running.values())
        if unfinished:
            try:
                with self._ctx.write() as s:
                    n = requeue_jobs(s, unfinished)
                log.warning(
                    "jobs still running at stop were requeued",
                    extra={"jobs": n, "threads": len(left)},
                )
            except Exception:
                log.exception("requeueing unfinished jobs failed (the next start does it)")

    def _loop(self) -> None:
        me = threading.get_ident()
        while not self._stopping.is_set():
            try:
                claimed = claim(self._ctx)
            except Exception:
                log.exception("claiming a job failed")
                claimed = None
            if claimed is None:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                continue
            with self._running_lock:
                self._running[me] = claimed[0]
            try:
                run_job(self._ctx, *claimed)
            except Exception:  # run_job records handler errors; this is the DB failing
                log.exception("running a job failed", extra={"job_id": claimed[0]})
            finally:
                with self._running_lock:
                    self._running.pop(me, None)
            self._wake.set()  # there may be more: let an idle sibling look too


def requeue_jobs(session: Session, job_ids: list[int]) -> int:
    """Put these jobs back in the queue if they are still running (a stop that could not
    wait for them)."""
    if not job_ids:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state == JobState.RUNNING)
        .values(state=JobState.QUEUED, started_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
