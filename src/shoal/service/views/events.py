"""The event log a page at a time: `next_cursor` is the last id returned, or the cursor
given when nothing new arrived, so a client can keep polling with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shoal.db.events import events_after
from shoal.db.models import Event
from shoal.db.types import EventType
from shoal.service.views import cursor as cur
from shoal.service.views.errors import InvalidQuery

MAX_CURSOR_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class EventPage:
    items: Sequence[Event]
    next_cursor: int


def list_events(
    session: Session,
    *,
    cursor: int = 0,
    limit: int = 100,
    types: Sequence[EventType] = (),
    subscription_id: int | None = None,
) -> EventPage:
    if not 0 <= cursor <= MAX_CURSOR_ID:
        raise InvalidQuery("cursor", f"{cursor} is not an event id (0 for the beginning)")
    cur.check_limit(limit)
    if subscription_id is not None and not 1 <= subscription_id <= 2**31 - 1:
        raise InvalidQuery("subscription_id", f"{subscription_id} is not a valid id")
    items = events_after(
        session, cursor, limit, types=tuple(types), subscription_id=subscription_id
    )
    return EventPage(items, items[-1].id if items else cursor)
