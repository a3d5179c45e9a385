"""Re-match stored SBOMs against the current vulnerability data, without the registry."""

from __future__ import annotations

from typing import Any

from shoal.service.context import ServiceContext


def handle_rematch(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    raise NotImplementedError("rematch: being written")
