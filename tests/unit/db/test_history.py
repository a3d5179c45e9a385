from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from shoal.db.findings import ObservedFinding, sync_findings
from shoal.db.history import (
    DayCount,
    count_open_findings,
    daily_counts,
    record_daily_counts,
    snapshot_daily_counts,
)
from shoal.db.inventory import create_subscription, record_push
from shoal.model.advisory import Rating
from tests.unit.db.factories import DIGEST_A, tree

D0 = date(2026, 11, 1)
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def test_upsert_overwrites_same_day(session: Session) -> None:
    sub, reg, _ = tree(session)
    row = DayCount(D0, sub.id, reg.id, Rating.HIGH, True, 4)
    assert (
        record_daily_counts(session, [row, DayCount(D0, sub.id, reg.id, Rating.HIGH, False, 1)])
        == 2
    )
    record_daily_counts(session, [DayCount(D0, sub.id, reg.id, Rating.HIGH, True, 7)])
    record_daily_counts(
        session, [DayCount(D0 + timedelta(days=1), sub.id, reg.id, Rating.CRITICAL, True, 2)]
    )
    session.commit()
    got = daily_counts(session, sub.id, D0, D0 + timedelta(days=1))
    assert [(c.day, c.severity, c.fixable, c.open_count) for c in got] == [
        (D0, Rating.HIGH, False, 1),
        (D0, Rating.HIGH, True, 7),
        (D0 + timedelta(days=1), Rating.CRITICAL, True, 2),
    ]
    assert daily_counts(session, sub.id, D0, D0, registry_id=reg.id + 1) == []
    assert len(daily_counts(session, sub.id, D0, D0)) == 2


def test_nothing_and_negative(session: Session) -> None:
    sub, reg, _ = tree(session)
    assert record_daily_counts(session, []) == 0
    with pytest.raises(ValueError, match="negative"):
        record_daily_counts(session, [DayCount(D0, sub.id, reg.id, Rating.LOW, True, -1)])


def test_snapshot_counts_open_findings_and_replaces_the_day(session: Session) -> None:
    sub, reg, repo = tree(session)
    assert reg.subscription_id == sub.id
    img = record_push(session, repo.id, DIGEST_A, at=T0)
    obs = [
        ObservedFinding(f"pkg:pypi/p{i}@1", f"p{i}", "1", f"CVE-2024-{i:04d}", sev, fix)
        for i, (sev, fix) in enumerate(
            [(Rating.HIGH, True), (Rating.HIGH, True), (Rating.HIGH, False), (Rating.LOW, True)]
        )
    ]
    sync_findings(session, img, obs, now=T0)
    assert snapshot_daily_counts(session, sub.id, D0) == 3
    got = {(c.severity, c.fixable): c.open_count for c in daily_counts(session, sub.id, D0, D0)}
    assert got == {(Rating.HIGH, True): 2, (Rating.HIGH, False): 1, (Rating.LOW, True): 1}
    # later that day the low one is fixed: its row must go, not linger at 1
    sync_findings(session, img, obs[:3], now=T0 + timedelta(hours=1))
    snapshot_daily_counts(session, sub.id, D0)
    session.commit()
    got = {(c.severity, c.fixable): c.open_count for c in daily_counts(session, sub.id, D0, D0)}
    assert got == {(Rating.HIGH, True): 2, (Rating.HIGH, False): 1}
    other = create_subscription(session, "other")
    assert count_open_findings(session, other.id, D0) == []
