"""Findings: filters, sort, cursor pagination, exemptions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["findings"])
