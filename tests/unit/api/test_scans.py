"""Manual scans through the API on both DBs: a tag or digest is resolved against the
real registry before anything is written, the image recorded and its scan queued (202,
status URL); a repository or registry gets a discovery job; errors are problems and
leave nothing behind. (Running the jobs is `tests/integration/service/test_discovery.py`.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shoal.api import create_app
from shoal.db import jobs as dbjobs
from shoal.db.inventory import image_tags
from shoal.db.models import Image, Job
from shoal.db.types import JobKind
from shoal.service.context import ServiceContext
from tests.support.images import BuiltImage, OciLayoutBuilder, push
from tests.support.registry import Registry, free_port
from tests.unit.api._inventory import problem, subscription
from tests.unit.api._inventory import registry as make_registry

BASE = "/api/v1/scans"


@pytest.fixture
def client(ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


@pytest.fixture(scope="module")
def pushed(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, BuiltImage]:
    """One small image pushed to the real registry (once for the module)."""
    repo = f"scans-{uuid.uuid4().hex[:8]}/app"
    layout = OciLayoutBuilder(tmp_path_factory.mktemp("layout"))
    img = layout.add_image([{"/etc/motd": repo.encode()}], tag="1.0")
    push(layout.path, "1.0", f"{registry.host}/{repo}:1.0")
    return repo, img


@pytest.fixture
def reg(client: TestClient, registry: Registry) -> dict[str, Any]:
    return registry_of(client, registry.url)


def registry_of(client: TestClient, url: str) -> dict[str, Any]:
    sub = subscription(client, f"s-{uuid.uuid4().hex[:6]}")
    return make_registry(client, sub["id"], url=url)


def counts(ctx: ServiceContext) -> tuple[int, int]:
    with ctx.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Job)) or 0),
            int(s.scalar(select(func.count()).select_from(Image)) or 0),
        )


def test_a_tag_is_resolved_recorded_and_queued_once(
    client: TestClient, ctx: ServiceContext, reg: dict[str, Any], pushed: tuple[str, BuiltImage]
) -> None:
    repo, img = pushed
    resp = client.post(
        BASE, json={"registry_id": reg["id"], "repository": repo, "reference": "1.0"}
    )
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert doc["digest"] == img.manifest_digest
    [job] = doc["jobs"]
    assert job["kind"] == "scan_image" and job["state"] == "queued" and job["attempts"] == 0
    assert job["image_id"] == doc["image_id"]
    assert doc["status_url"] == f"/api/v1/scans/{job['id']}" == resp.headers["location"]
    with ctx.read() as s:
        image = s.get(Image, doc["image_id"])
        assert image is not None and image.digest == img.manifest_digest
        assert image.pushed_at is None  # shoal did not see the push
        assert image_tags(s, image.id) == ["1.0"]
        assert s.get(Job, job["id"]).payload["trigger"] == "manual"  # type: ignore[union-attr]

    status = client.get(doc["status_url"])
    assert status.status_code == 200 and status.json() == job

    # the same image again, by tag or by digest: the same job
    again = client.post(
        BASE, json={"registry_id": reg["id"], "repository": repo, "reference": img.manifest_digest}
    )
    assert again.status_code == 202 and again.json()["jobs"] == [job]
    assert counts(ctx) == (1, 1)


def test_repository_and_registry_scans_queue_discovery(
    client: TestClient, ctx: ServiceContext, reg: dict[str, Any]
) -> None:
    whole = client.post(BASE, json={"registry_id": reg["id"]})
    one = client.post(BASE, json={"registry_id": reg["id"], "repository": "team/app"})
    assert whole.status_code == one.status_code == 202
    assert whole.json()["image_id"] is None and whole.json()["digest"] is None
    ids = [whole.json()["jobs"][0]["id"], one.json()["jobs"][0]["id"]]
    assert ids[0] != ids[1]
    with ctx.read() as s:
        jobs = [s.get(Job, i) for i in ids]
        assert [j.kind for j in jobs if j] == [JobKind.DISCOVER_REGISTRY] * 2
        assert [j.payload for j in jobs if j] == [
            {"registry_id": reg["id"], "scan_all": True},
            {"registry_id": reg["id"], "repository": "team/app", "scan_all": True},
        ]
    assert one.json()["jobs"][0]["registry_id"] == reg["id"]


def test_errors_leave_nothing_behind(
    client: TestClient, ctx: ServiceContext, reg: dict[str, Any], pushed: tuple[str, BuiltImage]
) -> None:
    repo, _ = pushed
    rid = reg["id"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"registry_id": rid, "reference": "1.0"}, 422, "needs body.repository"),
        ({"registry_id": rid, "repository": "Bad/Name"}, 422, "invalid repository name"),
        ({"registry_id": 999, "repository": repo}, 422, "registry 999 does not exist"),
        ({"registry_id": rid, "repository": repo, "reference": "no!"}, 422, "neither a tag"),
        ({"registry_id": rid, "repository": repo, "reference": "sha256:zz"}, 422, "digest"),
        ({"registry_id": rid, "repository": repo, "reference": "nope"}, 404, "not in the registry"),
        ({"registry_id": rid, "repository": "no/such", "reference": "1.0"}, 404, "no/such:1.0"),
        ({"registry_id": rid, "extra": 1}, 422, "body.extra"),
        ({}, 422, "body.registry_id"),
    ]
    for body, status, detail in cases:
        problem(client.post(BASE, json=body), status, detail)
    assert counts(ctx) == (0, 0)

    client.patch(f"/api/v1/subscriptions/{reg['subscription_id']}", json={"plan_enabled": False})
    problem(client.post(BASE, json={"registry_id": rid}), 409, "plan switched off")
    assert counts(ctx) == (0, 0)

    closed = registry_of(client, f"http://127.0.0.1:{free_port()}")
    ctx.settings.oci.retries = 0
    body = {"registry_id": closed["id"], "repository": repo, "reference": "1.0"}
    problem(client.post(BASE, json=body), 502, "127.0.0.1")
    assert counts(ctx) == (0, 0)


def test_status_of_unknown_and_non_scan_jobs_is_404(
    client: TestClient, ctx: ServiceContext
) -> None:
    with ctx.write() as s:
        feed = dbjobs.enqueue(s, JobKind.UPDATE_FEEDS, "slot-1").job_id
    problem(client.get(f"{BASE}/{feed}"), 404, f"scan '{feed}' does not exist")
    problem(client.get(f"{BASE}/424242"), 404)
    problem(client.get(f"{BASE}/0"), 422)
    problem(client.get(f"{BASE}/{2**63}"), 422)
