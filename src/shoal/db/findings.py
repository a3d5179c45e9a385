"""Findings of an image over time: sync a scan's results, list them a page at a time.

A finding's id is `shoal.model.finding.image_finding_id`: 128 bits of SHA-256 over the
image digest, package purl and vulnerability id, qualified by where the image is
(registry as references spell it, repository, platform; `image_location`). `shoal scan`
computes the same id for the same image, so the id is one in the API, events, CLI output
and exports; it survives re-scans and DB updates and needs no lookup. The qualifier
makes it unique per image row: one digest can have several rows (the same image in two
repositories; one row per platform of an index, all with the index digest).

`last_seen` is stored for what an assessment does not see again: a fixed finding keeps the
last assessment that saw it, an exempted one the last that saw it or exempted it. An open
finding was seen by its image's last assessment (one that does not see it resolves it),
so its last_seen is the image's `last_scanned_at` (`effective_last_seen`) and a re-match
does not rewrite every open row only to move that time: at 10,000 images that was most
of a PostgreSQL re-match's writing.

Pagination is keyset on (first_seen, id), newest first, with an opaque cursor, so a page
costs the same at row 10 and row 1,000,000 and rows inserted meanwhile are not skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from shoal.db.errors import CursorError
from shoal.db.models import Event, Finding, Image, Registry, Repository
from shoal.db.types import FindingState
from shoal.model.advisory import FixState, Rating
from shoal.model.finding import Finding as ModelFinding
from shoal.model.finding import ImageLocation, image_finding_id, package_ref
from shoal.oci.reference import registry_of_url

MAX_PAGE = 1000
_CURSOR_MAX = 200  # characters; ours are ~70


def image_location(session: Session, image: Image) -> ImageLocation:
    """The image row as finding ids name it: its registry (as references spell it) and
    repository, digest and platform."""
    name, url = session.execute(
        select(Repository.name, Registry.url)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(Repository.id == image.repository_id)
    ).one()
    return ImageLocation(registry_of_url(url), name, image.digest, image.platform)


def rekey_registry_findings(session: Session, registry_id: int) -> int:
    """After a registry's URL moved to another host: give its findings the ids their
    images' new location makes (`image_finding_id`), and the events that name them the
    new ids too, so exemptions and history stay with them. Returns how many changed."""
    rows = session.execute(
        select(
            Finding.id,
            Finding.package_purl,
            Finding.vulnerability_id,
            Image.digest,
            Image.platform,
            Repository.name,
            Registry.url,
        )
        .join(Image, Image.id == Finding.image_id)
        .join(Repository, Repository.id == Image.repository_id)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(Registry.id == registry_id)
    ).all()
    pairs = []
    for old, purl, vuln, digest, platform, repo, url in rows:
        new = image_finding_id(
            ImageLocation(registry_of_url(url), repo, digest, platform), purl, vuln
        )
        if new != old:
            pairs.append({"old": old, "new": new})
    if pairs:
        table = cast(Table, Finding.__table__)
        session.connection().execute(  # Core executemany: the ORM's is by primary key only
            update(table).where(table.c.id == bindparam("old")).values(id=bindparam("new")),
            pairs,
        )
        for i in range(0, len(pairs), 1000):
            chunk = pairs[i : i + 1000]
            session.execute(
                update(Event)
                .where(Event.finding_id.in_([p["old"] for p in chunk]))
                .values(
                    finding_id=case({p["old"]: p["new"] for p in chunk}, value=Event.finding_id)
                )
                .execution_options(synchronize_session=False)
            )
    return len(pairs)


def effective_last_seen(
    state: FindingState, stored: datetime, image_last_scanned_at: datetime | None
) -> datetime:
    """When a finding was last seen: for an open one, its image's last assessment (every
    assessment sees each open finding or resolves it); otherwise the stored time."""
    if state is FindingState.OPEN and image_last_scanned_at is not None:
        return max(stored, image_last_scanned_at)
    return stored


def last_seen_of_image() -> ColumnElement[datetime]:
    """SQL for `effective_last_seen` of an open finding row being updated: its image's
    last assessment (or the stored time if it has none)."""
    scanned = select(Image.last_scanned_at).where(Image.id == Finding.image_id).scalar_subquery()
    return func.coalesce(scanned, Finding.last_seen)


@dataclass(frozen=True, slots=True)
class ObservedFinding:
    """One (package, vulnerability) a scan or re-match of an image found."""

    purl: str
    package_name: str
    package_version: str
    vulnerability_id: str
    severity: Rating
    fixable: bool
    fixed_versions: tuple[str, ...] = ()
    layer_diff_id: str | None = None


def from_scan_finding(finding: ModelFinding) -> ObservedFinding:
    """A scan's `shoal.model.Finding` as the row data `sync_findings` stores.
    Fixable means the feed names a version that fixes it."""
    return ObservedFinding(
        purl=package_ref(finding.package),
        package_name=finding.package.name,
        package_version=finding.package.version,
        vulnerability_id=finding.vulnerability,
        severity=finding.rating,
        fixable=finding.fix_state is FixState.FIXED and bool(finding.fixed_versions),
        fixed_versions=finding.fixed_versions,
        layer_diff_id=finding.package.layer,
    )


@dataclass(frozen=True, slots=True)
class FindingChanges:
    """What a sync changed, for the events it should produce."""

    opened: tuple[str, ...] = ()  # new, or seen again after being fixed
    resolved: tuple[str, ...] = ()  # open before, not found now
    still_open: int = 0


def sync_findings(
    session: Session,
    image: Image,
    observed: Iterable[ObservedFinding],
    *,
    now: datetime | None = None,
    where: ImageLocation | None = None,
) -> FindingChanges:
    """Make the image's findings match a complete scan result.

    New findings open with first_seen = now; findings seen again get last_seen = now and
    current severity/fix data; open findings not seen are fixed (resolved_at = now); a
    fixed one seen again reopens (first_seen kept: it is the same finding). Exempted
    findings stay exempted. Duplicates in `observed` count once.
    """
    now = now or datetime.now(UTC)
    # two syncs of one image at once (a re-match racing a scan) would both insert the
    # same new finding; the row lock makes the second wait and see the first's result.
    # SQLite ignores FOR UPDATE: its BEGIN IMMEDIATE already serialises writers.
    session.execute(select(Image.id).where(Image.id == image.id).with_for_update())
    where = where or image_location(session, image)
    seen: dict[str, ObservedFinding] = {}
    for o in observed:
        seen.setdefault(image_finding_id(where, o.purl, o.vulnerability_id), o)
    existing = {
        f.id: f for f in session.scalars(select(Finding).where(Finding.image_id == image.id))
    }
    opened: list[str] = []
    resolved: list[str] = []
    still = 0
    for fid, o in seen.items():
        row = existing.get(fid)
        if row is None:
            session.add(
                Finding(
                    id=fid,
                    image_id=image.id,
                    package_purl=o.purl,
                    package_name=o.package_name,
                    package_version=o.package_version,
                    vulnerability_id=o.vulnerability_id,
                    severity=o.severity,
                    fixable=o.fixable,
                    fixed_versions=list(o.fixed_versions),
                    layer_diff_id=o.layer_diff_id,
                    state=FindingState.OPEN,
                    first_seen=now,
                    last_seen=now,
                    resolved_at=None,
                )
            )
            opened.append(fid)
            continue
        fixed_versions = list(o.fixed_versions)
        if (
            row.state is not FindingState.OPEN
            or row.severity is not o.severity
            or row.fixable != o.fixable
            or list(row.fixed_versions or ()) != fixed_versions
            or row.layer_diff_id != o.layer_diff_id
        ):  # an open row's last_seen is its image's; unchanged, it is not written
            row.last_seen = now
            row.severity = o.severity
            row.fixable = o.fixable
            row.fixed_versions = fixed_versions
            row.layer_diff_id = o.layer_diff_id
        if row.state is FindingState.FIXED:
            row.state = FindingState.OPEN
            row.resolved_at = None
            opened.append(fid)
        elif row.state is FindingState.OPEN:
            still += 1
    for fid, row in existing.items():
        if fid not in seen and row.state is FindingState.OPEN:
            # the last assessment that saw it: the image's, not yet stamped with this one
            row.last_seen = effective_last_seen(row.state, row.last_seen, image.last_scanned_at)
            row.state = FindingState.FIXED
            row.resolved_at = now
            resolved.append(fid)
    session.flush()
    return FindingChanges(tuple(sorted(opened)), tuple(sorted(resolved)), still)


def set_exempted(
    session: Session,
    finding_id: str,
    exempted: bool,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Exempt an open finding (with why and when), or return an exempted one to open;
    False if no row is in the state the change starts from. Lifting keeps the reason of
    the last exemption on the row, for the record."""
    frm, to = (
        (FindingState.OPEN, FindingState.EXEMPTED)
        if exempted
        else (FindingState.EXEMPTED, FindingState.OPEN)
    )
    values: dict[str, object] = {"state": to}
    if exempted:
        values["exemption_reason"] = reason
        values["exempted_at"] = now or datetime.now(UTC)
        values["last_seen"] = last_seen_of_image()  # stored from now on: it is not open
    result = session.execute(
        update(Finding)
        .where(Finding.id == finding_id, Finding.state == frm)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0) > 0


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """Filters of the findings query; empty tuples/None mean no restriction."""

    states: tuple[FindingState, ...] = (FindingState.OPEN,)
    severities: tuple[Rating, ...] = ()
    fixable: bool | None = None
    vulnerability_id: str | None = None
    image_ids: tuple[int, ...] = ()
    repository_id: int | None = None
    registry_id: int | None = None
    package_name: str | None = None
    since: datetime | None = None  # first_seen at or after


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Finding] = field(default_factory=tuple)
    next_cursor: str | None = None  # None: this was the last page


