from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from shoal.db.events import append_event, events_after
from shoal.db.types import EventType

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_cursor_pages_in_append_order(session: Session) -> None:
    ids = [
        append_event(
            session,
            EventType.FINDING_OPENED if i % 3 else EventType.IMAGE_SCANNED,
            subscription_id=1 + i % 2,
            image_id=i,
            finding_id=f"{i:032x}",
            payload={"n": i},
            now=T0,
        )
        for i in range(25)
    ]
    session.commit()
    assert ids == sorted(ids) and len(set(ids)) == 25
    got: list[int] = []
    cursor = 0
    while page := events_after(session, cursor, 7):
        got.extend(e.payload["n"] for e in page)
        cursor = page[-1].id
    assert got == list(range(25))
    assert events_after(session, ids[-1]) == []


def test_filters_by_type_and_subscription(session: Session) -> None:
    for i in range(6):
        append_event(
            session,
            EventType.IMAGE_SCANNED if i % 2 else EventType.FINDING_RESOLVED,
            subscription_id=i % 3,
        )
    session.commit()
    scanned = events_after(session, types=[EventType.IMAGE_SCANNED])
    assert [e.type for e in scanned] == [EventType.IMAGE_SCANNED] * 3
    assert {e.subscription_id for e in events_after(session, subscription_id=2)} == {2}


def test_events_commit_in_cursor_order_across_sessions(sessions: Callable[[], Session]) -> None:
    # a reader between two commits never sees a later event without the earlier one
    with sessions() as a:
        first = append_event(a, EventType.IMAGE_SCANNED)
        a.commit()
    with sessions() as b:
        second = append_event(b, EventType.ASSESSMENT_CHANGED, payload={"to": "unhealthy"})
        b.commit()
    with sessions() as r:
        assert [e.id for e in events_after(r, 0)] == [first, second]
        assert events_after(r, first)[0].payload == {"to": "unhealthy"}


def test_bad_cursor_and_limit(session: Session) -> None:
    with pytest.raises(ValueError, match="negative"):
        events_after(session, -1)
    with pytest.raises(ValueError, match="between 1 and 1000"):
        events_after(session, 0, 5000)


def test_postgres_appenders_queue_so_ids_commit_in_order(
    engine: Engine, sessions: Callable[[], Session]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: ids are handed out in commit order already")
    first = sessions()
    first_id = append_event(first, EventType.IMAGE_SCANNED)  # holds the append lock
    second_id: list[int] = []

    def second() -> None:
        with sessions() as s:
            second_id.append(append_event(s, EventType.FINDING_OPENED))
            s.commit()

    t = threading.Thread(target=second)
    t.start()
    with engine.connect() as watch:  # wait until the second appender is blocked on the lock
        for _ in range(2000):
            waiting = watch.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar()
            if waiting:
                break
            watch.rollback()
            threading.Event().wait(0.005)
        assert waiting == 1
    with sessions() as r:
        assert events_after(r, 0) == []  # neither is visible: no gap can be skipped
    first.commit()
    first.close()
    t.join()
    with sessions() as r:
        assert [e.id for e in events_after(r, 0)] == [first_id, second_id[0]]
        assert first_id < second_id[0]
