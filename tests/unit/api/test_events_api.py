"""GET /events through HTTP: cursor, types, subscription."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.service.views import seed as _seed
from tests.unit.service.views.seed import World

api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world


def test_events(api: TestClient, world: World) -> None:
    first = api.get("/api/v1/events", params={"limit": 5}).json()
    assert len(first["items"]) == 5
    assert first["next_cursor"] == first["items"][-1]["id"]
    ev = first["items"][0]
    assert set(ev) == {
        "id",
        "type",
        "subscription_id",
        "registry_id",
        "image_id",
        "finding_id",
        "payload",
        "created_at",
    }
    ids = [e["id"] for e in first["items"]]
    cursor = first["next_cursor"]
    while True:
        page = api.get("/api/v1/events", params={"cursor": cursor, "limit": 7}).json()
        if not page["items"]:
            assert page["next_cursor"] == cursor
            break
        ids += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert ids == sorted(set(ids)) and len(ids) == 20
    typed = api.get(
        "/api/v1/events",
        params={
            "type": ["finding_resolved", "assessment_changed"],
            "subscription_id": world.subs["beta"],
        },
    ).json()
    assert [e["type"] for e in typed["items"]] == ["assessment_changed"]
    for params in ({"cursor": -1}, {"type": "nothing"}, {"limit": 1001}, {"cursor": "abc"}):
        r = api.get("/api/v1/events", params=params)
        assert r.status_code == 422, params