def list_findings(
    session: Session,
    flt: FindingFilter = FindingFilter(),
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> Page:
    """One page of findings, newest first_seen first; pass `next_cursor` for the next."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"page limit {limit} is not between 1 and {MAX_PAGE}")
    q = select(Finding)
    if flt.states:
        q = q.where(Finding.state.in_(flt.states))
    if flt.severities:
        q = q.where(Finding.severity.in_(flt.severities))
    if flt.fixable is not None:
        q = q.where(Finding.fixable.is_(flt.fixable))
    if flt.vulnerability_id is not None:
        q = q.where(Finding.vulnerability_id == flt.vulnerability_id)
    if flt.image_ids:
        q = q.where(Finding.image_id.in_(flt.image_ids))
    if flt.repository_id is not None:
        q = q.where(
            Finding.image_id.in_(select(Image.id).where(Image.repository_id == flt.repository_id))
        )
    if flt.registry_id is not None:
        q = q.where(
            Finding.image_id.in_(
                select(Image.id)
                .join(Repository, Repository.id == Image.repository_id)
                .where(Repository.registry_id == flt.registry_id)
            )
        )
    if flt.package_name is not None:
        q = q.where(Finding.package_name == flt.package_name)
    if flt.since is not None:
        q = q.where(Finding.first_seen >= flt.since)
    if cursor is not None:
        seen, fid = decode_cursor(cursor)
        q = q.where(
            or_(Finding.first_seen < seen, and_(Finding.first_seen == seen, Finding.id < fid))
        )
    rows = list(
        session.scalars(q.order_by(Finding.first_seen.desc(), Finding.id.desc()).limit(limit + 1))
    )
    if len(rows) <= limit:
        return Page(tuple(rows), None)
    last = rows[limit - 1]
    return Page(tuple(rows[:limit]), encode_cursor(last.first_seen, last.id))


def encode_cursor(first_seen: datetime, finding_id: str) -> str:
    doc = json.dumps([first_seen.astimezone(UTC).isoformat(), finding_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (first_seen, id) in a cursor; `CursorError` for anything we did not hand out."""
    if not cursor or len(cursor) > _CURSOR_MAX:
        raise CursorError("findings cursor: empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
        if not (
            isinstance(doc, list)
            and len(doc) == 2
            and isinstance(doc[0], str)
            and isinstance(doc[1], str)
            and len(doc[1]) == 32
            and all(c in "0123456789abcdef" for c in doc[1])
        ):
            raise ValueError("wrong shape")
        seen = datetime.fromisoformat(doc[0])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as e:
        raise CursorError(f"findings cursor {cursor[:40]!r} is not one this service issued") from e
    if seen.tzinfo is None:
        raise CursorError(f"findings cursor {cursor[:40]!r} is not one this service issued")
    return seen.astimezone(UTC), doc[1]
