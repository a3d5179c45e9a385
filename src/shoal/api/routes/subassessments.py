"""Sub-assessments shaped like Azure Security Center's container-registry ones."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["subassessments"])
