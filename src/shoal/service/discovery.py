"""Discover a registry's images by polling (registries without webhooks, manual scans of
a repository or a whole registry).

`handle_discover` runs `shoal.triggers.poll.discover` against the registry, with the
stored (decrypted) credentials, and applies what it reports through `ingest`: new and
moved tags become pushes (so their digests are scanned), vanished manifests, tags and
repositories become deletions.

The state a poll compares with is the inventory itself: ``(repository, tag) -> digest``
read from the tags stored for the registry. Webhooks and polls keep the same tags, so a
registry may use both, and there is no second copy to drift. After the events are
applied the tags are set to the poll's `state` (its truth about tags: `dedupe` may
have folded a second tag of a new digest into the first one's scan request).

Push times: a registry does not say when a tag moved. The first poll of a registry (or of
the repository asked for: no tags stored yet) finds images pushed at unknown times, so their `pushed_at` stays NULL;
on later polls a new digest was pushed since the previous poll, and the poll's time is
recorded (off by at most one poll interval), which puts it in the in-use window.

Payload: ``{"registry_id": int, "repository": str (optional), "scan_all": bool
(optional)}``. `scan_all` (manual scans) also queues a scan of every image in scope,
not only the changed ones; scans already done for the current analyser and DB version
are not repeated (their key is the same). With the subscription's plan off the
inventory is still updated but nothing is scanned (see `ingest`).

The registry is reached as scanning reaches it (`registry_access.registry_client`):
stored credentials only, plain http only for loopback or listed insecure hosts.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shoal.db.inventory import tag_image
from shoal.db.jobs import Enqueued
from shoal.db.models import Image, ImageTag, Registry, Repository
from shoal.db.types import JobKind
from shoal.errors import ShoalError
from shoal.service.context import ServiceContext
from shoal.service.ingest import IngestResult, ingest_events
from shoal.service.registry_access import registry_client, registry_endpoint
from shoal.service.scanning import submit_scan
from shoal.triggers.poll import DiscoveryResult, State, discover

log = logging.getLogger("shoal.service.discovery")

MAX_REPOSITORIES = 10_000
MAX_TAGS = 100_000
CHUNK = 500
"""Events applied per write transaction."""


class DiscoveryError(ShoalError):
    """A discovery job whose payload is not one `submit_discovery` writes."""


def submit_discovery(
    session: Session,
    ctx: ServiceContext,
    registry_id: int,
    repository: str | None = None,
    *,
    scan_all: bool = False,
    key: str | None = None,
) -> Enqueued:
    """Queue a discovery of the registry (or one repository of it) in `session`'s
    transaction. Without `key` every call is a new job (a manual request); the
    scheduler passes a key per registry and time slot so a slot polls once."""
    assert ctx.queue is not None, "ServiceContext.queue is not set"
    payload: dict[str, Any] = {"registry_id": registry_id}
    if repository is not None:
        payload["repository"] = repository
    if scan_all:
        payload["scan_all"] = True
    key = key or f"{registry_id}/{repository or '*'}/{uuid.uuid4().hex}"
    return ctx.queue.submit(session, JobKind.DISCOVER_REGISTRY, key, payload)


def known_state(session: Session, registry_id: int) -> State:
    """``(repository, tag) -> digest`` of every tag stored for the registry."""
    rows = session.execute(
        select(Repository.name, ImageTag.tag, Image.digest)
        .join(ImageTag, ImageTag.repository_id == Repository.id)
        .join(Image, Image.id == ImageTag.image_id)
        .where(Repository.registry_id == registry_id)
    ).all()
    return {(name, tag): digest for name, tag, digest in rows}


def handle_discover(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    registry_id = payload.get("registry_id")
    repository = payload.get("repository")
    if isinstance(registry_id, bool) or not isinstance(registry_id, int):
        raise DiscoveryError(f"discovery job: registry_id {repr(registry_id)[:40]} is not an id")
    if repository is not None and not isinstance(repository, str):
        raise DiscoveryError("discovery job: repository is not a string")
    with ctx.read() as s:
        reg = s.get(Registry, registry_id)
        if reg is None:
            log.info("discovery: registry is gone", extra={"registry_id": registry_id})
            return
        known = known_state(s, registry_id)
        s.expunge(reg)
    host = registry_endpoint(reg, ctx.settings.oci).host
    with registry_client(ctx, reg) as client:
        result = discover(
            client,
            known,
            repositories=[repository] if repository is not None else None,
            registry_host=host,
            now=ctx.clock.now,
            max_repositories=MAX_REPOSITORIES,
            max_tags=MAX_TAGS,
        )
    for err in result.errors[:20]:
        log.warning(
            "discovery: %s", err.message, extra={"registry_id": registry_id, "repo": err.repository}
        )
    in_scope = [k for k in known if repository is None or k[0] == repository]
    applied = IngestResult()
    # short transactions (SQLite has one writer); a break half-way is harmless: the
    # next poll compares with what was stored and finds the rest again
    for start in range(0, max(len(result.events), 1), CHUNK):
        with ctx.write() as s:
            reg = s.get(Registry, registry_id)
            if reg is None:
                return
            part = result.events[start : start + CHUNK]
            done = ingest_events(s, ctx, reg, part, pushed_now=bool(in_scope), trigger="poll")
        applied.pushes += done.pushes
        applied.deletions += done.deletions
        applied.new_jobs += done.new_jobs
    with ctx.write() as s:
        reg = s.get(Registry, registry_id)
        if reg is None:
            return
        sync_tags(s, ctx, reg, result.state)
        if payload.get("scan_all") is True and reg.subscription.plan_enabled:
            _scan_all(s, ctx, registry_id, repository)
    log.info(
        "discovery done",
        extra={
            "registry_id": registry_id,
            "pushes": applied.pushes,
            "deletions": applied.deletions,
            "new_scans": applied.new_jobs,
            "errors": len(result.errors),
            "truncated": result.truncated,
        },
    )


def apply_discovery(
    session: Session,
    ctx: ServiceContext,
    registry: Registry,
    result: DiscoveryResult,
    *,
    first: bool,
) -> IngestResult:
    """Apply a poll's events, then make the stored tags the poll's `state`, in one
    transaction (`handle_discover` does the same in several)."""
    applied = ingest_events(
        session, ctx, registry, result.events, pushed_now=not first, trigger="poll"
    )
    sync_tags(session, ctx, registry, result.state)
    return applied


def sync_tags(session: Session, ctx: ServiceContext, registry: Registry, state: State) -> None:
    """Point each tag of `state` at its digest's image where the stored tags differ (a
    tag whose digest has no image row yet is left for the next poll)."""
    current = known_state(session, registry.id)
    for (repo_name, tag), digest in state.items():
        if current.get((repo_name, tag)) == digest:
            continue
        image = session.scalars(
            select(Image)
            .join(Repository, Repository.id == Image.repository_id)
            .where(
                Repository.registry_id == registry.id,
                Repository.name == repo_name,
                Image.digest == digest,
            )
            .order_by(Image.id)
            .limit(1)
        ).one_or_none()
        if image is not None:
            tag_image(session, image, tag, at=ctx.clock.now())


def _scan_all(
    session: Session, ctx: ServiceContext, registry_id: int, repository: str | None
) -> None:
    stmt = (
        select(Image)
        .join(Repository, Repository.id == Image.repository_id)
        .where(Repository.registry_id == registry_id)
        .order_by(Image.id)
    )
    if repository is not None:
        stmt = stmt.where(Repository.name == repository)
    for image in session.scalars(stmt):
        submit_scan(session, ctx, image, "manual")
