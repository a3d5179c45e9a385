"""Webhook receivers: one URL and secret per registry, ``POST /api/v1/webhooks/{id}``.

No `authorize()` here: registries cannot log in, they present the per-registry secret
(in ``Authorization``, bare or as a bearer token) that was shown when the registry was
added. The dialect (distribution, harbor, acr) follows the registry's `kind`.

Order of checks, cheapest and least revealing first:
1. the secret header is present (401 otherwise);
2. the registry exists, has a webhook dialect, and the secret matches its stored hash.
   An unknown id, a registry kind without webhooks and a wrong secret get the same 401,
   so the receiver does not tell a caller without the secret which ids exist; the log
   line says which it was;
3. the body is at most `service.webhook_max_bytes` (413; read in chunks, so an
   oversized body is never held whole);
4. the body parses in the dialect (400, one line naming the field);
5. the events are applied (`service.ingest`) and their scan jobs queued in one
   transaction, committed before the 2xx answer: a crash after the answer loses
   nothing, a crash before it makes the registry retry. A repeated delivery queues no
   second scan (the job key is per digest).

Every rejection is logged (registry id, client address, status, reason); never a
secret, never the body.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from shoal.api.deps import Ctx
from shoal.api.models_inventory import Id, WebhookAccepted, problems
from shoal.api.problems import Problem, bad_request
from shoal.db.inventory import check_webhook_secret
from shoal.db.models import Registry
from shoal.errors import ConfigError
from shoal.service.context import ServiceContext
from shoal.service.ingest import IngestError, IngestResult, ingest_events
from shoal.triggers import TriggerAuthError, TriggerEvent, TriggerFormatError, get_trigger
from shoal.triggers._auth import presented_secrets

log = logging.getLogger("shoal.api.webhooks")

router = APIRouter(tags=["webhooks"])

_UNAUTHORIZED = "webhook: unknown receiver or wrong secret"


def _reject(request: Request, registry_id: int, status: int, reason: str, detail: str) -> Problem:
    log.warning(
        "webhook rejected",
        extra={
            "registry_id": registry_id,
            "client": request.client.host if request.client else None,
            "status": status,
            "reason": reason[:300],
        },
    )
    if status == 401:
        return Problem(
            401,
            "Unauthorized",
            detail,
            type_="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="shoal-webhook"'},
        )
    if status == 413:
        return Problem(413, "Content too large", detail, type_="too-large")
    return bad_request(detail)


def _lookup(ctx: ServiceContext, registry_id: int) -> Registry | None:
    with ctx.read() as s:
        reg = s.get(Registry, registry_id)
        if reg is not None:
            s.expunge(reg)
        return reg


def _apply(ctx: ServiceContext, registry_id: int, events: list[TriggerEvent]) -> IngestResult:
    with ctx.write() as s:  # committed when this block ends, before the answer
        reg = s.get(Registry, registry_id)
        if reg is None:  # deleted between the check and now
            raise IngestError(f"registry {registry_id} was deleted")
        return ingest_events(s, ctx, reg, events)


async def _read_body(request: Request, registry_id: int, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 20:
            raise _reject(
                request, registry_id, 400, "bad content-length", "Content-Length: not a number"
            )
        if int(declared) > limit:
            raise _reject(
                request,
                registry_id,
                413,
                f"declared {declared} bytes",
                f"webhook body: {declared} bytes, more than the {limit} accepted",
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _reject(
                request,
                registry_id,
                413,
                f"more than {limit} bytes sent",
                f"webhook body: more than the {limit} bytes accepted",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/webhooks/{registry_id}",
    summary="Receive a registry's webhook (Distribution notifications, Harbor, ACR)",
    responses=problems(400, 401, 413, 422),
)
async def receive(registry_id: Id, request: Request, ctx: Ctx) -> WebhookAccepted:
    headers = request.headers
    try:
        candidates = presented_secrets(headers, who="registry")
    except TriggerAuthError as e:
        raise _reject(request, registry_id, 401, str(e), str(e)) from e

    reg = await run_in_threadpool(_lookup, ctx, registry_id)
    if reg is None:
        raise _reject(request, registry_id, 401, "unknown registry", _UNAUTHORIZED)
    try:
        trigger = get_trigger(reg.kind.value)
    except ConfigError as e:
        raise _reject(
            request,
            registry_id,
            401,
            f"{reg.kind.value} registries send no webhooks",
            _UNAUTHORIZED,
        ) from e
    try:
        # the dialect's own header (ACR may be configured with another one)
        candidates = trigger.presented_secrets(headers)
    except TriggerAuthError as e:
        raise _reject(request, registry_id, 401, str(e), _UNAUTHORIZED) from e
    ok = False
    for candidate in candidates:  # every one checked: the time says nothing
        ok |= check_webhook_secret(reg, candidate)
    if not ok:
        raise _reject(request, registry_id, 401, "wrong secret", _UNAUTHORIZED)

    body = await _read_body(request, registry_id, ctx.settings.service.webhook_max_bytes)
    try:
        events = trigger.parse(headers, body)
    except TriggerFormatError as e:
        raise _reject(request, registry_id, 400, str(e), str(e)) from e
    try:
        result = await run_in_threadpool(_apply, ctx, registry_id, events)
    except IngestError as e:
        raise _reject(request, registry_id, 400, str(e), f"webhook: {e}") from e
    log.info(
        "webhook accepted",
        extra={
            "registry_id": registry_id,
            "events": len(events),
            "scans_queued": result.new_jobs,
        },
    )
    return WebhookAccepted(
        events=len(events),
        pushes=result.pushes,
        pulls=result.pulls,
        deletions=result.deletions,
        scans_queued=result.new_jobs,
    )
