"""Subscriptions through the API on both DBs: the CRUD round trip, settings validated
by `SubscriptionSettings`, every error a problem+json with a one-line detail."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shoal.api import create_app
from shoal.db.inventory import ensure_repository, record_push
from shoal.db.models import Job, Registry
from shoal.db.types import JobKind
from shoal.service.context import ServiceContext
from tests.support.service import START
from tests.unit.api._inventory import problem, registry, subscription

BASE = "/api/v1/subscriptions"


@pytest.fixture
def client(ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


def test_round_trip(client: TestClient, ctx: ServiceContext) -> None:
    created = subscription(client, "team-a", settings={"unhealthy_severity": "high"})
    assert created == {
        "id": created["id"],
        "name": "team-a",
        "plan_enabled": True,
        "settings": {"unhealthy_severity": "high", "in_use_window_days": 30},
        "created_at": START.isoformat().replace("+00:00", "Z"),
        "registries": 0,
    }
    sid = created["id"]
    assert client.get(f"{BASE}/{sid}").json() == created

    resp = client.patch(
        f"{BASE}/{sid}",
        json={"name": "team-b", "plan_enabled": False, "settings": {"in_use_window_days": 7}},
    )
    assert resp.status_code == 200, resp.text
    changed = resp.json()
    assert changed["name"] == "team-b" and changed["plan_enabled"] is False
    # settings are replaced: a key left out takes its default
    assert changed["settings"] == {"unhealthy_severity": "medium", "in_use_window_days": 7}
    assert client.patch(f"{BASE}/{sid}", json={}).json() == changed

    reg = registry(client, sid)
    assert client.get(f"{BASE}/{sid}").json()["registries"] == 1
    # switching the plan back on queues what arrived while it was off
    with ctx.write() as s:
        repo = ensure_repository(s, reg["id"], "team/app")
        record_push(s, repo.id, "sha256:" + "a" * 64, tags=["v1"], at=START)
    assert client.patch(f"{BASE}/{sid}", json={"plan_enabled": True}).status_code == 200
    with ctx.read() as s:
        [job] = s.scalars(select(Job)).all()
        assert job.kind is JobKind.SCAN_IMAGE and job.payload["trigger"] == "plan"
    resp = client.delete(f"{BASE}/{sid}")
    assert resp.status_code == 204 and resp.content == b""
    problem(client.get(f"{BASE}/{sid}"), 404, f"subscription '{sid}' does not exist")
    with ctx.read() as s:  # its registries went with it
        assert s.scalar(select(func.count()).select_from(Registry)) == 0


def test_list_pages_with_a_cursor(client: TestClient) -> None:
    for i in range(5):
        subscription(client, f"team-{i}")
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get(BASE, params=params).json()
        names += [s["name"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == [f"team-{i}" for i in range(5)] and pages == 3
    problem(client.get(BASE, params={"cursor": "garbage!"}), 400, "cursor")
    other = "WyJpbWFnZXMiLDFd"  # an images cursor: not one of this list
    problem(client.get(BASE, params={"cursor": other}), 400, "not a cursor of this list")
    problem(client.get(BASE, params={"limit": 0}), 422, "query.limit")
    problem(client.get(BASE, params={"limit": 1001}), 422, "query.limit")


def test_errors(client: TestClient) -> None:
    subscription(client, "taken")
    problem(client.post(BASE, json={"name": "taken"}), 409, "'taken' already exists")
    problem(client.post(BASE, json={"name": ""}), 422, "body.name")
    problem(client.post(BASE, json={"name": "x" * 201}), 422, "body.name")
    problem(client.post(BASE, json={"name": "a", "color": "red"}), 422, "body.color")
    problem(client.post(BASE, json={"name": "nul\x00byte"}), 422, "body.name")  # PostgreSQL
    huge = base64.urlsafe_b64encode(json.dumps(["subscriptions", 2**70]).encode()).decode()
    problem(client.get(BASE, params={"cursor": huge}), 400, "cursor")
    problem(
        client.post(BASE, json={"name": "a", "settings": {"unhealthy_severity": "dire"}}),
        422,
        "unhealthy_severity 'dire' is not one of",
    )
    problem(
        client.post(BASE, json={"name": "a", "settings": {"in_use_window_days": 0}}),
        422,
        "in_use_window_days",
    )
    problem(
        client.post(BASE, json={"name": "a", "settings": {"window": 3}}),
        422,
        "unknown key 'window'",
    )
    problem(client.post(BASE, content=b"{", headers={"Content-Type": "application/json"}), 422)
    other = subscription(client, "other")
    problem(client.patch(f"{BASE}/{other['id']}", json={"name": "taken"}), 409, "taken")
    problem(client.patch(f"{BASE}/{other['id']}", json={"name": None}), 422, "body.name")
    problem(client.patch(f"{BASE}/999", json={}), 404)
    problem(client.delete(f"{BASE}/999"), 404)
    problem(client.get(f"{BASE}/0"), 422)
    problem(client.get(f"{BASE}/99999999999"), 422)
    # nothing half-written by any of it
    assert [s["name"] for s in client.get(BASE).json()["items"]] == ["taken", "other"]
