"""View 2 (vulnerability-centric): each vulnerability with its severity, CVSS, EPSS,
KEV, fix availability, how many images/repositories/registries it affects, first seen.

The counting is one GROUP BY over the matching findings; the facts about each
vulnerability on the page come from the vulnerability DB (`vulninfo`). A vulnerability's
severity is the highest its findings carry (distros may rate one CVE differently per
package); it is fixable when any of its findings has a fixed version.

Sorts: `severity` (default: critical first, then by id) and `id`. Both are keyset
ranges over the grouped rows (HAVING), so the cursor stays valid as findings change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from shoal.db.models import Finding, Image, Repository
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.views import cursor as cur
from shoal.service.views.context import ImageContext, image_contexts
from shoal.service.views.errors import InvalidQuery, NotFound
from shoal.service.views.findings import FindingQuery, conditions
from shoal.service.views.vulninfo import VulnInfo, vuln_info

_BY_RANK = {r.rank: r for r in Rating}
_rank = case(*[(Finding.severity == r, r.rank) for r in Rating], else_=0)
_max_rank = func.max(_rank)
_fixable = func.max(case((Finding.fixable.is_(True), 1), else_=0))


class VulnSort(StrEnum):
    SEVERITY = "severity"
    ID = "id"


@dataclass(frozen=True, slots=True)
class VulnQuery:
    """Which vulnerabilities: those with a finding matching `findings` (state, scope,
    package ...; its severity/fixable filters are ignored) whose overall severity is in
    `severities` and fix availability is `fixable`."""

    findings: FindingQuery = field(default_factory=FindingQuery)
    severities: tuple[Rating, ...] = ()
    fixable: bool | None = None
    sort: VulnSort = VulnSort.SEVERITY


@dataclass(frozen=True, slots=True)
class VulnSummary:
    id: str
    severity: Rating
    fixable: bool
    findings: int
    images: int
    repositories: int
    registries: int
    first_seen: datetime
    info: VulnInfo


@dataclass(frozen=True, slots=True)
class VulnPage:
    items: Sequence[VulnSummary]
    next_cursor: str | None


def _grouped(fq: FindingQuery) -> Any:
    base = FindingQuery(
        states=fq.states,
        package=fq.package,
        vulnerability_id=fq.vulnerability_id,
        subscription_id=fq.subscription_id,
        registry_id=fq.registry_id,
        repository_id=fq.repository_id,
        image_id=fq.image_id,
        since=fq.since,
    )
    return (
        select(
            Finding.vulnerability_id,
            _max_rank.label("rank"),
            _fixable.label("fixable"),
            func.count().label("findings"),
            func.count(func.distinct(Finding.image_id)).label("images"),
            func.count(func.distinct(Image.repository_id)).label("repositories"),
            func.count(func.distinct(Repository.registry_id)).label("registries"),
            func.min(Finding.first_seen).label("first_seen"),
        )
        .join(Image, Image.id == Finding.image_id)
        .join(Repository, Repository.id == Image.repository_id)
        .where(*conditions(base))
        .group_by(Finding.vulnerability_id)
    )


def _having(q: VulnQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.severities:
        out.append(_max_rank.in_(sorted({s.rank for s in q.severities})))
    if q.fixable is not None:
        out.append(_fixable == (1 if q.fixable else 0))
    return out


def _summary(row: Any, info: VulnInfo) -> VulnSummary:
    return VulnSummary(
        id=row.vulnerability_id,
        severity=_BY_RANK.get(int(row.rank), Rating.UNKNOWN),
        fixable=bool(row.fixable),
        findings=int(row.findings),
        images=int(row.images),
        repositories=int(row.repositories),
        registries=int(row.registries),
        first_seen=row.first_seen,
        info=info,
    )


def list_vulnerabilities(
    session: Session,
    ctx: ServiceContext,
    q: VulnQuery = VulnQuery(),
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> VulnPage:
    q.findings.check()
    cur.check_limit(limit)
    kind = f"vulnerabilities/{q.sort.value}"
    stmt = _grouped(q.findings)
    having = _having(q)
    if q.sort is VulnSort.SEVERITY:
        if cursor is not None:
            rank, vid = cur.decode(kind, cursor, (int, str))
            having.append(
                or_(_max_rank < rank, and_(_max_rank == rank, Finding.vulnerability_id > vid))
            )
        stmt = stmt.order_by(_max_rank.desc(), Finding.vulnerability_id)
    else:
        if cursor is not None:
            (vid,) = cur.decode(kind, cursor, (str,))
            stmt = stmt.where(Finding.vulnerability_id > vid)
        stmt = stmt.order_by(Finding.vulnerability_id)
    if having:
        stmt = stmt.having(and_(*having))
    rows = list(session.execute(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    infos = vuln_info(ctx, (r.vulnerability_id for r in rows))
    items = [_summary(r, infos[r.vulnerability_id]) for r in rows]
    nxt = None
    if more:
        last = rows[-1]
        nxt = (
            cur.encode(kind, int(last.rank), last.vulnerability_id)
            if q.sort is VulnSort.SEVERITY
            else cur.encode(kind, last.vulnerability_id)
        )
    return VulnPage(items, nxt)


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    finding_id: str
    name: str
    version: str
    purl: str
    severity: Rating
    fixable: bool
    fixed_versions: tuple[str, ...]
    state: FindingState
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class AffectedImage:
    image: ImageContext
    packages: tuple[AffectedPackage, ...]


@dataclass(frozen=True, slots=True)
class VulnDetail:
    summary: VulnSummary
    affected: Sequence[AffectedImage]
    next_cursor: str | None  # for more affected images


def get_vulnerability(
    session: Session,
    ctx: ServiceContext,
    vulnerability_id: str,
    findings: FindingQuery | None = None,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> VulnDetail:
    """One vulnerability and a page of the images it affects (by image id)."""
    if not 1 <= len(vulnerability_id) <= 100:
        raise InvalidQuery("vulnerability id", "length must be 1 to 100 characters")
    findings = findings or FindingQuery()
    fq = FindingQuery(
        states=findings.states,
        package=findings.package,
        vulnerability_id=vulnerability_id,
        subscription_id=findings.subscription_id,
        registry_id=findings.registry_id,
        repository_id=findings.repository_id,
        image_id=findings.image_id,
        since=findings.since,
    )
    fq.check()
    cur.check_limit(limit)
    row = session.execute(_grouped(fq)).first()
    if row is None:
        raise NotFound("vulnerability", vulnerability_id)
    summary = _summary(row, vuln_info(ctx, [vulnerability_id])[vulnerability_id])
    conds = conditions(fq)
    kind = "vulnerability/images"
    if cursor is not None:
        (after,) = cur.decode(kind, cursor, (int,))
        conds.append(Finding.image_id > after)
    image_ids = list(
        session.scalars(
            select(Finding.image_id)
            .where(*conds)
            .group_by(Finding.image_id)
            .order_by(Finding.image_id)
            .limit(limit + 1)
        )
    )
    more = len(image_ids) > limit
    image_ids = image_ids[:limit]
    found: Sequence[Finding] = (
        list(
            session.scalars(
                select(Finding)
                .where(*conditions(fq), Finding.image_id.in_(image_ids))
                .order_by(Finding.image_id, Finding.package_purl)
            )
        )
        if image_ids
        else []
    )
    by_image: dict[int, list[AffectedPackage]] = {}
    for f in found:
        by_image.setdefault(f.image_id, []).append(
            AffectedPackage(
                f.id,
                f.package_name,
                f.package_version,
                f.package_purl,
                f.severity,
                f.fixable,
                tuple(f.fixed_versions or ()),
                f.state,
                f.first_seen,
            )
        )
    ctxs = image_contexts(session, image_ids)
    affected = [AffectedImage(ctxs[i], tuple(by_image.get(i, ()))) for i in image_ids]
    return VulnDetail(summary, affected, cur.encode(kind, image_ids[-1]) if more else None)
