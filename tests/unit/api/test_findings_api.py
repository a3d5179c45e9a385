"""GET /findings (filters from the query string, cursor), GET /findings/{id}, and the
exemption POST/DELETE, through HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoal.service.context import ServiceContext
from tests.unit.service.views import seed as _seed
from tests.unit.service.views.seed import (
    BUSYBOX_0005,
    OPENSSL_0108,
    OPENSSL_3400,
    REQUESTS,
    ZLIB_45853,
    World,
)

api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world


def all_pages(api: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    params = dict(params)
    while True:
        r = api.get("/api/v1/findings", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["items"]
        if body["next_cursor"] is None:
            return out
        params["cursor"] = body["next_cursor"]


def test_filters_from_the_query_string(api: TestClient, world: World) -> None:
    got = all_pages(api, {"severity": ["critical", "medium"], "fixable": "false"})
    assert {f["id"] for f in got} == {world.fid("i1", OPENSSL_0108), world.fid("i3", OPENSSL_0108)}
    got = all_pages(api, {"package": REQUESTS})
    assert [f["package"]["name"] for f in got] == ["requests"]
    got = all_pages(api, {"registry_id": world.regs["reg2"], "vulnerability_id": "CVE-2024-3400"})
    assert [f["id"] for f in got] == [world.fid("i3", OPENSSL_3400)]
    got = all_pages(api, {"state": "fixed"})
    assert [f["id"] for f in got] == [world.fid("i1", ZLIB_45853)]
    got = all_pages(api, {"since": "2026-11-02T12:30:00+00:00", "sort": "severity"})
    assert [f["severity"] for f in got] == ["low", "unknown"]
    got = all_pages(
        api,
        {
            "subscription_id": world.subs["beta"],
            "repository_id": world.repos["reg3/tools"],
            "image_id": world.images["i4"],
        },
    )
    assert len(got) == 2


def test_item_shape(api: TestClient, world: World) -> None:
    (f,) = all_pages(api, {"image_id": world.images["i4"], "severity": "unknown"})
    assert f == {
        "id": world.fid("i4", BUSYBOX_0005),
        "vulnerability_id": "CVE-1999-0005",
        "severity": "unknown",
        "fixable": False,
        "fixed_versions": [],
        "package": {
            "name": "busybox",
            "version": "1.36.1-r2",
            "purl": BUSYBOX_0005.purl,
        },
        "layer_diff_id": "sha256:" + "a" * 64,
        "state": "open",
        "first_seen": "2026-11-02T12:30:00Z",
        "last_seen": "2026-11-02T12:30:00Z",
        "resolved_at": None,
        "image": {
            "image_id": world.images["i4"],
            "digest": world.digests["i4"],
            "platform": "linux/amd64",
            "tags": [],
            "repository_id": world.repos["reg3/tools"],
            "repository": "tools",
            "registry_id": world.regs["reg3"],
            "registry": "reg3",
            "registry_host": "reg3.example",
            "subscription_id": world.subs["beta"],
            "last_scanned_at": "2026-11-02T12:30:00Z",
        },
        "exemption_reason": None,
        "exempted_at": None,
    }
    assert api.get(f"/api/v1/findings/{f['id']}").json() == f


@pytest.mark.parametrize("limit", [1, 4])
def test_cursor_round_trip(api: TestClient, world: World, limit: int) -> None:
    for sort in ("first_seen", "severity"):
        whole = all_pages(api, {"state": ["open", "fixed", "exempted"], "sort": sort})
        paged = all_pages(
            api, {"state": ["open", "fixed", "exempted"], "sort": sort, "limit": limit}
        )
        assert [f["id"] for f in paged] == [f["id"] for f in whole]
        assert len({f["id"] for f in paged}) == 10


@pytest.mark.parametrize(
    ("params", "status", "mention"),
    [
        ({"severity": "severe"}, 422, "severity"),
        ({"state": "closed"}, 422, "state"),
        ({"fixable": "maybe"}, 422, "fixable"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 1001}, 422, "limit"),
        ({"sort": "name"}, 422, "sort"),
        ({"registry_id": -1}, 422, "registry_id"),
        ({"since": "yesterday"}, 422, "since"),
        ({"since": "2026-11-01T00:00:00"}, 400, "since"),
        ({"cursor": "abc"}, 400, "cursor"),
        ({"package": ""}, 422, "package"),
        ({"vulnerability_id": "x" * 101}, 422, "vulnerability_id"),
    ],
)
def test_bad_filters_are_problems(
    api: TestClient, params: dict[str, Any], status: int, mention: str
) -> None:
    r = api.get("/api/v1/findings", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and mention in body["detail"]
    assert "\n" not in body["detail"]


def test_get_missing_and_malformed(api: TestClient) -> None:
    assert api.get(f"/api/v1/findings/{'0' * 32}").status_code == 404
    assert api.get("/api/v1/findings/UPPER").status_code == 400


def test_exemption_round_trip(api: TestClient, vctx: ServiceContext, world: World) -> None:
    fid = world.fid("i1", OPENSSL_3400)
    url = f"/api/v1/findings/{fid}/exemption"
    r = api.post(url, json={"reason": "mitigated by the WAF"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "exempted"
    got = api.get(f"/api/v1/findings/{fid}").json()
    assert got["state"] == "exempted"
    assert got["exemption_reason"] == "mitigated by the WAF"
    assert got["exempted_at"] is not None
    assert fid not in {f["id"] for f in all_pages(api, {})}
    again = api.post(url, json={"reason": "again"})
    assert (again.status_code, again.json()["type"]) == (409, "https://shoal.dev/problems/conflict")
    r = api.delete(url)
    assert (r.status_code, r.json()["state"]) == (200, "open")
    assert r.json()["exemption_reason"] == "mitigated by the WAF"  # kept for the record
    assert api.delete(url).status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"reason": ""}, 422),
        ({"reason": "x" * 1001}, 422),
        ({"reason": "ok", "x": 1}, 422),
        ({"reason": "   "}, 400),
    ],
)
def test_exemption_bad_bodies_change_nothing(
    api: TestClient, world: World, body: dict[str, Any], status: int
) -> None:
    fid = world.fid("i1", OPENSSL_3400)
    r = api.post(f"/api/v1/findings/{fid}/exemption", json=body)
    assert r.status_code == status, r.text
    assert api.get(f"/api/v1/findings/{fid}").json()["state"] == "open"
    assert (
        api.post(f"/api/v1/findings/{'0' * 32}/exemption", json={"reason": "r"}).status_code == 404
    )


def test_permissions_attach_per_router(vctx: ServiceContext, world: World) -> None:
    from fastapi import Request

    from shoal.api.app import create_app
    from shoal.api.problems import Problem
    from shoal.api.security import Permission

    asked: list[Permission] = []

    def readers_only(request: Request, permission: Permission) -> None:
        asked.append(permission)
        if permission is Permission.WRITE:
            raise Problem(403, "Forbidden", "security readers cannot exempt findings")

    c = TestClient(create_app(vctx, authorizer=readers_only))
    fid = world.fid("i1", OPENSSL_3400)
    assert c.get(f"/api/v1/findings/{fid}").status_code == 200
    assert c.post(f"/api/v1/findings/{fid}/exemption", json={"reason": "r"}).status_code == 403
    assert c.get(f"/api/v1/findings/{fid}").json()["state"] == "open"
    for url in (
        "/api/v1/vulnerabilities",
        "/api/v1/assessments",
        "/api/v1/events",
        "/api/v1/history/age",
        f"/api/v1/subscriptions/{world.subs['alpha']}/subAssessments",
    ):
        asked.clear()
        assert c.get(url).status_code == 200
        assert asked == [Permission.READ], url
