"""Update the vulnerability feeds, then re-match what the change touches.

`submit_feed_update` queues a `JobKind.UPDATE_FEEDS` job (the API and the scheduler call
it); `handle_update_feeds` runs `shoal.vulndb.update.update` on the service's DB (from a
`from` path, from upstream when `vulndb.online` is set, else from the snapshots bundled
with shoal), and in the same job queues the re-match of every in-use image whose stored
SBOM the change touches (`rematch.submit_rematch_for_keys`): new advisories reach the
right images as soon as the workers get to them, without contacting any registry.

The DB file is replaced by a rename, so `ctx.vulndb.current()` opens the new data on its
next call and re-matches run against it. A source that fails keeps its previous data
(see `update`); the job still re-matches what the others changed, then fails naming the
source, so the failure shows in the job's record and is retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from shoal import __version__
from shoal.db.jobs import Enqueued
from shoal.db.types import JobKind
from shoal.errors import FeedError
from shoal.feeds import ALL, get_feed
from shoal.service.context import ServiceContext
from shoal.service.rematch import submit_rematch_for_keys
from shoal.vulndb import inputs, resolve
from shoal.vulndb.resolve import UpdatableFeed
from shoal.vulndb.update import UpdateReport, update

log = logging.getLogger("shoal.service.feeds")

MAX_SOURCES = 64
MAX_PATH = 4096


class FeedUpdateError(Exception):
    """The update ran but a source failed (its previous data kept)."""


def submit_feed_update(
    session: Session,
    ctx: ServiceContext,
    *,
    sources: list[str] | None = None,
    from_path: Path | None = None,
    online: bool | None = None,
    force: bool = False,
    key: str | None = None,
) -> Enqueued:
    """Queue a feed update in `session`'s transaction.

    `sources`: feed names ("osv/PyPI", ...), default `vulndb.sources` or every feed the
    input has; `from_path`: read inputs there (air-gapped); `online`: fetch upstream
    (default `vulndb.online`). Requests for the same update in the same second are one
    job; pass `key` (e.g. the scheduler's period) to choose the idempotency yourself.
    Bad arguments raise ValueError (one line) before anything is queued."""
    assert ctx.queue is not None, "ServiceContext.queue is not set"
    payload = _check_payload(
        {
            "sources": list(sources or []),
            "from": str(from_path) if from_path is not None else None,
            "online": online,
            "force": force,
        }
    )
    if key is None:
        body = json.dumps(payload, sort_keys=True)
        stamp = ctx.clock.now().strftime("%Y%m%dT%H%M%S")
        key = f"{stamp}|{hashlib.sha256(body.encode()).hexdigest()[:16]}"
    return ctx.queue.submit(session, JobKind.UPDATE_FEEDS, key[:400], payload)


def _check_payload(payload: dict[str, Any]) -> dict[str, Any]:
    sources = payload.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ValueError("feed update: sources is not a list of feed names")
    if len(sources) > MAX_SOURCES:
        raise ValueError(f"feed update: {len(sources)} sources, more than {MAX_SOURCES}")
    for name in sources:
        try:
            get_feed(name)
        except FeedError as e:
            raise ValueError(f"feed update: {e}") from None
    frm = payload.get("from")
    if frm is not None and (not isinstance(frm, str) or not frm or len(frm) > MAX_PATH):
        raise ValueError("feed update: from is not a path")
    online = payload.get("online")
    if online is not None and not isinstance(online, bool):
        raise ValueError("feed update: online is not true, false or null")
    force = payload.get("force", False)
    if not isinstance(force, bool):
        raise ValueError("feed update: force is not true or false")
    return {"sources": list(dict.fromkeys(sources)), "from": frm, "online": online, "force": force}


def select_feeds(
    names: list[str], from_path: Path | None, online: bool, configured: list[str]
) -> list[UpdatableFeed]:
    """The feeds an update covers (the same rule as `shoal db update`): the names asked
    for, else the configured `vulndb.sources`, else every feed the `from` directory has
    an entry for, every feed (online) or every feed shoal bundles data for."""
    chosen = names or configured
    if chosen:
        return [get_feed(n) for n in dict.fromkeys(chosen)]
    if from_path is not None:
        if not from_path.is_dir():
            raise FeedError(f"feed update: {str(from_path)!r} is not a directory; name the source")
        picked: list[UpdatableFeed] = [
            f() for f in ALL if inputs.find_entry(from_path, f.name) is not None
        ]
        if not picked:
            raise FeedError(
                f"feed update: nothing under {str(from_path)!r} is named after a source"
            )
        return picked
    if online:
        return [f() for f in ALL]
    return [f() for f in ALL if resolve.bundled_path(f.name) is not None]


def run_feed_update(
    ctx: ServiceContext,
    *,
    sources: list[str] | None = None,
    from_path: Path | None = None,
    online: bool | None = None,
    force: bool = False,
) -> tuple[UpdateReport, int]:
    """Update the DB, then queue the re-matches; (the update's report, images queued)."""
    settings = ctx.settings.vulndb
    use_net = settings.online if online is None else online
    if from_path is not None:
        use_net = False
    feeds = select_feeds(list(sources or []), from_path, use_net, list(settings.sources))
    http = (
        httpx.Client(
            timeout=ctx.settings.oci.timeout,
            follow_redirects=True,
            headers={"User-Agent": f"shoal/{__version__}"},
        )
        if use_net
        else None
    )
    try:
        settings.path.parent.mkdir(parents=True, exist_ok=True)
        report = update(settings.path, feeds, from_path=from_path, http=http, force=force)
    finally:
        if http is not None:
            http.close()
    queued = 0
    if report.replaced and (report.changed_keys or report.changed_cves):
        with ctx.write() as s:
            queued = submit_rematch_for_keys(
                s,
                ctx,
                report.changed_keys,
                changed_cves=report.changed_cves,
                reason=f"feed update {report.data_version}",
            )
    return report, queued


def handle_update_feeds(ctx: ServiceContext, payload: dict[str, Any]) -> None:
    """`JobKind.UPDATE_FEEDS`: payload as `submit_feed_update` writes it."""
    p = _check_payload(payload)
    report, queued = run_feed_update(
        ctx,
        sources=p["sources"],
        from_path=Path(p["from"]) if p["from"] else None,
        online=p["online"],
        force=p["force"],
    )
    log.info(
        "feeds updated",
        extra={
            "replaced": report.replaced,
            "data_version": report.data_version,
            "changed_keys": len(report.changed_keys),
            "changed_cves": len(report.changed_cves),
            "images_queued": queued,
            "failed": [s.name for s in report.failed],
        },
    )
    if report.failed:
        first = report.failed[0]
        raise FeedUpdateError(
            f"{len(report.failed)} of {len(report.sources)} feed sources failed (previous data "
            f"kept); first: {first.name}: {first.error}"
        )
