"""Scan one image from its registry: analyse, store the SBOM, match, record.

`submit_scan` queues a scan of an `Image` row; `handle_scan` runs it:

1. Read the row with its repository and registry (a row deleted meanwhile: logged, done).
2. SBOM reuse: SBOMs are stored per (digest, platform), whatever the repository. When
   the stored SBOMs of this digest were made by the current analyser, and cover every
   platform the digest's rows already name, nothing is pulled: they are matched again.
   Otherwise the image is analysed from the registry (every platform of an index, see
   below) with no database transaction open (it can take minutes).
3. One short write transaction stores the SBOMs (with their lookup keys, which a feed
   update's re-match selects by: `shoal.service.rematch`) and records each platform
   row's assessment (`assess.record_assessment`): SBOMs and findings commit together or
   not at all.

Rows and platforms (the rule that makes a re-scan idempotent):
- A push names a manifest digest; its row starts with platform "" (the placeholder).
  The scan covers the digest in that repository, all platforms: the rows of a
  repository and digest are one image.
- For each analysed platform (the SBOM's platform, "os/arch[/variant]"), in index
  order: the row with that platform is used if it exists; else the placeholder becomes
  it (so the first new platform inherits the pushed row, its id and its tags); else a
  new row is made with the same digest and the group's push/pull times. A single-
  platform manifest therefore ends as one row with its real platform; an index as one
  row per platform, all with the index digest (the SBOMs are keyed by it too:
  `shoal.db.sboms.sbom_key`).
- A placeholder left over (the digest pushed again after its platforms exist: the push
  recorded a new "" row) is merged into the platform rows: its tags move to the first
  of them, its push/pull times carry over, and it is deleted. Pushing or scanning the
  same digest again therefore never adds rows.
- Each platform row records its own manifest's digest (`manifest_digest`: the digest
  itself, or the index's child). Rows of that child digest in the repository, untagged
  (made by the client pushing each platform's manifest before the index, or pulling it
  after the index, before this scan knew), are merged into the platform row and deleted
  (`absorb_platform_pulls`); a later pull of the child is that row's pull.
- A tag names one row (`image_tags` is unique per repository and tag): an index's tags
  stay on its first platform row. The tags of any platform row are those of the rows
  with the same repository and digest (`digest_tags`).
- A row whose last assessment was made by this analyser against this vulnerability DB
  is not assessed again: a second job for a sibling row, or a duplicate, changes
  nothing and appends no events.
- Index entries that are not images (attestations, artifacts, nested indexes) are
  skipped, as `shoal sbom --platform all` does; an index with more than `MAX_PLATFORMS`
  image entries is refused (the scan fails with that message). Two entries with the
  same os/arch/variant (Windows os.version variants) keep the first.

Failures (registry unreachable, credentials refused, manifest unknown, limits, corrupt
blobs) raise `ScanError` with one line naming the image; the queue records it and
retries. A scan that failed for good does not block later ones: `submit_scan` for a
failed job's key retires the failed job (kept, under a renamed key) and queues anew.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from shoal.db.findings import ObservedFinding, from_scan_finding
from shoal.db.inventory import check_image_key
from shoal.db.jobs import Enqueued, scan_key
from shoal.db.models import Image, ImageTag, Job, Registry, Repository
from shoal.db.models import Sbom as SbomRow
from shoal.db.sboms import load_sbom, sbom_key, store_sbom
from shoal.db.types import JobKind, JobState
from shoal.errors import ShoalError
from shoal.image.analyze import Analyzer
from shoal.match.engine import keys_version, lookup_keys
from shoal.model import Sbom
from shoal.oci.manifest import parse_manifest
from shoal.oci.platform import image_manifests
from shoal.oci.registry_source import RegistrySource
from shoal.oci.types import Index
from shoal.scan.report import scan_sbom
from shoal.service.assess import record_assessment
from shoal.service.context import ServiceContext
from shoal.service.registry_access import open_image_source

log = logging.getLogger("shoal.service.scanning")

MAX_PLATFORMS = 32  # image manifests in one index the service analyses
MESSAGE_MAX = 500


class ScanError(ShoalError):
    """A scan that could not be done; one line naming the image and the cause."""


# -- queueing ---------------------------------------------------------------------------


def submit_scan(session: Session, ctx: ServiceContext, image: Image, trigger: str) -> Enqueued:
    """Queue a scan of `image` in `session`'s transaction. Keyed by image row, analyser
    version and DB version: the same push delivered twice is scanned once; a new
    analyser or new data makes a new job. A job with this key that failed for good is
    retired (its row kept under a renamed key, for its error) and a new one queued, so
    pushing the image again or asking for a scan tries again."""
    assert ctx.queue is not None, "ServiceContext.queue is not set"
    key = scan_key(
        f"{image.id}@{image.digest}", ctx.analyser_version, ctx.vulndb.version() or "none"
    )
    payload = {"image_id": image.id, "trigger": trigger}
    queued = ctx.queue.submit(session, JobKind.SCAN_IMAGE, key, payload)
    if queued.created:
        return queued
    full_key = f"{JobKind.SCAN_IMAGE.value}:{key}"
    retired = session.execute(
        update(Job)
        .where(
            Job.id == queued.job_id, Job.state == JobState.FAILED, Job.idempotency_key == full_key
        )
        .values(idempotency_key=f"{full_key}#failed-{queued.job_id}")
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).first()
    if retired is None:  # queued, running or done: that job stands
        return queued
    log.info(
        "retrying a scan that had failed",
        extra={"image_id": image.id, "failed_job_id": queued.job_id, "trigger": trigger},
    )
    return ctx.queue.submit(session, JobKind.SCAN_IMAGE, key, payload)


def digest_tags(session: Session, repository_id: int, digest: str) -> list[str]:
    """The tags of a digest in a repository: what every platform row of it shows."""
    return list(
        session.scalars(
            select(ImageTag.tag)
            .join(Image, Image.id == ImageTag.image_id)
            .where(Image.repository_id == repository_id, Image.digest == digest)
            .order_by(ImageTag.tag)
            .distinct()
        )
    )


# -- the job ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    image_id: int
    repository_id: int
    repository: str
    digest: str
    registry: Registry  # detached; read only
    reference: str  # for messages: "host/repo@digest" as stored


@dataclass(frozen=True, slots=True)
class _Platform:
    """One platform's result, ready to record."""

    platform: str
    sbom: Sbom
    observed: tuple[ObservedFinding, ...]
    keys: frozenset[tuple[str, str]]  # lookup keys, indexed for feed-update selection


