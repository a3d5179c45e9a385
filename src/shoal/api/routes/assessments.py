"""Assessments: the recommendation, healthy / unhealthy / not applicable."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["assessments"])
