"""Findings as Azure Security Center / Defender sub-assessments, so tools written for
that API can read shoal (see `/work/shared/specs/azure-subassessments.md`).

Two shapes, chosen by the assessment key in the path, as in Azure:
- `c0b7cfc6-3172-465a-b378-53c7ff2cc0d5` (Defender's key for registry images, MDVM era):
  `additionalData.assessedResourceType = "AzureContainerRegistryVulnerability"` with
  `vulnerabilityDetails`, `artifactDetails`, `softwareDetails`, `cvssV30Score`;
- `dbd0cb49-b563-45e7-9724-889e799fa648` (the older Qualys-era key):
  `"ContainerRegistryVulnerability"` with `type`, `cvss`, `patchable`, `cve`,
  `publishedTime`, `vendorReferences`, `repositoryName`, `imageDigest`.
Field names follow the published JSON examples exactly; what Azure has no field for
(shoal's own severity, EPSS, KEV, layer, finding state, registry host in the older
shape) is under `additionalData.shoal`.

One sub-assessment per finding (image x package x vulnerability): Azure's
`softwareDetails` describes one package, and the sub-assessment's `name` is then the
finding's stable id, the same one the findings API, CLI and exports show. Open findings
are Unhealthy; exempted ones NotApplicable with cause Exempt (as Defender shows an
exemption); fixed ones Healthy (listed only when asked for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from packageurl import PackageURL
from sqlalchemy import select
from sqlalchemy.orm import Session

from shoal.db.findings import effective_last_seen
from shoal.db.models import Finding, Subscription
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.views import cursor as cur
from shoal.service.views.context import ImageContext, image_contexts
from shoal.service.views.errors import InvalidQuery, NotFound
from shoal.service.views.findings import check_finding_id, scope_conditions
from shoal.service.views.vulninfo import Cvss, VulnInfo, vuln_info

TYPE = "Microsoft.Security/assessments/subAssessments"


class AssessmentKey(StrEnum):
    MDVM = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
    QUALYS = "dbd0cb49-b563-45e7-9724-889e799fa648"


def parse_key(key: str) -> AssessmentKey:
    try:
        return AssessmentKey(key.lower())
    except ValueError:
        raise NotFound("assessment", key) from None


_STATUS_SEVERITY = {
    Rating.CRITICAL: "High",
    Rating.HIGH: "High",
    Rating.MEDIUM: "Medium",
    Rating.LOW: "Low",
    Rating.NEGLIGIBLE: "Low",
    Rating.UNKNOWN: "Medium",  # Azure has three levels; the real rating is beside it
}
_IMPACT = {  # the older shape's impact is Qualys' 1-5 level as a string
    Rating.CRITICAL: "5",
    Rating.HIGH: "4",
    Rating.MEDIUM: "3",
    Rating.LOW: "2",
    Rating.NEGLIGIBLE: "1",
    Rating.UNKNOWN: "",
}
_OS_TYPES = {"deb", "apk", "rpm", "alpm"}
_LANGUAGES = {
    "pypi": "python",
    "golang": "go",
    "npm": "javascript",
    "maven": "java",
    "gem": "ruby",
    "cargo": "rust",
    "nuget": ".net",
    "composer": "php",
}


@dataclass(frozen=True, slots=True)
class SubAssessmentPage:
    items: Sequence[dict[str, Any]]
    next_cursor: str | None


def list_subassessments(
    session: Session,
    ctx: ServiceContext,
    subscription_id: int,
    key: AssessmentKey,
    *,
    states: tuple[FindingState, ...] = (FindingState.OPEN, FindingState.EXEMPTED),
    cursor: str | None = None,
    limit: int = 100,
) -> SubAssessmentPage:
    """A page of the subscription's sub-assessments, by finding id."""
    cur.check_limit(limit, parameter="$top")
    _subscription(session, subscription_id)
    conds = [*scope_conditions(subscription_id=subscription_id), Finding.state.in_(states)]
    kind = f"subassessments/{subscription_id}"
    if cursor is not None:
        (after,) = cur.decode(kind, cursor, (str,), parameter="$skipToken")
        conds.append(Finding.id > after)
    rows = list(
        session.scalars(select(Finding).where(*conds).order_by(Finding.id).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = render(session, ctx, rows, key)
    return SubAssessmentPage(items, cur.encode(kind, rows[-1].id) if more else None)


def get_subassessment(
    session: Session, ctx: ServiceContext, subscription_id: int, key: AssessmentKey, name: str
) -> dict[str, Any]:
    _subscription(session, subscription_id)
    try:
        check_finding_id(name)
    except InvalidQuery:
        raise NotFound("sub-assessment", name) from None
    f = session.scalars(
        select(Finding).where(
            Finding.id == name, *scope_conditions(subscription_id=subscription_id)
        )
    ).first()
    if f is None:
        raise NotFound("sub-assessment", name)
    return render(session, ctx, [f], key)[0]


def _subscription(session: Session, subscription_id: int) -> Subscription:
    if not 1 <= subscription_id <= 2**31 - 1:
        raise NotFound("subscription", subscription_id)
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound("subscription", subscription_id)
    return sub


def render(
    session: Session, ctx: ServiceContext, rows: Sequence[Finding], key: AssessmentKey
) -> list[dict[str, Any]]:
    images = image_contexts(session, (f.image_id for f in rows))
    infos = vuln_info(ctx, (f.vulnerability_id for f in rows))
    make = _mdvm if key is AssessmentKey.MDVM else _qualys
    return [_envelope(f, images[f.image_id], infos[f.vulnerability_id], key, make) for f in rows]


def _iso(t: Any) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def _status(f: Finding) -> dict[str, str]:
    sev = _STATUS_SEVERITY[f.severity]
    if f.state is FindingState.EXEMPTED:
        return {
            "code": "NotApplicable",
            "cause": "Exempt",
            "severity": sev,
            "description": "Exempted in shoal",
        }
    if f.state is FindingState.FIXED:
        return {
            "code": "Healthy",
            "cause": "",
            "severity": sev,
            "description": "No longer found in the image",
        }
    return {
        "code": "Unhealthy",
        "cause": "",
        "severity": sev,
        "description": "The resource is unhealthy",
    }


def _remediation(f: Finding) -> str:
    fixed = list(f.fixed_versions or ())
    if f.fixable and fixed:
        return f"Upgrade {f.package_name} from {f.package_version} to {fixed[0]} or later"
    return "No remediation exists"


def _envelope(
    f: Finding, image: ImageContext, info: VulnInfo, key: AssessmentKey, make: Any
) -> dict[str, Any]:
    arm_id = (
        f"/subscriptions/{image.subscription_id}/providers/Microsoft.ContainerRegistry"
        f"/registries/{image.registry_name}/providers/Microsoft.Security/assessments/{key.value}"
        f"/subAssessments/{f.id}"
    )
    props: dict[str, Any] = {
        "id": f.vulnerability_id,
        "displayName": f.vulnerability_id
        if key is AssessmentKey.MDVM
        else (info.summary or f.vulnerability_id),
        "status": _status(f),
        "remediation": _remediation(f),
        "impact": _IMPACT[f.severity],
        "category": _category(f.package_purl)[0] if key is AssessmentKey.MDVM else "Vulnerability",
        "description": info.description or info.summary or f.vulnerability_id,
        "timeGenerated": _iso(effective_last_seen(f.state, f.last_seen, image.last_scanned_at)),
        "resourceDetails": {
            "source": "Azure",
            "id": f"/repositories/{image.repository_name}/images/{image.digest}",
        },
        "additionalData": make(f, image, info),
    }
    props["additionalData"]["shoal"] = _shoal(f, image, info)
    return {"id": arm_id, "name": f.id, "type": TYPE, "properties": props}


def _cvss_block(c: Cvss | None, *, mdvm: bool) -> dict[str, Any] | None:
    if c is None:
        return None
    if mdvm:
        return {"cvssVectorString": c.vector or "", "base": c.score}
    return {"base": c.score}


def _by_version(info: VulnInfo, major: str) -> Cvss | None:
    found = [c for c in info.cvss if c.version.startswith(major) and c.score is not None]
    return max(found, key=lambda c: (c.source == "nvd", c.version), default=None)


def _refs(urls: Sequence[str]) -> list[dict[str, str]]:
    return [{"title": u.rstrip("/").rsplit("/", 1)[-1] or u, "link": u} for u in urls]


def _cve_link(cve: str) -> str:
    return f"https://nvd.nist.gov/vuln/detail/{cve}"


def _category(purl: str) -> tuple[str, str, str, str, str]:
    """(category, language, vendor, os name, os version) from the package's purl."""
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return ("Language", "", "", "", "")
    quals = p.qualifiers if isinstance(p.qualifiers, dict) else {}
    distro = str(quals.get("distro", ""))
    os_name, _, os_version = distro.partition("-")
    if p.type in _OS_TYPES:
        return ("OS", "", p.namespace or "", os_name or (p.namespace or ""), os_version)
    return ("Language", _LANGUAGES.get(p.type, p.type), p.namespace or "", os_name, os_version)


def _mdvm(f: Finding, image: ImageContext, info: VulnInfo) -> dict[str, Any]:
    category, language, vendor, os_name, os_version = _category(f.package_purl)
    v3 = _by_version(info, "3")
    v2 = _by_version(info, "2")
    fixed = list(f.fixed_versions or ())
    cve = info.cves[0] if info.cves else f.vulnerability_id
    cpe_vendor = vendor or "*"
    return {
        "assessedResourceType": "AzureContainerRegistryVulnerability",
        "vulnerabilityDetails": {
            "severity": f.severity.value.capitalize(),
            "exploitabilityAssessment": {
                "exploitStepsPublished": info.kev,
                "exploitStepsVerified": info.kev,  # CISA lists only exploited CVEs
                "isInExploitKit": False,
                "exploitUris": [],
                "types": [],
            },
            "lastModifiedDate": info.modified,
            "publishedDate": info.published,
            "workarounds": [],
            "references": [{"title": c, "link": _cve_link(c)} for c in info.cves]
            + _refs(info.references),
            "weaknesses": {"cwe": [{"id": w} for w in info.cwes]},
            "cveId": cve,
            "cvss": {"2.0": _cvss_block(v2, mdvm=True), "3.0": _cvss_block(v3, mdvm=True)},
            "cpe": {
                "language": "*",
                "softwareEdition": "*",
                "version": f.package_version or "*",
                "targetHardware": "*",
                "targetSoftware": "*",
                "vendor": cpe_vendor,
                "edition": "*",
                "product": f.package_name,
                "update": "*",
                "other": "*",
                "part": "Applications",
                "uri": f"cpe:2.3:a:{_cpe(cpe_vendor)}:{_cpe(f.package_name)}:"
                f"{_cpe(f.package_version or '*')}:*:*:*:*:*:*:*",
            },
        },
        "artifactDetails": {
            "lastPushedToRegistryUTC": _iso(image.pushed_at),
            "repositoryName": image.repository_name,
            "registryHost": image.registry_host,
            "artifactType": "ContainerImage",
            "mediaType": None,  # shoal does not keep the manifest's media type
            "digest": image.digest,
            "tags": list(image.tags),
        },
        "softwareDetails": {
            "category": category,
            "language": language,
            "fixedVersion": fixed[0] if f.fixable and fixed else "",
            "version": f.package_version,
            "vendor": vendor,
            "packageName": f.package_name,
            "osDetails": {
                "osPlatform": image.platform.split("/", 1)[0] if image.platform else "linux",
                "osName": os_name,
                "osVersion": os_version,
            },
            "fixStatus": "FixAvailable" if f.fixable else "NoFixAvailable",
            "evidence": [],
        },
        "cvssV30Score": v3.score if v3 else None,
    }


def _cpe(part: str) -> str:
    # CPE 2.3 formatted string: escape its special characters
    return "".join("\\" + c if not (c.isalnum() or c in "_-.*") else c for c in part) or "*"


def _qualys(f: Finding, image: ImageContext, info: VulnInfo) -> dict[str, Any]:
    cvss: dict[str, Any] = {}
    for major, name in (("2", "2.0"), ("3", "3.0")):
        c = _by_version(info, major)
        if c is not None:
            cvss[name] = _cvss_block(c, mdvm=False)
    return {
        "assessedResourceType": "ContainerRegistryVulnerability",
        "type": "Vulnerability",
        "cvss": cvss,
        "patchable": f.fixable,
        "cve": [{"title": c, "link": _cve_link(c)} for c in info.cves],
        "publishedTime": info.published,
        "vendorReferences": _refs(info.references),
        "repositoryName": image.repository_name,
        "imageDigest": image.digest,
    }


def _shoal(f: Finding, image: ImageContext, info: VulnInfo) -> dict[str, Any]:
    return {
        "findingId": f.id,
        "vulnerabilityId": f.vulnerability_id,
        "aliases": list(info.aliases),
        "severity": f.severity.value,
        "state": f.state.value,
        "purl": f.package_purl,
        "fixedVersions": list(f.fixed_versions or ()),
        "layerDiffId": f.layer_diff_id,
        "firstSeen": _iso(f.first_seen),
        "lastSeen": _iso(effective_last_seen(f.state, f.last_seen, image.last_scanned_at)),
        "resolvedAt": _iso(f.resolved_at),
        "registryHost": image.registry_host,
        "registryId": image.registry_id,
        "imageId": image.image_id,
        "platform": image.platform,
        "epss": (
            {"score": info.epss_score, "percentile": info.epss_percentile}
            if info.epss_score is not None
            else None
        ),
        "kev": {"listed": info.kev, "dateAdded": info.kev_date_added},
    }
