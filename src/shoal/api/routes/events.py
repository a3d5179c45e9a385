"""Events: the append-only log with a cursor."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["events"])