def handle_scan(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    image_id = payload.get("image_id")
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ScanError(f"scan job: payload image_id {str(image_id)[:60]!r} is not an image id")
    trigger = str(payload.get("trigger") or "scan")[:50]

    with ctx.read() as s:
        target = _load_target(s, image_id)
        if target is None:
            log.info("image to scan is gone; nothing to do", extra={"image_id": image_id})
            return
        rows = _group(s, target)
        stored = _stored_versions(s, target.digest)

    if _is_platform_of_index(ctx, target):
        return
    vdb = ctx.vulndb.current()
    db_version = vdb.version
    if not _work_left(ctx, rows, db_version):
        log.info(
            "image already assessed with this analyser and data",
            extra={"image_id": image_id, "db_version": db_version},
        )
        return

    current = [p for p, v in stored if v == ctx.analyser_version]
    named = {r.platform for r in rows if r.platform}
    if current and named <= set(current):
        with ctx.read() as s:
            sboms = [_load(s, target, p) for p in current]
        fresh = False
    else:
        sboms = _analyse(ctx, target)
        fresh = True

    results = [
        _Platform(
            sbom_key(sbom)[1],
            sbom,
            tuple(from_scan_finding(f) for f in scan_sbom(sbom, vdb).findings),
            frozenset(lookup_keys(sbom.packages)) if fresh else frozenset(),
        )
        for sbom in sboms
    ]
    with ctx.write() as s:
        if fresh:
            now, kv = ctx.clock.now(), keys_version()
            for r in results:
                store_sbom(
                    s, r.sbom, ctx.analyser_version, now=now, match_keys=r.keys, keys_version=kv
                )
        _record(s, ctx, target, results, db_version=db_version, trigger=trigger)


def _load_target(s: Session, image_id: int) -> _Target | None:
    row = s.execute(
        select(Image, Repository, Registry)
        .join(Repository, Repository.id == Image.repository_id)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(Image.id == image_id)
    ).one_or_none()
    if row is None:
        return None
    image, repo, reg = row
    return _Target(
        image_id=image.id,
        repository_id=repo.id,
        repository=repo.name,
        digest=image.digest,
        registry=reg,
        reference=f"{reg.url.split('://', 1)[-1].rstrip('/')}/{repo.name}@{image.digest}",
    )


def _group(s: Session, target: _Target) -> list[Image]:
    """Every row of the target's repository and digest, oldest first."""
    return list(
        s.scalars(
            select(Image)
            .where(Image.repository_id == target.repository_id, Image.digest == target.digest)
            .order_by(Image.id)
        )
    )


def _stored_versions(s: Session, digest: str) -> list[tuple[str, str]]:
    """(platform, analyser version) of the digest's stored SBOMs, in the order stored
    (index order: one scan stores all of its platforms in one transaction)."""
    rows = s.execute(
        select(SbomRow.platform, SbomRow.analyser_version)
        .where(SbomRow.manifest_digest == digest)
        .order_by(SbomRow.id)
    ).all()
    return [(str(p), str(v)) for p, v in rows]


def _is_current(ctx: ServiceContext, image: Image, db_version: str) -> bool:
    return (
        image.last_scanned_at is not None
        and image.analyser_version == ctx.analyser_version
        and image.db_version == db_version
    )


def _work_left(ctx: ServiceContext, rows: Sequence[Image], db_version: str) -> bool:
    """False when every row is current and no placeholder waits to be merged."""
    placeholder = any(not r.platform for r in rows)
    if placeholder and any(r.platform for r in rows):
        return True
    return not all(_is_current(ctx, r, db_version) for r in rows)


def _load(s: Session, target: _Target, platform: str) -> Sbom:
    sbom = load_sbom(s, target.digest, platform)
    if sbom is None:  # removed between the two reads: the next attempt analyses
        raise ScanError(f"scan of {target.reference}: stored SBOM for {platform!r} vanished")
    return sbom


def _analyse(ctx: ServiceContext, target: _Target) -> list[Sbom]:
    """Every platform's SBOM, from the registry; `ScanError` (one line) on failure."""
    try:
        source = open_image_source(ctx, target.registry, target.repository, target.digest)
    except ShoalError as e:
        raise ScanError(_message(target, e)) from e
    try:
        _check_platform_count(ctx, source)
        sboms = Analyzer(ctx.settings).analyze(source, "all")
    except ShoalError as e:
        raise ScanError(_message(target, e)) from e
    finally:
        source.close()
    seen: set[str] = set()
    out: list[Sbom] = []
    for sbom in sboms:
        digest, platform = sbom_key(sbom)
        if digest != target.digest:  # the registry served another manifest than asked for
            raise ScanError(f"scan of {target.reference}: analysed {digest} instead")
        try:
            check_image_key(digest, platform)
        except ValueError as e:
            raise ScanError(f"scan of {target.reference}: {e}") from e
        if platform in seen:
            log.info(
                "index lists a platform twice; keeping the first",
                extra={"image": target.reference, "platform": platform},
            )
            continue
        seen.add(platform)
        out.append(sbom)
    return out


def _check_platform_count(ctx: ServiceContext, source: RegistrySource) -> None:
    """Refuse an index with more image manifests than `MAX_PLATFORMS` before fetching
    any of them (one extra manifest GET; no blob)."""
    data, media_type, digest = source.client.get_manifest(source.ref.repository, source.ref.ref)
    doc = parse_manifest(
        data,
        digest,
        media_type,
        where=f"{source.reference} manifest",
        max_bytes=ctx.settings.limits.manifest_bytes,
    )
    if isinstance(doc, Index):
        n = len(image_manifests(doc))
        if n > MAX_PLATFORMS:
            raise ScanError(
                f"index lists {n} image manifests, over the service's limit of "
                f"{MAX_PLATFORMS} platforms"
            )


def _message(target: _Target, e: Exception) -> str:
    """One line: the cause, after the image unless the cause already names it."""
    text = " ".join(str(e).split()) or type(e).__name__
    if len(text) > MESSAGE_MAX:
        text = text[: MESSAGE_MAX - 3] + "..."
    if text.startswith(target.reference.split("@", 1)[0]):
        return f"scan of image {target.image_id}: {text}"
    return f"scan of {target.reference}: {text}"


def _record(
    s: Session,
    ctx: ServiceContext,
    target: _Target,
    results: Sequence[_Platform],
    *,
    db_version: str,
    trigger: str,
) -> None:
    """Map the platforms onto rows (the module docstring's rule) and record each row's
    assessment, in the caller's transaction."""
    rows = _group(s, target)
    if not any(r.id == target.image_id for r in rows):
        log.info("image was deleted during its scan", extra={"image_id": target.image_id})
        return
    now = ctx.clock.now()
    pushed = _latest(r.pushed_at for r in rows)
    pulled = _latest(r.last_pulled_at for r in rows)
    by_platform = {r.platform: r for r in rows}
    placeholder = by_platform.get("")
    assigned: list[Image] = []
    for result in results:
        row = by_platform.get(result.platform)
        if row is None and placeholder is not None:
            row, placeholder = placeholder, None
            row.platform = result.platform
            s.flush()
        elif row is None:
            row = Image(
                repository_id=target.repository_id,
                digest=target.digest,
                platform=result.platform,
                pushed_at=pushed,
                last_pulled_at=pulled,
                created_at=now,
            )
            s.add(row)
            s.flush()
        by_platform[result.platform] = row
        assigned.append(row)
    if placeholder is not None and assigned and placeholder not in assigned:
        first = assigned[0]
        s.execute(
            update(ImageTag)
            .where(ImageTag.image_id == placeholder.id)
            .values(image_id=first.id)
            .execution_options(synchronize_session=False)
        )
        s.delete(placeholder)
        s.flush()
    for result, row in zip(results, assigned, strict=True):
        row.pushed_at = pushed
        row.last_pulled_at = pulled
        row.manifest_digest = result.sbom.image.manifest_digest or target.digest
        if row.manifest_digest != row.digest:  # a platform of an index
            absorb_platform_pulls(s, row)
    for result, row in zip(results, assigned, strict=True):
        if _is_current(ctx, row, db_version):
            continue
        record_assessment(s, ctx, row, result.observed, db_version=db_version, trigger=trigger)


def _is_platform_of_index(ctx: ServiceContext, target: _Target) -> bool:
    """Whether the target is the manifest of one platform of an index analysed in the
    same repository, recorded from its push or a pull before that analysis: then it is
    merged into the platform's row (`absorb_platform_pulls`) and not scanned."""
    with ctx.read() as s:
        if not s.scalar(
            select(Image.id).where(_platform_rows(target.repository_id, target.digest)).limit(1)
        ):
            return False
    merged = False
    with ctx.write() as s:
        for parent in s.scalars(
            select(Image).where(_platform_rows(target.repository_id, target.digest))
        ):
            merged = absorb_platform_pulls(s, parent) or merged
    if merged:
        log.info(
            "pulled manifest is a platform of an index: merged into its row",
            extra={"image_id": target.image_id, "digest": target.digest},
        )
    return merged


def _platform_rows(repository_id: int, manifest_digest: str) -> ColumnElement[bool]:
    return and_(
        Image.repository_id == repository_id,
        Image.manifest_digest == manifest_digest,
        Image.digest != manifest_digest,
    )


def absorb_platform_pulls(s: Session, platform_row: Image) -> bool:
    """Remove the rows `platform_row`'s own manifest got before its index was analysed,
    moving their pull time onto `platform_row`: a client pushing an index pushes each
    platform's manifest first (by digest, untagged), and one pulling it fetches the
    platform's manifest after the index; the registry notifies each. A platform manifest
    with a tag of its own is an image of its own and stays. Their findings go with them
    (the platform row has its own). True if any was removed."""
    if not platform_row.manifest_digest or platform_row.manifest_digest == platform_row.digest:
        return False
    rows = list(
        s.scalars(
            select(Image).where(
                Image.repository_id == platform_row.repository_id,
                Image.digest == platform_row.manifest_digest,
            )
        )
    )
    if not rows:
        return False
    if s.scalar(select(ImageTag.id).where(ImageTag.image_id.in_([r.id for r in rows])).limit(1)):
        return False
    pulled = _latest([platform_row.last_pulled_at, *(r.last_pulled_at for r in rows)])
    platform_row.last_pulled_at = pulled
    for r in rows:
        s.delete(r)
    s.flush()
    return True


def _latest(values: Any) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
