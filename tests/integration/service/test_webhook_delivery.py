"""Webhooks end to end on both DBs: a real Distribution registry whose `notifications`
section is the one the registries API hands out, delivering to the API served by a real
uvicorn server. A skopeo push becomes one queued scan (a second tag on the same digest
none more), the scan job finds the image's vulnerabilities, a pull moves
last_pulled_at, a manifest delete takes the image out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
import yaml
from sqlalchemy import select

from shoal.api import create_app
from shoal.db.models import Image, Job
from shoal.db.types import JobKind
from shoal.service.context import ServiceContext
from shoal.service.queue import drain
from tests.support.images import OciLayoutBuilder, push
from tests.support.registry import Registry, free_port, start_registry
from tests.support.service import START
from tests.unit.service.test_scanning import URLLIB3, app_files

pytestmark = pytest.mark.integration

T = TypeVar("T")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll `probe` until it returns something truthy (deliveries are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def api(ctx: ServiceContext) -> Iterator[str]:
    """The API on a real HTTP server (the registry must reach it over the network)."""
    port = free_port()
    ctx.settings.service.public_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually("the API server", lambda: server.started, timeout=20)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def images(ctx: ServiceContext) -> list[Image]:
    with ctx.read() as s:
        return list(s.scalars(select(Image).order_by(Image.id)))


def scan_jobs(ctx: ServiceContext) -> list[Job]:
    with ctx.read() as s:
        return list(s.scalars(select(Job).where(Job.kind == JobKind.SCAN_IMAGE)))


def test_registry_notifications_drive_the_inventory(
    ctx: ServiceContext, api: str, tmp_path: Path
) -> None:
    c = httpx.Client(base_url=api, timeout=10)
    sub = c.post("/api/v1/subscriptions", json={"name": "team"}).json()
    # the registry's port is known only once it runs, and it needs the secret to start:
    # create the row first, then point it at the running registry
    created: dict[str, Any] = c.post(
        "/api/v1/registries",
        json={"subscription_id": sub["id"], "name": "local", "url": "http://127.0.0.1:1"},
    ).json()
    section = yaml.safe_load(created["webhook"]["distribution_config"])["notifications"]
    [endpoint] = section["endpoints"]
    endpoint.update(timeout="2s", threshold=1, backoff="1s")
    registry: Registry = start_registry(tmp_path / "registry", notifications=[endpoint])
    try:
        resp = c.patch(f"/api/v1/registries/{created['id']}", json={"url": registry.url})
        assert resp.status_code == 200, resp.text
        run(ctx, c, registry, tmp_path)
    finally:
        registry.stop()
        c.close()


def run(ctx: ServiceContext, c: httpx.Client, registry: Registry, tmp_path: Path) -> None:
    layout = OciLayoutBuilder(tmp_path / "layout")
    img = layout.add_image(app_files(marker="webhook e2e"), tag="v1")
    push(layout.path, "v1", f"{registry.host}/team/app:v1")

    [job] = eventually("the push's scan job", lambda: scan_jobs(ctx))
    [image] = images(ctx)
    assert image.digest == img.manifest_digest and image.pushed_at == START

    # the same digest under a second tag: the tag is recorded, no second scan
    push(layout.path, "v1", f"{registry.host}/team/app:stable")

    def tagged() -> list[str] | None:
        got = c.get(f"/api/v1/images/{image.id}").json()["tags"]
        return got if "stable" in got else None

    assert eventually("the second tag", tagged) == ["stable", "v1"]
    assert [j.id for j in scan_jobs(ctx)] == [job.id]

    drain(ctx)
    detail = c.get(f"/api/v1/images/{image.id}").json()
    assert detail["last_scanned_at"] is not None and detail["platform"] == "linux/amd64"
    assert detail["health"] == "unhealthy"
    findings = c.get("/api/v1/findings", params={"image_id": image.id, "limit": 1000})
    assert findings.status_code == 200, findings.text
    assert {f["vulnerability_id"] for f in findings.json()["items"]} >= URLLIB3

    # a pull (the manifest fetched by tag) marks it in use
    resp = httpx.get(f"{registry.url}/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert resp.status_code == 200
    eventually("last_pulled_at", lambda: images(ctx)[0].last_pulled_at)

    # the manifest deleted from the registry: the image leaves the inventory
    resp = httpx.delete(f"{registry.url}/v2/team/app/manifests/{img.manifest_digest}")
    assert resp.status_code == 202
    eventually("the image's removal", lambda: images(ctx) == [])
    assert c.get(f"/api/v1/images/{image.id}").status_code == 404
