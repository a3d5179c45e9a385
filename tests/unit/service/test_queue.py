from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from shoal.db import jobs as dbjobs
from shoal.db.models import Job
from shoal.db.types import JobKind, JobState
from shoal.service import handlers as handler_registry
from shoal.service.context import ServiceContext
from shoal.service.queue import InProcessQueue, drain


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    def handler(ctx: ServiceContext, payload: dict[str, Any]) -> None:
        if payload.get("boom"):
            raise RuntimeError("exploded on purpose")
        got.append(payload)

    monkeypatch.setitem(handler_registry.HANDLERS, JobKind.SCAN_IMAGE, handler)
    return got


def test_duplicate_submissions_run_once(ctx: ServiceContext, seen: list[dict[str, Any]]) -> None:
    assert ctx.queue is not None
    with ctx.write() as s:
        first = ctx.queue.submit(s, JobKind.SCAN_IMAGE, "sha256:aa|x|y", {"n": 1})
        again = ctx.queue.submit(s, JobKind.SCAN_IMAGE, "sha256:aa|x|y", {"n": 2})
    assert first.created and not again.created and first.job_id == again.job_id
    assert drain(ctx) == 1
    assert seen == [{"n": 1}]
    with ctx.read() as s:
        assert s.get(Job, first.job_id).state is JobState.DONE  # type: ignore[union-attr]


def test_a_failing_job_is_retried_then_failed_with_its_message(
    ctx: ServiceContext, seen: list[dict[str, Any]]
) -> None:
    assert ctx.queue is not None
    with ctx.write() as s:
        job_id = ctx.queue.submit(s, JobKind.SCAN_IMAGE, "k", {"boom": True}).job_id
    assert drain(ctx) == dbjobs.DEFAULT_MAX_ATTEMPTS
    with ctx.read() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.state is JobState.FAILED
        assert job.last_error == "RuntimeError: exploded on purpose"


def test_worker_threads_wake_on_commit_and_a_restart_requeues_running_jobs(
    make_ctx: Callable[..., ServiceContext], seen: list[dict[str, Any]]
) -> None:
    dead = make_ctx()
    with dead.write() as s:
        job_id = dbjobs.enqueue(s, JobKind.SCAN_IMAGE, "left-running", {"n": 7}).job_id
        assert dbjobs.claim_next(s) is not None  # claimed by a process that then died
    live = make_ctx(workers=2)
    assert isinstance(live.queue, InProcessQueue)
    done = threading.Event()
    original = handler_registry.HANDLERS[JobKind.SCAN_IMAGE]

    def handler(ctx: ServiceContext, payload: dict[str, Any]) -> None:
        original(ctx, payload)
        if len(seen) == 2:
            done.set()

    handler_registry.HANDLERS[JobKind.SCAN_IMAGE] = handler
    live.queue.start()  # requeues the job the dead process held
    with live.write() as s:
        live.queue.submit(s, JobKind.SCAN_IMAGE, "new", {"n": 8})
    assert done.wait(30)
    assert sorted(p["n"] for p in seen) == [7, 8]
    # the handler returned; the worker records DONE in its own transaction just after
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        with live.read() as s:
            state = s.get(Job, job_id).state  # type: ignore[union-attr]
        if state is JobState.DONE:
            break
        time.sleep(0.02)
    assert state is JobState.DONE
