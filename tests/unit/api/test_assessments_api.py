"""GET /assessments and /assessments/{kind}/{id} through HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.service.views import seed as _seed
from tests.unit.service.views.seed import World

api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world


def test_assessments(api: TestClient, world: World) -> None:
    subs = api.get("/api/v1/assessments").json()
    assert [(a["scope"]["name"], a["status"]) for a in subs["items"]] == [
        ("alpha", "unhealthy"),
        ("beta", "unhealthy"),
    ]
    alpha = subs["items"][0]
    assert alpha["recommendation"] == {
        "key": "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5",
        "display_name": "Container registry images should have vulnerability findings resolved",
    }
    assert alpha["open_findings"] == {
        "critical": 3,
        "high": 1,
        "medium": 2,
        "low": 1,
        "negligible": 0,
        "unknown": 0,
    }
    assert (alpha["open_total"], alpha["fixable"], alpha["threshold"]) == (7, 5, "medium")
    assert alpha["images"] == {
        "total": 4,
        "scanned": 3,
        "healthy": 0,
        "unhealthy": 3,
        "not_applicable": 1,
    }
    i5 = api.get(f"/api/v1/assessments/images/{world.images['i5']}").json()
    assert (i5["status"], i5["cause"], i5["scope"]["kind"]) == (
        "not_applicable",
        "not_scanned",
        "image",
    )
    reg = api.get(f"/api/v1/assessments/registries/{world.regs['reg3']}").json()
    assert (reg["scope"], reg["threshold"]) == (
        {"kind": "registry", "id": world.regs["reg3"], "name": "reg3"},
        "high",
    )
    repo = api.get(f"/api/v1/assessments/repositories/{world.repos['reg1/web']}").json()
    assert repo["open_total"] == 2
    sub = api.get(f"/api/v1/assessments/subscriptions/{world.subs['beta']}").json()
    assert sub["scope"]["name"] == "beta"
    imgs = api.get(
        "/api/v1/assessments",
        params={"scope": "image", "registry_id": world.regs["reg1"], "limit": 2},
    )
    body = imgs.json()
    assert len(body["items"]) == 2 and body["next_cursor"]
    nxt = api.get(
        "/api/v1/assessments",
        params={"scope": "image", "registry_id": world.regs["reg1"], "cursor": body["next_cursor"]},
    )
    assert len(nxt.json()["items"]) == 1
    for url, status in (
        ("/api/v1/assessments/images/999", 404),
        ("/api/v1/assessments/images/0", 422),
        ("/api/v1/assessments?scope=planet", 422),
        ("/api/v1/assessments?scope=subscription&registry_id=1", 400),
    ):
        assert api.get(url).status_code == status, url
