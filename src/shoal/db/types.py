"""Column types and value enums shared by the tables and the repository functions.

Timestamps are stored as UTC and always come back timezone-aware: SQLite keeps no zone,
so a naive value read back from it would otherwise compare wrongly with `datetime.now(UTC)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator

# SQLite gives a table a rowid alias (and so autoincrement) only for INTEGER PRIMARY KEY;
# PostgreSQL gets 64-bit ids for the two tables that grow without bound (events, jobs).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # a naive datetime is ambiguous (local time? UTC?); refusing it keeps history exact
            raise ValueError(f"naive datetime {value.isoformat()!r}: pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RegistryKind(StrEnum):
    """The registry's flavour: decides the webhook dialect and the discovery API."""

    DISTRIBUTION = "distribution"
    HARBOR = "harbor"
    ACR = "acr"
    ECR = "ecr"
    GAR = "gar"
    QUAY = "quay"
    GHCR = "ghcr"
    DOCKER_HUB = "dockerhub"


class FindingState(StrEnum):
    OPEN = "open"
    FIXED = "fixed"  # no longer found in the image (the package was upgraded or removed)
    EXEMPTED = "exempted"  # a person decided it does not apply; kept out of the counts


class EventType(StrEnum):
    IMAGE_SCANNED = "image_scanned"
    FINDING_OPENED = "finding_opened"
    FINDING_RESOLVED = "finding_resolved"
    ASSESSMENT_CHANGED = "assessment_changed"


class JobKind(StrEnum):
    SCAN_IMAGE = "scan_image"
    REMATCH_IMAGE = "rematch_image"
    DISCOVER_REGISTRY = "discover_registry"
    UPDATE_FEEDS = "update_feeds"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
