"""The feed-update job: the real bundled PyPI archive with one real advisory left out,
then the full archive, through `submit_feed_update` and the queue; failures are one
line and keep the previous data."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from shoal.db.models import Job
from shoal.db.types import JobKind, JobState
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.feeds import handle_update_feeds, submit_feed_update
from shoal.service.queue import drain
from shoal.vulndb.resolve import bundled_path
from tests.support.service import START
from tests.unit.service.test_rematch import ADVISORY, World, _pkgs, _world


def _pypi_without(tmp: Path, left_out: str) -> Path:
    src = bundled_path("osv/PyPI")
    assert src is not None
    out = tmp / "feeds" / "osv" / "PyPI-all.zip"
    out.parent.mkdir(parents=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            if name != left_out:
                zout.writestr(name, zin.read(name))
    return out


def _jobs(ctx: ServiceContext, kind: JobKind) -> list[Job]:
    with ctx.read() as s:
        return list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def test_the_job_updates_the_db_and_queues_rematches_of_what_changed(
    make_ctx: Callable[..., ServiceContext], vulndb_copy: Path, tmp_path: Path
) -> None:
    ctx = make_ctx(vulndb=vulndb_copy, clock=ManualClock(START))
    w: World = _world(ctx)
    jinja = w.image(1, _pkgs(("jinja2", "2.11.2")))
    w.image(2, _pkgs(("requests", "2.32.3")))
    before = ctx.vulndb.version()
    feeds = _pypi_without(tmp_path, ADVISORY).parent.parent  # a directory, one entry per feed
    with ctx.write() as s:
        first = submit_feed_update(s, ctx, from_path=feeds)
        again = submit_feed_update(s, ctx, from_path=feeds)
    assert first.created and not again.created  # the same request in the same second
    assert drain(ctx) == 2  # the update, then the re-match it queued
    (update_job,) = _jobs(ctx, JobKind.UPDATE_FEEDS)
    assert update_job.state is JobState.DONE, update_job.last_error
    assert ctx.vulndb.version() not in (None, before)
    (rematch,) = _jobs(ctx, JobKind.REMATCH_IMAGE)
    assert rematch.state is JobState.DONE
    assert rematch.payload["image_ids"] == [jinja]
    assert rematch.payload["db_version"] == ctx.vulndb.version()


def test_a_failing_source_fails_the_job_in_one_line_and_keeps_the_data(
    make_ctx: Callable[..., ServiceContext], vulndb_copy: Path, tmp_path: Path
) -> None:
    ctx = make_ctx(vulndb=vulndb_copy)
    before = ctx.vulndb.version()
    broken = tmp_path / "PyPI-all.zip"
    broken.write_bytes(b"not a zip archive")
    with ctx.write() as s:
        submit_feed_update(s, ctx, sources=["osv/PyPI"], from_path=broken)
    drain(ctx)
    (job,) = _jobs(ctx, JobKind.UPDATE_FEEDS)
    assert job.state is JobState.FAILED and job.attempts == 3
    assert job.last_error is not None and "\n" not in job.last_error
    assert job.last_error.startswith("FeedUpdateError: 1 of 1 feed sources failed")
    assert "osv/PyPI" in job.last_error
    assert ctx.vulndb.version() == before
    assert _jobs(ctx, JobKind.REMATCH_IMAGE) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": ["osv/Nope"]}, "feed update: unknown feed 'osv/Nope'"),
        ({"sources": ["osv/PyPI"] * 65}, "65 sources, more than 64"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_queued(
    ctx: ServiceContext, kwargs: dict[str, object], message: str
) -> None:
    with ctx.write() as s, pytest.raises(ValueError, match=message) as e:
        submit_feed_update(s, ctx, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)
    assert _jobs(ctx, JobKind.UPDATE_FEEDS) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"sources": "osv/PyPI"}, "sources is not a list of feed names"),
        ({"online": "yes"}, "online is not true, false or null"),
        ({"force": 1}, "force is not true or false"),
        ({"from": ""}, "from is not a path"),
    ],
)
def test_a_bad_payload_is_a_one_line_error(
    ctx: ServiceContext, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        handle_update_feeds(ctx, payload)


def test_a_from_path_without_any_feed_is_an_error_naming_it(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match=r"nothing under .* is named after a source"):
        handle_update_feeds(ctx, {"from": str(tmp_path)})
