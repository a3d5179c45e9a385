"""Webhook receivers: one URL and secret per registry."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
