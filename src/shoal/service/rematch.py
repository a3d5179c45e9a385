"""Re-match stored SBOMs against the current vulnerability data, without the registry.

Two things queue re-matches (`JobKind.REMATCH_IMAGE`, a batch of image ids per job):

- a feed update (`submit_rematch_for_keys`): the in-use images whose stored SBOM has a
  package looked up by one of the (ecosystem, name) keys the update changed, found
  through `sbom_keys` without decoding a single SBOM, plus those holding a finding of a
  CVE whose enrichment (NVD severity) changed;
- the daily re-assessment (`enqueue_due`): every in-use image whose last assessment is
  older than `service.reassess_hours`.

"In use" is `shoal.db.inventory.images_in_use`'s rule: pulled or pushed within the
subscription's `in_use_window_days` of now; subscriptions with the plan off are left out.

The handler reads each SBOM's match rows (`sboms.match_rows`: what matching reads of each
package, a fraction of the full SBOM), matches them with a `MemoMatcher` (each distinct
package once per DB version and worker thread) and records the results of a batch of
images in one transaction with a few statements (`_write_chunk`): the same rows, image
stamps and events `assess.record_assessment` writes for each image (`finding_opened` /
`finding_resolved` per change, `image_scanned`, `assessment_changed` when the health
flips), without one UPDATE per finding; a test holds the two to the same result. An
image whose SBOM is missing (never analysed) is skipped; one whose SBOM another analyser
version made is re-matched and a scan queued too, which brings a fresh SBOM.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, case, cast, insert, null, or_, select, update
from sqlalchemy.orm import Session

from shoal.db.dialect import dialect_name
from shoal.db.events import append_events
from shoal.db.findings import ObservedFinding, from_scan_finding, last_seen_of_image
from shoal.db.inventory import subscription_settings
from shoal.db.models import Finding, Image, Registry, Repository, SbomKey, Subscription
from shoal.db.models import Sbom as SbomRow
from shoal.db.sboms import (
    ENCODING,
    decode_match_identities,
    decode_sbom,
    index_sbom_keys,
    match_key_hash,
    package_from_identity,
    package_identity,
)
from shoal.db.types import EventType, FindingState, JobKind
from shoal.match.engine import keys_version, lookup_keys
from shoal.model.advisory import Rating
from shoal.model.finding import ImageLocation, image_finding_id
from shoal.model.sbom import Sbom
from shoal.oci.reference import registry_of_url
from shoal.scan.memo import MemoMatcher
from shoal.service.assess import Health, ImageScope, is_unhealthy
from shoal.service.context import ServiceContext
from shoal.service.scanning import submit_scan
from shoal.vulndb.store import VulnDB

log = logging.getLogger("shoal.service.rematch")

BATCH = 250  # images per job: ids bucketed by id // BATCH, so a batch's key is stable
MAX_BATCH_IDS = 5000  # bound on a payload's image ids
WRITE_CHUNK = 100  # images per write transaction (SQLite: how long the writer lock is held)
_IN_CHUNK = 1000  # values per IN (...)
TRIGGERS = ("rematch", "reassess")

# a stored finding as the unchanged check compares it: state, severity, fixable,
# fixed versions, layer
_StoredRow = tuple[FindingState, Rating, bool, list[str], str | None]


# --- what to re-match -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _InUse:
    image_id: int
    sbom_id: int
    keys_version: int | None
    last_scanned_at: datetime | None


def _in_use_with_sbom(session: Session, now: datetime) -> list[_InUse]:
    """Every in-use image (per subscription window, plan on) that has a stored SBOM."""
    out: list[_InUse] = []
    subs = session.scalars(
        select(Subscription).where(Subscription.plan_enabled.is_(True)).order_by(Subscription.id)
    )
    for sub in subs:
        since = now - timedelta(days=subscription_settings(sub).in_use_window_days)
        rows = session.execute(
            select(Image.id, SbomRow.id, SbomRow.keys_version, Image.last_scanned_at)
            .join(Repository, Repository.id == Image.repository_id)
            .join(Registry, Registry.id == Repository.registry_id)
            .join(
                SbomRow,
                (SbomRow.manifest_digest == Image.digest) & (SbomRow.platform == Image.platform),
            )
            .where(
                Registry.subscription_id == sub.id,
                or_(Image.last_pulled_at >= since, Image.pushed_at >= since),
            )
        )
        out += [_InUse(int(a), int(b), c, d) for a, b, c, d in rows]
    return out


def match_keys(sbom: Sbom) -> set[tuple[str, str]]:
    """The (ecosystem, name) keys the matchers look `sbom`'s packages up by: what to
    pass to `store_sbom(..., match_keys=match_keys(sbom), keys_version=keys_version())`."""
    return lookup_keys(sbom.packages)


def images_for_changes(
    session: Session,
    now: datetime,
    changed_keys: Collection[tuple[str, str]],
    changed_cves: Collection[str] = (),
) -> list[int]:
    """In-use images a feed update may have changed the findings of, sorted: those whose
    SBOM has a package looked up by a changed key (an SBOM not indexed with the current
    key derivation counts as having every key), and those with a finding (open or
    exempted) of a CVE whose enrichment changed."""
    if not changed_keys and not changed_cves:
        return []
    in_use = _in_use_with_sbom(session, now)
    if not in_use:
        return []
    touched_sboms: set[int] = set()
    hashes = sorted({match_key_hash(e, n) for e, n in changed_keys})
    for i in range(0, len(hashes), _IN_CHUNK):
        touched_sboms.update(
            session.scalars(
                select(SbomKey.sbom_id)
                .where(SbomKey.key_hash.in_(hashes[i : i + _IN_CHUNK]))
                .distinct()
            )
        )
    kv = keys_version()
    chosen = {
        u.image_id
        for u in in_use
        if u.sbom_id in touched_sboms or (changed_keys and u.keys_version != kv)
    }
    cves = sorted(set(changed_cves))
    ids_in_use = {u.image_id for u in in_use}
    for i in range(0, len(cves), _IN_CHUNK):
        for image_id in session.scalars(
            select(Finding.image_id)
            .where(
                Finding.vulnerability_id.in_(cves[i : i + _IN_CHUNK]),
                Finding.state != FindingState.FIXED,
            )
            .distinct()
        ):
            if image_id in ids_in_use:
                chosen.add(int(image_id))
    return sorted(chosen)


def _batches(ids: Iterable[int]) -> list[list[int]]:
    out: dict[int, list[int]] = {}
    for i in sorted(set(ids)):
        out.setdefault(i // BATCH, []).append(i)
    return list(out.values())


def _ids_digest(ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:20]


def submit_rematch_for_keys(
    session: Session,
    ctx: ServiceContext,
    changed_keys: Collection[tuple[str, str]],
    *,
    changed_cves: Collection[str] = (),
    reason: str = "feed update",
) -> int:
    """Queue re-matches (in `session`'s transaction) of the in-use images a feed update
    touched (`images_for_changes`); returns how many images newly queued jobs cover.
    Keyed by DB version and batch: the same update submitted twice queues nothing more."""
    assert ctx.queue is not None, "ServiceContext.queue is not set"
    ids = images_for_changes(session, ctx.clock.now(), changed_keys, changed_cves)
    version = ctx.vulndb.version() or "none"
    queued = 0
    for batch in _batches(ids):
        key = f"keys|{version}|{_ids_digest(batch)}"
        payload = {
            "image_ids": batch,
            "trigger": "rematch",
            "db_version": version,
            "reason": reason[:200],
        }
        if ctx.queue.submit(session, JobKind.REMATCH_IMAGE, key, payload).created:
            queued += len(batch)
    return queued


def due_images(session: Session, now: datetime, reassess_hours: float) -> list[int]:
    """In-use images with a stored SBOM whose last assessment is older than
    `reassess_hours` (or that have none), sorted."""
    cutoff = now - timedelta(hours=reassess_hours)
    return sorted(
        u.image_id
        for u in _in_use_with_sbom(session, now)
        if u.last_scanned_at is None or u.last_scanned_at < cutoff
    )


def enqueue_due(ctx: ServiceContext) -> int:
    """The daily re-assessment: queue re-matches of every in-use image not assessed for
    `service.reassess_hours`; returns how many images newly queued jobs cover. Called
    by the scheduler periodically; calling it again before the jobs ran queues nothing
    twice (jobs are keyed by batch, period and DB version) and a job skips images a
    scan or another re-match assessed meanwhile."""
    assert ctx.queue is not None, "ServiceContext.queue is not set"
    hours = ctx.settings.service.reassess_hours
    now = ctx.clock.now()
    period = int(now.timestamp() // (hours * 3600))
    version = ctx.vulndb.version() or "none"
    due_before = (now - timedelta(hours=hours)).isoformat()
    queued = 0
    with ctx.write() as s:
        for batch in _batches(due_images(s, now, hours)):
            key = f"due|{period}|{version}|{_ids_digest(batch)}"
            payload = {"image_ids": batch, "trigger": "reassess", "due_before": due_before}
            if ctx.queue.submit(s, JobKind.REMATCH_IMAGE, key, payload).created:
                queued += len(batch)
    return queued


# --- the job ------------------------------------------------------------------------------


@dataclass
class RematchStats:
    """What one re-match did and where its time went (logged per job)."""

    images: int = 0  # asked for
    rematched: int = 0
    unchanged: int = 0  # of rematched: no finding opened or resolved
    skipped_current: int = 0  # already assessed with this data (or since due)
    skipped_unscanned: int = 0  # no stored SBOM
    gone: int = 0  # deleted meanwhile
    scans_queued: int = 0  # SBOM from another analyser version
    opened: int = 0
    resolved: int = 0
    load_s: float = 0.0
    decode_s: float = 0.0
    match_s: float = 0.0
    write_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def _payload(payload: dict[str, Any]) -> tuple[list[int], str, datetime | None]:
    ids = payload.get("image_ids")
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise ValueError("rematch job payload: image_ids is not a list of integers")
    if len(ids) > MAX_BATCH_IDS:
        raise ValueError(f"rematch job payload: {len(ids)} image ids, more than {MAX_BATCH_IDS}")
    trigger = payload.get("trigger", "rematch")
    if trigger not in TRIGGERS:
        raise ValueError(
            f"rematch job payload: trigger {str(trigger)[:40]!r} is not one of {TRIGGERS}"
        )
    due = payload.get("due_before")
    due_before = None
    if due is not None:
        try:
            due_before = datetime.fromisoformat(str(due))
        except ValueError:
            raise ValueError(
                f"rematch job payload: due_before {str(due)[:40]!r} is not a time"
            ) from None
        if due_before.tzinfo is None:
            raise ValueError(f"rematch job payload: due_before {str(due)[:40]!r} has no zone")
    return ids, str(trigger), due_before


def handle_rematch(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    """`JobKind.REMATCH_IMAGE`: payload ``{"image_ids": [...], "trigger": "rematch" |
    "reassess", "due_before": iso time (reassess), "db_version", "reason"}``."""
    ids, trigger, due_before = _payload(payload)
    stats = rematch_images(ctx, ids, trigger=trigger, due_before=due_before)
    log.info(
        "rematch done",
        extra={
            "trigger": trigger,
            "images": stats.images,
            "rematched": stats.rematched,
            "unchanged": stats.unchanged,
            "skipped": stats.skipped_current + stats.skipped_unscanned + stats.gone,
            "opened": stats.opened,
            "resolved": stats.resolved,
            "decode_s": round(stats.decode_s, 3),
            "match_s": round(stats.match_s, 3),
            "write_s": round(stats.write_s, 3),
        },
    )
    if stats.errors:
        # the other images are recorded; a retry re-matches these (and skips the rest)
        raise RematchError(
            f"{len(stats.errors)} of {stats.images} images not re-matched; first: {stats.errors[0]}"
        )


class RematchError(Exception):
    pass


_local = threading.local()


def _memo_for(db: VulnDB) -> MemoMatcher[ObservedFinding]:
    """This thread's memo for `db` (a new one when the DB was replaced)."""
    memo: MemoMatcher[ObservedFinding] | None = getattr(_local, "memo", None)
    if memo is None or memo.source is not db:
        memo = MemoMatcher(db, from_scan_finding)
        _local.memo = memo
    return memo


@dataclass
class _Loaded:
    image_id: int
    sbom_id: int
    blob: bytes | None
    encoding: str
    sbom_analyser: str
    keys_version: int | None
    match_rows: bytes | None = None


def _skip(
    ctx: ServiceContext,
    image: Any,
    trigger: str,
    version: str,
    due_before: datetime | None,
) -> bool:
    """Whether the image was already assessed with this data (rematch) or since it
    became due (reassess)."""
    if trigger == "reassess":
        return bool(
            due_before is not None
            and image.last_scanned_at is not None
            and image.last_scanned_at >= due_before
        )
    return bool(image.db_version == version and image.analyser_version == ctx.analyser_version)


def rematch_images(
    ctx: ServiceContext,
    image_ids: Sequence[int],
    *,
    trigger: str = "rematch",
    due_before: datetime | None = None,
) -> RematchStats:
    """Re-match the stored SBOMs of `image_ids` against `ctx.vulndb.current()` and record
    the results (see the module docstring). Never contacts a registry."""
    stats = RematchStats(images=len(image_ids))
    db = ctx.vulndb.current()
    version = db.version
    memo = _memo_for(db)
    ids = sorted(set(image_ids))
    t0 = time.perf_counter()
    with ctx.read() as s:
        rows = s.execute(
            select(
                Image.id,
                Image.last_scanned_at,
                Image.db_version,
                Image.analyser_version,
                SbomRow.id,
                # the full SBOM only where there are no match rows to read instead
                case((SbomRow.match_rows.is_(None), SbomRow.blob), else_=null()),
                SbomRow.encoding,
                SbomRow.analyser_version,
                SbomRow.keys_version,
                SbomRow.match_rows,
            )
            .outerjoin(
                SbomRow,
                (SbomRow.manifest_digest == Image.digest) & (SbomRow.platform == Image.platform),
            )
            .where(Image.id.in_(ids))
        ).all()
    stats.load_s += time.perf_counter() - t0
    stats.gone += len(ids) - len(rows)
    todo: list[_Loaded] = []
    for r in rows:
        if r[4] is None:
            stats.skipped_unscanned += 1
        elif _skip(ctx, _Stamp(r[1], r[2], r[3]), trigger, version, due_before):
            stats.skipped_current += 1
        else:
            todo.append(_Loaded(int(r[0]), int(r[4]), r[5], r[6], r[7], r[8], r[9]))
    del rows
    for i in range(0, len(todo), WRITE_CHUNK):
        _rematch_chunk(ctx, memo, todo[i : i + WRITE_CHUNK], trigger, version, due_before, stats)
    return stats


@dataclass(frozen=True, slots=True)
class _Stamp:
    last_scanned_at: datetime | None
    db_version: str | None
    analyser_version: str | None


@dataclass
class _Result:
    loaded: _Loaded
    observed: list[ObservedFinding] = field(default_factory=list)
    keys: set[tuple[str, str]] | None = None


def _rematch_chunk(
    ctx: ServiceContext,
    memo: MemoMatcher[ObservedFinding],
    chunk: list[_Loaded],
    trigger: str,
    version: str,
    due_before: datetime | None,
    stats: RematchStats,
) -> None:
    kv = keys_version()
    results: dict[int, _Result] = {}
    for item in chunk:
        t0 = time.perf_counter()
        try:
            if item.encoding != ENCODING:
                raise ValueError(f"unknown SBOM encoding {item.encoding[:40]!r}")
            if item.match_rows is not None:
                rows = decode_match_identities(item.match_rows)
            elif item.blob is not None:  # stored before match rows existed
                rows = [(package_identity(p), p.layer) for p in decode_sbom(item.blob).packages]
            else:
                raise ValueError("stored SBOM has no content")
        except Exception as e:  # StoredSbomError: one image's corrupt blob stops no other
            stats.errors.append(f"image {item.image_id}: {str(e)[:200]}")
            continue
        finally:
            stats.decode_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        observed = []
        for layer, o in memo.converted_identities(rows):
            # the memo's row data may come from another image's copy of the package:
            # everything but the layer is the same by construction
            observed.append(
                o
                if o.layer_diff_id == layer
                else ObservedFinding(
                    o.purl, o.package_name, o.package_version, o.vulnerability_id,
                    o.severity, o.fixable, o.fixed_versions, layer,
                )
            )  # fmt: skip
        res = _Result(item, observed)
        if item.keys_version != kv:
            res.keys = lookup_keys(package_from_identity(i, layer) for i, layer in rows)
        results[item.image_id] = res
        stats.match_s += time.perf_counter() - t0
    if not results:
        return
    t0 = time.perf_counter()
    with ctx.write() as s:
        _write_chunk(s, ctx, results, trigger, version, due_before, stats)
    stats.write_s += time.perf_counter() - t0


@dataclass
class _Writes:
    """The statements a chunk's assessments add up to."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    reopened: list[dict[str, Any]] = field(default_factory=list)  # by id, with new data
    refreshed: list[dict[str, Any]] = field(default_factory=list)  # seen, data changed
    # exempted and seen, nothing else changed: last_seen only (an open row's last_seen
    # is its image's last assessment, `findings.effective_last_seen`: not written)
    seen: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _write_chunk(
    s: Session,
    ctx: ServiceContext,
    results: dict[int, _Result],
    trigger: str,
    version: str,
    due_before: datetime | None,
    stats: RematchStats,
) -> None:
    """`assess.record_assessment` for every image of the chunk, as a few statements: the
    same rows, stamps and events (tested against it), without one UPDATE per finding."""
    now = ctx.clock.now()
    ids = sorted(results)
    if dialect_name(s) == "postgresql":
        # what sync_findings does per image, for the whole chunk and in id order (no
        # deadlock with another chunk): a scan of one of these images waits for us
        s.execute(select(Image.id).where(Image.id.in_(ids)).order_by(Image.id).with_for_update())
    images = {im.id: im for im in s.scalars(select(Image).where(Image.id.in_(ids)))}
    scopes = _scopes(s, {im.repository_id for im in images.values()})
    stored: dict[int, dict[str, _StoredRow]] = {i: {} for i in ids}
    # fixed_versions as stored text, each distinct text decoded once: a few distinct
    # values over thousands of rows, and JSON decoding per row is most of this read
    texts: dict[str | None, list[str]] = {None: []}
    for row in s.execute(
        select(
            Finding.image_id,
            Finding.id,
            Finding.state,
            Finding.severity,
            Finding.fixable,
            cast(Finding.fixed_versions, Text),
            Finding.layer_diff_id,
        ).where(Finding.image_id.in_(ids))
    ):
        fixed = texts.get(row[5])
        if fixed is None:
            fixed = texts[row[5]] = list(json.loads(row[5]) or ())
        stored[row[0]][row[1]] = (row[2], row[3], row[4], fixed, row[6])

    w = _Writes()
    indexed: set[int] = set()
    for image_id in ids:
        res = results[image_id]
        image = images.get(image_id)
        if image is None:
            stats.gone += 1
            continue
        if _skip(ctx, image, trigger, version, due_before):  # assessed meanwhile
            stats.skipped_current += 1
            continue
        outdated = res.loaded.sbom_analyser != ctx.analyser_version
        if outdated and submit_scan(s, ctx, image, trigger="analyser").created:
            stats.scans_queued += 1
        if res.keys is not None and res.loaded.sbom_id not in indexed:
            index_sbom_keys(s, res.loaded.sbom_id, res.keys, keys_version())
            indexed.add(res.loaded.sbom_id)
        stats.rematched += 1
        opened, resolved = _assess(
            w, image, res.observed, stored[image_id], scopes, now, trigger, version
        )
        stats.opened += opened
        stats.resolved += resolved
        if not opened and not resolved:
            stats.unchanged += 1

    # the order of record_assessment: findings, then the image's stamps, events last
    if w.inserts:
        s.execute(insert(Finding).execution_options(render_nulls=True), w.inserts)
    for rows in (w.reopened, w.refreshed):
        if rows:
            s.execute(update(Finding), rows)  # executemany by primary key
    for i in range(0, len(w.resolved), _IN_CHUNK):  # before the images' stamps
        s.execute(
            update(Finding)
            .where(Finding.id.in_(w.resolved[i : i + _IN_CHUNK]))
            .values(state=FindingState.FIXED, resolved_at=now, last_seen=last_seen_of_image())
            .execution_options(synchronize_session=False)
        )
    for i in range(0, len(w.seen), _IN_CHUNK):
        s.execute(
            update(Finding)
            .where(Finding.id.in_(w.seen[i : i + _IN_CHUNK]))
            .values(last_seen=now)
            .execution_options(synchronize_session=False)
        )
    for i in range(0, len(w.scanned), _IN_CHUNK):
        s.execute(
            update(Image)
            .where(Image.id.in_(w.scanned[i : i + _IN_CHUNK]))
            .values(last_scanned_at=now, analyser_version=ctx.analyser_version, db_version=version)
            .execution_options(synchronize_session=False)
        )
    append_events(s, w.events)


def _assess(
    w: _Writes,
    image: Image,
    observed: Sequence[ObservedFinding],
    stored: dict[str, _StoredRow],
    scopes: dict[int, _RepoScope],
    now: datetime,
    trigger: str,
    version: str,
) -> tuple[int, int]:
    """Add one image's assessment to `w` (`sync_findings` + `record_assessment`'s events
    and health rule); returns (opened, resolved)."""
    repo = scopes[image.repository_id]
    scope = repo.scope
    where = ImageLocation(repo.registry, repo.repository, image.digest, image.platform)
    seen: dict[str, ObservedFinding] = {}
    for o in observed:
        seen.setdefault(image_finding_id(where, o.purl, o.vulnerability_id), o)
    if image.last_scanned_at is None:
        before = Health.NOT_APPLICABLE
    else:
        open_before = (row[1] for row in stored.values() if row[0] is FindingState.OPEN)
        before = Health.UNHEALTHY if is_unhealthy(open_before, scope.threshold) else Health.HEALTHY
    open_after: list[Rating] = []
    opened: list[str] = []
    resolved: list[str] = []
    still = 0
    for fid, o in seen.items():
        row = stored.get(fid)
        data = {
            "severity": o.severity,
            "fixable": o.fixable,
            "fixed_versions": list(o.fixed_versions),
            "layer_diff_id": o.layer_diff_id,
        }
        if row is None:
            w.inserts.append(
                {
                    "id": fid,
                    "image_id": image.id,
                    "package_purl": o.purl,
                    "package_name": o.package_name,
                    "package_version": o.package_version,
                    "vulnerability_id": o.vulnerability_id,
                    **data,
                    "state": FindingState.OPEN,
                    "first_seen": now,
                    "last_seen": now,
                    "resolved_at": None,
                }
            )
            opened.append(fid)
            open_after.append(o.severity)
            continue
        state, severity, fixable, fixed_versions, layer = row
        if state is FindingState.FIXED:
            w.reopened.append(
                {
                    "id": fid,
                    **data,
                    "state": FindingState.OPEN,
                    "resolved_at": None,
                    "last_seen": now,
                }
            )
            opened.append(fid)
            open_after.append(o.severity)
            continue
        if (
            severity is not o.severity
            or fixable != o.fixable
            or fixed_versions != data["fixed_versions"]
            or layer != o.layer_diff_id
        ):
            w.refreshed.append({"id": fid, **data, "last_seen": now})
        elif state is FindingState.EXEMPTED:
            w.seen.append(fid)
        if state is FindingState.OPEN:
            still += 1
            open_after.append(o.severity)
    for fid, row in stored.items():
        if fid not in seen and row[0] is FindingState.OPEN:
            w.resolved.append(fid)
            resolved.append(fid)
    after = Health.UNHEALTHY if is_unhealthy(open_after, scope.threshold) else Health.HEALTHY
    w.scanned.append(image.id)

    def event(type_: EventType, payload: dict[str, object], finding_id: str | None = None) -> None:
        w.events.append(
            {
                "type": type_,
                "subscription_id": scope.subscription_id,
                "registry_id": scope.registry_id,
                "image_id": image.id,
                "finding_id": finding_id,
                "payload": payload,
                "created_at": now,
            }
        )

    opened.sort()
    resolved.sort()
    for fid in opened:
        o = seen[fid]
        payload = {
            "vulnerability_id": o.vulnerability_id,
            "severity": o.severity.value,
            "purl": o.purl,
        }
        event(EventType.FINDING_OPENED, dict(payload), fid)
    for fid in resolved:
        event(EventType.FINDING_RESOLVED, {}, fid)
    event(
        EventType.IMAGE_SCANNED,
        {
            "digest": image.digest,
            "platform": image.platform,
            "trigger": trigger,
            "db_version": version,
            "opened": len(opened),
            "resolved": len(resolved),
            "open": still + len(opened),
        },
    )
    if before is not after:
        event(
            EventType.ASSESSMENT_CHANGED,
            {"digest": image.digest, "from": before.value, "to": after.value},
        )
    return len(opened), len(resolved)


@dataclass(frozen=True, slots=True)
class _RepoScope:
    scope: ImageScope
    registry: str  # as references spell it: what finding ids hash (`image_location`)
    repository: str


def _scopes(session: Session, repository_ids: Iterable[int]) -> dict[int, _RepoScope]:
    """`assess.image_scope` and `findings.image_location`'s names for many repositories
    in one query."""
    ids = sorted(set(repository_ids))
    out: dict[int, _RepoScope] = {}
    if not ids:
        return out
    rows = session.execute(
        select(Repository.id, Repository.name, Registry.id, Registry.url, Subscription)
        .join(Registry, Registry.id == Repository.registry_id)
        .join(Subscription, Subscription.id == Registry.subscription_id)
        .where(Repository.id.in_(ids))
    )
    for repo_id, repo_name, registry_id, url, sub in rows:
        threshold = subscription_settings(sub).unhealthy_severity
        scope = ImageScope(sub.id, int(registry_id), int(repo_id), threshold)
        out[int(repo_id)] = _RepoScope(scope, registry_of_url(url), repo_name)
    return out
