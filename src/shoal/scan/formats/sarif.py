"""SARIF 2.1.0, as code-scanning services (GitHub, GitLab, Azure DevOps) read it.

One rule per vulnerability id, one result per finding. A result's location is the file
the package was found in (``usr/local/lib/python3.11/site-packages/...``, relative to
the image root) or, for packages without one, the image reference; its
``partialFingerprints`` hold the stable finding id so services track it across scans.
``security-severity`` (GitHub's numeric severity) is the CVSS score behind the effective
rating when there is one, else a score in the middle of that rating's CVSS band.
"""

from __future__ import annotations

from typing import Any, BinaryIO, ClassVar
from urllib.parse import quote

from shoal import __version__
from shoal.export.base import dump_json
from shoal.model.advisory import Rating
from shoal.model.finding import Finding, package_ref
from shoal.scan.formats.base import sorted_findings
from shoal.scan.report import ScanReport

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Rating.CRITICAL: "error",
    Rating.HIGH: "error",
    Rating.MEDIUM: "warning",
    Rating.LOW: "note",
    Rating.NEGLIGIBLE: "note",
    Rating.UNKNOWN: "warning",  # not known to be harmless: don't bury it as a note
}
_BAND_SCORE = {
    Rating.CRITICAL: 9.5,
    Rating.HIGH: 8.0,
    Rating.MEDIUM: 5.5,
    Rating.LOW: 2.0,
    Rating.NEGLIGIBLE: 0.1,
    Rating.UNKNOWN: 0.0,
}


class SarifFormatter:
    id: ClassVar[str] = "sarif"
    media_type: ClassVar[str] = "application/sarif+json"

    def write(self, report: ScanReport, out: BinaryIO) -> None:
        dump_json(to_sarif(report), out, what="SARIF")


def security_severity(f: Finding) -> float:
    s = f.severity
    for group in (s.distro, s.nvd, s.advisory):
        for sev in group:
            if sev.source == s.effective_source and sev.score is not None:
                return sev.score
    return _BAND_SCORE[f.rating]


def _uri(f: Finding, image: str) -> str:
    if f.package.locations:
        return quote(f.package.locations[0].path.lstrip("/"), safe="/")
    return quote(image, safe="/:@")


def _message(f: Finding) -> str:
    p = f.package
    fix = (
        f"fixed in {', '.join(f.fixed_versions)}"
        if f.fixed_versions
        else f"fix state: {f.fix_state.value}"
    )
    return (
        f"{p.name} {p.version} ({package_ref(p)}) is affected by {f.vulnerability} "
        f"[{f.rating.value}]; {fix}."
    )


def to_sarif(report: ScanReport) -> dict[str, Any]:
    findings = sorted_findings(report.findings)
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    image = report.sbom.image.reference
    for f in findings:
        if f.vulnerability not in index:
            index[f.vulnerability] = len(rules)
            rules.append(_rule(f))
        results.append(
            {
                "ruleId": f.vulnerability,
                "ruleIndex": index[f.vulnerability],
                "level": _LEVEL[f.rating],
                "message": {"text": _message(f)},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": _uri(f, image)}},
                        "logicalLocations": [{"name": package_ref(f.package), "kind": "package"}],
                    }
                ],
                "partialFingerprints": {"shoalFindingKey/v1": f.key},
                "properties": {
                    "findingId": f.id,
                    "purl": package_ref(f.package),
                    "installedVersion": f.package.version,
                    "fixState": f.fix_state.value,
                    "fixedVersions": list(f.fixed_versions),
                    "layer": f.package.layer,
                    "ids": list(f.ids),
                },
            }
        )
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "shoal",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": {"target": image, "db": report.db_version},
            }
        ],
    }


def _rule(f: Finding) -> dict[str, Any]:
    short = f.summary or f"{f.vulnerability} in {f.package.name}"
    rule: dict[str, Any] = {
        "id": f.vulnerability,
        "name": "".join(ch for ch in f.vulnerability.title() if ch.isalnum()),
        "shortDescription": {"text": short[:1000]},
        "fullDescription": {"text": (f.description or short)[:10_000]},
        "help": {
            "text": f"{f.vulnerability}: {short}\n" + "\n".join(f.references[:20]),
            "markdown": f"**{f.vulnerability}**: {short}\n\n"
            + "\n".join(f"- <{r}>" for r in f.references[:20]),
        },
        "properties": {
            "security-severity": f"{security_severity(f):.1f}",
            "tags": ["security", "vulnerability", f.rating.value],
        },
    }
    if f.references:
        rule["helpUri"] = f.references[0]
    return rule
