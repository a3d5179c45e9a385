"""Findings: filters, sort, cursor pagination, exemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from shoal.api.deps import Ctx, ReadDb, WriteDb
from shoal.api.pagination import CursorParam, Limit, Page
from shoal.api.security import Permission, authorize
from shoal.api.views_common import finding_out, problems
from shoal.api.views_models import ExemptionIn, ExemptionLift, FindingOut
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.views.findings import (
    FindingQuery,
    FindingSort,
    get_finding,
    list_findings,
    set_exemption,
)

reads = APIRouter(dependencies=[authorize(Permission.READ)])
writes = APIRouter(dependencies=[authorize(Permission.WRITE)])

Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@reads.get("/findings", response_model=Page[FindingOut], summary="List findings")
def findings_list(
    db: ReadDb,
    severity: Annotated[
        list[Rating] | None,
        Query(description="repeat for several: severity=critical&severity=high"),
    ] = None,
    fixable: bool | None = None,
    package: Annotated[
        str | None,
        Query(min_length=1, max_length=2048, description="a package name, or a purl (pkg:...)"),
    ] = None,
    vulnerability_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    subscription_id: Id = None,
    registry_id: Id = None,
    repository_id: Id = None,
    image_id: Id = None,
    state: Annotated[
        list[FindingState] | None, Query(description="open (default), fixed, exempted; repeatable")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="first seen at or after (RFC 3339 with zone)")
    ] = None,
    sort: FindingSort = FindingSort.FIRST_SEEN,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> Page[FindingOut]:
    q = FindingQuery(
        states=tuple(dict.fromkeys(state or [FindingState.OPEN])),
        severities=tuple(dict.fromkeys(severity or [])),
        fixable=fixable,
        package=package,
        vulnerability_id=vulnerability_id,
        subscription_id=subscription_id,
        registry_id=registry_id,
        repository_id=repository_id,
        image_id=image_id,
        since=since,
        sort=sort,
    )
    with problems():
        page = list_findings(db, q, cursor=cursor, limit=limit)
    return Page[FindingOut](
        items=[finding_out(r) for r in page.items], next_cursor=page.next_cursor
    )


@reads.get("/findings/{finding_id}", response_model=FindingOut, summary="One finding")
def finding_get(db: ReadDb, finding_id: str) -> FindingOut:
    with problems():
        return finding_out(get_finding(db, finding_id))


@writes.post(
    "/findings/{finding_id}/exemption",
    response_model=FindingOut,
    summary="Exempt an open finding (it leaves the counts and the health rule)",
)
def finding_exempt(ctx: Ctx, db: WriteDb, finding_id: str, body: ExemptionIn) -> FindingOut:
    with problems():
        row = set_exemption(db, finding_id, exempted=True, reason=body.reason, now=ctx.clock.now())
    return finding_out(row)


@writes.delete(
    "/findings/{finding_id}/exemption",
    response_model=FindingOut,
    summary="Lift an exemption: the finding is open again",
)
def finding_unexempt(
    ctx: Ctx, db: WriteDb, finding_id: str, body: ExemptionLift | None = None
) -> FindingOut:
    with problems():
        row = set_exemption(
            db, finding_id, exempted=False, reason=body.reason if body else "", now=ctx.clock.now()
        )
    return finding_out(row)


router = APIRouter(tags=["findings"])
router.include_router(reads)
router.include_router(writes)
