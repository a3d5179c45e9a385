"""Shared by the inventory API tests (H3): a TestClient on the `ctx` app, builders that
go through the API itself, and the problem+json check every error answer must pass."""

from __future__ import annotations

import re
from typing import Any

import httpx

SECRET_HEADER = "Authorization"


def problem(resp: httpx.Response, status: int, detail_contains: str = "") -> dict[str, Any]:
    """The answer is an RFC 9457 problem with `status` and a one-line detail."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    doc: dict[str, Any] = resp.json()
    assert doc["status"] == status and doc["title"]
    detail = doc.get("detail", "")
    assert detail and "\n" not in detail and len(detail) < 1000, doc
    assert detail_contains in detail, doc
    return doc


def subscription(c: Any, name: str = "platform-team", **kw: Any) -> dict[str, Any]:
    resp = c.post("/api/v1/subscriptions", json={"name": name, **kw})
    assert resp.status_code == 201, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def registry(
    c: Any,
    subscription_id: int,
    name: str = "local",
    url: str | None = None,
    kind: str = "distribution",
    **kw: Any,
) -> dict[str, Any]:
    if url is None:  # a registry is added once: each name its own place
        url = "http://127.0.0.1:5000" if name == "local" else f"https://{_host(name)}.example"
    resp = c.post(
        "/api/v1/registries",
        json={"subscription_id": subscription_id, "name": name, "url": url, "kind": kind, **kw},
    )
    assert resp.status_code == 201, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def _host(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "registry"
