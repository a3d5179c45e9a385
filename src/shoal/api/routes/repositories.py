"""Repositories of a registry (view 1)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["repositories"])
