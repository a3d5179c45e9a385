"""Discovery and manual scans end to end on both DBs, against a real Distribution
registry of this test's own (so its catalog holds only what the test pushed): images
pushed with skopeo are found through the API's scan request, recorded with their tags,
and scanned by the real scan job (`drain`); a re-pushed tag scans the new digest; a
manifest deleted from the registry leaves the inventory and its findings the counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shoal.api import create_app
from shoal.db.inventory import image_tags
from shoal.db.models import Finding, Image, Job, Repository
from shoal.db.types import JobKind, JobState
from shoal.service import discovery
from shoal.service.context import ServiceContext
from shoal.service.queue import drain
from tests.support.images import OciLayoutBuilder, push
from tests.support.registry import Registry, start_registry
from tests.support.service import START
from tests.unit.service.test_scanning import app_files

pytestmark = pytest.mark.integration


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[Registry]:
    reg = start_registry(tmp_path / "registry")
    yield reg
    reg.stop()


@pytest.fixture
def client(ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


def scan(client: TestClient, **body: Any) -> dict[str, Any]:
    resp = client.post("/api/v1/scans", json=body)
    assert resp.status_code == 202, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def inventory(ctx: ServiceContext) -> dict[tuple[str, str], tuple[list[str], Image]]:
    """(repository, digest) -> (tags, row) of every image row."""
    with ctx.read() as s:
        rows = s.execute(
            select(Repository.name, Image).join(Repository, Repository.id == Image.repository_id)
        ).all()
        return {(name, img.digest): (image_tags(s, img.id), img) for name, img in rows}


def job_states(ctx: ServiceContext) -> dict[JobKind, list[JobState]]:
    out: dict[JobKind, list[JobState]] = {}
    with ctx.read() as s:
        for job in s.scalars(select(Job).order_by(Job.id)):
            out.setdefault(job.kind, []).append(job.state)
    return out


def test_discovery_and_manual_scans_of_a_real_registry(
    ctx: ServiceContext,
    client: TestClient,
    own_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discovery, "CHUNK", 1)  # a transaction per event: the long-poll path
    host = own_registry.host
    layout = OciLayoutBuilder(tmp_path / "layout")
    app1 = layout.add_image(app_files(marker="app 1"), tag="1.0")
    push(layout.path, "1.0", f"{host}/team/app:1.0")
    push(layout.path, "1.0", f"{host}/team/app:latest")
    web = layout.add_image(app_files(marker="web"), tag="v1")
    push(layout.path, "v1", f"{host}/team/web:v1")

    sub = client.post("/api/v1/subscriptions", json={"name": "team"}).json()
    reg = client.post(
        "/api/v1/registries",
        json={"subscription_id": sub["id"], "name": "local", "url": own_registry.url},
    ).json()

    # a scan of the whole registry: discovery, then a scan per digest found
    accepted = scan(client, registry_id=reg["id"])
    drain(ctx)
    status = client.get(accepted["status_url"]).json()
    assert status["kind"] == "discover_registry" and status["state"] == "done", status
    assert job_states(ctx) == {
        JobKind.DISCOVER_REGISTRY: [JobState.DONE],
        JobKind.SCAN_IMAGE: [JobState.DONE, JobState.DONE],
    }
    inv = inventory(ctx)
    assert set(inv) == {("team/app", app1.manifest_digest), ("team/web", web.manifest_digest)}
    tags, image = inv[("team/app", app1.manifest_digest)]
    assert tags == ["1.0", "latest"]
    assert image.platform == "linux/amd64" and image.last_scanned_at == START
    assert image.pushed_at is None  # first poll: when it was pushed is unknown
    listed = client.get("/api/v1/images", params={"registry_id": reg["id"]}).json()["items"]
    assert {i["repository"] for i in listed} == {"team/app", "team/web"}
    detail = client.get(f"/api/v1/images/{image.id}").json()
    assert detail["health"] == "unhealthy" and detail["open_findings"]["high"] >= 1
    assert detail["os"]["id"] == "debian" and detail["tags"] == ["1.0", "latest"]

    # nothing changed: a second discovery queues no scan
    scan(client, registry_id=reg["id"])
    drain(ctx)
    assert len(job_states(ctx)[JobKind.SCAN_IMAGE]) == 2

    # re-push 1.0 with other content; scanning the repository finds the new digest
    ctx.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    app2 = layout.add_image(app_files(with_pyyaml=False, marker="app 2"), tag="1.0")
    push(layout.path, "1.0", f"{host}/team/app:1.0")
    scan(client, registry_id=reg["id"], repository="team/app")
    drain(ctx)
    inv = inventory(ctx)
    new_tags, new = inv[("team/app", app2.manifest_digest)]
    assert new_tags == ["1.0"] and new.last_scanned_at == START + timedelta(hours=2)
    assert new.pushed_at == START + timedelta(hours=2)  # seen since the last poll
    assert inv[("team/app", app1.manifest_digest)][0] == ["latest"]

    # the old manifest is deleted from the registry: discovery takes it out
    with ctx.read() as s:
        old_id = inv[("team/app", app1.manifest_digest)][1].id
        old_findings = s.scalar(
            select(func.count()).select_from(Finding).where(Finding.image_id == old_id)
        )
    assert old_findings  # old Django, urllib3, PyYAML: known advisories
    resp = httpx.delete(f"{own_registry.url}/v2/team/app/manifests/{app1.manifest_digest}")
    assert resp.status_code == 202
    scan(client, registry_id=reg["id"])
    drain(ctx)
    inv = inventory(ctx)
    assert ("team/app", app1.manifest_digest) not in inv
    with ctx.read() as s:
        assert s.scalar(select(func.count()).where(Finding.image_id == old_id)) == 0

    # a manual scan of a tag resolves it and points at that image's finished scan
    done = scan(client, registry_id=reg["id"], repository="team/web", reference="v1")
    assert done["digest"] == web.manifest_digest
    assert done["jobs"][0]["state"] == "done"
    assert done["image_id"] == inv[("team/web", web.manifest_digest)][1].id
    problem = client.post(
        "/api/v1/scans",
        json={"registry_id": reg["id"], "repository": "team/web", "reference": "v9"},
    )
    assert problem.status_code == 404
