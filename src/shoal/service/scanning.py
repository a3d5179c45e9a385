"""Scan one image from its registry: analyse, store the SBOM, match, record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shoal.db.jobs import Enqueued, scan_key
from shoal.db.models import Image
from shoal.db.types import JobKind
from shoal.service.context import ServiceContext


def submit_scan(session: Session, ctx: ServiceContext, image: Image, trigger: str) -> Enqueued:
    """Queue a scan of `image` in `session`'s transaction. Keyed by image row, analyser
    version and DB version: the same push delivered twice is scanned once; a new
    analyser or new data makes a new job."""
    assert ctx.queue is not None, "ServiceContext.queue is not set"
    key = scan_key(
        f"{image.id}@{image.digest}", ctx.analyser_version, ctx.vulndb.version() or "none"
    )
    return ctx.queue.submit(
        session, JobKind.SCAN_IMAGE, key, {"image_id": image.id, "trigger": trigger}
    )


def handle_scan(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    raise NotImplementedError("scanning: being written")
