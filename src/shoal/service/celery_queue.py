"""The job queue on Celery workers (Redis broker): `service.queue = "celery"`.

The database row stays the source of truth, exactly as for `InProcessQueue`: `submit`
inserts it (`shoal.db.jobs.enqueue`) in the caller's transaction, and only after that
transaction commits is the job's id sent to Celery (a rollback sends nothing). The
Celery task claims that one row (queued -> running, atomically: a duplicate message, or
a row another worker took, is a no-op) and runs it through `shoal.service.queue.run_job`,
the same code path the in-process workers use. A failed run that has attempts left goes
back to the queue and is sent again with a backoff.

Nothing is lost when the broker loses a message or a worker dies:
- at start the service (re)sends every queued row (a duplicate is harmless), and puts
  rows running for longer than `service.job_stale_minutes` back in the queue;
- while it runs, every `service.celery_sweep_seconds`, when the broker's queue is empty
  it re-sends queued rows older than that, and requeues stale running ones.

Start a worker with `shoal worker` (the service settings: database, broker, queue
name), or `celery -A shoal.service.celery_queue worker` (settings from the
environment). Each worker process builds its own `ServiceContext` on first use. A
worker on another host needs the service's credentials key: the same
`$SHOAL_CREDENTIALS_KEY`, or the data dir's key file (else stored registry credentials
do not decrypt, and the scan says so). Job counts and durations are counted in the
worker processes; the service's /metrics shows the queue depth of every backend.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import Celery, Task  # type: ignore[import-untyped]
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from shoal.config import Settings
from shoal.db import jobs as dbjobs
from shoal.db.models import Job
from shoal.db.types import JobKind, JobState
from shoal.service.context import ServiceContext
from shoal.service.queue import run_job

log = logging.getLogger("shoal.service.celery_queue")

TASK_NAME = "shoal.run_job"
_PENDING_KEY = "shoal_celery_pending"
SWEEP_BATCH = 1000
RETRY_BACKOFF_MAX = 300.0
JOB_STALE = timedelta(hours=1)  # a job "running" this long is taken as lost


def create_celery_app(settings: Settings) -> Celery:
    """A Celery app for shoal's jobs on `settings.service.broker_url`, queue
    `settings.service.celery_queue`. Workers build their context from `settings`."""
    svc = settings.service
    app = Celery("shoal", broker=svc.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=svc.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,  # a worker dying mid-job leaves the message to redeliver
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # jobs are long: no hoarding by one worker
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        broker_transport_options={"visibility_timeout": int(JOB_STALE.total_seconds())},
        worker_send_task_events=False,
        # a broker that is down must not hold a committed request for long: the row is
        # queued either way, and the sweeper sends it once the broker is back
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    )
    app.shoal = _AppState(settings)
    app.task(name=TASK_NAME, bind=True)(_run_job_task)
    return app


class _AppState:
    """What shoal keeps on its Celery app: the settings, and the worker process's
    context (built on the first task, after a prefork worker forked)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ctx: ServiceContext | None = None
        self.lock = threading.Lock()


def use_context(app: Celery, ctx: ServiceContext) -> None:
    """Make `app`'s tasks run in `ctx` instead of building their own (in-process
    workers: tests, or a service running a worker thread)."""
    _state(app).ctx = ctx


def _state(app: Celery) -> _AppState:
    state = getattr(app, "shoal", None)
    if not isinstance(state, _AppState):
        raise TypeError("not a shoal Celery app (use create_celery_app)")
    return state


def _worker_ctx(app: Celery) -> ServiceContext:
    state = _state(app)
    if state.ctx is not None:
        return state.ctx
    with state.lock:
        if state.ctx is None:
            from shoal.service.runtime import Runtime

            built = Runtime(state.settings, run_scheduler=False).prepare()
            if isinstance(built.queue, CeleryQueue):
                built.queue.app = app  # follow-up jobs go out through this worker's app
            state.ctx = built
            log.info("worker context ready", extra={"queue": state.settings.service.celery_queue})
        return state.ctx


def _run_job_task(self: Task[Any, Any], job_id: int) -> str:
    ctx = _worker_ctx(self.app)
    claimed = claim_job(ctx, int(job_id))
    if claimed is None:
        return "skipped"  # not queued any more: a duplicate message, or taken already
    kind, payload, attempts = claimed
    if run_job(ctx, job_id, kind, payload):
        return "done"
    with ctx.read() as s:
        state = s.scalar(select(Job.state).where(Job.id == job_id))
    if state is JobState.QUEUED:  # attempts left: try again later
        delay = min(RETRY_BACKOFF_MAX, 2.0**attempts)
        self.app.send_task(
            TASK_NAME, args=[job_id], queue=self.app.conf.task_default_queue, countdown=delay
        )
        return "retry"
    return "failed"


def claim_job(ctx: ServiceContext, job_id: int) -> tuple[JobKind, dict[str, Any], int] | None:
    """Take job `job_id` if it is queued (queued -> running in one statement): its kind,
    payload and attempt number; None when it is not queued."""
    with ctx.write() as s:
        row = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.QUEUED)
            .values(state=JobState.RUNNING, attempts=Job.attempts + 1, started_at=ctx.clock.now())
            .returning(Job.kind, Job.payload, Job.attempts)
            .execution_options(synchronize_session=False)
        ).one_or_none()
    if row is None:
        return None
    return JobKind(row[0]), dict(row[1] or {}), int(row[2])


