"""Sub-assessments through HTTP, checked field by field against Azure's published
examples (the MDVM-era ARG result in Defender's `subassessment-rest-api.md` and the
older `ListSubscriptionSubAssessments_example.json` of azure-rest-api-specs)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from shoal.service.context import ServiceContext
from shoal.service.views.findings import set_exemption
from tests.support.service import START
from tests.unit.service.views import seed as _seed
from tests.unit.service.views.seed import (
    D1,
    OPENSSL_0108,
    OPENSSL_3400,
    REQUESTS_GHSA,
    World,
)

# the view tests' fixtures: seeded world on both databases, and a client on it
api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world

MDVM = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
QUALYS = "dbd0cb49-b563-45e7-9724-889e799fa648"

# The example's structure (values trimmed): every key here must be in shoal's answer.
MDVM_EXAMPLE: dict[str, Any] = {
    "id": "/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft."
    "ContainerRegistry/registries/{Registry Name}/providers/Microsoft.Security/assessments/"
    "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/subassessments/{SubAssessmentId}",
    "name": "{SubAssessmentId}",
    "type": "microsoft.security/assessments/subassessments",
    "properties": {
        "id": "CVE-2022-42969",
        "additionalData": {
            "assessedResourceType": "AzureContainerRegistryVulnerability",
            "vulnerabilityDetails": {
                "severity": "High",
                "exploitabilityAssessment": {
                    "exploitStepsPublished": False,
                    "exploitStepsVerified": False,
                    "isInExploitKit": False,
                    "exploitUris": [],
                    "types": ["Remote"],
                },
                "lastModifiedDate": "2023-09-12T00:00:00Z",
                "publishedDate": "2022-10-16T06:15:00Z",
                "workarounds": [],
                "references": [{"title": "CVE-2022-42969", "link": "https://nvd.nist.gov/..."}],
                "weaknesses": {"cwe": [{"id": "CWE-1333"}]},
                "cveId": "CVE-2022-42969",
                "cvss": {
                    "2.0": None,
                    "3.0": {"cvssVectorString": "CVSS:3.0/AV:N/...", "base": 7.5},
                },
                "cpe": {
                    "language": "*",
                    "softwareEdition": "*",
                    "version": "*",
                    "targetHardware": "*",
                    "targetSoftware": "python",
                    "vendor": "py",
                    "edition": "*",
                    "product": "py",
                    "update": "*",
                    "other": "*",
                    "part": "Applications",
                    "uri": "cpe:2.3:a:py:py:*:*:*:*:*:python:*:*",
                },
            },
            "artifactDetails": {
                "lastPushedToRegistryUTC": "2023-09-04T16:05:32.8223098Z",
                "repositoryName": "public/azureml/...",
                "registryHost": "ptebic.azurecr.io",
                "artifactType": "ContainerImage",
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": "sha256:4af8...",
                "tags": ["biweekly.202309.1"],
            },
            "softwareDetails": {
                "category": "Language",
                "language": "python",
                "fixedVersion": "",
                "version": "1.11.0.0",
                "vendor": "py",
                "packageName": "py",
                "osDetails": {"osPlatform": "linux", "osVersion": "ubuntu_linux_20.04"},
                "fixStatus": "FixAvailable",
                "evidence": [],
            },
            "cvssV30Score": 7.5,
        },
        "description": "This vulnerability affects ...",
        "displayName": "CVE-2022-42969",
        "resourceDetails": {"id": "/repositories/.../images/sha256:4af8...", "source": "Azure"},
        "timeGenerated": "2023-09-12T13:36:15.0772799Z",
        "remediation": "No remediation exists",
        "status": {
            "description": "Disabled parent assessment",
            "severity": "High",
            "code": "NotApplicable",
            "cause": "Exempt",
        },
    },
}

QUALYS_EXAMPLE: dict[str, Any] = {
    "id": "/subscriptions/.../providers/Microsoft.Security/assessments/.../subAssessments/...",
    "name": "8c98f353-8b41-4e77-979b-6adeecd5d168",
    "type": "Microsoft.Security/assessments/subAssessments",
    "properties": {
        "displayName": "'Back Orifice' Backdoor",
        "id": "1001",
        "status": {
            "code": "Unhealthy",
            "cause": "",
            "severity": "High",
            "description": "The resource is unhealthy",
        },
        "resourceDetails": {"source": "Azure", "id": "/subscriptions/..."},
        "remediation": "Use a recent anti-virus program ...",
        "impact": "3",
        "category": "Backdoors and trojan horses",
        "description": "The backdoor 'Back Orifice' was detected ...",
        "timeGenerated": "2019-06-23T12:20:08.7644808Z",
        "additionalData": {
            "assessedResourceType": "ContainerRegistryVulnerability",
            "imageDigest": "c186fc44-3154-4ce2-ba18-b719d895c3b0",
            "repositoryName": "myRepo",
            "type": "Vulnerability",
            "cvss": {"2.0": {"base": 10}, "3.0": {"base": 10}},
            "patchable": True,
            "cve": [{"title": "CVE-2019-12345", "link": "http://contoso.com"}],
            "publishedTime": "2018-01-01T00:00:00.0000000Z",
            "vendorReferences": [{"title": "Reference_1", "link": "http://contoso.com"}],
        },
    },
}

# Where shoal may add keys: Azure's envelope has impact/category (the MDVM example leaves
# them out), the spec's osDetails has osName, and extras go under additionalData.shoal.
ALLOWED_EXTRA = {
    ("properties",): {"impact", "category"},
    ("properties", "additionalData"): {"shoal"},
    ("properties", "additionalData", "softwareDetails", "osDetails"): {"osName"},
}
# Dictionaries keyed by data, not fields: `cvss` maps a CVSS version to its scores, and
# only the versions a vulnerability has scores in are there.
MAPS = {("properties", "additionalData", "cvss")}


def same_shape(ours: Any, example: Any, path: tuple[str, ...] = ()) -> None:
    """Every key of `example` is in `ours` with a value of the same JSON kind (a null in
    either is allowed: the example's own nulls show the field is optional), and `ours`
    has no key the example lacks except the allowed extras."""
    if isinstance(example, dict) and isinstance(ours, dict):
        extra = set(ours) - set(example) - ALLOWED_EXTRA.get(path, set())
        assert not extra, f"{'.'.join(path)}: keys Azure does not have: {sorted(extra)}"
        missing = set(example) - set(ours) if path not in MAPS else set()
        assert not missing, f"{'.'.join(path)}: missing {sorted(missing)}"
        for k in example:
            if k in ours:
                same_shape(ours[k], example[k], (*path, k))
    elif isinstance(example, list) and isinstance(ours, list):
        if example and ours:
            same_shape(ours[0], example[0], (*path, "0"))
    elif ours is None or example is None:
        return
    else:
        kinds = (bool, (int, float), str)
        kind = next(k for k in kinds if isinstance(example, k))
        assert isinstance(ours, kind) and (
            kind is not (int, float) or not isinstance(ours, bool)
        ), f"{'.'.join(path)}: {ours!r} is not like {example!r}"


def _all(api: TestClient, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while url:
        r = api.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"value", "nextLink"}
        out += body["value"]
        url = body["nextLink"]
    return out


def test_mdvm_shape_field_by_field(api: TestClient, vctx: ServiceContext, world: World) -> None:
    sub = world.subs["alpha"]
    fid = world.fid("i1", OPENSSL_3400)
    r = api.get(
        f"/api/v1/subscriptions/{sub}/assessments/{MDVM}/subAssessments/{fid}",
        params={"api-version": "2019-01-01-preview"},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    same_shape(doc, MDVM_EXAMPLE)
    assert doc["name"] == fid
    assert doc["type"] == "Microsoft.Security/assessments/subAssessments"
    assert doc["id"] == (
        f"/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/registries/reg1"
        f"/providers/Microsoft.Security/assessments/{MDVM}/subAssessments/{fid}"
    )
    # the ARG query tools use to find the assessment key
    key = re.search(r"(?i)providers/Microsoft.Security/assessments/([^/]*)", doc["id"])
    assert key is not None and key.group(1) == MDVM
    p = doc["properties"]
    assert (p["id"], p["displayName"]) == ("CVE-2024-3400", "CVE-2024-3400")
    assert p["description"].startswith("A command injection as a result of arbitrary file")
    assert p["remediation"] == "Upgrade openssl from 3.0.11-1~deb12u2 to 3.0.13-1 or later"
    assert (p["impact"], p["category"]) == ("5", "OS")
    assert p["timeGenerated"] == (START + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert p["status"] == {
        "code": "Unhealthy",
        "cause": "",
        "severity": "High",
        "description": "The resource is unhealthy",
    }
    assert p["resourceDetails"] == {"source": "Azure", "id": f"/repositories/app/images/{D1}"}
    ad = p["additionalData"]
    assert ad["assessedResourceType"] == "AzureContainerRegistryVulnerability"
    assert ad["cvssV30Score"] == 10.0
    vd = ad["vulnerabilityDetails"]
    assert (vd["severity"], vd["cveId"], vd["publishedDate"]) == (
        "Critical",
        "CVE-2024-3400",
        "2024-04-12T08:15:06.230Z",
    )
    assert vd["cvss"] == {
        "2.0": None,
        "3.0": {"cvssVectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "base": 10.0},
    }
    assert vd["weaknesses"] == {"cwe": [{"id": "CWE-20"}, {"id": "CWE-77"}]}
    assert vd["references"][0] == {
        "title": "CVE-2024-3400",
        "link": "https://nvd.nist.gov/vuln/detail/CVE-2024-3400",
    }
    assert {
        "title": "CVE-2024-3400",
        "link": "https://security.paloaltonetworks.com/CVE-2024-3400",
    } in (vd["references"])
    assert vd["exploitabilityAssessment"]["exploitStepsVerified"] is False
    assert vd["cpe"]["uri"] == "cpe:2.3:a:debian:openssl:3.0.11-1\\~deb12u2:*:*:*:*:*:*:*"
    assert ad["artifactDetails"] == {
        "lastPushedToRegistryUTC": "2026-11-02T09:30:00Z",
        "repositoryName": "app",
        "registryHost": "reg1.example:5000",
        "artifactType": "ContainerImage",
        "mediaType": None,
        "digest": D1,
        "tags": ["latest", "v1"],
    }
    assert ad["softwareDetails"] == {
        "category": "OS",
        "language": "",
        "fixedVersion": "3.0.13-1",
        "version": "3.0.11-1~deb12u2",
        "vendor": "debian",
        "packageName": "openssl",
        "osDetails": {"osPlatform": "linux", "osName": "debian", "osVersion": "12"},
        "fixStatus": "FixAvailable",
        "evidence": [],
    }
    extras = ad["shoal"]
    assert (extras["findingId"], extras["severity"], extras["state"]) == (fid, "critical", "open")
    assert (extras["registryHost"], extras["epss"], extras["kev"]) == (
        "reg1.example:5000",
        None,
        {"listed": False, "dateAdded": None},
    )


def test_language_package_kev_and_no_fix(api: TestClient, world: World) -> None:
    sub = world.subs["alpha"]
    base = f"/api/v1/subscriptions/{sub}/assessments/{MDVM}/subAssessments"
    ghsa = api.get(f"{base}/{world.fid('i2', REQUESTS_GHSA)}").json()["properties"]
    sd = ghsa["additionalData"]["softwareDetails"]
    assert (sd["category"], sd["language"], sd["packageName"], sd["fixStatus"]) == (
        "Language",
        "python",
        "requests",
        "FixAvailable",
    )
    assert ghsa["additionalData"]["vulnerabilityDetails"]["cvss"] == {"2.0": None, "3.0": None}
    assert ghsa["additionalData"]["cvssV30Score"] is None
    assert ghsa["status"]["severity"] == "High" and ghsa["category"] == "Language"
    kev = api.get(f"{base}/{world.fid('i1', OPENSSL_0108)}").json()["properties"]
    ea = kev["additionalData"]["vulnerabilityDetails"]["exploitabilityAssessment"]
    assert (ea["exploitStepsPublished"], ea["exploitStepsVerified"]) == (True, True)
    assert kev["additionalData"]["shoal"]["kev"] == {"listed": True, "dateAdded": "2025-02-18"}
    assert kev["remediation"] == "No remediation exists"
    assert kev["additionalData"]["softwareDetails"]["fixStatus"] == "NoFixAvailable"
    assert kev["status"]["severity"] == "Medium"


def test_qualys_shape_field_by_field(api: TestClient, world: World) -> None:
    sub = world.subs["alpha"]
    fid = world.fid("i3", OPENSSL_3400)
    doc = api.get(f"/api/v1/subscriptions/{sub}/assessments/{QUALYS}/subAssessments/{fid}").json()
    same_shape(doc, QUALYS_EXAMPLE)
    assert doc["id"].endswith(
        f"/registries/reg2/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments/{fid}"
    )
    p = doc["properties"]
    assert (p["impact"], p["category"], p["id"]) == ("5", "Vulnerability", "CVE-2024-3400")
    ad = p["additionalData"]
    assert {k: v for k, v in ad.items() if k != "shoal"} == {
        "assessedResourceType": "ContainerRegistryVulnerability",
        "type": "Vulnerability",
        "cvss": {"3.0": {"base": 10.0}},
        "patchable": True,
        "cve": [
            {"title": "CVE-2024-3400", "link": "https://nvd.nist.gov/vuln/detail/CVE-2024-3400"}
        ],
        "publishedTime": "2024-04-12T08:15:06.230Z",
        "vendorReferences": [
            {
                "title": "CVE-2024-3400",
                "link": "https://security.paloaltonetworks.com/CVE-2024-3400",
            }
        ],
        "repositoryName": "app",
        "imageDigest": D1,
    }
    assert ad["shoal"]["registryHost"] == "reg2.example"


def test_exempt_findings_are_not_applicable(
    api: TestClient, vctx: ServiceContext, world: World
) -> None:
    fid = world.fid("i2", REQUESTS_GHSA)
    with vctx.write() as s:
        set_exemption(s, fid, exempted=True, reason="dev only", now=START)
    sub = world.subs["alpha"]
    doc = api.get(f"/api/v1/subscriptions/{sub}/assessments/{MDVM}/subAssessments/{fid}").json()
    assert doc["properties"]["status"] == {
        "code": "NotApplicable",
        "cause": "Exempt",
        "severity": "High",
        "description": "Exempted in shoal",
    }


def test_lists_page_with_next_link(api: TestClient, world: World) -> None:
    sub = world.subs["alpha"]
    open_alpha = {
        world.fid(i, o)
        for i, o in (
            ("i1", OPENSSL_3400),
            ("i1", OPENSSL_0108),
            ("i2", REQUESTS_GHSA),
            ("i2", OPENSSL_3400),
        )
    }
    whole = _all(api, f"/api/v1/subscriptions/{sub}/subAssessments")
    assert len(whole) == 7 and open_alpha <= {d["name"] for d in whole}
    for top in (1, 3):
        paged = _all(api, f"/api/v1/subscriptions/{sub}/subAssessments?$top={top}&api-version=x")
        assert [d["name"] for d in paged] == [d["name"] for d in whole]
    keyed = _all(api, f"/api/v1/subscriptions/{sub}/assessments/{QUALYS}/subAssessments?$top=2")
    assert [d["name"] for d in keyed] == [d["name"] for d in whole]
    assert {d["properties"]["additionalData"]["assessedResourceType"] for d in keyed} == {
        "ContainerRegistryVulnerability"
    }
    r = api.get(f"/api/v1/subscriptions/{sub}/subAssessments?$top=2")
    assert "%24skipToken=" in r.json()["nextLink"] and "%24top=2" in r.json()["nextLink"]
    beta = _all(api, f"/api/v1/subscriptions/{world.subs['beta']}/subAssessments")
    assert {d["properties"]["additionalData"]["artifactDetails"]["registryHost"] for d in beta} == {
        "reg3.example"
    }


def test_errors(api: TestClient, world: World) -> None:
    sub = world.subs["alpha"]
    base = f"/api/v1/subscriptions/{sub}"
    other = world.fid("i4", REQUESTS_GHSA)  # an id that exists nowhere
    cases = [
        (f"{base}/assessments/not-a-key/subAssessments", 404),
        ("/api/v1/subscriptions/999/subAssessments", 404),
        (f"{base}/assessments/{MDVM}/subAssessments/{'0' * 32}", 404),
        (f"{base}/assessments/{MDVM}/subAssessments/nope", 404),
        (f"{base}/assessments/{MDVM}/subAssessments/{other}", 404),
        (f"{base}/subAssessments?$skipToken=garbage", 400),
        (f"{base}/subAssessments?$top=0", 422),
        (f"{base}/subAssessments?$top=1001", 422),
    ]
    for url, status in cases:
        r = api.get(url)
        assert r.status_code == status, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # a beta finding is not one of alpha's sub-assessments
    beta_fid = world.fid("i4", REQUESTS_GHSA)
    assert api.get(f"{base}/assessments/{MDVM}/subAssessments/{beta_fid}").status_code == 404
