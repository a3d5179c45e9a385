"""Registries: CRUD, the webhook receiver URL and secret, connection test.

The webhook secret is returned once, by the create (and rotate-secret) answer, with
the receiver URL and a ready-to-paste Distribution `notifications` section; afterwards
only its hash is stored and no answer carries it or the credentials (`has_credentials`
says whether there are any). A URL is checked the way the service will use it
(`registry_access.registry_endpoint`): https, or http to loopback or a host listed in
`oci.insecure_registries`; no path, no user info.
"""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shoal.api.deps import Ctx, ReadDb, WriteDb
from shoal.api.models_inventory import (
    MAX_ID,
    ConnectionTestOut,
    CredentialsIn,
    Id,
    RegistryCreate,
    RegistryCreated,
    RegistryOut,
    RegistryPatch,
    SecretRotated,
    WebhookSetup,
    problems,
)
from shoal.api.pagination import CursorParam, Limit, Page, decode_cursor, next_cursor
from shoal.api.problems import Problem, bad_request, conflict, not_found
from shoal.api.security import Permission, authorize
from shoal.db.crypto import CredentialCipher, RegistryCredentials
from shoal.db.findings import rekey_registry_findings
from shoal.db.inventory import (
    create_registry,
    registry_at,
    rotate_webhook_secret,
    set_registry_credentials,
)
from shoal.db.models import Registry, Subscription
from shoal.db.types import RegistryKind
from shoal.oci.reference import registry_of_url
from shoal.service.context import ServiceContext
from shoal.service.registry_access import RegistryAccessError, registry_endpoint, test_connection

read = APIRouter(tags=["registries"], dependencies=[authorize(Permission.READ)])
write = APIRouter(tags=["registries"], dependencies=[authorize(Permission.WRITE)])
router = APIRouter()

_CURSOR = "registries"
WEBHOOK_PATH = "/api/v1/webhooks/{id}"


def public_url(ctx: ServiceContext) -> str:
    """The base URL registries reach this service at."""
    svc = ctx.settings.service
    if svc.public_url:
        return svc.public_url.rstrip("/")
    host = f"[{svc.host}]" if ":" in svc.host else svc.host
    return f"http://{host}:{svc.port}"


def receiver_url(ctx: ServiceContext, registry_id: int) -> str:
    return public_url(ctx) + WEBHOOK_PATH.format(id=registry_id)


def registry_out(ctx: ServiceContext, reg: Registry) -> RegistryOut:
    return RegistryOut(
        id=reg.id,
        subscription_id=reg.subscription_id,
        name=reg.name,
        url=reg.url,
        kind=reg.kind,
        has_credentials=reg.credentials is not None,
        receiver_url=receiver_url(ctx, reg.id),
        created_at=reg.created_at,
    )


def webhook_setup(ctx: ServiceContext, reg: Registry, secret: str) -> WebhookSetup:
    url = receiver_url(ctx, reg.id)
    header = f"Bearer {secret}"
    config = None
    if reg.kind is RegistryKind.DISTRIBUTION:
        endpoint = {
            "name": "shoal",
            "url": url,
            "headers": {"Authorization": [header]},
            "timeout": "5s",
            "threshold": 5,
            "backoff": "10s",
            # layer blobs: shoal only acts on manifests, no need to send them
            "ignoredmediatypes": ["application/octet-stream"],
        }
        config = yaml.safe_dump(
            {"notifications": {"endpoints": [endpoint]}}, sort_keys=False, width=200
        )
    return WebhookSetup(receiver_url=url, authorization_header=header, distribution_config=config)


def get_registry(session: Session, registry_id: int) -> Registry:
    reg = session.get(Registry, registry_id)
    if reg is None:
        raise not_found("registry", registry_id)
    return reg


def _check_url(ctx: ServiceContext, name: str, url: str) -> str:
    url = url.strip().rstrip("/")
    row = Registry(name=name, url=url)
    try:
        registry_endpoint(row, ctx.settings.oci)
    except RegistryAccessError as e:
        # the message starts by naming the row, which has no id yet: keep what follows
        prefix = f"registry {row.id} ({row.name!r}): "
        detail = str(e).removeprefix(prefix)
        raise Problem(422, "Invalid request", f"body.url: {detail}", type_="invalid-request") from e
    return url


def _cipher(ctx: ServiceContext) -> CredentialCipher:
    if ctx.cipher is None:
        raise bad_request(
            "credentials: cannot be stored, the service has no credentials key "
            "(SHOAL_CREDENTIALS_KEY)"
        )
    return ctx.cipher


def _credentials(body: CredentialsIn) -> RegistryCredentials:
    return RegistryCredentials(body.username, body.password.get_secret_value())


def _place_taken(session: Session, url: str, but: int | None = None) -> None:
    other = registry_at(session, url, but=but)
    if other is not None:
        raise conflict(
            f"{registry_of_url(url)} is already registry {other.id} ({other.name[:200]!r}) "
            f"of subscription {other.subscription_id}: a registry is added once"
        )


def _name_taken(session: Session, subscription_id: int, name: str, but: int | None = None) -> None:
    q = select(Registry.id).where(
        Registry.subscription_id == subscription_id, Registry.name == name
    )
    if but is not None:
        q = q.where(Registry.id != but)
    if session.scalar(q) is not None:
        raise conflict(
            f"subscription {subscription_id} already has a registry named {name[:200]!r}"
        )


