"""GET /vulnerabilities and /vulnerabilities/{id} through HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.service.views import seed as _seed
from tests.unit.service.views.seed import World

api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world


def test_vulnerabilities(api: TestClient, world: World) -> None:
    r = api.get("/api/v1/vulnerabilities", params={"limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [v["id"] for v in body["items"]] == ["CVE-2024-3400", "GHSA-9wx4-h78v-vm56"]
    top = body["items"][0]
    assert {
        k: top[k]
        for k in (
            "severity",
            "fixable",
            "cvss_score",
            "cvss_vector",
            "kev",
            "images",
            "repositories",
            "registries",
            "findings",
        )
    } == {
        "severity": "critical",
        "fixable": True,
        "cvss_score": 10.0,
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        "kev": False,
        "images": 3,
        "repositories": 3,
        "registries": 2,
        "findings": 3,
    }
    assert top["first_seen"] == "2026-11-02T09:30:00Z"
    rest = api.get("/api/v1/vulnerabilities", params={"limit": 2, "cursor": body["next_cursor"]})
    assert [v["id"] for v in rest.json()["items"]] == ["CVE-2025-0108", "CVE-2023-45853"]
    epss = api.get("/api/v1/vulnerabilities", params={"severity": "unknown"}).json()["items"]
    assert epss[0]["epss"] == {"score": 0.91963, "percentile": 0.99214}
    kev = api.get("/api/v1/vulnerabilities", params={"fixable": "false", "sort": "id"}).json()
    assert [(v["id"], v["kev"]) for v in kev["items"]] == [
        ("CVE-1999-0005", False),
        ("CVE-2025-0108", True),
    ]
    scoped = api.get("/api/v1/vulnerabilities", params={"subscription_id": world.subs["beta"]})
    assert [v["id"] for v in scoped.json()["items"]] == ["CVE-2023-45853", "CVE-1999-0005"]


def test_vulnerability_detail(api: TestClient, world: World) -> None:
    r = api.get("/api/v1/vulnerabilities/CVE-2024-3400", params={"limit": 2})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["cwes"] == ["CWE-20", "CWE-77"]
    assert d["description"].startswith("A command injection")
    assert [a["image"]["image_id"] for a in d["affected_images"]] == [
        world.images["i1"],
        world.images["i2"],
    ]
    assert d["affected_images"][0]["packages"][0]["package"]["name"] == "openssl"
    more = api.get(
        "/api/v1/vulnerabilities/CVE-2024-3400", params={"limit": 2, "cursor": d["next_cursor"]}
    ).json()
    assert [a["image"]["image_id"] for a in more["affected_images"]] == [world.images["i3"]]
    assert more["next_cursor"] is None
    assert api.get("/api/v1/vulnerabilities/CVE-1900-0001").status_code == 404
    assert (
        api.get("/api/v1/vulnerabilities", params={"cursor": d["next_cursor"]}).status_code == 400
    )
    assert api.get("/api/v1/vulnerabilities", params={"severity": "huge"}).status_code == 422
