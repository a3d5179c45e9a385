"""The one place job kinds meet their handlers."""

from __future__ import annotations

from shoal.db.types import JobKind
from shoal.service.queue import Handler

HANDLERS: dict[JobKind, Handler] = {}
