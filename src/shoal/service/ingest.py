"""Apply trigger events (webhook deliveries, polling discovery, manual scans) to one
registry's inventory, in the caller's transaction.

What each event does:

- `ScanRequest` (a push): the repository is created on first sight, the image row is
  found or created (`record_push`: one row per digest however often it is pushed; the
  tag moves to it) and a scan is queued (`submit_scan`, keyed by image + analyser + DB
  version: duplicate deliveries of one digest are one job). When the digest already has
  rows (a scanned index has one per platform), the oldest row is the one tagged and
  scanned; no "" placeholder row is added beside them.
- `PullEvent`: `last_pulled_at` of every row of the digest moves forward (never back).
  A digest the service has never seen is recorded as an image with an unknown push time
  (`pushed_at` NULL), marked pulled, and scanned: it is in use, so it must be assessed.
  A client pulling a multi-platform image fetches the index, then its platform's own
  manifest: that second pull is a pull of the platform's row (`images.manifest_digest`,
  known once the index is analysed). One that arrives before the analysis makes a row
  of its own for now, as does each platform manifest a client pushes (untagged, by
  digest) before pushing the index; the index's scan merges those into its platform
  rows (`scanning.absorb_platform_pulls`).
- `Deleted` with a digest (a manifest delete): the image rows of that digest are
  removed, and with them (ON DELETE CASCADE) their tags and findings, so the image leaves
  every open count and view at once. The event log keeps what was said about it. A blob
  delete looks the same to Distribution's notifications and simply matches no image.
  With only a tag: the tag is removed; the image stays (other tags or digests may name
  it). With neither: the repository and everything in it is removed.

Times: an event's own timestamp when it has one, clamped to `ctx.clock.now()` (a
registry clock running ahead, or a forged far-future timestamp, must not keep an image
"in use" for years); `ctx.clock.now()` when it has none. Whether a push without a time
happened "now" is the caller's to say (`pushed_now`): a webhook arrives as the push
happens; a first poll or a manual scan finds images pushed at some unknown time, so a
new row gets `pushed_at` NULL rather than a time that would make an old image look new.

Plan off: a subscription whose plan is switched off still has its inventory kept
(pushes, pulls, deletions: so its in-use window is right when the plan comes back on),
but no scan is queued for it (`IngestResult.scans_skipped` counts them). Switching the
plan on queues a scan of every image of the subscription never assessed
(`queue_unassessed`).

The host an event names is not checked against the registry's URL: the receiver URL
and its secret already say which registry sent it, and the host clients use (behind a
proxy, an alias) often differs from the one shoal talks to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shoal.db.inventory import ensure_repository, pulled_as, record_pull, record_push
from shoal.db.models import Image, ImageTag, Registry, Repository, Subscription
from shoal.errors import ShoalError
from shoal.service.context import ServiceContext
from shoal.service.scanning import submit_scan
from shoal.triggers.base import Deleted, PullEvent, ScanRequest, TriggerEvent, dedupe

log = logging.getLogger("shoal.service.ingest")

MAX_EVENTS = 10_000
"""Events applied in one call (one delivery or one poll); more is refused."""


class IngestError(ShoalError):
    """An event that cannot be applied (the message names which and why); nothing of the
    call is kept, since the caller's transaction is rolled back."""


@dataclass
class IngestResult:
    """What one call did. `scan_jobs` holds the job of every push and unseen pull, new
    or already queued (a duplicate delivery points at the first delivery's job)."""

    pushes: int = 0
    pulls: int = 0
    deletions: int = 0
    images_removed: int = 0
    scan_jobs: list[int] = field(default_factory=list)
    new_jobs: int = 0
    scans_skipped: int = 0  # the subscription's plan is off
    images: list[int] = field(default_factory=list)  # image rows pushed or first seen


def event_time(at: datetime | None, now: datetime) -> datetime:
    """The time to record for an event stamped `at`: never later than `now`."""
    if at is None:
        return now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return min(at, now)


def ingest_events(
    session: Session,
    ctx: ServiceContext,
    registry: Registry,
    events: Sequence[TriggerEvent],
    *,
    pushed_now: bool = True,
    trigger: str | None = None,
) -> IngestResult:
    """Apply `events` (deduplicated here too) to `registry`, in `session`'s transaction.

    `trigger` is what scans are queued as (default: "push" for pushes, "pull" for unseen
    pulls). Raises `IngestError` for an event that cannot be stored (a name or digest the
    database refuses); the caller rolls back, so a delivery is applied whole or not at all.
    """
    if len(events) > MAX_EVENTS:
        raise IngestError(
            f"registry {registry.id}: {len(events)} events in one call (max {MAX_EVENTS})"
        )
    now = ctx.clock.now()
    result = IngestResult()
    plan_on = bool(
        session.scalar(
            select(Subscription.plan_enabled).where(Subscription.id == registry.subscription_id)
        )
    )
    for i, ev in enumerate(dedupe(list(events))):
        try:
            if isinstance(ev, ScanRequest):
                scan = _Scan(trigger or "push", plan_on)
                _push(session, ctx, registry, ev, now, pushed_now, scan, result)
            elif isinstance(ev, PullEvent):
                _pull(session, ctx, registry, ev, now, _Scan(trigger or "pull", plan_on), result)
            elif isinstance(ev, Deleted):
                _delete(session, registry, ev, result)
        except ValueError as e:
            raise IngestError(f"registry {registry.id}: event {i} ({ev.key}): {e}") from e
    session.flush()
    return result


