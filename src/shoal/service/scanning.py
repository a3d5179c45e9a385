"""Scan one image from its registry: analyse, store the SBOM, match, record."""

from __future__ import annotations

from typing import Any

from shoal.service.context import ServiceContext


def handle_scan(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    raise NotImplementedError("scanning: being written")
