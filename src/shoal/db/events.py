"""The append-only event log; clients resume from the last id they saw.

A cursor is only safe if ids become visible in order. PostgreSQL hands out sequence
values at insert time but makes rows visible at commit, so a reader could see event 11
before event 10 commits and skip 10 for ever. `append_event` therefore takes a
transaction-scoped advisory lock on PostgreSQL: appenders queue until the previous one
commits. Callers append events last in their transaction to keep that wait short.
SQLite has a single writer, so its ids are already in commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from shoal.db.dialect import dialect_name
from shoal.db.models import Event
from shoal.db.types import EventType

MAX_PAGE = 1000
_PG_EVENT_LOCK = 0x5E0A1_E7


def append_event(
    session: Session,
    type: EventType,
    *,
    subscription_id: int | None = None,
    registry_id: int | None = None,
    image_id: int | None = None,
    finding_id: str | None = None,
    payload: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> int:
    """Append one event; returns its id (the cursor value just after it)."""
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENT_LOCK})
    ev = Event(
        type=type,
        subscription_id=subscription_id,
        registry_id=registry_id,
        image_id=image_id,
        finding_id=finding_id,
        payload=payload or {},
        created_at=now or datetime.now(UTC),
    )
    session.add(ev)
    session.flush()
    return ev.id


def append_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Append many events in one statement (in the order given), under the same lock as
    `append_event`. Each dict has `type`, `payload`, `created_at` and optionally the
    subject ids (`subscription_id`, `registry_id`, `image_id`, `finding_id`)."""
    if not events:
        return
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENT_LOCK})
    rows = [
        {
            "type": e["type"],
            "subscription_id": e.get("subscription_id"),
            "registry_id": e.get("registry_id"),
            "image_id": e.get("image_id"),
            "finding_id": e.get("finding_id"),
            "payload": e.get("payload") or {},
            "created_at": e["created_at"],
        }
        for e in events
    ]
    # render_nulls: every row has the same columns, so the rows go as one batch; without
    # it the ORM leaves out NULL columns and splits the batch wherever a row's NULLs differ
    # (finding events have a finding id, image events none: one statement per few rows)
    session.execute(insert(Event).execution_options(render_nulls=True), rows)


def events_after(
    session: Session,
    cursor: int = 0,
    limit: int = 100,
    *,
    types: Sequence[EventType] = (),
    subscription_id: int | None = None,
) -> list[Event]:
    """Events with id > cursor, oldest first; the last one's id is the next cursor."""
    if cursor < 0:
        raise ValueError(f"event cursor {cursor} is negative")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"page limit {limit} is not between 1 and {MAX_PAGE}")
    q = select(Event).where(Event.id > cursor)
    if types:
        q = q.where(Event.type.in_(types))
    if subscription_id is not None:
        q = q.where(Event.subscription_id == subscription_id)
    return list(session.scalars(q.order_by(Event.id).limit(limit)))
