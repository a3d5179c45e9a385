"""`update`: bring the DB up to date with some feeds, atomically, and say what changed.

For each feed, in order: find its input (`--from` path, upstream URL or bundled copy),
skip it when that input hashes the same as last time (and the feed's parser version is
the same), otherwise parse it and replace the source's rows in one transaction on the
working copy (see `writer`). A source that fails with an expected error (a feed it
cannot fetch or read) keeps its previous rows and is reported as failed; the others
still update. Anything unexpected aborts the whole update. Either way the live DB is
replaced only at the end, by a rename, so it is never half-written.

`UpdateReport.changed_keys` lists every (ecosystem, name) whose advisories were added,
changed or removed, so a rescan can re-match only the images that have such a package.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shoal.errors import ShoalError
from shoal.model.advisory import FeedProblem
from shoal.vulndb import codec, inputs, resolve
from shoal.vulndb.errors import VulnDbError
from shoal.vulndb.resolve import InputResolver, UpdatableFeed
from shoal.vulndb.writer import SourceDiff, SourceMeta, UpdateLock, WorkingCopy

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceResult:
    name: str
    status: str  # "updated" | "unchanged" | "failed"
    origin: str = ""
    location: str = ""
    records: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    problems: int = 0
    problem_samples: list[FeedProblem] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class UpdateReport:
    db_path: Path
    started_at: str
    finished_at: str = ""
    sources: list[SourceResult] = field(default_factory=list)
    changed_keys: set[tuple[str, str]] = field(default_factory=set)
    changed_cves: set[str] = field(default_factory=set)
    replaced: bool = False  # whether the live DB file was replaced
    data_version: str | None = None
    rebuilt: str | None = None  # why the old DB was discarded (schema mismatch)

    @property
    def failed(self) -> list[SourceResult]:
        return [s for s in self.sources if s.status == "failed"]

    def to_json(self, *, keys: bool = True) -> dict[str, Any]:
        """JSON-ready dict; `keys=False` gives only the number of changed keys (what the
        DB's bounded run history keeps)."""
        return {
            "db_path": str(self.db_path),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "replaced": self.replaced,
            "data_version": self.data_version,
            "rebuilt": self.rebuilt,
            "changed_keys": sorted(list(k) for k in self.changed_keys)
            if keys
            else len(self.changed_keys),
            "changed_cves": len(self.changed_cves),
            "sources": [asdict(s) for s in self.sources],
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def update(
    db_path: Path,
    feeds: Sequence[UpdatableFeed],
    *,
    from_path: Path | None = None,
    http: httpx.Client | None = None,
    force: bool = False,
    resolver: InputResolver | None = None,
) -> UpdateReport:
    """Update the DB at `db_path` from `feeds`.

    Inputs come from `from_path` when given (air-gapped), else from upstream through
    `http` when given, else from the data bundled with shoal; `resolver` overrides all
    three. `force` re-reads inputs whose hash did not change.

    Raises `VulnDbError` if the DB is locked by another update or is not shoal's;
    per-source failures are reported in the result instead.
    """
    if resolver is None:
        if from_path is not None:
            resolver = resolve.local(from_path, len(feeds))
        elif http is not None:
            resolver = resolve.online(http, db_path.parent / "downloads")
        else:
            resolver = resolve.bundled()
    report = UpdateReport(db_path=db_path, started_at=_now())
    with UpdateLock(db_path):
        try:
            wc = WorkingCopy(db_path)
        except (OSError, sqlite3.Error) as e:
            raise VulnDbError(f"cannot prepare an update of {str(db_path)!r}: {e}") from e
        report.rebuilt = wc.rebuilt_from
        try:
            for feed in feeds:
                report.sources.append(_update_source(wc, feed, resolver, force, report))
            if not any(s.status == "updated" for s in report.sources):
                wc.discard()  # nothing changed: the live DB stays byte-identical
            else:
                report.finished_at = _now()
                report.data_version = wc.finish(
                    built_at=report.finished_at,
                    started_at=report.started_at,
                    run_report=report.to_json(keys=False),
                )
                wc.commit()
                report.replaced = True
        except (OSError, sqlite3.Error) as e:
            # the working copy itself failed (disk full, I/O error): nothing to keep
            wc.discard()
            raise VulnDbError(f"updating {str(db_path)!r} failed, DB unchanged: {e}") from e
        except BaseException:
            wc.discard()
            raise
    report.finished_at = report.finished_at or _now()
    return report


def _update_source(
    wc: WorkingCopy,
    feed: UpdatableFeed,
    resolver: InputResolver,
    force: bool,
    report: UpdateReport,
) -> SourceResult:
    name = feed.name
    prior = wc.source_row(name)
    try:
        found = resolver(feed, prior["fingerprint"] if prior else None)
        if found is None:
            log.info("source %r: upstream unchanged", name)
            return SourceResult(name, "unchanged")
        sha = inputs.input_sha256(found.path)
        result = SourceResult(name, "unchanged", found.origin, found.location)
        if (
            not force
            and prior is not None
            and prior["input_sha256"] == sha
            and prior["feed_version"] == feed.version
        ):
            log.info("source %r: input unchanged (sha256 %s)", name, sha[:12])
            return result
        meta = SourceMeta(
            name=name,
            feed_version=feed.version,
            origin=found.origin,
            location=found.location,
            fetched_at=_now(),
            input_sha256=sha,
            upstream=found.upstream,
            fingerprint=found.fingerprint,
            license=feed.license,
        )
        items = feed.parse(found.path)
        # shoal.feeds marks enrichment feeds with kind = "enrichment"; the name decides
        # for feeds that do not say
        kind = getattr(feed, "kind", None)
        if kind == "enrichment" or (
            kind is None and name.split("/", 1)[0].lower() in codec.ENRICHMENT_GROUPS
        ):
            diff = wc.apply_enrichment(meta, items)
        else:
            diff = wc.apply_advisories(meta, items)
    except (ShoalError, OSError) as e:
        # The transaction for this source rolled back; its previous rows stay.
        log.warning("source %r failed: %s", name, e)
        return SourceResult(name, "failed", error=str(e).splitlines()[0] if str(e) else repr(e))
    _fill(result, diff)
    report.changed_keys |= diff.changed_keys
    report.changed_cves |= diff.changed_cves
    return result


def _fill(result: SourceResult, diff: SourceDiff) -> None:
    result.status = "updated"
    result.records = diff.records
    result.added, result.changed, result.removed = diff.added, diff.changed, diff.removed
    result.problems = diff.problems
    result.problem_samples = diff.problem_samples


def bundled_feeds() -> list[UpdatableFeed]:
    """Every feed shoal ships a snapshot of (`shoal/data/feeds`), in `shoal.feeds.ALL`
    order."""
    from shoal.feeds import ALL

    return [f() for f in ALL if resolve.bundled_path(f.name) is not None]


def bootstrap(db_path: Path) -> UpdateReport | None:
    """Build the DB from the bundled snapshots if there is none at `db_path` yet (first
    run, demo, offline scan); None when a DB already exists. Never touches the network."""
    if db_path.exists():
        return None
    return update(db_path, bundled_feeds(), resolver=resolve.bundled())
