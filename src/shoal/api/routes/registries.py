"""Registries: CRUD, test connection, receiver URL and secret rotation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["registries"])
