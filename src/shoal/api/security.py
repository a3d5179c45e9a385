"""Where permissions attach: every router declares the permission its routes need.

Authentication and roles (Security Admin, Security Reader) are the next issue's; this
is the single hook they plug into. `authorize(p)` is a FastAPI dependency each router
lists in `dependencies=[...]`; it asks `ctx.authorizer` (see `app.state`), which by
default allows everything on the loopback-only embedded service. Webhook receivers use
their own per-registry secret instead (`routes/webhooks.py`)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from fastapi import Depends, Request


class Permission(StrEnum):
    READ = "read"  # Security Reader: everything under /api/v1 that only reads
    WRITE = "write"  # Security Admin: subscriptions, registries, scans, exemptions


Authorizer = Callable[[Request, Permission], None]  # raises Problem(401/403) to refuse


def allow_all(request: Request, permission: Permission) -> None:
    return None


def authorize(permission: Permission) -> Any:
    def dependency(request: Request) -> None:
        authorizer: Authorizer = getattr(request.app.state, "authorizer", allow_all)
        authorizer(request, permission)

    dependency.__name__ = f"authorize_{permission.value}"
    return Depends(dependency)
