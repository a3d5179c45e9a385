"""Record one assessment of one image: findings synced, events appended, health noted.

Scanning (`scanning.py`, a fresh SBOM) and re-matching (`rematch.py`, a stored SBOM
against new data) both end here, so both produce the same rows and the same events:

- `finding_opened` / `finding_resolved` for each finding that changed state;
- `image_scanned` once, with the counts, the DB version and what triggered it;
- `assessment_changed` when the image's health under its subscription's threshold
  flipped (healthy <-> unhealthy, or from not applicable on its first assessment).

The health rule lives here too (`is_unhealthy`): an open finding at or above the
subscription's threshold makes an image unhealthy. A finding no source rates
("unknown") counts as meeting any threshold: unknown is not the same as low, and a
security team would rather look at it than miss it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from shoal.db.events import append_event
from shoal.db.findings import FindingChanges, ObservedFinding, image_location, sync_findings
from shoal.db.inventory import mark_scanned, subscription_settings
from shoal.db.models import Finding, Image, Registry, Repository, Subscription
from shoal.db.types import EventType, FindingState
from shoal.model.advisory import Rating
from shoal.model.finding import image_finding_id
from shoal.service.context import ServiceContext


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    NOT_APPLICABLE = "not_applicable"  # not scanned (yet), or nothing shoal can assess


def meets_threshold(severity: Rating, threshold: Rating) -> bool:
    return severity is Rating.UNKNOWN or severity.rank >= threshold.rank


def is_unhealthy(open_severities: Iterable[Rating], threshold: Rating) -> bool:
    return any(meets_threshold(s, threshold) for s in open_severities)


@dataclass(frozen=True, slots=True)
class ImageScope:
    """Who an image belongs to: the ids events carry and the threshold that applies."""

    subscription_id: int
    registry_id: int
    repository_id: int
    threshold: Rating


def image_scope(session: Session, image: Image) -> ImageScope:
    row = session.execute(
        select(Subscription, Registry.id)
        .join(Registry, Registry.subscription_id == Subscription.id)
        .join(Repository, Repository.registry_id == Registry.id)
        .where(Repository.id == image.repository_id)
    ).one()
    sub, registry_id = row
    return ImageScope(
        sub.id, registry_id, image.repository_id, subscription_settings(sub).unhealthy_severity
    )


def image_health(session: Session, image: Image, threshold: Rating) -> Health:
    if image.last_scanned_at is None:
        return Health.NOT_APPLICABLE
    severities = session.scalars(
        select(Finding.severity).where(
            Finding.image_id == image.id, Finding.state == FindingState.OPEN
        )
    )
    return Health.UNHEALTHY if is_unhealthy(severities, threshold) else Health.HEALTHY


@dataclass(frozen=True, slots=True)
class Assessment:
    image_id: int
    changes: FindingChanges
    before: Health
    after: Health


def record_assessment(
    session: Session,
    ctx: ServiceContext,
    image: Image,
    observed: Sequence[ObservedFinding],
    *,
    db_version: str,
    trigger: str,
    scope: ImageScope | None = None,
) -> Assessment:
    """Make `image`'s findings those of a complete result (`observed`) and append the
    events. Runs in the caller's transaction: all of it commits, or none."""
    now = ctx.clock.now()
    scope = scope or image_scope(session, image)
    before = image_health(session, image, scope.threshold)
    where = image_location(session, image)
    changes = sync_findings(session, image, observed, now=now, where=where)
    mark_scanned(
        session, image, analyser_version=ctx.analyser_version, db_version=db_version, at=now
    )
    after = image_health(session, image, scope.threshold)

    def event(type_: EventType, payload: dict[str, object], finding_id: str | None = None) -> None:
        append_event(
            session,
            type_,
            subscription_id=scope.subscription_id,
            registry_id=scope.registry_id,
            image_id=image.id,
            finding_id=finding_id,
            payload=payload,
            now=now,
        )

    by_id = {image_finding_id(where, o.purl, o.vulnerability_id): o for o in observed}
    for fid in changes.opened:
        o = by_id.get(fid)
        payload: dict[str, object] = (
            {"vulnerability_id": o.vulnerability_id, "severity": o.severity.value, "purl": o.purl}
            if o
            else {}
        )
        event(EventType.FINDING_OPENED, payload, fid)
    for fid in changes.resolved:
        event(EventType.FINDING_RESOLVED, {}, fid)
    event(
        EventType.IMAGE_SCANNED,
        {
            "digest": image.digest,
            "platform": image.platform,
            "trigger": trigger,
            "db_version": db_version,
            "opened": len(changes.opened),
            "resolved": len(changes.resolved),
            "open": changes.still_open + len(changes.opened),
        },
    )
    if before is not after:
        event(
            EventType.ASSESSMENT_CHANGED,
            {"digest": image.digest, "from": before.value, "to": after.value},
        )
    return Assessment(image.id, changes, before, after)
