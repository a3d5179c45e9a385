"""Model objects to and from DB rows.

Lists are stored as compact JSON (NULL when empty, which most are), enums by value.
Decoding trusts only what `encode_*` wrote: a row that does not decode means the file
was altered outside shoal, and surfaces as `VulnDbError` naming the record.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shoal.model.advisory import (
    Advisory,
    AffectedPackage,
    AffectedRange,
    CveEnrichment,
    FixState,
    Rating,
    Severity,
)
from shoal.vulndb.errors import VulnDbError

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode

ADVISORY_COLUMNS = (
    "source, id, digest, aliases, related, summary, details, published, modified, "
    "withdrawn, refs, severities, cwes"
)
AFFECTED_COLUMNS = (
    "ecosystem, name, source, advisory_id, idx, ecosystem_name, release, ranges, versions, "
    "fix_state, severity, purl"
)
ENRICHMENT_COLUMNS = (
    "cve, nvd_severities, cwes, description, published, refs, epss_score, epss_percentile, "
    "epss_date, kev, kev_date_added, kev_due_date, kev_ransomware"
)

AdvisoryRow = tuple[Any, ...]
AffectedRowT = tuple[Any, ...]


def _list(items: tuple[Any, ...]) -> str | None:
    return _dumps(items) if items else None


def _severities(sevs: tuple[Severity, ...]) -> str | None:
    if not sevs:
        return None
    return _dumps([[s.source, s.rating.value, s.type, s.vector, s.score] for s in sevs])


def _ranges(ranges: tuple[AffectedRange, ...]) -> str | None:
    if not ranges:
        return None
    return _dumps([[r.type, r.events] for r in ranges])


def encode_advisory(adv: Advisory) -> tuple[AdvisoryRow, list[AffectedRowT]]:
    """The advisories row (with its content digest) and the affected rows of `adv`."""
    affected: list[AffectedRowT] = [
        (
            a.ecosystem.lower(),
            a.name,
            adv.source,
            adv.id,
            i,
            a.ecosystem,
            a.release,
            _ranges(a.ranges),
            _list(a.versions),
            a.fix_state.value,
            a.severity.value if a.severity is not None else None,
            a.purl,
        )
        for i, a in enumerate(adv.affected)
    ]
    body = (
        _list(adv.aliases),
        _list(adv.related),
        adv.summary,
        adv.details,
        adv.published,
        adv.modified,
        adv.withdrawn,
        _list(adv.references),
        _severities(adv.severities),
        _list(adv.cwes),
    )
    # The digest covers every stored field, so an update rewrites exactly the advisories
    # whose content changed, whatever their `modified` says.
    h = hashlib.blake2b(digest_size=16)
    h.update(_dumps([body, [r[:2] + r[5:] for r in affected]]).encode())
    return (adv.source, adv.id, h.hexdigest(), *body), affected


def _load(text: str | None, what: str) -> Any:
    if text is None:
        return []
    try:
        return json.loads(text)
    except ValueError as e:
        raise VulnDbError(f"vulnerability DB record {what}: corrupt JSON ({e})") from e


def decode_severities(text: str | None, what: str) -> tuple[Severity, ...]:
    try:
        return tuple(
            Severity(source=s, rating=Rating(r), type=t, vector=v, score=sc)
            for s, r, t, v, sc in _load(text, what)
        )
    except (TypeError, ValueError) as e:
        raise VulnDbError(f"vulnerability DB record {what}: bad severities ({e})") from e


def decode_affected(row: AffectedRowT) -> AffectedPackage:
    """An `affected` row (AFFECTED_COLUMNS order) as the model object."""
    what = f"{row[2]}/{row[3]}"
    try:
        return AffectedPackage(
            ecosystem=row[5],
            name=row[1],
            release=row[6],
            ranges=tuple(
                AffectedRange(t, tuple((k, v) for k, v in events))
                for t, events in _load(row[7], what)
            ),
            versions=tuple(_load(row[8], what)),
            fix_state=FixState(row[9]),
            severity=Rating(row[10]) if row[10] is not None else None,
            purl=row[11],
        )
    except (TypeError, ValueError) as e:
        raise VulnDbError(f"vulnerability DB record {what}: bad affected entry ({e})") from e


def decode_advisory(row: AdvisoryRow, affected: tuple[AffectedPackage, ...]) -> Advisory:
    """An `advisories` row (ADVISORY_COLUMNS order) plus its affected entries."""
    what = f"{row[0]}/{row[1]}"
    return Advisory(
        id=row[1],
        source=row[0],
        aliases=tuple(_load(row[3], what)),
        related=tuple(_load(row[4], what)),
        summary=row[5],
        details=row[6],
        published=row[7],
        modified=row[8],
        withdrawn=row[9],
        references=tuple(_load(row[10], what)),
        severities=decode_severities(row[11], what),
        affected=affected,
        cwes=tuple(_load(row[12], what)),
    )


# Which enrichment columns each kind of enrichment feed owns: replacing the "epss" data
# must not erase what NVD said about the same CVE.
ENRICHMENT_GROUPS: dict[str, tuple[str, ...]] = {
    "nvd": ("nvd_severities", "cwes", "description", "published", "refs"),
    "epss": ("epss_score", "epss_percentile", "epss_date"),
    "kev": ("kev", "kev_date_added", "kev_due_date", "kev_ransomware"),
}


def enrichment_group(source: str) -> str:
    """The column group a feed writes ("nvd", "epss", "kev"), from its name."""
    base = source.split("/", 1)[0].lower()
    if base not in ENRICHMENT_GROUPS:
        raise VulnDbError(f"enrichment source {source!r}: not one of nvd, epss, kev")
    return base


def encode_enrichment(e: CveEnrichment, group: str) -> tuple[Any, ...]:
    """(cve, *values of `group`'s columns) for an upsert."""
    if group == "nvd":
        return (
            e.cve,
            _severities(e.nvd_severities),
            _list(e.cwes),
            e.description or None,
            e.published,
            _list(e.references),
        )
    if group == "epss":
        return (e.cve, e.epss_score, e.epss_percentile, e.epss_date)
    return (e.cve, int(e.kev), e.kev_date_added, e.kev_due_date, e.kev_ransomware)


def decode_enrichment(row: tuple[Any, ...]) -> CveEnrichment:
    """An `enrichment` row (ENRICHMENT_COLUMNS order) as the model object."""
    what = f"enrichment/{row[0]}"
    return CveEnrichment(
        cve=row[0],
        nvd_severities=decode_severities(row[1], what),
        cwes=tuple(_load(row[2], what)),
        description=row[3] or "",
        published=row[4],
        references=tuple(_load(row[5], what)),
        epss_score=row[6],
        epss_percentile=row[7],
        epss_date=row[8],
        kev=bool(row[9]),
        kev_date_added=row[10],
        kev_due_date=row[11],
        kev_ransomware=row[12],
    )
