"""Subscriptions: the scope with the plan switch and settings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["subscriptions"])
