"""Repositories and images through the API on both DBs (view 1): images arrive through
the real ingest path, are assessed with `record_assessment`, and the API shows tags,
platform, OS from the stored SBOM, times, versions and open counts; lists filter and
page with cursors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoal.api import create_app
from shoal.db.findings import ObservedFinding
from shoal.db.models import Image, Registry
from shoal.db.sboms import store_sbom
from shoal.model import Sbom
from shoal.model.advisory import Rating
from shoal.model.package import Distro
from shoal.model.sbom import ImageInfo, Platform
from shoal.service.assess import record_assessment
from shoal.service.context import ServiceContext
from shoal.service.ingest import ingest_events
from shoal.triggers.base import ScanRequest
from tests.support.service import START
from tests.unit.api._inventory import problem, registry, subscription

MT = "application/vnd.oci.image.manifest.v1+json"
D = ["sha256:" + c * 64 for c in "abcdef"]


@pytest.fixture
def client(ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


def push(ctx: ServiceContext, registry_id: int, repo: str, digest: str, tag: str) -> int:
    with ctx.write() as s:
        reg = s.get(Registry, registry_id)
        assert reg is not None
        ev = ScanRequest("r.example", repo, digest, tag, MT, None, "distribution")
        return ingest_events(s, ctx, reg, [ev]).images[0]


def finding(vuln: str, severity: Rating, fixable: bool) -> ObservedFinding:
    return ObservedFinding(
        f"pkg:deb/debian/pkg-{vuln}@1.0", f"pkg-{vuln}", "1.0", vuln, severity, fixable
    )


@pytest.fixture
def tree(client: TestClient, ctx: ServiceContext) -> dict[str, Any]:
    sub = subscription(client)
    reg = registry(client, sub["id"])
    other = registry(client, sub["id"], name="other", url="https://other.example.com")
    ids = {
        "api-v1": push(ctx, reg["id"], "team/api", D[0], "v1"),
        "api-v2": push(ctx, reg["id"], "team/api", D[1], "v2"),
        "web": push(ctx, reg["id"], "team/web", D[2], "v1"),
        "other": push(ctx, other["id"], "team/api", D[3], "v1"),
    }
    push(ctx, reg["id"], "team/api", D[1], "latest")
    return {"registry": reg, "other": other, "images": ids}


def test_repositories(client: TestClient, tree: dict[str, Any]) -> None:
    rid = tree["registry"]["id"]
    page = client.get(f"/api/v1/registries/{rid}/repositories").json()
    assert [(r["name"], r["images"]) for r in page["items"]] == [("team/api", 2), ("team/web", 1)]
    first = client.get("/api/v1/repositories", params={"registry_id": rid, "limit": 1}).json()
    assert [r["name"] for r in first["items"]] == ["team/api"]
    second = client.get(
        "/api/v1/repositories",
        params={"registry_id": rid, "limit": 1, "cursor": first["next_cursor"]},
    ).json()
    assert [r["name"] for r in second["items"]] == ["team/web"]
    assert second["next_cursor"] is None
    assert len(client.get("/api/v1/repositories").json()["items"]) == 3
    repo = page["items"][0]
    assert client.get(f"/api/v1/repositories/{repo['id']}").json() == repo
    problem(client.get("/api/v1/repositories/999"), 404, "repository '999'")
    problem(client.get("/api/v1/registries/999/repositories"), 404, "registry '999'")


def test_image_lists_filter_and_page(client: TestClient, tree: dict[str, Any]) -> None:
    ids = tree["images"]
    rid = tree["registry"]["id"]

    def listed(**params: Any) -> list[int]:
        resp = client.get("/api/v1/images", params=params)
        assert resp.status_code == 200, resp.text
        return [i["id"] for i in resp.json()["items"]]

    assert listed() == sorted(ids.values())
    assert listed(registry_id=rid) == [ids["api-v1"], ids["api-v2"], ids["web"]]
    assert listed(repository="team/api") == [ids["api-v1"], ids["api-v2"], ids["other"]]
    assert listed(registry_id=rid, repository="team/api", tag="latest") == [ids["api-v2"]]
    assert listed(tag="v1") == [ids["api-v1"], ids["web"], ids["other"]]
    assert listed(digest=D[2]) == [ids["web"]]
    assert listed(tag="nope") == []

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/images", params=params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids.values())
    problem(client.get("/api/v1/images", params={"cursor": "WyJyZWdpc3RyaWVzIiwxXQ"}), 400)
    problem(client.get("/api/v1/images", params={"digest": "x" * 151}), 422, "query.digest")
    for bad in ({"tag": "a\x00b"}, {"repository": "a\x00b"}, {"digest": "sha256:\x00"}):
        problem(client.get("/api/v1/images", params=bad), 422, "query.")

    item = client.get("/api/v1/images", params={"digest": D[1]}).json()["items"][0]
    assert item["tags"] == ["latest", "v2"] and item["repository"] == "team/api"
    assert item["platform"] == "" and item["last_scanned_at"] is None


def test_image_detail(client: TestClient, tree: dict[str, Any], ctx: ServiceContext) -> None:
    image_id = tree["images"]["api-v2"]
    fresh = client.get(f"/api/v1/images/{image_id}").json()
    assert fresh["health"] == "not_applicable" and fresh["os"] is None
    assert fresh["open_findings"] == dict.fromkeys(
        ("critical", "high", "medium", "low", "negligible", "unknown"), 0
    )

    ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    with ctx.write() as s:
        image = s.get(Image, image_id)
        assert image is not None
        image.platform = "linux/amd64"
        sbom = Sbom(
            image=ImageInfo(
                reference=f"r.example/team/api@{D[1]}",
                manifest_digest=D[1],
                config_digest=None,
                platform=Platform.parse("linux/amd64"),
            ),
            distro=Distro("debian", "12", pretty_name="Debian GNU/Linux 12 (bookworm)"),
        )
        store_sbom(s, sbom, ctx.analyser_version, now=ctx.clock.now())
        observed = [
            finding("CVE-2024-0001", Rating.CRITICAL, True),
            finding("CVE-2024-0002", Rating.HIGH, False),
            finding("CVE-2024-0003", Rating.HIGH, True),
            finding("CVE-2024-0004", Rating.LOW, False),
        ]
        record_assessment(s, ctx, image, observed, db_version="db-7", trigger="test")

    got = client.get(f"/api/v1/images/{image_id}").json()
    assert got["platform"] == "linux/amd64" and got["tags"] == ["latest", "v2"]
    assert got["os"] == {
        "id": "debian",
        "version_id": "12",
        "pretty_name": "Debian GNU/Linux 12 (bookworm)",
    }
    assert got["open_findings"]["critical"] == 1 and got["open_findings"]["high"] == 2
    assert got["open_findings"]["low"] == 1 and got["fixable"] == 2
    assert got["health"] == "unhealthy"
    assert got["db_version"] == "db-7" and got["analyser_version"] == ctx.analyser_version
    iso = "%Y-%m-%dT%H:%M:%SZ"
    assert got["last_scanned_at"] == (START + timedelta(hours=1)).strftime(iso)
    assert got["pushed_at"] == START.strftime(iso)
    problem(client.get("/api/v1/images/999"), 404, "image '999'")
    problem(client.get("/api/v1/images/abc"), 422)
