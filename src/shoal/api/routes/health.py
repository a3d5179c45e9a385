"""/healthz, /readyz and /metrics (Prometheus).

No permission on these: an orchestrator's probes and a Prometheus scraper call them
without credentials, and they reveal no inventory (counts and ages only, never names,
URLs or secrets). They are served at the root, not under /api/v1.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shoal.api.deps import Ctx
from shoal.api.problems import Problem
from shoal.service.metrics import metrics_for, readiness

router = APIRouter(tags=["health"])

_NOT_READY = {
    "description": "Not ready (problem details name the failing checks)",
    "content": {"application/problem+json": {}},
}


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrated, vulnerability DB present",
    responses={503: _NOT_READY},
)
async def readyz(ctx: Ctx) -> dict[str, Any]:
    # the checks block (database, file): off the event loop
    state = await asyncio.to_thread(readiness, ctx)
    checks = {c.name: {"ok": c.ok, "detail": c.detail} for c in state.checks}
    if not state.ready:
        first = state.failing[0]
        raise Problem(
            503,
            "Not ready",
            f"{first.name}: {first.detail}",
            type_="not-ready",
            extra={"checks": checks},
            headers={"Retry-After": "5"},
        )
    return {"status": "ready", "checks": checks}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(ctx: Ctx) -> Response:
    registry = metrics_for(ctx).registry
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
