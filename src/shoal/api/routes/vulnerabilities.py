"""Vulnerabilities (view 2): each vulnerability and what it affects."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["vulnerabilities"])
