"""Merging raw matches into findings: one per (package, vulnerability), every id kept,
every severity statement kept with its source.

The vulnerability id of a match is each CVE its advisory names (an advisory naming
several CVEs, like a DSA, gives one finding per CVE), else the advisory's GHSA alias,
else its own id. Advisories without a CVE that alias each other (a GO id and a GHSA id)
are merged too, so OSV, GHSA and a distribution carrying the same flaw give one finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from shoal.match.engine import RawMatch
from shoal.model.advisory import Advisory, CveEnrichment, FixState, Rating, Severity
from shoal.model.finding import (
    Epss,
    Finding,
    Kev,
    SeverityProvenance,
    finding_key,
    package_ref,
)
from shoal.model.package import Package
from shoal.versions import ECOSYSTEMS

_OS_SCHEMES = frozenset({"deb", "apk", "rpm"})
_OS_ECOSYSTEMS = frozenset(e for e, s in ECOSYSTEMS.items() if s.name in _OS_SCHEMES)


def _is_distro_entry(ecosystem: str) -> bool:
    return ecosystem.split(":", 1)[0].lower() in _OS_ECOSYSTEMS


def vulnerability_ids(adv: Advisory) -> tuple[str, ...]:
    """The ids a match of `adv` is reported under (see the module docstring)."""
    cves = sorted(set(adv.cve_ids))
    if cves:
        return tuple(cves)
    ghsa = sorted(i for i in (adv.id, *adv.aliases) if i.startswith("GHSA-"))
    return (ghsa[0] if ghsa else adv.id,)


class _Group:
    """Raw matches of one package that are one vulnerability."""

    __slots__ = ("advisories", "ids", "matches", "package", "vuln")

    def __init__(self, package: Package, vuln: str) -> None:
        self.package = package
        self.vuln = vuln
        self.ids: set[str] = {vuln}
        self.matches: list[RawMatch] = []
        self.advisories: list[Advisory] = []


def _pkg_key(pkg: Package) -> tuple[str, str, str, str]:
    # The package's identity (what its purl says), not where it was found: the same
    # django 3.2 installed twice is one finding, so finding ids stay unique.
    return pkg.key


def build_findings(
    matches: Sequence[RawMatch],
    advisories: Mapping[tuple[str, str], Advisory],
    enrichment: Mapping[str, CveEnrichment],
) -> list[Finding]:
    """Findings sorted by package then vulnerability."""
    groups: dict[tuple[tuple[str, str, str, str], str], _Group] = {}
    by_alias: dict[tuple[tuple[str, str, str, str], str], _Group] = {}
    vids: dict[tuple[str, str], tuple[str, ...]] = {}
    for m in matches:
        akey = (m.row.source, m.row.advisory_id)
        adv = advisories[akey]
        pk = _pkg_key(m.package)
        all_ids = {adv.id, *adv.aliases}
        ids = vids.get(akey)
        if ids is None:
            ids = vids[akey] = vulnerability_ids(adv)
        for vuln in ids:
            g = groups.get((pk, vuln))
            if g is None and not vuln.startswith("CVE-"):
                # A non-CVE id: join a group that already knows any of its aliases.
                for i in sorted(all_ids):
                    g = by_alias.get((pk, i))
                    if g is not None:
                        break
            if g is None:
                g = groups[(pk, vuln)] = _Group(m.package, vuln)
            g.ids.update(all_ids if len(ids) == 1 else {adv.id, vuln})
            for i in g.ids:
                by_alias.setdefault((pk, i), g)
            g.matches.append(m)
            if adv not in g.advisories:
                g.advisories.append(adv)
    findings = [_finding(g, enrichment) for g in _unique(groups.values())]
    findings.sort(
        key=lambda f: (f.package.type.value, f.package.name, f.package.version, f.vulnerability)
    )
    return findings


def _unique(groups: Iterable[_Group]) -> list[_Group]:
    seen: set[int] = set()
    out = []
    for g in groups:
        if id(g) not in seen:
            seen.add(id(g))
            out.append(g)
    return out


def _finding(g: _Group, enrichment: Mapping[str, CveEnrichment]) -> Finding:
    enr = enrichment.get(g.vuln)
    fix_state, fixed = _fix(g.matches)
    advs = sorted(g.advisories, key=_advisory_rank)
    summary = next((a.summary for a in advs if a.summary), "")
    description = next((a.details for a in advs if a.details), "") or (
        enr.description if enr else ""
    )
    refs: list[str] = []
    for a in advs:
        refs += [r for r in a.references if r not in refs]
    if enr:
        refs += [r for r in enr.references if r not in refs]
    published = (enr.published if enr else None) or min(
        (a.published for a in advs if a.published), default=None
    )
    cwes = sorted({*(c for a in advs for c in a.cwes), *(enr.cwes if enr else ())})
    matched_by = tuple(
        sorted({m.detail for m in g.matches}, key=lambda d: (d.source, d.advisory_id))
    )
    return Finding(
        id=finding_key(package_ref(g.package), g.vuln),
        vulnerability=g.vuln,
        ids=tuple(sorted(g.ids)),
        package=g.package,
        fix_state=fix_state,
        fixed_versions=fixed,
        severity=provenance(g.package.type.is_os, g.matches, advs, enr),
        matched_by=matched_by,
        summary=summary,
        description=description,
        references=tuple(refs),
        published=published,
        cwes=tuple(cwes),
    )


def _advisory_rank(a: Advisory) -> tuple[int, str, str]:
    # Descriptions and references: the CVE-named record first, then GHSA, then the rest.
    kind = 0 if a.id.startswith("CVE-") else 1 if a.id.startswith("GHSA-") else 2
    return (kind, a.source, a.id)


def _fix(matches: Sequence[RawMatch]) -> tuple[FixState, tuple[str, ...]]:
    """Fixed, with the versions, when any matched entry names a fix above the installed
    version. Otherwise what the feeds say: won't fix, then not fixed, then fixed without a
    usable version (a fix only in a GIT range, or after a ``last_affected``), then
    unknown (Debian's "undetermined")."""
    fixed: list[str] = []
    for m in matches:
        fixed += [v for v in m.fixed if v not in fixed]
    if fixed:
        return FixState.FIXED, tuple(fixed)
    states = {m.row.affected.fix_state for m in matches}
    for state in (FixState.WONT_FIX, FixState.NOT_FIXED, FixState.FIXED):
        if state in states:
            return state, ()
    return FixState.UNKNOWN, ()


def _rating(s: Severity) -> Rating:
    if s.rating is Rating.UNKNOWN and s.score is not None:
        return Rating.from_score(s.score)
    return s.rating


_NVD_ORDER = {"CVSS_V3": 0, "CVSS_V4": 1, "CVSS_V2": 2}


def provenance(
    is_os: bool,
    matches: Sequence[RawMatch],
    advisories: Sequence[Advisory],
    enr: CveEnrichment | None,
) -> SeverityProvenance:
    """Every severity statement, grouped by who made it, and the effective one
    (rule in `SeverityProvenance`)."""
    distro: list[Severity] = []
    advisory: list[Severity] = []
    distro_sources = {m.row.source for m in matches if _is_distro_entry(m.row.affected.ecosystem)}
    for m in matches:
        r = m.row.affected.severity
        if r is not None and m.row.source in distro_sources:
            s = Severity(source=m.row.source, rating=r)
            if s not in distro:
                distro.append(s)
    for a in advisories:
        bucket = distro if a.source in distro_sources else advisory
        for s in a.severities:
            if s not in bucket:
                bucket.append(s)
    nvd = list(enr.nvd_severities) if enr else []

    effective, source = Rating.UNKNOWN, ""
    candidates: list[Sequence[Severity]] = []
    if is_os:
        candidates.append(distro)
    candidates.append(sorted(nvd, key=lambda s: _NVD_ORDER.get(s.type, 3)))
    candidates.append(sorted(advisory, key=lambda s: 0 if s.type.startswith("CVSS") else 1))
    for group in candidates:
        known = [s for s in group if _rating(s) is not Rating.UNKNOWN]
        if known:
            # several distro statements (DSA and tracker): the most severe counts
            best = max(known, key=lambda s: _rating(s).rank) if group is distro else known[0]
            effective, source = _rating(best), best.source
            break

    epss = (
        Epss(score=enr.epss_score, percentile=enr.epss_percentile, date=enr.epss_date)
        if enr and enr.epss_score is not None
        else None
    )
    kev = (
        Kev(date_added=enr.kev_date_added, due_date=enr.kev_due_date, ransomware=enr.kev_ransomware)
        if enr and enr.kev
        else None
    )
    return SeverityProvenance(
        effective=effective,
        effective_source=source,
        distro=tuple(distro),
        nvd=tuple(nvd),
        advisory=tuple(advisory),
        epss=epss,
        kev=kev,
    )
