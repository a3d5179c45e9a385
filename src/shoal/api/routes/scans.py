"""Scans: trigger one for a registry, repository or image; its status."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["scans"])
