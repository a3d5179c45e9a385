"""Daily counts of open findings, for trends over 7/30/90 days.

`snapshot_daily_counts` counts the open findings of a subscription now and stores them
as the day's numbers, replacing what an earlier run that day stored (a count that fell
to zero leaves no row, so old rows must go). `record_daily_counts` is the plain upsert
underneath. Days with no row for a severity mean zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shoal.db.dialect import insert_for
from shoal.db.models import DailyCount, Finding, Image, Registry, Repository
from shoal.db.types import FindingState
from shoal.model.advisory import Rating


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    subscription_id: int
    registry_id: int
    severity: Rating
    fixable: bool
    open_count: int


def record_daily_counts(session: Session, counts: Iterable[DayCount]) -> int:
    """Insert or overwrite the given counts; returns how many were written."""
    counts = list(counts)
    for c in counts:
        if c.open_count < 0:
            raise ValueError(f"open count {c.open_count} for {c.day} is negative")
    rows = [
        {
            "day": c.day,
            "subscription_id": c.subscription_id,
            "registry_id": c.registry_id,
            "severity": c.severity,
            "fixable": c.fixable,
            "open_count": c.open_count,
        }
        for c in counts
    ]
    if not rows:
        return 0
    ins = insert_for(session, DailyCount).values(rows)
    session.execute(
        ins.on_conflict_do_update(
            index_elements=["day", "subscription_id", "registry_id", "severity", "fixable"],
            set_={"open_count": ins.excluded.open_count},
        )
    )
    return len(rows)


def daily_counts(
    session: Session,
    subscription_id: int,
    since: date,
    until: date,
    *,
    registry_id: int | None = None,
) -> list[DayCount]:
    """Stored counts from `since` to `until` inclusive, by day, registry, severity."""
    q = select(DailyCount).where(
        DailyCount.subscription_id == subscription_id,
        DailyCount.day >= since,
        DailyCount.day <= until,
    )
    if registry_id is not None:
        q = q.where(DailyCount.registry_id == registry_id)
    q = q.order_by(DailyCount.day, DailyCount.registry_id, DailyCount.severity, DailyCount.fixable)
    return [
        DayCount(r.day, r.subscription_id, r.registry_id, r.severity, r.fixable, r.open_count)
        for r in session.scalars(q)
    ]


def count_open_findings(session: Session, subscription_id: int, day: date) -> list[DayCount]:
    """Open findings of the subscription now, per registry, severity and fixable."""
    rows = session.execute(
        select(Repository.registry_id, Finding.severity, Finding.fixable, func.count())
        .select_from(Finding)
        .join(Image, Image.id == Finding.image_id)
        .join(Repository, Repository.id == Image.repository_id)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(Registry.subscription_id == subscription_id, Finding.state == FindingState.OPEN)
        .group_by(Repository.registry_id, Finding.severity, Finding.fixable)
    ).all()
    return sorted(
        (DayCount(day, subscription_id, reg, sev, fix, int(n)) for reg, sev, fix, n in rows),
        key=lambda c: (c.registry_id, c.severity.rank, c.fixable),
    )


def snapshot_daily_counts(session: Session, subscription_id: int, day: date) -> int:
    """Store today's open-finding counts of the subscription as `day`'s; returns rows."""
    counts = count_open_findings(session, subscription_id, day)
    session.execute(
        delete(DailyCount).where(
            DailyCount.subscription_id == subscription_id, DailyCount.day == day
        )
    )
    return record_daily_counts(session, counts)
