"""Polling discovery against the real CNCF Distribution registry, images pushed by skopeo:
the first poll finds everything, the second nothing, a re-pushed tag gives one request
with the new digest, and manifests deleted through the registry API give `Deleted`."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from shoal.oci.client import RegistryClient
from shoal.triggers.base import Deleted, ScanRequest, TriggerEvent
from shoal.triggers.poll import DiscoveryResult, discover
from tests.integration.conftest import real_dpkg_status
from tests.support.images import OciLayoutBuilder, push
from tests.support.registry import Registry

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def mine(events: list[TriggerEvent], prefix: str) -> list[TriggerEvent]:
    """The session's registry is shared with other tests: keep this test's repositories."""
    return [e for e in events if e.repository.startswith(prefix)]


def poll(registry: Registry, known: dict[tuple[str, str], str], **kw: object) -> DiscoveryResult:
    with RegistryClient(registry.host) as client:
        return discover(client, known, registry_host=registry.host, **kw)  # type: ignore[arg-type]


def delete_manifest(registry: Registry, repo: str, digest: str) -> None:
    resp = httpx.delete(f"{registry.url}/v2/{repo}/manifests/{digest}", timeout=10)
    assert resp.status_code == 202, resp.text


def test_poll_finds_pushes_moves_and_deletions(registry: Registry, tmp_path: Path) -> None:
    prefix = f"poll-{uuid.uuid4().hex[:8]}"
    app, multi = f"{prefix}/app", f"{prefix}/multi"
    host = registry.host

    layout = OciLayoutBuilder(tmp_path / "layout")
    status = real_dpkg_status(0, 8)
    v1 = layout.add_image([{"/var/lib/dpkg/status": status, "/salt": prefix.encode()}], tag="v1")
    push(layout.path, "v1", f"{host}/{app}:v1")
    push(layout.path, "v1", f"{host}/{app}:latest")
    amd = layout.build_image([{"/salt": b"amd64 " + prefix.encode()}])
    arm = layout.build_image([{"/salt": b"arm64 " + prefix.encode()}], architecture="arm64")
    index = layout.add_index([amd, arm], tag="1.0")
    push(layout.path, "1.0", f"{host}/{multi}:1.0", all_platforms=True)

    # first poll, through the catalog: every tag, one request per digest
    first = poll(registry, {})
    assert mine(first.events, prefix) == [
        ScanRequest(host, app, v1.manifest_digest, "latest", OCI_MANIFEST, None, "poll"),
        ScanRequest(host, multi, index, "1.0", OCI_INDEX, None, "poll"),
    ]
    assert {k: v for k, v in first.state.items() if k[0].startswith(prefix)} == {
        (app, "latest"): v1.manifest_digest,
        (app, "v1"): v1.manifest_digest,
        (multi, "1.0"): index,
    }
    assert [e for e in first.errors if e.repository.startswith(prefix)] == []

    # second poll: nothing changed
    second = poll(registry, first.state)
    assert second.events == []
    assert second.state == first.state

    # re-push v1 with other content: exactly one request, for the new digest
    v2 = layout.add_image(
        [{"/var/lib/dpkg/status": real_dpkg_status(8, 8), "/salt": prefix.encode()}], tag="v1"
    )
    push(layout.path, "v1", f"{host}/{app}:v1")
    assert v2.manifest_digest != v1.manifest_digest
    third = poll(registry, second.state)
    assert third.events == [
        ScanRequest(host, app, v2.manifest_digest, "v1", OCI_MANIFEST, None, "poll")
    ]
    assert third.state[(app, "v1")] == v2.manifest_digest
    assert third.state[(app, "latest")] == v1.manifest_digest

    # delete the manifest v1 names through the registry API: its tag and digest go
    delete_manifest(registry, app, v2.manifest_digest)
    fourth = poll(registry, third.state)
    assert fourth.events == [
        Deleted(host, app, None, "v1", None, "poll"),
        Deleted(host, app, v2.manifest_digest, None, None, "poll"),
    ]
    assert (app, "v1") not in fourth.state
    assert fourth.state[(app, "latest")] == v1.manifest_digest

    # delete the last manifest: Distribution 2.8 still lists the repository, with an
    # empty tag list, so the tag and the manifest are reported, not the repository
    delete_manifest(registry, app, v1.manifest_digest)
    fifth = poll(registry, fourth.state)
    assert fifth.events == [
        Deleted(host, app, None, "latest", None, "poll"),
        Deleted(host, app, v1.manifest_digest, None, None, "poll"),
    ]
    assert all(repo != app for repo, _ in fifth.state)
    assert fifth.errors == first.errors  # nothing new went wrong

    assert poll(registry, fifth.state).events == []


def test_explicit_repositories_without_the_catalog(registry: Registry, tmp_path: Path) -> None:
    prefix = f"poll-{uuid.uuid4().hex[:8]}"
    repo = f"{prefix}/only"
    layout = OciLayoutBuilder(tmp_path / "layout")
    img = layout.add_image([{"/salt": prefix.encode()}], tag="2.0")
    push(layout.path, "2.0", f"{registry.host}/{repo}:2.0")

    result = poll(registry, {}, repositories=[repo, f"{prefix}/typo"])

    assert result.events == [
        ScanRequest(registry.host, repo, img.manifest_digest, "2.0", OCI_MANIFEST, None, "poll")
    ]
    assert result.state == {(repo, "2.0"): img.manifest_digest}
    assert [(e.repository, e.tag) for e in result.errors] == [(f"{prefix}/typo", None)]
    assert "NAME_UNKNOWN" in result.errors[0].message
    # 1 tag list + 1 HEAD for the repository, 1 tag list for the typo; no catalog
    assert result.requests == 3
    assert result.repositories == 2
