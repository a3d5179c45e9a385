"""The recommendation "Container registry images should have vulnerability findings
resolved", assessed per subscription, registry, repository and image.

An image is not applicable until it has been scanned; after that it is unhealthy when
an open finding meets its subscription's threshold (`shoal.service.assess`: unknown
severity meets every threshold) and healthy otherwise. A scope (registry, ...) is not
applicable when none of its images has been scanned (or its subscription's plan is
off), unhealthy when any scanned image is, healthy otherwise. Counts are of open
findings (exempted and fixed ones are out of them).

Listing pages through the scopes of one kind by id (keyset), computing the page's
assessments with two queries: its images, and its open findings grouped by image,
severity and fixable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from shoal.db.inventory import subscription_settings
from shoal.db.models import Finding, Image, Registry, Repository, Subscription
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.assess import Health, meets_threshold
from shoal.service.views import cursor as cur
from shoal.service.views.errors import InvalidQuery, NotFound

RECOMMENDATION_KEY = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"  # Defender's, for registry images
RECOMMENDATION = "Container registry images should have vulnerability findings resolved"


class ScopeKind(StrEnum):
    SUBSCRIPTION = "subscription"
    REGISTRY = "registry"
    REPOSITORY = "repository"
    IMAGE = "image"


class Cause(StrEnum):
    PLAN_DISABLED = "plan_disabled"
    NOT_SCANNED = "not_scanned"


@dataclass(frozen=True, slots=True)
class Assessment:
    kind: ScopeKind
    id: int
    name: str
    subscription_id: int
    threshold: Rating
    status: Health
    cause: Cause | None
    open_by_severity: dict[Rating, int]
    fixable: int
    images: int
    scanned_images: int
    unhealthy_images: int
    last_scanned_at: datetime | None

    @property
    def open_findings(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def healthy_images(self) -> int:
        return self.scanned_images - self.unhealthy_images


@dataclass(frozen=True, slots=True)
class AssessmentPage:
    items: Sequence[Assessment]
    next_cursor: str | None


@dataclass
class _Acc:
    counts: dict[Rating, int] = field(default_factory=lambda: {r: 0 for r in Rating})
    fixable: int = 0
    images: int = 0
    scanned: int = 0
    unhealthy: int = 0
    last_scanned_at: datetime | None = None


_ID = {
    ScopeKind.SUBSCRIPTION: Subscription.id,
    ScopeKind.REGISTRY: Registry.id,
    ScopeKind.REPOSITORY: Repository.id,
    ScopeKind.IMAGE: Image.id,
}


def _entities(
    session: Session,
    kind: ScopeKind,
    conds: list[ColumnElement[bool]],
    limit: int,
) -> list[tuple[int, str, int]]:
    """(id, name, subscription id) of up to `limit` scopes of `kind`, by id."""
    if kind is ScopeKind.SUBSCRIPTION:
        q: Any = select(Subscription.id, Subscription.name, Subscription.id)
    elif kind is ScopeKind.REGISTRY:
        q = select(Registry.id, Registry.name, Registry.subscription_id)
    elif kind is ScopeKind.REPOSITORY:
        q = select(Repository.id, Repository.name, Registry.subscription_id).join(
            Registry, Registry.id == Repository.registry_id
        )
    else:
        q = (
            select(Image.id, Repository.name + "@" + Image.digest, Registry.subscription_id)
            .join(Repository, Repository.id == Image.repository_id)
            .join(Registry, Registry.id == Repository.registry_id)
        )
    return [
        (int(r[0]), str(r[1]), int(r[2]))
        for r in session.execute(q.where(*conds).order_by(_ID[kind]).limit(limit))
    ]


def _filters(
    kind: ScopeKind,
    subscription_id: int | None,
    registry_id: int | None,
    repository_id: int | None,
) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    parents = {
        "subscription_id": (subscription_id, ScopeKind.SUBSCRIPTION),
        "registry_id": (registry_id, ScopeKind.REGISTRY),
        "repository_id": (repository_id, ScopeKind.REPOSITORY),
    }
    order = list(ScopeKind)
    for name, (value, parent) in parents.items():
        if value is None:
            continue
        if not 1 <= value <= 2**31 - 1:
            raise InvalidQuery(name, f"{value} is not a valid id")
        if order.index(parent) >= order.index(kind):
            raise InvalidQuery(name, f"does not narrow a listing of {kind.value} assessments")
        col = {
            ScopeKind.SUBSCRIPTION: (
                Subscription.id if kind is ScopeKind.SUBSCRIPTION else Registry.subscription_id
            ),
            ScopeKind.REGISTRY: Registry.id
            if kind is ScopeKind.REGISTRY
            else Repository.registry_id,
            ScopeKind.REPOSITORY: Image.repository_id,
        }[parent]
        conds.append(col == value)
    return conds


def list_assessments(
    session: Session,
    kind: ScopeKind,
    *,
    subscription_id: int | None = None,
    registry_id: int | None = None,
    repository_id: int | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> AssessmentPage:
    """The assessments of every `kind` scope (narrowed to a parent), a page at a time."""
    cur.check_limit(limit)
    conds = _filters(kind, subscription_id, registry_id, repository_id)
    ck = f"assessments/{kind.value}"
    if cursor is not None:
        (after,) = cur.decode(ck, cursor, (int,))
        conds.append(_ID[kind] > after)
    ents = _entities(session, kind, conds, limit + 1)
    more = len(ents) > limit
    ents = ents[:limit]
    items = assess(session, kind, ents)
    return AssessmentPage(items, cur.encode(ck, ents[-1][0]) if more else None)


def get_assessment(session: Session, kind: ScopeKind, scope_id: int) -> Assessment:
    if not 1 <= scope_id <= 2**31 - 1:
        raise InvalidQuery(f"{kind.value} id", f"{scope_id} is not a valid id")
    ents = _entities(session, kind, [_ID[kind] == scope_id], 1)
    if not ents:
        raise NotFound(kind.value, scope_id)
    return assess(session, kind, ents)[0]


def assess(
    session: Session, kind: ScopeKind, ents: Sequence[tuple[int, str, int]]
) -> list[Assessment]:
    """Assessments of the given scopes of one kind (two queries plus the subscriptions)."""
    if not ents:
        return []
    ids = [e[0] for e in ents]
    key_col = {
        ScopeKind.SUBSCRIPTION: Registry.subscription_id,
        ScopeKind.REGISTRY: Registry.id,
        ScopeKind.REPOSITORY: Repository.id,
        ScopeKind.IMAGE: Image.id,
    }[kind]
    subs = {
        s.id: s
        for s in session.scalars(
            select(Subscription).where(Subscription.id.in_({e[2] for e in ents}))
        )
    }
    thresholds = {sid: subscription_settings(s).unhealthy_severity for sid, s in subs.items()}
    images = session.execute(
        select(Image.id, key_col, Registry.subscription_id, Image.last_scanned_at)
        .join(Repository, Repository.id == Image.repository_id)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(key_col.in_(ids))
    ).all()
    per_image: dict[int, list[tuple[Rating, bool, int]]] = {}
    image_ids = [r[0] for r in images]
    for i in range(0, len(image_ids), 1000):
        chunk = image_ids[i : i + 1000]
        for image_id, sev, fixable, n in session.execute(
            select(Finding.image_id, Finding.severity, Finding.fixable, func.count())
            .where(Finding.image_id.in_(chunk), Finding.state == FindingState.OPEN)
            .group_by(Finding.image_id, Finding.severity, Finding.fixable)
        ):
            per_image.setdefault(image_id, []).append((sev, bool(fixable), int(n)))
    acc: dict[int, _Acc] = {i: _Acc() for i in ids}
    for image_id, key, sub_id, scanned_at in images:
        a = acc[key]
        a.images += 1
        if scanned_at is None:
            continue
        a.scanned += 1
        if a.last_scanned_at is None or scanned_at > a.last_scanned_at:
            a.last_scanned_at = scanned_at
        rows = per_image.get(image_id, [])
        for sev, fixable, n in rows:
            a.counts[sev] += n
            if fixable:
                a.fixable += n
        if any(meets_threshold(sev, thresholds[sub_id]) for sev, _, _ in rows):
            a.unhealthy += 1
    out = []
    for scope_id, name, sub_id in ents:
        a = acc[scope_id]
        cause: Cause | None = None
        if not subs[sub_id].plan_enabled:
            status, cause = Health.NOT_APPLICABLE, Cause.PLAN_DISABLED
        elif a.scanned == 0:
            status, cause = Health.NOT_APPLICABLE, Cause.NOT_SCANNED
        else:
            status = Health.UNHEALTHY if a.unhealthy else Health.HEALTHY
        out.append(
            Assessment(
                kind=kind,
                id=scope_id,
                name=name,
                subscription_id=sub_id,
                threshold=thresholds[sub_id],
                status=status,
                cause=cause,
                open_by_severity=a.counts,
                fixable=a.fixable,
                images=a.images,
                scanned_images=a.scanned,
                unhealthy_images=a.unhealthy,
                last_scanned_at=a.last_scanned_at,
            )
        )
    return out
