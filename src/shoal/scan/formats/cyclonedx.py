"""CycloneDX 1.6 JSON with ``vulnerabilities``: the SBOM as `shoal.export.cyclonedx`
writes it, plus one vulnerability entry per vulnerability id, affecting the components
(by bom-ref) it was found in.

Each rating keeps its source (the distribution, NVD, GHSA/OSV); EPSS and KEV, the
effective severity and the match details go in ``shoal:*`` properties, as CycloneDX has
no field for them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, BinaryIO, ClassVar

from shoal.errors import ExportError
from shoal.export.base import Clock, clean_sbom, dump_json, safe_purl, sorted_packages, utc_now
from shoal.export.cyclonedx import CycloneDxJsonFormatter
from shoal.export.identity import package_ids
from shoal.model.advisory import FixState, Rating, Severity
from shoal.model.finding import Finding
from shoal.model.package import Package
from shoal.scan.formats.base import sorted_findings
from shoal.scan.report import ScanReport

_METHOD = {"CVSS_V2": "CVSSv2", "CVSS_V4": "CVSSv4"}
_CWE = re.compile(r"^CWE-(\d{1,6})$")
_SOURCE_URL = {
    "nvd": "https://nvd.nist.gov/vuln/detail/",
    "ghsa": "https://github.com/advisories/",
}


def _method(s: Severity) -> str:
    if s.type == "CVSS_V3":
        return "CVSSv31" if (s.vector or "").startswith("CVSS:3.1") else "CVSSv3"
    return _METHOD.get(s.type, "other")


def _severity(r: Rating) -> str:
    return "info" if r is Rating.NEGLIGIBLE else r.value


class CycloneDxVexFormatter:
    id: ClassVar[str] = "cyclonedx-json"
    media_type: ClassVar[str] = "application/vnd.cyclonedx+json; version=1.6"

    def __init__(self, *, clock: Clock = utc_now, new_uuid: Any = uuid.uuid4) -> None:
        self._sbom_formatter = CycloneDxJsonFormatter(clock=clock, new_uuid=new_uuid)

    def write(self, report: ScanReport, out: BinaryIO) -> None:
        dump_json(self.to_document(report), out, what="CycloneDX")

    def to_document(self, report: ScanReport) -> dict[str, Any]:
        cleaned = clean_sbom(report.sbom)
        doc = self._sbom_formatter.to_document(cleaned)
        refs = _bom_refs(report.sbom.packages, cleaned.packages)
        known = {c.get("bom-ref") for c in doc.get("components", [])}
        by_vuln: dict[str, list[Finding]] = {}
        for f in sorted_findings(report.findings):
            by_vuln.setdefault(f.vulnerability, []).append(f)
        vulns = []
        for vid, fs in by_vuln.items():
            affects = []
            for f in fs:
                ref = refs.get(id(f.package))
                if ref is None or ref not in known:
                    raise ExportError(f"CycloneDX: no component for finding {f.id} ({vid})")
                affects.append(
                    {
                        "ref": ref,
                        "versions": [{"version": f.package.version[:1024], "status": "affected"}],
                    }
                )
            vulns.append(_vulnerability(vid, fs, affects))
        doc["vulnerabilities"] = vulns
        return doc


def _bom_refs(originals: tuple[Package, ...], cleaned: tuple[Package, ...]) -> dict[int, str]:
    """bom-ref of each original package (by object id), computed as the SBOM formatter
    computes them: over the cleaned packages in output order."""
    clean_of = {id(c): o for o, c in zip(originals, cleaned, strict=True)}
    ordered = sorted_packages(cleaned)
    out: dict[int, str] = {}
    for pkg, pid in zip(ordered, package_ids(ordered), strict=True):
        purl = safe_purl(pkg)
        ref = (
            f"{purl}{'&' if '?' in purl else '?'}package-id={pid}"
            if purl
            else f"shoal:package:{pid}"
        )
        out[id(clean_of[id(pkg)])] = ref
    return out


def _source(name: str, vid: str) -> dict[str, str]:
    if vid.startswith("CVE-"):
        return {"name": "NVD", "url": _SOURCE_URL["nvd"] + vid}
    if vid.startswith("GHSA-"):
        return {"name": "GitHub Advisories", "url": _SOURCE_URL["ghsa"] + vid}
    return {"name": name}


def _vulnerability(vid: str, fs: list[Finding], affects: list[dict[str, Any]]) -> dict[str, Any]:
    f = fs[0]
    sev = f.severity
    ratings: list[dict[str, Any]] = []
    for s in (*sev.distro, *sev.nvd, *sev.advisory):
        r: dict[str, Any] = {"source": {"name": s.source}, "severity": _severity(s.rating)}
        if s.score is not None:
            r["score"] = s.score
        if s.vector:
            r["vector"] = s.vector
        r["method"] = _method(s)
        if r not in ratings:
            ratings.append(r)
    ids = sorted({i for x in fs for i in x.ids} - {vid})
    props = [
        {"name": "shoal:severity:effective", "value": sev.effective.value},
        {"name": "shoal:severity:effectiveSource", "value": sev.effective_source or "none"},
    ]
    if sev.epss:
        props.append({"name": "shoal:epss:score", "value": str(sev.epss.score)})
        if sev.epss.percentile is not None:
            props.append({"name": "shoal:epss:percentile", "value": str(sev.epss.percentile)})
    if sev.kev:
        props.append({"name": "shoal:kev", "value": "true"})
        if sev.kev.date_added:
            props.append({"name": "shoal:kev:dateAdded", "value": sev.kev.date_added})
    for x in fs:
        props.append({"name": f"shoal:finding:{x.id}:fixState", "value": x.fix_state.value})
        for m in x.matched_by:
            props.append(
                {
                    "name": f"shoal:finding:{x.id}:matchedBy",
                    "value": f"{m.matcher} {m.ecosystem}/{m.name} {m.source}:{m.advisory_id} "
                    f"({m.constraint})",
                }
            )
    fixed = sorted({v for x in fs for v in x.fixed_versions})
    out: dict[str, Any] = {
        "bom-ref": f"shoal:vuln:{vid}",
        "id": vid,
        "source": _source(f.matched_by[0].source if f.matched_by else "shoal", vid),
    }
    if ids:
        out["references"] = [{"id": i, "source": _source("shoal", i)} for i in ids]
    if ratings:
        out["ratings"] = ratings
    cwes = sorted({int(cm.group(1)) for x in fs for c in x.cwes if (cm := _CWE.match(c))})
    if cwes:
        out["cwes"] = cwes
    if f.summary or f.description:
        out["description"] = (f.summary or f.description)[:10_000]
    if f.description and f.summary:
        out["detail"] = f.description[:100_000]
    if fixed:
        out["recommendation"] = f"Upgrade to a fixed version: {', '.join(fixed)}"
    elif any(x.fix_state is FixState.WONT_FIX for x in fs):
        out["recommendation"] = "The distribution will not fix this."
    urls = [r for r in f.references if r.startswith(("http://", "https://"))]
    if urls:
        out["advisories"] = [{"url": u} for u in urls[:50]]
    if f.published and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", f.published):
        out["published"] = f.published
    out["affects"] = affects
    out["properties"] = props
    return out
