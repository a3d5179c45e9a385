from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from shoal.db.history import DayCount, daily_counts, record_daily_counts
from shoal.model.advisory import Rating
from tests.unit.db.factories import tree

D0 = date(2026, 11, 1)


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
