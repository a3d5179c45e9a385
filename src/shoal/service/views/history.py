"""History the hosted products do not show: trends of open findings over 7/30/90 days,
the age of what is open now, and the mean time to remediate.

- Trends read the stored daily snapshots (`shoal.db.history`); a day, severity or
  fixable combination without a row counted zero open findings.
- Age and MTTR are computed from the findings themselves: age = now - first_seen of
  open findings, in buckets; time to remediate = resolved_at - first_seen of findings
  fixed (no longer found) within the window. A finding that was fixed, reappeared and
  was fixed again counts once, from its first sighting to its last resolution.
  Exempted findings are in neither: nobody remediated them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from shoal.db.dialect import dialect_name
from shoal.db.models import DailyCount, Finding
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.views.errors import InvalidQuery
from shoal.service.views.findings import scope_conditions

TREND_DAYS = (7, 30, 90)
MAX_MTTR_DAYS = 3650
# (label, lower bound in days inclusive); the last bucket is open-ended
AGE_BUCKETS: tuple[tuple[str, int], ...] = (
    ("0-7d", 0),
    ("8-30d", 8),
    ("31-90d", 31),
    ("91-180d", 91),
    ("181-365d", 181),
    ("over-365d", 366),
)
SEVERITIES: tuple[Rating, ...] = tuple(sorted(Rating, key=lambda r: -r.rank))


def _check_scope(subscription_id: int | None, registry_id: int | None) -> None:
    for name, v in (("subscription_id", subscription_id), ("registry_id", registry_id)):
        if v is not None and not 1 <= v <= 2**31 - 1:
            raise InvalidQuery(name, f"{v} is not a valid id")


@dataclass(frozen=True, slots=True)
class TrendDay:
    day: date
    by_severity: dict[Rating, int]
    fixable: int

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


def trends(
    session: Session,
    *,
    days: int,
    today: date,
    subscription_id: int | None = None,
    registry_id: int | None = None,
) -> list[TrendDay]:
    """One entry per day, oldest first, ending `today` (`days` entries)."""
    if days not in TREND_DAYS:
        raise InvalidQuery("days", f"{days} is not one of {', '.join(map(str, TREND_DAYS))}")
    _check_scope(subscription_id, registry_id)
    since = today - timedelta(days=days - 1)
    q = (
        select(
            DailyCount.day, DailyCount.severity, DailyCount.fixable, func.sum(DailyCount.open_count)
        )
        .where(DailyCount.day >= since, DailyCount.day <= today)
        .group_by(DailyCount.day, DailyCount.severity, DailyCount.fixable)
    )
    if subscription_id is not None:
        q = q.where(DailyCount.subscription_id == subscription_id)
    if registry_id is not None:
        q = q.where(DailyCount.registry_id == registry_id)
    out = {
        since + timedelta(days=i): TrendDay(
            since + timedelta(days=i), {r: 0 for r in SEVERITIES}, 0
        )
        for i in range(days)
    }
    for day, sev, fixable, n in session.execute(q):
        entry = out[day]
        entry.by_severity[sev] += int(n)
        if fixable:
            out[day] = TrendDay(day, entry.by_severity, entry.fixable + int(n))
    return [out[d] for d in sorted(out)]


@dataclass(frozen=True, slots=True)
class AgeRow:
    severity: Rating
    buckets: dict[str, int]
    oldest_first_seen: datetime | None

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


def _scope(subscription_id: int | None, registry_id: int | None) -> list[ColumnElement[bool]]:
    _check_scope(subscription_id, registry_id)
    return scope_conditions(subscription_id=subscription_id, registry_id=registry_id)


def age(
    session: Session,
    *,
    now: datetime,
    subscription_id: int | None = None,
    registry_id: int | None = None,
) -> list[AgeRow]:
    """Open findings by severity and age bucket (age in whole days since first seen)."""
    # bucket i holds ages >= lower_i days: first_seen <= now - lower_i days
    whens = [
        (Finding.first_seen <= now - timedelta(days=lo), i)
        for i, (_, lo) in reversed(list(enumerate(AGE_BUCKETS)))
        if lo > 0
    ]
    bucket = case(*whens, else_=0)
    rows = session.execute(
        select(Finding.severity, bucket, func.count(), func.min(Finding.first_seen))
        .where(Finding.state == FindingState.OPEN, *_scope(subscription_id, registry_id))
        .group_by(Finding.severity, bucket)
    )
    counts = {s: {label: 0 for label, _ in AGE_BUCKETS} for s in SEVERITIES}
    oldest: dict[Rating, datetime] = {}
    for sev, b, n, first in rows:
        counts[sev][AGE_BUCKETS[int(b)][0]] += int(n)
        if first is not None and (sev not in oldest or first < oldest[sev]):
            oldest[sev] = first
    return [AgeRow(s, counts[s], oldest.get(s)) for s in SEVERITIES]


@dataclass(frozen=True, slots=True)
class MttrRow:
    severity: Rating
    remediated: int
    mean_seconds: float | None  # None when nothing was remediated in the window


def mttr(
    session: Session,
    *,
    now: datetime,
    window_days: int = 90,
    subscription_id: int | None = None,
    registry_id: int | None = None,
) -> list[MttrRow]:
    """Mean time from first seen to resolved, per severity, over findings resolved in
    the last `window_days` days (up to `now`)."""
    if not 1 <= window_days <= MAX_MTTR_DAYS:
        raise InvalidQuery("days", f"{window_days} is not between 1 and {MAX_MTTR_DAYS}")
    since = now - timedelta(days=window_days)
    if dialect_name(session) == "postgresql":
        seconds: ColumnElement[Any] = func.extract(
            "epoch", Finding.resolved_at - Finding.first_seen
        )
    else:
        # julianday is a float of days: ~10 us of rounding error at these magnitudes;
        # timestamps are stored to the microsecond, so round to the millisecond
        seconds = func.round(
            (func.julianday(Finding.resolved_at) - func.julianday(Finding.first_seen)) * 86400.0,
            3,
        )
    rows = session.execute(
        select(Finding.severity, func.count(), func.avg(seconds))
        .where(
            Finding.state == FindingState.FIXED,
            Finding.resolved_at.is_not(None),
            Finding.resolved_at >= since,
            Finding.resolved_at <= now,
            *_scope(subscription_id, registry_id),
        )
        .group_by(Finding.severity)
    )
    found = {sev: (int(n), float(avg) if avg is not None else None) for sev, n, avg in rows}
    return [MttrRow(s, *found.get(s, (0, None))) for s in SEVERITIES]


def overall(rows: Sequence[MttrRow]) -> MttrRow | None:
    """The overall figure: the remediation-weighted mean over severities."""
    n = sum(r.remediated for r in rows)
    if not n:
        return None
    total = sum((r.mean_seconds or 0.0) * r.remediated for r in rows)
    return MttrRow(Rating.UNKNOWN, n, total / n)
