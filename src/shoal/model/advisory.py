"""Vulnerability advisories as feeds deliver them, normalised to one shape (OSV's).

Every feed importer (OSV, Alpine secdb, Debian tracker, ...) turns its records into
`Advisory` objects; the vulnerability DB stores them; matchers evaluate their
`AffectedPackage` entries against installed packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FixState(StrEnum):
    FIXED = "fixed"  # a fixed version exists (AffectedPackage.fixed_versions())
    NOT_FIXED = "not-fixed"  # affected, no fix released yet
    WONT_FIX = "wont-fix"  # the distribution decided not to fix (Debian <no-dsa>/ignored)
    UNKNOWN = "unknown"


class Rating(StrEnum):
    """Qualitative severity, CVSS v3 bands plus the distros' `negligible`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NEGLIGIBLE = "negligible"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def from_score(cls, score: float) -> Rating:
        """CVSS v3/v4 qualitative bands (FIRST)."""
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0.0:
            return cls.LOW
        return cls.NEGLIGIBLE

    @classmethod
    def parse(cls, text: str | None) -> Rating:
        """Vendor words ("Important", "moderate", "unimportant", "MEDIUM") to a rating."""
        if not text:
            return cls.UNKNOWN
        t = text.strip().lower()
        return _WORDS.get(t, cls.UNKNOWN)


_RANK = {
    Rating.UNKNOWN: 0,
    Rating.NEGLIGIBLE: 1,
    Rating.LOW: 2,
    Rating.MEDIUM: 3,
    Rating.HIGH: 4,
    Rating.CRITICAL: 5,
}
_WORDS = {
    "critical": Rating.CRITICAL,
    "high": Rating.HIGH,
    "important": Rating.HIGH,
    "medium": Rating.MEDIUM,
    "moderate": Rating.MEDIUM,
    "low": Rating.LOW,
    "negligible": Rating.NEGLIGIBLE,
    "unimportant": Rating.NEGLIGIBLE,
    "not yet assigned": Rating.UNKNOWN,
    "unknown": Rating.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class Severity:
    """One severity statement, with where it came from."""

    source: str  # who says so: "nvd", "ghsa", "debian", "alpine", "osv:PyPI", ...
    rating: Rating
    type: str = "vendor"  # "CVSS_V2", "CVSS_V3", "CVSS_V4", "vendor"
    vector: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class AffectedRange:
    type: str  # "ECOSYSTEM" | "SEMVER" (GIT ranges are dropped at import)
    events: tuple[tuple[str, str], ...]  # (("introduced", "0"), ("fixed", "1.2.3"))


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """Which versions of one package, in one ecosystem (and release), are affected."""

    ecosystem: str  # OSV name without release: "Debian", "Alpine", "PyPI", "Go", ...
    name: str  # normalised: PEP 503 for PyPI; source package for Debian; origin for Alpine
    release: str = ""  # "12" (Debian), "v3.19" (Alpine), "22.04" (Ubuntu); "" = any
    ranges: tuple[AffectedRange, ...] = ()
    versions: tuple[str, ...] = ()  # explicitly listed affected versions
    fix_state: FixState = FixState.UNKNOWN
    severity: Rating | None = None  # the distro's per-package severity (Debian urgency)
    purl: str | None = None

    def fixed_versions(self) -> tuple[str, ...]:
        return tuple(v for r in self.ranges for k, v in r.events if k == "fixed")


@dataclass(frozen=True)
class Advisory:
    id: str  # "GHSA-xxxx", "PYSEC-2021-1", "CVE-2024-0727", "DSA-5417-1", "GO-2024-2687"
    source: str  # feed that delivered it: "osv/PyPI", "alpine/secdb", "debian/dsa"
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    published: str | None = None  # RFC 3339
    modified: str | None = None
    withdrawn: str | None = None
    references: tuple[str, ...] = ()
    severities: tuple[Severity, ...] = ()
    affected: tuple[AffectedPackage, ...] = ()
    cwes: tuple[str, ...] = ()

    @property
    def cve_ids(self) -> tuple[str, ...]:
        return tuple(i for i in (self.id, *self.aliases) if i.startswith("CVE-"))


@dataclass(frozen=True, slots=True)
class CveEnrichment:
    """Per-CVE facts from NVD, FIRST EPSS and CISA KEV, kept apart from advisories."""

    cve: str
    nvd_severities: tuple[Severity, ...] = ()
    cwes: tuple[str, ...] = ()
    description: str = ""
    published: str | None = None
    epss_score: float | None = None
    epss_percentile: float | None = None
    epss_date: str | None = None
    kev: bool = False
    kev_date_added: str | None = None
    kev_due_date: str | None = None
    kev_ransomware: str | None = None
    references: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class FeedProblem:
    """A record a feed importer skipped, and why (one line, naming the record)."""

    source: str
    record: str  # file/record id, e.g. "PyPI-all.zip:PYSEC-2021-1.json"
    reason: str