def _push(
    session: Session,
    ctx: ServiceContext,
    registry: Registry,
    ev: ScanRequest,
    now: datetime,
    pushed_now: bool,
    scan: _Scan,
    result: IngestResult,
) -> None:
    at = event_time(ev.pushed_at, now)
    observed = pushed_now or ev.pushed_at is not None
    repo = ensure_repository(session, registry.id, ev.repository, now=now)
    image = _record_image(session, repo, ev.digest, ev.tag, at, observed=observed)
    _queue(session, ctx, image, scan, result)
    result.pushes += 1


def _pull(
    session: Session,
    ctx: ServiceContext,
    registry: Registry,
    ev: PullEvent,
    now: datetime,
    scan: _Scan,
    result: IngestResult,
) -> None:
    at = event_time(ev.pulled_at, now)
    result.pulls += 1
    repo = _repository(session, registry.id, ev.repository)
    if repo is not None and record_pull(session, repo.id, ev.digest, at=at) > 0:
        return
    if repo is not None and session.scalar(
        select(Image.id).where(pulled_as(repo.id, ev.digest)).limit(1)
    ):
        return  # known, and already pulled at or after `at` (a late delivery)
    # never seen: in use right now, so record it and assess it
    repo = repo or ensure_repository(session, registry.id, ev.repository, now=now)
    image = _record_image(session, repo, ev.digest, ev.tag, at, observed=False)
    record_pull(session, repo.id, ev.digest, at=at)
    session.refresh(image)
    _queue(session, ctx, image, scan, result)


def _delete(session: Session, registry: Registry, ev: Deleted, result: IngestResult) -> None:
    result.deletions += 1
    repo = _repository(session, registry.id, ev.repository)
    if repo is None:
        return
    if ev.digest is not None:
        gone = session.execute(
            delete(Image)
            .where(Image.repository_id == repo.id, Image.digest == ev.digest)
            .execution_options(synchronize_session=False)
        )
        result.images_removed += int(getattr(gone, "rowcount", 0) or 0)
    elif ev.tag is not None:
        session.execute(
            delete(ImageTag)
            .where(ImageTag.repository_id == repo.id, ImageTag.tag == ev.tag)
            .execution_options(synchronize_session=False)
        )
    else:
        count = session.scalar(
            select(func.count()).select_from(Image).where(Image.repository_id == repo.id)
        )
        session.execute(
            delete(Repository)
            .where(Repository.id == repo.id)
            .execution_options(synchronize_session=False)
        )
        result.images_removed += int(count or 0)
    session.expire_all()


def _repository(session: Session, registry_id: int, name: str) -> Repository | None:
    return session.scalars(
        select(Repository).where(Repository.registry_id == registry_id, Repository.name == name)
    ).one_or_none()


def _rows(session: Session, repository_id: int, digest: str) -> list[Image]:
    return list(
        session.scalars(
            select(Image)
            .where(Image.repository_id == repository_id, Image.digest == digest)
            .order_by(Image.id)
        )
    )


def _record_image(
    session: Session,
    repo: Repository,
    digest: str,
    tag: str | None,
    at: datetime,
    *,
    observed: bool,
) -> Image:
    """The image row of `digest` in `repo` (the oldest, when a scan split it per
    platform), created if needed, tagged `tag`. `pushed_at` moves to `at` only for an
    `observed` push; otherwise a new row's push time stays unknown (NULL)."""
    existing = _rows(session, repo.id, digest)
    tags = (tag,) if tag else ()
    if existing:
        first = existing[0]
        before = first.pushed_at
        image = record_push(session, repo.id, digest, platform=first.platform, tags=tags, at=at)
        if observed:
            for other in existing[1:]:
                if other.pushed_at is None or other.pushed_at < at:
                    other.pushed_at = at
        else:
            image.pushed_at = before
    else:
        image = record_push(session, repo.id, digest, platform="", tags=tags, at=at)
        if not observed:
            image.pushed_at = None
    session.flush()
    return image


@dataclass(frozen=True, slots=True)
class _Scan:
    trigger: str
    plan_on: bool


def _queue(
    session: Session, ctx: ServiceContext, image: Image, scan: _Scan, result: IngestResult
) -> None:
    result.images.append(image.id)
    if not scan.plan_on:
        result.scans_skipped += 1
        return
    queued = submit_scan(session, ctx, image, scan.trigger)
    result.scan_jobs.append(queued.job_id)
    result.new_jobs += int(queued.created)


def queue_unassessed(session: Session, ctx: ServiceContext, subscription_id: int) -> int:
    """Queue a scan of every image of the subscription never assessed (for a plan just
    switched on); returns how many jobs were new."""
    images = session.scalars(
        select(Image)
        .join(Repository, Repository.id == Image.repository_id)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(Registry.subscription_id == subscription_id, Image.last_scanned_at.is_(None))
        .order_by(Image.id)
    )
    return sum(int(submit_scan(session, ctx, image, "plan").created) for image in images)
