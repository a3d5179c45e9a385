"""History: trends of open findings, the age of open findings, mean time to remediate."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from shoal.api.deps import Ctx, ReadDb
from shoal.api.security import Permission, authorize
from shoal.api.views_common import problems
from shoal.api.views_models import (
    AgeOut,
    AgeRowOut,
    MttrOut,
    MttrRowOut,
    SeverityCounts,
    TrendDayOut,
    TrendsOut,
)
from shoal.service.views import history as h

router = APIRouter(tags=["history"], dependencies=[authorize(Permission.READ)])

Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("/history/trends", response_model=TrendsOut, summary="Daily open findings")
def history_trends(
    ctx: Ctx,
    db: ReadDb,
    days: Annotated[int, Query(description="7, 30 or 90")] = 30,
    subscription_id: Id = None,
    registry_id: Id = None,
) -> TrendsOut:
    with problems():
        series = h.trends(
            db,
            days=days,
            today=ctx.clock.now().date(),
            subscription_id=subscription_id,
            registry_id=registry_id,
        )
    return TrendsOut(
        days=days,
        subscription_id=subscription_id,
        registry_id=registry_id,
        series=[
            TrendDayOut(
                day=d.day,
                total=d.total,
                by_severity=SeverityCounts.of(d.by_severity),
                fixable=d.fixable,
            )
            for d in series
        ],
    )


@router.get("/history/age", response_model=AgeOut, summary="Age of open findings")
def history_age(ctx: Ctx, db: ReadDb, subscription_id: Id = None, registry_id: Id = None) -> AgeOut:
    now = ctx.clock.now()
    with problems():
        rows = h.age(db, now=now, subscription_id=subscription_id, registry_id=registry_id)
    return AgeOut(
        now=now,
        buckets=[label for label, _ in h.AGE_BUCKETS],
        rows=[
            AgeRowOut(
                severity=r.severity,
                total=r.total,
                buckets=r.buckets,
                oldest_first_seen=r.oldest_first_seen,
            )
            for r in rows
        ],
    )


def _mttr_row(r: h.MttrRow, *, overall: bool = False) -> MttrRowOut:
    return MttrRowOut(
        severity=None if overall else r.severity,
        remediated=r.remediated,
        mean_seconds=r.mean_seconds,
        mean_days=r.mean_seconds / 86400 if r.mean_seconds is not None else None,
    )


@router.get("/history/mttr", response_model=MttrOut, summary="Mean time to remediate")
def history_mttr(
    ctx: Ctx,
    db: ReadDb,
    days: Annotated[
        int, Query(ge=1, le=h.MAX_MTTR_DAYS, description="window: fixed in the last N days")
    ] = 90,
    subscription_id: Id = None,
    registry_id: Id = None,
) -> MttrOut:
    now = ctx.clock.now()
    with problems():
        rows = h.mttr(
            db, now=now, window_days=days, subscription_id=subscription_id, registry_id=registry_id
        )
    total = h.overall(rows)
    return MttrOut(
        window_days=days,
        since=now - timedelta(days=days),
        until=now,
        overall=_mttr_row(total, overall=True)
        if total
        else MttrRowOut(severity=None, remediated=0, mean_seconds=None, mean_days=None),
        rows=[_mttr_row(r) for r in rows],
    )
