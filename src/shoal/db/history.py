"""Daily counts of open findings, for trends over 7/30/90 days.

`record_daily_counts` is an upsert: the daily job may run several times a day (or be
retried) and the last run's numbers win. Days with no row for a severity mean zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from shoal.db.dialect import insert_for
from shoal.db.models import DailyCount
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
