"""shoal's native scan JSON, a stable documented schema: ``shoal/data/schema/scan-1.json``.

Every finding carries its full severity provenance, fix state, match details and the
layer that introduced the package; ignored findings, expired ignore rules and undecided
matches are listed, never dropped. Key order and list order are deterministic, so two
scans of the same image against the same DB differ only in ``generated``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, BinaryIO, ClassVar

from shoal import __version__
from shoal.export.base import Clock, dump_json, iso_seconds, utc_now
from shoal.match.ignore import IgnoreRule
from shoal.model.finding import Finding, MatchUnknown, package_ref
from shoal.scan.formats.base import severity_json, sorted_findings
from shoal.scan.report import ScanReport

SCHEMA_ID = "https://shoal.dev/schema/scan-1.json"


class ScanJsonFormatter:
    id: ClassVar[str] = "json"
    media_type: ClassVar[str] = "application/vnd.shoal.scan+json; version=1"

    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock

    def write(self, report: ScanReport, out: BinaryIO) -> None:
        dump_json(self.to_document(report), out, what="scan JSON")

    def to_document(self, report: ScanReport) -> dict[str, Any]:
        return to_json(report, self._clock())


def to_json(report: ScanReport, generated: datetime) -> dict[str, Any]:
    sbom = report.sbom
    d = sbom.distro
    return {
        "$schema": SCHEMA_ID,
        "schemaVersion": 1,
        "tool": {"name": "shoal", "version": __version__},
        "generated": iso_seconds(generated),
        "db": {"version": report.db_version},
        "target": {
            "reference": sbom.image.reference,
            "manifestDigest": sbom.image.manifest_digest,
            "platform": str(sbom.image.platform) if sbom.image.platform else None,
            "distro": (
                {"id": d.id, "versionID": d.version_id, "codename": d.version_codename}
                if d
                else None
            ),
            "packages": len(sbom.packages),
            "sbomTool": sbom.tool,
        },
        "summary": {
            "findings": len(report.findings),
            "bySeverity": dict(report.counts),
            "ignored": len(report.ignored),
            "filtered": report.filtered,
            "unknowns": len(report.unknowns),
        },
        "findings": [finding_json(f) for f in sorted_findings(report.findings)],
        "ignored": [
            {
                "finding": i.finding.id,
                "vulnerability": i.finding.vulnerability,
                "purl": package_ref(i.finding.package),
                "rule": rule_json(i.rule),
            }
            for i in report.ignored
        ],
        "expiredRules": [rule_json(r) for r in report.expired_rules],
        "unknowns": [unknown_json(u) for u in report.unknowns],
        "catalogUnknowns": [
            {"path": u.path, "cataloger": u.cataloger, "reason": u.reason, "layer": u.layer}
            for u in sbom.unknowns
        ],
    }


def finding_json(f: Finding) -> dict[str, Any]:
    p = f.package
    s = f.severity
    return {
        "id": f.id,
        "key": f.key,
        "vulnerability": f.vulnerability,
        "ids": list(f.ids),
        "package": {
            "name": p.name,
            "version": p.version,
            "type": p.type.value,
            "purl": package_ref(p),
            "sourceName": p.source_name,
            "sourceVersion": p.source_version,
            "layer": {"diffID": p.layer, "createdBy": p.layer_created_by},
            "locations": [loc.path for loc in p.locations],
        },
        "fix": {"state": f.fix_state.value, "versions": list(f.fixed_versions)},
        "severity": {
            "effective": s.effective.value,
            "source": s.effective_source or None,
            "distro": [severity_json(x) for x in s.distro],
            "nvd": [severity_json(x) for x in s.nvd],
            "advisory": [severity_json(x) for x in s.advisory],
            "epss": (
                {
                    "score": s.epss.score,
                    "percentile": s.epss.percentile,
                    "date": s.epss.date,
                    "source": s.epss.source,
                }
                if s.epss
                else None
            ),
            "kev": (
                {
                    "dateAdded": s.kev.date_added,
                    "dueDate": s.kev.due_date,
                    "ransomware": s.kev.ransomware,
                    "source": s.kev.source,
                }
                if s.kev
                else None
            ),
        },
        "summary": f.summary,
        "description": f.description,
        "references": list(f.references),
        "published": f.published,
        "cwes": list(f.cwes),
        "matchedBy": [
            {
                "matcher": m.matcher,
                "ecosystem": m.ecosystem,
                "name": m.name,
                "release": m.release,
                "version": m.version,
                "source": m.source,
                "advisoryID": m.advisory_id,
                "constraint": m.constraint,
            }
            for m in f.matched_by
        ],
    }


def rule_json(r: IgnoreRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "package": r.package,
        "expires": r.expires.isoformat() if r.expires else None,
        "reason": r.reason,
        "origin": r.origin,
    }


def unknown_json(u: MatchUnknown) -> dict[str, Any]:
    return {
        "reason": u.reason,
        "purl": package_ref(u.package) if u.package else None,
        "source": u.source or None,
        "advisoryID": u.advisory_id or None,
    }
