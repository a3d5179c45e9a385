"""Subscriptions: the scope with the plan switch and settings.

Reads need `Permission.READ`, changes `Permission.WRITE` (two routers, one dependency
each: the one place a permission attaches). Deleting a subscription deletes its
registries and everything under them. With the plan switched off, images are still
inventoried but not scanned; switching it on queues a scan of every image of the
subscription not assessed yet."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shoal.api.deps import Ctx, ReadDb, WriteDb
from shoal.api.models_inventory import (
    Id,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionPatch,
    SubscriptionSettingsModel,
    problems,
)
from shoal.api.pagination import CursorParam, Limit, Page, decode_cursor, next_cursor
from shoal.api.problems import Problem, conflict, not_found
from shoal.api.security import Permission, authorize
from shoal.db.inventory import SubscriptionSettings, create_subscription
from shoal.db.models import Registry, Subscription
from shoal.service.ingest import queue_unassessed

read = APIRouter(tags=["subscriptions"], dependencies=[authorize(Permission.READ)])
write = APIRouter(tags=["subscriptions"], dependencies=[authorize(Permission.WRITE)])
router = APIRouter()

_CURSOR = "subscriptions"


def subscription_out(session: Session, sub: Subscription) -> SubscriptionOut:
    n = session.scalar(
        select(func.count()).select_from(Registry).where(Registry.subscription_id == sub.id)
    )
    try:
        settings = SubscriptionSettings.from_json(sub.settings)
    except ValueError:  # edited into nonsense by hand: show the defaults' shape, not a 500
        settings = SubscriptionSettings()
    return SubscriptionOut(
        id=sub.id,
        name=sub.name,
        plan_enabled=sub.plan_enabled,
        settings=SubscriptionSettingsModel(**settings.to_json()),
        created_at=sub.created_at,
        registries=int(n or 0),
    )


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise not_found("subscription", subscription_id)
    return sub


def _settings(doc: dict[str, object] | None) -> SubscriptionSettings:
    if doc is None:
        return SubscriptionSettings()
    try:
        return SubscriptionSettings.from_json(doc)
    except ValueError as e:
        raise Problem(422, "Invalid request", str(e), type_="invalid-request") from e


def _name_taken(session: Session, name: str, but: int | None = None) -> None:
    q = select(Subscription.id).where(Subscription.name == name)
    if but is not None:
        q = q.where(Subscription.id != but)
    if session.scalar(q) is not None:
        raise conflict(f"a subscription named {name[:200]!r} already exists")


@read.get("/subscriptions", summary="List subscriptions", response_model=Page[SubscriptionOut])
def list_subscriptions(
    db: ReadDb, limit: Limit = 100, cursor: CursorParam = None
) -> Page[SubscriptionOut]:
    q = select(Subscription).order_by(Subscription.id).limit(limit + 1)
    after = decode_cursor(_CURSOR, cursor, (int,))
    if after is not None:
        q = q.where(Subscription.id > after[0])
    rows = list(db.scalars(q))
    return Page[SubscriptionOut](
        items=[subscription_out(db, s) for s in rows[:limit]],
        next_cursor=next_cursor(_CURSOR, rows, limit, lambda s: [s.id]),
    )


@read.get(
    "/subscriptions/{subscription_id}",
    summary="Get a subscription",
    responses=problems(404),
)
def get(subscription_id: Id, db: ReadDb) -> SubscriptionOut:
    return subscription_out(db, get_subscription(db, subscription_id))


@write.post(
    "/subscriptions",
    summary="Create a subscription",
    status_code=201,
    responses=problems(409, 422),
)
def create(body: SubscriptionCreate, db: WriteDb, ctx: Ctx) -> SubscriptionOut:
    settings = _settings(body.settings)
    _name_taken(db, body.name)
    try:
        sub = create_subscription(
            db, body.name, plan_enabled=body.plan_enabled, settings=settings, now=ctx.clock.now()
        )
    except IntegrityError as e:  # a concurrent create of the same name
        raise conflict(f"a subscription named {body.name[:200]!r} already exists") from e
    return subscription_out(db, sub)


@write.patch(
    "/subscriptions/{subscription_id}",
    summary="Change a subscription's name, plan switch or settings",
    responses=problems(404, 409, 422),
)
def patch(subscription_id: Id, body: SubscriptionPatch, db: WriteDb, ctx: Ctx) -> SubscriptionOut:
    sub = get_subscription(db, subscription_id)
    given = body.model_fields_set
    for field in ("name", "plan_enabled"):
        if field in given and getattr(body, field) is None:
            raise Problem(
                422, "Invalid request", f"body.{field}: may not be null", type_="invalid-request"
            )
    if "settings" in given:
        sub.settings = _settings(body.settings).to_json()
    if body.plan_enabled is not None:
        switched_on = body.plan_enabled and not sub.plan_enabled
        sub.plan_enabled = body.plan_enabled
        if switched_on:  # what arrived while it was off is assessed now
            queue_unassessed(db, ctx, sub.id)
    if body.name is not None and body.name != sub.name:
        _name_taken(db, body.name, but=sub.id)
        sub.name = body.name
    try:
        db.flush()
    except IntegrityError as e:
        raise conflict(f"a subscription named {str(body.name)[:200]!r} already exists") from e
    return subscription_out(db, sub)


@write.delete(
    "/subscriptions/{subscription_id}",
    summary="Delete a subscription with its registries, images and findings",
    status_code=204,
    response_class=Response,
    responses=problems(404),
)
def delete(subscription_id: Id, db: WriteDb) -> Response:
    db.delete(get_subscription(db, subscription_id))
    return Response(status_code=204)


router.include_router(read)
router.include_router(write)
