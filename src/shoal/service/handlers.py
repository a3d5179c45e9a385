"""The one place job kinds meet their handlers."""

from __future__ import annotations

from shoal.db.types import JobKind
from shoal.service.discovery import handle_discover
from shoal.service.feeds import handle_update_feeds
from shoal.service.queue import Handler
from shoal.service.rematch import handle_rematch
from shoal.service.scanning import handle_scan

HANDLERS: dict[JobKind, Handler] = {
    JobKind.SCAN_IMAGE: handle_scan,
    JobKind.REMATCH_IMAGE: handle_rematch,
    JobKind.DISCOVER_REGISTRY: handle_discover,
    JobKind.UPDATE_FEEDS: handle_update_feeds,
}
