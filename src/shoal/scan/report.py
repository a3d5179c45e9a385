"""A scan report: match an SBOM, merge findings, apply filters and ignore rules.

Filters never lose information silently: findings removed by an ignore rule are kept
in `ignored` (with the rule), expired rules in `expired_rules`; findings below the
severity filter or without a fix (``--ignore-unfixed``) are counted in `filtered`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shoal.errors import InvalidReference
from shoal.match.engine import MatchEngine
from shoal.match.ignore import IgnoreRule
from shoal.model.advisory import FixState, Rating
from shoal.model.finding import (
    Finding,
    ImageLocation,
    MatchUnknown,
    image_finding_id,
    package_ref,
)
from shoal.model.sbom import ImageInfo, Sbom
from shoal.oci.reference import parse_reference
from shoal.scan.findings import build_findings
from shoal.vulndb.protocol import VulnSource


@dataclass(frozen=True, slots=True)
class ScanOptions:
    severities: frozenset[Rating] | None = None  # keep only these; None = all
    ignore_unfixed: bool = False
    ignore_rules: Sequence[IgnoreRule] = ()
    today: dt.date | None = None  # for rule expiry; default: today (UTC)


@dataclass(frozen=True, slots=True)
class IgnoredFinding:
    finding: Finding
    rule: IgnoreRule


@dataclass(frozen=True)
class ScanReport:
    sbom: Sbom
    findings: tuple[Finding, ...]
    unknowns: tuple[MatchUnknown, ...]
    db_version: str
    ignored: tuple[IgnoredFinding, ...] = ()
    expired_rules: tuple[IgnoreRule, ...] = ()
    filtered: int = 0  # dropped by --severity / --ignore-unfixed
    counts: dict[str, int] = field(default_factory=dict)  # effective rating -> findings

    def fails(self, threshold: Rating) -> bool:
        """Whether a remaining finding is at or above `threshold` (``--fail-on``)."""
        return any(f.rating.rank >= threshold.rank for f in self.findings)


def parse_severities(text: str) -> frozenset[Rating]:
    """``"critical,high"`` -> ratings; raises ValueError naming a word it does not know."""
    out: set[Rating] = set()
    for word in text.split(","):
        w = word.strip().lower()
        if not w:
            continue
        try:
            out.add(Rating(w))
        except ValueError:
            names = ", ".join(r.value for r in Rating)
            raise ValueError(f"unknown severity {w[:40]!r} (expected one of {names})") from None
    return frozenset(out)


def scan_sbom(sbom: Sbom, source: VulnSource, options: ScanOptions | None = None) -> ScanReport:
    """Match every package of `sbom` against `source` and build the report."""
    options = options or ScanOptions()
    result = MatchEngine(source).match(sbom.packages)
    cves = {i for adv in result.advisories.values() for i in adv.cve_ids}
    enrichment = source.enrichment(cves) if cves else {}
    findings = build_findings(result.matches, result.advisories, enrichment)
    findings = with_image_ids(sbom.image, findings)
    return apply_filters(sbom, findings, result.unknowns, source.version, options)


# what `open_source` reads from disk: no registry, no repository
_LOCAL_SCHEMES = ("oci-dir:", "oci:", "oci-archive:", "docker-archive:")


def image_location(image: ImageInfo) -> ImageLocation:
    """The image as finding ids name it (`image_finding_id`): registry and repository
    from a registry reference (empty for an image read from disk), the pushed digest (an
    index's, when the manifest was chosen from one: what the service stores each of its
    platforms under) and the platform."""
    registry = repository = ""
    if image.reference and not image.reference.startswith(_LOCAL_SCHEMES):
        try:
            ref = parse_reference(image.reference)
        except InvalidReference:
            pass
        else:
            registry, repository = ref.registry, ref.repository
    digest = image.index_digest or image.manifest_digest or ""
    return ImageLocation(registry, repository, digest, str(image.platform or ""))


def with_image_ids(image: ImageInfo, findings: Iterable[Finding]) -> list[Finding]:
    """`findings` with their ids made the image's (`image_finding_id`): the ids the
    service gives the same findings of the same image."""
    where = image_location(image)
    return [
        dataclasses.replace(f, id=image_finding_id(where, package_ref(f.package), f.vulnerability))
        for f in findings
    ]


def apply_filters(
    sbom: Sbom,
    findings: Iterable[Finding],
    unknowns: Sequence[MatchUnknown],
    db_version: str,
    options: ScanOptions,
) -> ScanReport:
    today = options.today or dt.datetime.now(dt.UTC).date()
    active = [r for r in options.ignore_rules if not r.expired(today)]
    expired = tuple(r for r in options.ignore_rules if r.expired(today))
    kept: list[Finding] = []
    ignored: list[IgnoredFinding] = []
    filtered = 0
    for f in findings:
        rule = next((r for r in active if r.matches(f)), None)
        if rule is not None:
            ignored.append(IgnoredFinding(f, rule))
        elif (options.severities is not None and f.rating not in options.severities) or (
            options.ignore_unfixed and f.fix_state is not FixState.FIXED
        ):
            filtered += 1
        else:
            kept.append(f)
    counts = {r.value: 0 for r in Rating}
    for f in kept:
        counts[f.rating.value] += 1
    return ScanReport(
        sbom=sbom,
        findings=tuple(kept),
        unknowns=tuple(unknowns),
        db_version=db_version,
        ignored=tuple(ignored),
        expired_rules=expired,
        filtered=filtered,
        counts=counts,
    )
