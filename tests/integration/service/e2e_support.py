"""Helpers for driving a running `shoal serve` the way an administrator does: through its
REST API, with a real CNCF Distribution registry whose `notifications` point at the
service's per-registry receiver. Used by the end-to-end tests, `scripts/demo.py` and
`bench/push_to_findings.py`.

    api = ShoalApi(svc.client)
    sub = api.create_subscription("team")
    linked = connect_registry(api, sub, tmp_path / "registry")   # shoal row + real registry
    push(layout, "v1", f"{linked.registry.host}/team/app:v1")
    image = api.wait_image(linked.registry_id, "team/app", digest)

The registry is added to shoal first (its answer holds the webhook secret and the
ready-to-paste Distribution `notifications` section), the Distribution registry is then
started with exactly that section, and the row's URL is set to the port it got.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from tests.support.images import OciLayoutBuilder
from tests.support.registry import Registry, start_registry

T = TypeVar("T")

TESTDATA = Path(__file__).resolve().parents[2] / "unit" / "scan" / "testdata" / "image"

_BLOB_GET = re.compile(r'"GET /v2/[^ "]+/blobs/sha256:[0-9a-f]{64} ')
_REGISTRY_READ = re.compile(r'"(?:GET|HEAD) /v2/[^ "]+/(?:blobs|manifests)/')


class WaitTimeout(AssertionError):
    """What was awaited did not happen before the deadline (the last state attached)."""


def wait_for(
    check: Callable[[], T | None],
    what: str,
    *,
    timeout: float = 60.0,
    interval: float = 0.1,
    state: Callable[[], object] | None = None,
) -> T:
    """Poll `check` until it returns something truthy (not None, False, empty); that value.
    A deadline, never a fixed sleep: fails naming `what` (and `state()`) at the end."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            extra = f"; last state: {state()!r}"[:4000] if state is not None else ""
            raise WaitTimeout(f"{what}: not within {timeout:.0f} s{extra}")
        time.sleep(interval)


class ApiError(AssertionError):
    pass


@dataclass
class ShoalApi:
    """The REST API v1 of a running service, over an httpx client whose base_url is the
    service's URL."""

    client: httpx.Client

    def _ok(self, r: httpx.Response, *codes: int) -> Any:
        if r.status_code not in (codes or (200,)):
            raise ApiError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:2000]}")
        return r.json() if r.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._ok(self.client.get(f"/api/v1{path}", params=params))

    def create_subscription(self, name: str, **settings: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if settings:
            body["settings"] = settings
        return dict(self._ok(self.client.post("/api/v1/subscriptions", json=body), 201))

    def create_registry(self, subscription_id: int, name: str, url: str) -> dict[str, Any]:
        body = {"subscription_id": subscription_id, "name": name, "url": url}
        return dict(self._ok(self.client.post("/api/v1/registries", json=body), 201))

    def set_registry_url(self, registry_id: int, url: str) -> dict[str, Any]:
        r = self.client.patch(f"/api/v1/registries/{registry_id}", json={"url": url})
        return dict(self._ok(r))

    def images(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(
                "/images", limit=500, **params, **({"cursor": cursor} if cursor else {})
            )
            out += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def image(self, image_id: int) -> dict[str, Any]:
        return dict(self.get(f"/images/{image_id}"))

    def findings(self, **params: Any) -> list[dict[str, Any]]:
        """Every finding the filters select (all pages)."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            page = self.get("/findings", limit=500, **params, **extra)
            out += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def events(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = self.get("/events", cursor=cursor, limit=500, **params)
            out += page["items"]
            if not page["items"] or page["next_cursor"] is None:
                return out
            cursor = int(page["next_cursor"])

    def scanned_events(self, image_id: int) -> list[dict[str, Any]]:
        return [e for e in self.events(type="image_scanned") if e["image_id"] == image_id]

    # --- waiting -------------------------------------------------------------------------

    def wait_image(
        self, registry_id: int, repository: str, digest: str, *, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The image row once the push webhook recorded it."""

        def found() -> dict[str, Any] | None:
            rows = self.images(registry_id=registry_id, repository=repository, digest=digest)
            return rows[0] if rows else None

        return wait_for(found, f"image {repository}@{digest} recorded", timeout=timeout)

    def wait_scanned(self, image_id: int, *, timeout: float = 60.0) -> dict[str, Any]:
        """The image once its first assessment is recorded (last_scanned_at set)."""

        def scanned() -> dict[str, Any] | None:
            img = self.image(image_id)
            return img if img["last_scanned_at"] else None

        return wait_for(
            scanned,
            f"image {image_id} scanned",
            timeout=timeout,
            state=lambda: self.image(image_id),
        )


@dataclass
class LinkedRegistry:
    """A real Distribution registry whose notifications go to shoal, and its shoal row."""

    registry: Registry
    registry_id: int
    created: dict[str, Any]  # the create answer (webhook secret, receiver URL, config)

    def stop(self) -> None:
        self.registry.stop()


def connect_registry(
    api: ShoalApi, subscription_id: int, root: Path, *, name: str = "local"
) -> LinkedRegistry:
    """Add a registry to shoal, start a real Distribution registry with the
    `notifications` section shoal's answer gave, and point the row at its URL."""
    created = api.create_registry(subscription_id, name, "http://127.0.0.1:5000")
    config = created["webhook"]["distribution_config"]
    assert config, created
    endpoints = yaml.safe_load(config)["notifications"]["endpoints"]
    reg = start_registry(root, notifications=endpoints)
    try:
        api.set_registry_url(created["id"], reg.url)
    except BaseException:
        reg.stop()
        raise
    return LinkedRegistry(reg, int(created["id"]), created)


def blob_gets(reg: Registry) -> int:
    """`GET /v2/<name>/blobs/<digest>` lines in the registry's access log so far."""
    return len(_BLOB_GET.findall(reg.log_text()))


def registry_reads(reg: Registry) -> int:
    """Blob and manifest GET/HEAD lines in the registry's access log so far."""
    return len(_REGISTRY_READ.findall(reg.log_text()))


# --- images of real package data -----------------------------------------------------------


def app_layers(marker: str = "") -> list[dict[str, bytes]]:
    """Two layers of real package data: a Debian 12 base (os-release, trimmed real dpkg
    stanzas), then the real METADATA of Django 3.2, urllib3 1.26.4 and PyYAML 5.3.1
    wheels. `marker` goes into a small file of the top layer, so each marker gives the
    image a digest of its own."""
    files = {
        "/" + str(p.relative_to(TESTDATA)): p.read_bytes()
        for p in TESTDATA.rglob("*")
        if p.is_file()
    }
    base = {k: v for k, v in files.items() if not k.startswith("/usr/local")}
    site = {k: v for k, v in files.items() if k.startswith("/usr/local")}
    if marker:
        site["/etc/build-id"] = marker.encode()
    return [base, site]


def build_app_image(layout: Path, tag: str, marker: str = "") -> str:
    """Write the app image as a new OCI layout at `layout` (one image per layout), under
    `tag`; its manifest digest."""
    b = OciLayoutBuilder(layout)
    img = b.add_image(
        app_layers(marker),
        tag=tag,
        history=["FROM debian:bookworm", "RUN pip install -r requirements.txt"],
    )
    return img.manifest_digest
