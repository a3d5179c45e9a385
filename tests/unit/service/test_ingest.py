"""Applying trigger events to the inventory: pushes queue one scan per digest, pulls
move last_pulled_at (and bring unseen images in), deletions take images out of every
count; times are clamped; a bad event keeps nothing of its delivery. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from shoal.db.findings import ObservedFinding, sync_findings
from shoal.db.history import count_open_findings
from shoal.db.inventory import create_registry, create_subscription, image_tags
from shoal.db.models import Image, ImageTag, Job, Registry, Repository
from shoal.db.types import JobKind, RegistryKind
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.ingest import (
    MAX_EVENTS,
    IngestError,
    IngestResult,
    event_time,
    ingest_events,
    queue_unassessed,
)
from shoal.triggers.base import Deleted, PullEvent, ScanRequest, TriggerEvent
from tests.support.service import START

HOST = "registry.example:5000"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
MT = "application/vnd.oci.image.manifest.v1+json"


def push(repo: str, digest: str, tag: str | None = "v1", at: datetime | None = None) -> ScanRequest:
    return ScanRequest(HOST, repo, digest, tag, MT, at, "distribution")


def pull(repo: str, digest: str, at: datetime | None = None) -> PullEvent:
    return PullEvent(HOST, repo, digest, None, at, "distribution")


@pytest.fixture
def registry_id(ctx: ServiceContext) -> int:
    assert ctx.cipher is not None
    with ctx.write() as s:
        sub = create_subscription(s, "team", now=START)
        reg = create_registry(
            s, sub.id, "local", f"http://{HOST}", RegistryKind.DISTRIBUTION, cipher=ctx.cipher
        )
        return reg.registry.id


def apply(
    ctx: ServiceContext, registry_id: int, events: Sequence[TriggerEvent], **kw: Any
) -> IngestResult:
    with ctx.write() as s:
        reg = s.get(Registry, registry_id)
        assert reg is not None
        return ingest_events(s, ctx, reg, events, **kw)


def jobs(ctx: ServiceContext) -> list[Job]:
    with ctx.read() as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


def images(ctx: ServiceContext) -> list[Image]:
    with ctx.read() as s:
        return list(s.scalars(select(Image).order_by(Image.id)))


def test_push_records_the_image_and_duplicate_deliveries_are_one_scan(
    ctx: ServiceContext, registry_id: int
) -> None:
    first = apply(ctx, registry_id, [push("team/app", D1), push("team/app", D1)])
    again = apply(ctx, registry_id, [push("team/app", D1, tag="latest")])
    assert first.pushes == 1 and first.new_jobs == 1
    assert again.new_jobs == 0 and again.scan_jobs == first.scan_jobs
    [job] = jobs(ctx)
    assert job.kind is JobKind.SCAN_IMAGE
    assert job.payload == {"image_id": first.images[0], "trigger": "push"}
    [image] = images(ctx)
    assert image.digest == D1 and image.platform == "" and image.pushed_at == START
    with ctx.read() as s:
        assert image_tags(s, image.id) == ["latest", "v1"]
        assert s.scalars(select(Repository.name)).all() == ["team/app"]


def test_a_re_push_moves_the_tag_and_scans_the_new_digest(
    ctx: ServiceContext, registry_id: int
) -> None:
    apply(ctx, registry_id, [push("team/app", D1)])
    ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    res = apply(ctx, registry_id, [push("team/app", D2)])
    assert res.new_jobs == 1 and len(jobs(ctx)) == 2
    old, new = images(ctx)
    with ctx.read() as s:
        assert image_tags(s, old.id) == [] and image_tags(s, new.id) == ["v1"]
    assert new.pushed_at == START + timedelta(minutes=5)


def test_event_times_are_clamped_to_now_and_unknown_push_times_stay_unknown(
    ctx: ServiceContext, registry_id: int
) -> None:
    future = START + timedelta(days=3650)
    past = START - timedelta(days=2)
    assert event_time(future, START) == START and event_time(None, START) == START
    apply(ctx, registry_id, [push("a/future", D1, at=future), push("a/past", D1, at=past)])
    apply(ctx, registry_id, [push("a/found", D1)], pushed_now=False)
    by_repo = {}
    with ctx.read() as s:
        for name, pushed in s.execute(
            select(Repository.name, Image.pushed_at).join(
                Image, Image.repository_id == Repository.id
            )
        ):
            by_repo[name] = pushed
    assert by_repo == {"a/future": START, "a/past": past, "a/found": None}
    # an unobserved re-discovery never invents a push time for a known image
    apply(ctx, registry_id, [push("a/past", D1, tag="v2")], pushed_now=False)
    assert {i.pushed_at for i in images(ctx) if i.pushed_at} == {START, past}


def test_pulls_move_last_pulled_at_forward_only(ctx: ServiceContext, registry_id: int) -> None:
    apply(ctx, registry_id, [push("team/app", D1)])
    later = START - timedelta(hours=1)
    res = apply(ctx, registry_id, [pull("team/app", D1, at=later)])
    assert res.pulls == 1 and res.new_jobs == 0 and res.scan_jobs == []
    assert images(ctx)[0].last_pulled_at == later
    apply(ctx, registry_id, [pull("team/app", D1, at=later - timedelta(hours=5))])  # late
    assert images(ctx)[0].last_pulled_at == later
    apply(ctx, registry_id, [pull("team/app", D1, at=START + timedelta(days=400))])  # future
    assert images(ctx)[0].last_pulled_at == START
    assert len(jobs(ctx)) == 1


def test_a_pull_of_an_unseen_image_records_it_and_scans_it(
    ctx: ServiceContext, registry_id: int
) -> None:
    res = apply(ctx, registry_id, [pull("team/legacy", D2)])
    assert res.new_jobs == 1
    [image] = images(ctx)
    assert image.digest == D2 and image.pushed_at is None and image.last_pulled_at == START
    [job] = jobs(ctx)
    assert job.payload == {"image_id": image.id, "trigger": "pull"}
    # the next pull is an ordinary pull
    ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert apply(ctx, registry_id, [pull("team/legacy", D2)]).new_jobs == 0
    assert images(ctx)[0].last_pulled_at == START + timedelta(hours=1)


def test_a_push_of_a_digest_split_per_platform_adds_no_placeholder_row(
    ctx: ServiceContext, registry_id: int
) -> None:
    apply(ctx, registry_id, [push("team/multi", D1)])
    with ctx.write() as s:  # what scanning an index does: one row per platform
        first = s.scalars(select(Image)).one()
        first.platform = "linux/amd64"
        s.add(
            Image(
                repository_id=first.repository_id,
                digest=D1,
                platform="linux/arm64",
                pushed_at=START,
                created_at=START,
            )
        )
    ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    apply(ctx, registry_id, [push("team/multi", D1, tag="stable")])
    rows = images(ctx)
    assert [r.platform for r in rows] == ["linux/amd64", "linux/arm64"]
    assert {r.pushed_at for r in rows} == {START + timedelta(minutes=1)}
    with ctx.read() as s:
        assert image_tags(s, rows[0].id) == ["stable", "v1"]


def test_deleting_a_manifest_takes_its_findings_out_of_the_counts(
    ctx: ServiceContext, registry_id: int
) -> None:
    res = apply(ctx, registry_id, [push("team/app", D1), push("team/other", D2, tag="x")])
    with ctx.write() as s:
        image = s.get(Image, res.images[0])
        assert image is not None
        observed = [
            ObservedFinding(
                "pkg:deb/debian/openssl@3.0.11-1",
                "openssl",
                "3.0.11-1",
                "CVE-2024-0727",
                Rating.MEDIUM,
                True,
                ("3.0.13-1",),
            )
        ]
        sync_findings(s, image, observed, now=START)
    with ctx.read() as s:
        assert sum(c.open_count for c in count_open_findings(s, 1, START.date())) == 1

    res = apply(
        ctx,
        registry_id,
        [Deleted(HOST, "team/app", D1, None, None, "distribution")],
    )
    assert res.deletions == 1 and res.images_removed == 1
    with ctx.read() as s:
        assert sum(c.open_count for c in count_open_findings(s, 1, START.date())) == 0
        assert s.scalar(select(func.count()).select_from(ImageTag)) == 1  # team/other:x
    assert [i.digest for i in images(ctx)] == [D2]

    # a blob digest, a tag, an unknown repository, then the repository itself
    apply(ctx, registry_id, [Deleted(HOST, "team/other", D1, None, None, "distribution")])
    assert len(images(ctx)) == 1
    apply(ctx, registry_id, [Deleted(HOST, "team/other", None, "x", None, "acr")])
    with ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(ImageTag)) == 0
    assert len(images(ctx)) == 1
    apply(ctx, registry_id, [Deleted(HOST, "nope/never", None, None, None, "acr")])
    res = apply(ctx, registry_id, [Deleted(HOST, "team/other", None, None, None, "acr")])
    assert res.images_removed == 1 and images(ctx) == []
    with ctx.read() as s:
        assert s.scalars(select(Repository.name)).all() == ["team/app"]


def test_a_bad_event_keeps_nothing_of_its_delivery(ctx: ServiceContext, registry_id: int) -> None:
    events = [push("team/fine", D1), push("Team/UPPER", D2)]
    with pytest.raises(IngestError, match=r"event 1 \(scan .*Team/UPPER.*invalid repository"):
        apply(ctx, registry_id, events)
    assert images(ctx) == [] and jobs(ctx) == []
    with pytest.raises(IngestError, match="max"):
        apply(ctx, registry_id, [push("team/fine", D1)] * (MAX_EVENTS + 1))


def test_with_the_plan_off_images_are_inventoried_but_not_scanned(
    ctx: ServiceContext, registry_id: int
) -> None:
    with ctx.write() as s:
        s.get(Registry, registry_id).subscription.plan_enabled = False  # type: ignore[union-attr]
    res = apply(ctx, registry_id, [push("team/app", D1), pull("team/old", D2)])
    assert res.scans_skipped == 2 and res.scan_jobs == [] and res.new_jobs == 0
    assert jobs(ctx) == []
    assert sorted(i.digest for i in images(ctx)) == [D1, D2]
    # switched back on: what arrived meanwhile is queued, once
    with ctx.write() as s:
        sub = s.get(Registry, registry_id).subscription  # type: ignore[union-attr]
        sub.plan_enabled = True
        assert queue_unassessed(s, ctx, sub.id) == 2
        assert queue_unassessed(s, ctx, sub.id) == 0
    assert sorted(j.payload["trigger"] for j in jobs(ctx)) == ["plan", "plan"]


def test_concurrent_deliveries_of_one_push_make_one_image_and_one_job(
    ctx: ServiceContext, registry_id: int
) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait(10)
            apply(ctx, registry_id, [push("team/app", D1), pull("team/app", D1)])
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(jobs(ctx)) == 1 and len(images(ctx)) == 1
    with ctx.read() as s:
        assert s.scalars(select(Repository.name)).all() == ["team/app"]
