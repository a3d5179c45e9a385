"""What the vulnerability DB knows about a vulnerability id: CVSS, EPSS, KEV, text.

Findings store only the id and the severity the match chose; the views add the rest
from the vulnerability DB the service currently matches against. A finding's id may be
a CVE (enrichment is keyed by CVE) or an advisory id (GHSA-..., PYSEC-..., DSA-...):
then its advisories' CVE aliases are looked up. No vulnerability DB (not built yet) or
an id the DB no longer has gives an entry with nothing but the id: the view still
answers, with the facts missing rather than invented.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shoal.model.advisory import Advisory, CveEnrichment, Severity
from shoal.service.context import ServiceContext
from shoal.vulndb.errors import VulnDbError


@dataclass(frozen=True, slots=True)
class Cvss:
    version: str  # "2.0", "3.0", "3.1", "4.0"
    score: float | None
    vector: str | None
    source: str


@dataclass(frozen=True, slots=True)
class VulnInfo:
    id: str
    cves: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""
    description: str = ""
    published: str | None = None
    modified: str | None = None
    cvss: tuple[Cvss, ...] = ()  # NVD's first, then the advisories'
    epss_score: float | None = None
    epss_percentile: float | None = None
    kev: bool = False
    kev_date_added: str | None = None
    cwes: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    @property
    def best_cvss(self) -> Cvss | None:
        """The newest CVSS version with a score (NVD's before an advisory's)."""
        scored = [c for c in self.cvss if c.score is not None]
        if not scored:
            return None
        return max(scored, key=lambda c: (c.version, c.source == "nvd"))


def _cvss_version(s: Severity) -> str | None:
    if s.vector:
        head = s.vector.split("/", 1)[0]
        if head.startswith("CVSS:"):
            return head[5:]
        if s.type == "CVSS_V2":
            return "2.0"
    return {"CVSS_V2": "2.0", "CVSS_V3": "3.1", "CVSS_V4": "4.0"}.get(s.type)


def _cvss(sevs: Iterable[Severity]) -> list[Cvss]:
    out = []
    for s in sevs:
        v = _cvss_version(s)
        if v is not None and (s.score is not None or s.vector):
            out.append(Cvss(v, s.score, s.vector, s.source))
    return out


def vuln_info(ctx: ServiceContext, ids: Iterable[str]) -> dict[str, VulnInfo]:
    """Facts for each id asked for (every id is in the answer)."""
    wanted = sorted(set(ids))
    try:
        db = ctx.vulndb.current()
    except VulnDbError:
        return {i: VulnInfo(i) for i in wanted}
    keys: dict[str, list[tuple[str, str]]] = {}
    for vid in wanted:
        keys[vid] = db.by_alias(vid)
    advisories = db.advisories(k for ks in keys.values() for k in ks)
    cves_of: dict[str, list[str]] = {}
    for vid in wanted:
        found = [advisories[k] for k in keys[vid] if k in advisories]
        cves = [vid] if vid.startswith("CVE-") else []
        for a in found:
            cves += [c for c in a.cve_ids if c not in cves]
        cves_of[vid] = cves
    enrich = db.enrichment(c for cs in cves_of.values() for c in cs)
    out: dict[str, VulnInfo] = {}
    for vid in wanted:
        found = sorted(
            (advisories[k] for k in keys[vid] if k in advisories), key=lambda a: a.source
        )
        out[vid] = _merge(
            vid, cves_of[vid], found, [enrich[c] for c in cves_of[vid] if c in enrich]
        )
    return out


def _merge(vid: str, cves: list[str], advs: list[Advisory], enr: list[CveEnrichment]) -> VulnInfo:
    aliases: list[str] = []
    for a in advs:
        for x in (a.id, *a.aliases):
            if x != vid and x not in aliases:
                aliases.append(x)
    cvss = [c for e in enr for c in _cvss(e.nvd_severities)]
    cvss += [c for a in advs for c in _cvss(a.severities)]
    first = enr[0] if enr else None
    refs: list[str] = []
    for r in [*(r for e in enr for r in e.references), *(r for a in advs for r in a.references)]:
        if r not in refs:
            refs.append(r)
    cwes: list[str] = []
    for w in [*(w for e in enr for w in e.cwes), *(w for a in advs for w in a.cwes)]:
        if w not in cwes:
            cwes.append(w)
    kev = next((e for e in enr if e.kev), None)
    epss = max(
        (e for e in enr if e.epss_score is not None),
        key=lambda e: e.epss_score or 0.0,
        default=None,
    )
    published = min(
        (p for p in [*(e.published for e in enr), *(a.published for a in advs)] if p), default=None
    )
    modified = max((a.modified for a in advs if a.modified), default=None)
    return VulnInfo(
        id=vid,
        cves=tuple(cves),
        aliases=tuple(aliases),
        summary=next((a.summary for a in advs if a.summary), ""),
        description=(first.description if first and first.description else "")
        or next((a.details for a in advs if a.details), ""),
        published=published,
        modified=modified,
        cvss=tuple(cvss),
        epss_score=epss.epss_score if epss else None,
        epss_percentile=epss.epss_percentile if epss else None,
        kev=kev is not None,
        kev_date_added=kev.kev_date_added if kev else None,
        cwes=tuple(cwes),
        references=tuple(refs[:50]),
    )