class CeleryQueue:
    """`JobQueue` whose jobs Celery workers run (see the module docstring)."""

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        app: Celery | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        self._ctx = ctx
        self.app = app or create_celery_app(ctx.settings)
        svc = ctx.settings.service
        self.queue_name: str = self.app.conf.task_default_queue or svc.celery_queue
        self._sweep_seconds = (
            sweep_seconds if sweep_seconds is not None else svc.celery_sweep_seconds
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # JobQueue --------------------------------------------------------------------------

    def submit(
        self, session: Session, kind: JobKind, key: str, payload: dict[str, Any] | None = None
    ) -> dbjobs.Enqueued:
        queued = dbjobs.enqueue(session, kind, key, payload, now=self._ctx.clock.now())
        if queued.created:
            pending: list[int] | None = session.info.get(_PENDING_KEY)
            if pending is None:
                pending = session.info[_PENDING_KEY] = []
                event.listen(session, "after_commit", self._after_commit, once=True)
                event.listen(session, "after_rollback", self._after_rollback, once=True)
            pending.append(queued.job_id)
        return queued

    def start(self) -> None:
        """Requeue stale running rows, send every queued row, start the sweeper."""
        requeued = self.requeue_stale()
        sent = self.resend_queued()
        log.info("celery queue started", extra={"requeued": requeued, "sent": sent})
        if self._thread is None and self._sweep_seconds > 0:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._sweep_loop, name="shoal-celery-sweeper", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.app.close()

    # sending ---------------------------------------------------------------------------

    def send(self, job_ids: list[int]) -> int:
        """Send these job ids to the workers; returns how many went out. A broker that is
        down is logged, not raised: the rows are queued and the sweeper sends them."""
        sent = 0
        try:
            with self.app.producer_or_acquire() as producer:
                for job_id in job_ids:
                    self.app.send_task(
                        TASK_NAME, args=[job_id], queue=self.queue_name, producer=producer
                    )
                    sent += 1
        except Exception as e:
            log.warning(
                "sending jobs to the broker failed; they stay queued",
                extra={"jobs": len(job_ids) - sent, "error": str(e)[:300]},
            )
        return sent

    def resend_queued(self, *, older_than: timedelta | None = None) -> int:
        """Send the queued rows (all, or those created more than `older_than` ago) again;
        bounded to `SWEEP_BATCH` per call, oldest first."""
        q = select(Job.id).where(Job.state == JobState.QUEUED)
        if older_than is not None:
            q = q.where(Job.created_at < self._ctx.clock.now() - older_than)
        with self._ctx.read() as s:
            ids = [int(i) for i in s.scalars(q.order_by(Job.id).limit(SWEEP_BATCH))]
        return self.send(ids) if ids else 0

    def requeue_stale(self, stale: timedelta = JOB_STALE) -> int:
        """Put rows running for longer than `stale` (their worker died) back in the queue."""
        cutoff = self._ctx.clock.now() - stale
        with self._ctx.write() as s:
            result = s.execute(
                update(Job)
                .where(Job.state == JobState.RUNNING, Job.started_at < cutoff)
                .values(state=JobState.QUEUED, started_at=None)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    def broker_depth(self) -> int:
        """Messages waiting in the broker's queue (not those a worker holds)."""
        with self.app.connection_for_write() as conn:
            try:
                declared = conn.default_channel.queue_declare(queue=self.queue_name, passive=True)
            except Exception as e:
                if str(getattr(e, "reply_code", "")) == "404":  # Redis: an empty queue has no key
                    return 0
                raise
            return int(declared.message_count)

    def sweep(self) -> tuple[int, int]:
        """One sweeper pass: (stale rows requeued, rows re-sent)."""
        requeued = self.requeue_stale()
        resent = 0
        try:
            empty = self.broker_depth() == 0
        except Exception:
            empty = False  # broker unreachable: nothing to send to
        if empty or requeued:
            resent = self.resend_queued(older_than=timedelta(seconds=self._sweep_seconds))
        return requeued, resent

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self._sweep_seconds):
            try:
                requeued, resent = self.sweep()
                if requeued or resent:
                    log.info("celery sweep", extra={"requeued": requeued, "resent": resent})
            except Exception:
                log.exception("celery sweep failed")

    # transaction hooks -----------------------------------------------------------------

    # Both hooks are right for whichever transaction of the session fires them, so the
    # one of the pair that did not fire may stay registered (sessions are short-lived).

    def _after_commit(self, session: Session) -> None:
        pending: list[int] = session.info.pop(_PENDING_KEY, None) or []
        if pending:
            self.send(pending)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING_KEY, None)


_MODULE_APP: dict[str, Celery] = {}


def __getattr__(name: str) -> Any:
    """`celery -A shoal.service.celery_queue worker`: the app, settings from the
    environment (`SHOAL_*`, `SHOAL_CONFIG`), built on first access."""
    if name in ("app", "celery"):
        if "app" not in _MODULE_APP:
            from shoal.config import load_settings

            _MODULE_APP["app"] = create_celery_app(load_settings())
        return _MODULE_APP["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
