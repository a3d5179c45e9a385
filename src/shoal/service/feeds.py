"""Update the vulnerability feeds, then re-match what the change touches."""

from __future__ import annotations

from typing import Any

from shoal.service.context import ServiceContext


def handle_update_feeds(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    raise NotImplementedError("feeds: being written")
