"""Discover a registry's images by polling (registries without webhooks)."""

from __future__ import annotations

from typing import Any

from shoal.service.context import ServiceContext


def handle_discover(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    raise NotImplementedError("discovery: being written")
