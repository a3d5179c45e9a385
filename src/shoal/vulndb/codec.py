"""Model objects to and from DB rows.

Lists are stored as compact JSON (NULL when empty, which most are), enums by value.
Decoding trusts only what `encode_*` wrote: a row that does not decode means the file
was altered outside shoal, and surfaces as `VulnDbError` naming the record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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


_RS, _US = "\x1e", "\x1f"  # ASCII record / unit separators


def _plain(texts: Iterable[str]) -> bool:
    """Whether separator-joined storage round-trips these strings."""
    return all(t and t[0] != "[" and t.isprintable() for t in texts)


def _ranges(ranges: tuple[AffectedRange, ...]) -> str | None:
    # Like versions below, ranges are decoded on every lookup: "TYPE US kind US version
    # ..." records split much faster than JSON parses. JSON is the fallback for
    # strings with control characters (a separator could hide in them).
    if not ranges:
        return None
    if all(_plain([r.type, *(x for ev in r.events for x in ev)]) for r in ranges):
        return _RS.join(_US.join([r.type, *(x for ev in r.events for x in ev)]) for r in ranges)
    return _dumps([[r.type, r.events] for r in ranges])


_RANGE_CACHE: dict[str, tuple[AffectedRange, ...]] = {}
_RANGE_CACHE_ENTRIES = 100_000


def _split_ranges(text: str) -> tuple[AffectedRange, ...]:
    # Half the stored range lists are repeats ("introduced 0, fixed X" recurs across
    # advisories), and AffectedRange is immutable: decode each distinct text once.
    hit = _RANGE_CACHE.get(text)
    if hit is not None:
        return hit
    if text[0] == "[":
        out = tuple(
            AffectedRange(t, tuple((k, v) for k, v in events)) for t, events in json.loads(text)
        )
    else:
        parts = []
        for part in text.split(_RS):
            fields = part.split(_US)
            if len(fields) % 2 == 0:
                raise ValueError(f"range {part[:60]!r} has an event without a version")
            it = iter(fields[1:])
            parts.append(AffectedRange(fields[0], tuple(zip(it, it, strict=False))))
        out = tuple(parts)
    if len(_RANGE_CACHE) >= _RANGE_CACHE_ENTRIES:
        _RANGE_CACHE.clear()
    _RANGE_CACHE[text] = out
    return out


def _versions(versions: tuple[str, ...]) -> str | None:
    # Explicit version lists are the bulk of OSV data (PyPI lists every affected
    # release) and most of a lookup's decoding: newline-joined text splits several
    # times faster than JSON parses. JSON (which starts with "[") is the fallback.
    if not versions:
        return None
    return "\n".join(versions) if _plain(versions) else _dumps(versions)


def _split_versions(text: str | None, what: str) -> tuple[str, ...]:
    if text is None:
        return ()
    if text[:1] == "[":
        return tuple(_load(text, what))
    return tuple(text.split("\n"))


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
            _versions(a.versions),
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


def record_name(source: object, ident: object) -> str:
    """How messages name a stored record: quoted and cut, since a tampered DB may put
    anything (newlines included) in it."""
    return f"{str(source)[:80]!r}/{str(ident)[:80]!r}"


def _load(text: str | None, what: str) -> Any:
    if text is None:
        return []
    try:
        return json.loads(text)
    except ValueError as e:
        raise VulnDbError(f"vulnerability DB record {what}: corrupt JSON ({e!r:.100})") from e


def decode_severities(text: str | None, what: str) -> tuple[Severity, ...]:
    try:
        return tuple(
            Severity(source=s, rating=Rating(r), type=t, vector=v, score=sc)
            for s, r, t, v, sc in _load(text, what)
        )
    except (TypeError, ValueError) as e:
        raise VulnDbError(f"vulnerability DB record {what}: bad severities ({e!r:.100})") from e


_FIX_STATES = {f.value: f for f in FixState}
_RATINGS = {r.value: r for r in Rating}


def decode_affected(row: AffectedRowT) -> AffectedPackage:
    """An `affected` row (AFFECTED_COLUMNS order) as the model object."""
    try:
        ranges = row[7]
        # positional: AffectedPackage(ecosystem, name, release, ranges, versions,
        # fix_state, severity, purl); keywords cost a measurable share of a lookup
        return AffectedPackage(
            row[5],
            row[1],
            row[6],
            _split_ranges(ranges) if ranges else (),
            _split_versions(row[8], record_name(row[2], row[3])),
            _FIX_STATES[row[9]],
            _RATINGS[row[10]] if row[10] is not None else None,
            row[11],
        )
    except (TypeError, ValueError, KeyError) as e:
        raise VulnDbError(
            f"vulnerability DB record {record_name(row[2], row[3])}: "
            f"bad affected entry ({e!r:.100})"
        ) from e


def decode_advisory(row: AdvisoryRow, affected: tuple[AffectedPackage, ...]) -> Advisory:
    """An `advisories` row (ADVISORY_COLUMNS order) plus its affected entries."""
    what = record_name(row[0], row[1])
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
    what = record_name("enrichment", row[0])
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