@read.get("/registries", summary="List registries", response_model=Page[RegistryOut])
def list_registries(
    db: ReadDb,
    ctx: Ctx,
    subscription_id: int | None = Query(None, ge=1, le=MAX_ID, description="only this one's"),
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[RegistryOut]:
    q = select(Registry).order_by(Registry.id).limit(limit + 1)
    if subscription_id is not None:
        q = q.where(Registry.subscription_id == subscription_id)
    after = decode_cursor(_CURSOR, cursor, (int,))
    if after is not None:
        q = q.where(Registry.id > after[0])
    rows = list(db.scalars(q))
    return Page[RegistryOut](
        items=[registry_out(ctx, r) for r in rows[:limit]],
        next_cursor=next_cursor(_CURSOR, rows, limit, lambda r: [r.id]),
    )


@read.get("/registries/{registry_id}", summary="Get a registry", responses=problems(404))
def get(registry_id: Id, db: ReadDb, ctx: Ctx) -> RegistryOut:
    return registry_out(ctx, get_registry(db, registry_id))


@write.post(
    "/registries",
    summary="Add a registry; the answer holds its webhook secret, once",
    status_code=201,
    responses=problems(400, 409, 422),
)
def create(body: RegistryCreate, db: WriteDb, ctx: Ctx) -> RegistryCreated:
    if db.get(Subscription, body.subscription_id) is None:
        raise Problem(
            422,
            "Invalid request",
            f"body.subscription_id: subscription {body.subscription_id} does not exist",
            type_="invalid-request",
        )
    url = _check_url(ctx, body.name, body.url)
    creds = _credentials(body.credentials) if body.credentials else None
    # without credentials the cipher is never used; a throwaway one satisfies the signature
    cipher = _cipher(ctx) if creds else (ctx.cipher or _THROWAWAY)
    _name_taken(db, body.subscription_id, body.name)
    _place_taken(db, url)
    try:
        new = create_registry(
            db,
            body.subscription_id,
            body.name,
            url,
            body.kind,
            cipher=cipher,
            credentials=creds,
            now=ctx.clock.now(),
        )
    except IntegrityError as e:
        raise conflict(
            f"subscription {body.subscription_id} already has a registry named {body.name[:200]!r}"
        ) from e
    out = registry_out(ctx, new.registry)
    return RegistryCreated(
        **out.model_dump(),
        webhook_secret=new.webhook_secret,
        webhook=webhook_setup(ctx, new.registry, new.webhook_secret),
    )


@write.patch(
    "/registries/{registry_id}",
    summary="Change a registry's name, URL or credentials",
    responses=problems(400, 404, 409, 422),
)
def patch(registry_id: Id, body: RegistryPatch, db: WriteDb, ctx: Ctx) -> RegistryOut:
    reg = get_registry(db, registry_id)
    given = body.model_fields_set
    for field in ("name", "url"):
        if field in given and getattr(body, field) is None:
            raise Problem(
                422, "Invalid request", f"body.{field}: may not be null", type_="invalid-request"
            )
    moved = False
    if body.url is not None:
        url = _check_url(ctx, body.name or reg.name, body.url)
        _place_taken(db, url, but=reg.id)
        moved = registry_of_url(url) != registry_of_url(reg.url)
        reg.url = url
    if "credentials" in given:
        if body.credentials is None:
            reg.credentials = None
        else:
            set_registry_credentials(reg, _credentials(body.credentials), cipher=_cipher(ctx))
    if body.name is not None and body.name != reg.name:
        _name_taken(db, reg.subscription_id, body.name, but=reg.id)
        reg.name = body.name
    try:
        db.flush()
    except IntegrityError as e:
        raise conflict(f"the registry name {str(body.name)[:200]!r} is taken") from e
    if moved:  # finding ids name the registry's host: its findings keep theirs under the new one
        rekey_registry_findings(db, reg.id)
    return registry_out(ctx, reg)


@write.delete(
    "/registries/{registry_id}",
    summary="Delete a registry with its repositories, images and findings",
    status_code=204,
    response_class=Response,
    responses=problems(404),
)
def delete(registry_id: Id, db: WriteDb) -> Response:
    db.delete(get_registry(db, registry_id))
    return Response(status_code=204)


@write.post(
    "/registries/{registry_id}/rotate-secret",
    summary="Replace the webhook secret; the old one stops working at once",
    responses=problems(404),
)
def rotate_secret(registry_id: Id, db: WriteDb, ctx: Ctx) -> SecretRotated:
    reg = get_registry(db, registry_id)
    secret = rotate_webhook_secret(reg)
    return SecretRotated(webhook_secret=secret, webhook=webhook_setup(ctx, reg, secret))


@write.post(
    "/registries/{registry_id}/test-connection",
    summary="Check that shoal reaches the registry and its credentials are accepted",
    responses=problems(404),
)
def test_registry_connection(registry_id: Id, ctx: Ctx) -> ConnectionTestOut:
    # no transaction held while the registry is asked (it may take seconds)
    with ctx.read() as s:
        reg = get_registry(s, registry_id)
        s.expunge(reg)
    check = test_connection(ctx, reg)
    return ConnectionTestOut(ok=check.ok, status=check.status, message=check.message)


_THROWAWAY = CredentialCipher(CredentialCipher.generate_key())

router.include_router(read)
router.include_router(write)
