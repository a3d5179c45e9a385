"""History: daily trends, age of open findings, mean time to remediate."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["history"])
