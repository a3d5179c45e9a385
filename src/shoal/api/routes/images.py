"""Images: digest, platform, tags, OS, last scan (view 1)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["images"])
