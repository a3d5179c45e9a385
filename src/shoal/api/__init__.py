"""The REST API v1 and the webhook receivers (FastAPI). Build it with `create_app(ctx)`."""

from __future__ import annotations

from shoal.api.app import create_app

__all__ = ["create_app"]
