"""Events: the append-only log, resumed from a cursor (the last id seen)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shoal.api.deps import ReadDb
from shoal.api.pagination import Limit
from shoal.api.security import Permission, authorize
from shoal.api.views_common import problems
from shoal.api.views_models import EventOut, EventPageOut
from shoal.db.types import EventType
from shoal.service.views.events import MAX_CURSOR_ID, list_events

router = APIRouter(tags=["events"], dependencies=[authorize(Permission.READ)])


@router.get("/events", response_model=EventPageOut, summary="Events after a cursor, oldest first")
def events_list(
    db: ReadDb,
    cursor: Annotated[
        int, Query(ge=0, le=MAX_CURSOR_ID, description="the last event id seen; 0 from the start")
    ] = 0,
    limit: Limit = 100,
    type: Annotated[list[EventType] | None, Query(description="repeatable")] = None,
    subscription_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> EventPageOut:
    with problems():
        page = list_events(
            db,
            cursor=cursor,
            limit=limit,
            types=tuple(dict.fromkeys(type or [])),
            subscription_id=subscription_id,
        )
    return EventPageOut(
        items=[
            EventOut(
                id=e.id,
                type=e.type,
                subscription_id=e.subscription_id,
                registry_id=e.registry_id,
                image_id=e.image_id,
                finding_id=e.finding_id,
                payload=e.payload,
                created_at=e.created_at,
            )
            for e in page.items
        ],
        next_cursor=page.next_cursor,
    )
