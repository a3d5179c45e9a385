"""Vulnerabilities (view 2): severity, CVSS, EPSS, KEV, fix availability, reach."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from shoal.api.deps import Ctx, ReadDb
from shoal.api.pagination import CursorParam, Limit, Page
from shoal.api.security import Permission, authorize
from shoal.api.views_common import affected_out, problems, vulnerability_fields, vulnerability_out
from shoal.api.views_models import VulnerabilityDetailOut, VulnerabilityOut
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.views.findings import FindingQuery
from shoal.service.views.vulnerabilities import (
    VulnQuery,
    VulnSort,
    get_vulnerability,
    list_vulnerabilities,
)

router = APIRouter(tags=["vulnerabilities"], dependencies=[authorize(Permission.READ)])

Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
States = Annotated[
    list[FindingState] | None,
    Query(description="which findings count: open (default), fixed, exempted; repeatable"),
]
Package = Annotated[
    str | None,
    Query(min_length=1, max_length=2048, description="a package name, or a purl (pkg:...)"),
]


@router.get(
    "/vulnerabilities", response_model=Page[VulnerabilityOut], summary="List vulnerabilities"
)
def vulnerabilities_list(
    ctx: Ctx,
    db: ReadDb,
    severity: Annotated[
        list[Rating] | None, Query(description="overall severity; repeatable")
    ] = None,
    fixable: bool | None = None,
    package: Package = None,
    subscription_id: Id = None,
    registry_id: Id = None,
    repository_id: Id = None,
    image_id: Id = None,
    state: States = None,
    since: Annotated[datetime | None, Query(description="findings first seen at or after")] = None,
    sort: VulnSort = VulnSort.SEVERITY,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> Page[VulnerabilityOut]:
    q = VulnQuery(
        findings=FindingQuery(
            states=tuple(dict.fromkeys(state or [FindingState.OPEN])),
            package=package,
            subscription_id=subscription_id,
            registry_id=registry_id,
            repository_id=repository_id,
            image_id=image_id,
            since=since,
        ),
        severities=tuple(dict.fromkeys(severity or [])),
        fixable=fixable,
        sort=sort,
    )
    with problems():
        page = list_vulnerabilities(db, ctx, q, cursor=cursor, limit=limit)
    return Page[VulnerabilityOut](
        items=[vulnerability_out(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/vulnerabilities/{vulnerability_id}",
    response_model=VulnerabilityDetailOut,
    summary="One vulnerability and the images it affects (paged)",
)
def vulnerability_get(
    ctx: Ctx,
    db: ReadDb,
    vulnerability_id: str,
    subscription_id: Id = None,
    registry_id: Id = None,
    repository_id: Id = None,
    state: States = None,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> VulnerabilityDetailOut:
    fq = FindingQuery(
        states=tuple(dict.fromkeys(state or [FindingState.OPEN])),
        subscription_id=subscription_id,
        registry_id=registry_id,
        repository_id=repository_id,
    )
    with problems():
        d = get_vulnerability(db, ctx, vulnerability_id, fq, cursor=cursor, limit=limit)
    info = d.summary.info
    return VulnerabilityDetailOut.model_validate(
        {
            **vulnerability_fields(d.summary),
            "description": info.description,
            "modified": info.modified,
            "cwes": list(info.cwes),
            "references": list(info.references),
            "affected_images": [affected_out(a) for a in d.affected],
            "next_cursor": d.next_cursor,
        }
    )
