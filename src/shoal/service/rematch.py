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

The handler loads the SBOMs, matches them with a `MemoMatcher` (each distinct package
once per DB version and worker thread), and records the results through
`assess.record_assessment`, so the rows and events are those of a scan. Most images of a
re-match do not change: when an image's findings come out exactly as stored, the same
outcome (last_seen, the image's scan stamps, one `image_scanned` event) is written with a
few statements per batch instead of one per finding. An image whose SBOM is missing (never
analysed) is skipped; one whose SBOM another analyser version made is re-matched and a
scan is queued too, which brings a fresh SBOM.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shoal.db.dialect import dialect_name
from shoal.db.events import append_event
from shoal.db.findings import ObservedFinding, from_scan_finding
from shoal.db.inventory import subscription_settings
from shoal.db.models import Finding, Image, Registry, Repository, SbomKey, Subscription
from shoal.db.models import Sbom as SbomRow
from shoal.db.sboms import ENCODING, decode_sbom, index_sbom_keys, match_key_hash
from shoal.db.types import EventType, FindingState, JobKind
from shoal.match.engine import keys_version, lookup_keys
from shoal.model.advisory import Rating
from shoal.model.sbom import Sbom
from shoal.scan.memo import MemoMatcher
from shoal.service.assess import ImageScope, record_assessment
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
    unchanged: int = 0  # of rematched: findings exactly as stored (the batched path)
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

    def add(self, other: RematchStats) -> None:
        for name in self.__dataclass_fields__:
            if name != "errors":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


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


def _memo_for(db: VulnDB) -> MemoMatcher:
    """This thread's memo for `db` (a new one when the DB was replaced)."""
    memo: MemoMatcher | None = getattr(_local, "memo", None)
    if memo is None or memo.source is not db:
        memo = MemoMatcher(db)
        _local.memo = memo
    return memo


@dataclass
class _Loaded:
    image_id: int
    sbom_id: int
    blob: bytes
    encoding: str
    sbom_analyser: str
    keys_version: int | None


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
                SbomRow.blob,
                SbomRow.encoding,
                SbomRow.analyser_version,
                SbomRow.keys_version,
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
            todo.append(_Loaded(int(r[0]), int(r[4]), r[5], r[6], r[7], r[8]))
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
    observed_list: list[ObservedFinding] = field(default_factory=list)
    keys: set[tuple[str, str]] | None = None


def _rematch_chunk(
    ctx: ServiceContext,
    memo: MemoMatcher,
    chunk: list[_Loaded],
    trigger: str,
    version: str,
    due_before: datetime | None,
    stats: RematchStats,
) -> None:
    kv = keys_version()
    results: dict[int, _Result] = {}
    sboms: dict[int, Sbom] = {}
    for item in chunk:
        t0 = time.perf_counter()
        try:
            if item.encoding != ENCODING:
                raise ValueError(f"unknown SBOM encoding {item.encoding[:40]!r}")
            sbom = sboms.get(item.sbom_id)
            if sbom is None:
                sbom = sboms[item.sbom_id] = decode_sbom(item.blob)
        except Exception as e:  # StoredSbomError: one image's corrupt blob stops no other
            stats.errors.append(f"image {item.image_id}: {str(e)[:200]}")
            continue
        finally:
            stats.decode_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        found = memo.findings(sbom)
        res = _Result(item, observed_list=[from_scan_finding(f) for f in found])
        if item.keys_version != kv:
            res.keys = match_keys(sbom)
        results[item.image_id] = res
        stats.match_s += time.perf_counter() - t0
    if not results:
        return
    t0 = time.perf_counter()
    with ctx.write() as s:
        _write_chunk(s, ctx, results, trigger, version, due_before, stats)
    stats.write_s += time.perf_counter() - t0


def _write_chunk(
    s: Session,
    ctx: ServiceContext,
    results: dict[int, _Result],
    trigger: str,
    version: str,
    due_before: datetime | None,
    stats: RematchStats,
) -> None:
    now = ctx.clock.now()
    ids = sorted(results)
    if dialect_name(s) == "postgresql":
        # what sync_findings does per image, for the whole chunk and in id order (no
        # deadlock with another chunk): a scan of one of these images waits for us
        s.execute(select(Image.id).where(Image.id.in_(ids)).order_by(Image.id).with_for_update())
    images = {im.id: im for im in s.scalars(select(Image).where(Image.id.in_(ids)))}
    scopes = _scopes(s, {im.repository_id for im in images.values()})
    # by (purl, vulnerability id): what a finding's id is derived from, per image row
    stored: dict[int, dict[tuple[str, str], _StoredRow]] = {i: {} for i in ids}
    for row in s.execute(
        select(
            Finding.image_id,
            Finding.package_purl,
            Finding.vulnerability_id,
            Finding.state,
            Finding.severity,
            Finding.fixable,
            Finding.fixed_versions,
            Finding.layer_diff_id,
        ).where(Finding.image_id.in_(ids))
    ):
        stored[row[0]][(row[1], row[2])] = (row[3], row[4], row[5], list(row[6] or ()), row[7])

    unchanged: list[tuple[Any, int]] = []  # (image, open count)
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
        observed: dict[tuple[str, str], ObservedFinding] = {}
        for o in res.observed_list:
            observed.setdefault((o.purl, o.vulnerability_id), o)
        open_count = _unchanged(image, observed, stored[image_id])
        if open_count is not None:
            unchanged.append((image, open_count))
            continue
        a = record_assessment(
            s,
            ctx,
            image,
            res.observed_list,
            db_version=version,
            trigger=trigger,
            scope=scopes[image.repository_id],
        )
        stats.opened += len(a.changes.opened)
        stats.resolved += len(a.changes.resolved)
    if not unchanged:
        return
    # the batched equivalent of record_assessment when nothing changed: seen findings
    # get last_seen, the image its scan stamps, and one image_scanned event
    stats.unchanged += len(unchanged)
    same = [im.id for im, _ in unchanged]
    for i in range(0, len(same), _IN_CHUNK):
        part = same[i : i + _IN_CHUNK]
        s.execute(
            update(Finding)
            .where(Finding.image_id.in_(part), Finding.state != FindingState.FIXED)
            .values(last_seen=now)
            .execution_options(synchronize_session=False)
        )
        s.execute(
            update(Image)
            .where(Image.id.in_(part))
            .values(last_scanned_at=now, analyser_version=ctx.analyser_version, db_version=version)
            .execution_options(synchronize_session=False)
        )
    for image, open_count in unchanged:
        scope = scopes[image.repository_id]
        append_event(
            s,
            EventType.IMAGE_SCANNED,
            subscription_id=scope.subscription_id,
            registry_id=scope.registry_id,
            image_id=image.id,
            payload={
                "digest": image.digest,
                "platform": image.platform,
                "trigger": trigger,
                "db_version": version,
                "opened": 0,
                "resolved": 0,
                "open": open_count,
            },
            now=now,
        )


def _unchanged(
    image: Any,
    observed: dict[tuple[str, str], ObservedFinding],
    stored: dict[tuple[str, str], _StoredRow],
) -> int | None:
    """The open count when syncing `observed` would change nothing but last_seen and
    the scan stamps (no finding opened, resolved, reopened or re-rated, and the image
    assessed before); None otherwise."""
    if image.last_scanned_at is None:
        return None
    live = {fid for fid, row in stored.items() if row[0] is not FindingState.FIXED}
    if live != observed.keys():
        return None
    open_count = 0
    for fid, o in observed.items():
        state, severity, fixable, fixed_versions, layer = stored[fid]
        if (
            severity is not o.severity
            or fixable != o.fixable
            or fixed_versions != list(o.fixed_versions)
            or layer != o.layer_diff_id
        ):
            return None
        if state is FindingState.OPEN:
            open_count += 1
    return open_count


def _scopes(session: Session, repository_ids: Iterable[int]) -> dict[int, ImageScope]:
    """`assess.image_scope` for many repositories in one query."""
    ids = sorted(set(repository_ids))
    out: dict[int, ImageScope] = {}
    if not ids:
        return out
    rows = session.execute(
        select(Repository.id, Registry.id, Subscription)
        .join(Registry, Registry.id == Repository.registry_id)
        .join(Subscription, Subscription.id == Registry.subscription_id)
        .where(Repository.id.in_(ids))
    )
    for repo_id, registry_id, sub in rows:
        out[int(repo_id)] = ImageScope(
            sub.id, int(registry_id), int(repo_id), subscription_settings(sub).unhealthy_severity
        )
    return out
