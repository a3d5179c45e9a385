"""/healthz, /readyz and /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])
