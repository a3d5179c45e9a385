"""The per-registry webhook receivers, fed the payloads the registries really send
(`tests/unit/triggers/testdata`, captured or copied from their docs): the secret is
checked against the stored hash (401, the same answer for an unknown id), malformed
bodies are 400 naming the field, oversized ones 413, and accepted events are committed
(scan job queued) before the answer; a repeated delivery queues nothing new. Both DBs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shoal.api import create_app
from shoal.db.models import Image, ImageTag, Job
from shoal.db.types import JobKind, JobState
from shoal.service.context import ServiceContext
from tests.support.service import START
from tests.unit.api._inventory import problem, registry, subscription

DATA = Path(__file__).parents[1] / "triggers" / "testdata"
PUSH = (DATA / "distribution" / "push-manifest.json").read_bytes()
PULL = (DATA / "distribution" / "pull-manifest.json").read_bytes()
DIGEST = "sha256:11447abab684ba4c5fca7da11538d67ebe218f7c9a60ba4c7f3e88652145987f"
EVENTS_V1 = "application/vnd.docker.distribution.events.v1+json"


@pytest.fixture
def client(ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


@pytest.fixture
def hook(client: TestClient) -> dict[str, Any]:
    """A Distribution registry as created through the API (with its one-time secret)."""
    sub = subscription(client)
    return registry(client, sub["id"])


def deliver(
    client: TestClient,
    hook: dict[str, Any],
    body: bytes,
    secret: str | bool | None = None,
    **headers: str,
) -> Any:
    h = {"Content-Type": EVENTS_V1, **headers}
    if secret is not False:
        h.setdefault("Authorization", f"Bearer {secret or hook['webhook_secret']}")
    return client.post(f"/api/v1/webhooks/{hook['id']}", content=body, headers=h)


def count(ctx: ServiceContext, model: Any) -> int:
    with ctx.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_push_is_persisted_with_its_scan_job_before_the_answer(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext
) -> None:
    resp = deliver(client, hook, PUSH)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"events": 1, "pushes": 1, "pulls": 0, "deletions": 0, "scans_queued": 1}
    # the answer has come back: the job and the image are committed (another session sees them)
    with ctx.read() as s:
        [job] = s.scalars(select(Job)).all()
        [image] = s.scalars(select(Image)).all()
        assert job.kind is JobKind.SCAN_IMAGE and job.state is JobState.QUEUED
        assert job.payload == {"image_id": image.id, "trigger": "push"}
        assert image.digest == DIGEST
        assert image.pushed_at == START  # the capture's timestamp is later: clamped
        assert s.scalars(select(ImageTag.tag)).all() == ["v1"]


def test_duplicate_deliveries_of_a_digest_queue_one_scan(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext
) -> None:
    doubled = json.loads(PUSH)
    doubled["events"] = doubled["events"] * 2  # a batch repeating itself
    assert deliver(client, hook, json.dumps(doubled).encode()).json()["scans_queued"] == 1
    for _ in range(3):  # the registry retrying
        resp = deliver(client, hook, PUSH)
        assert resp.status_code == 200 and resp.json()["scans_queued"] == 0
    assert count(ctx, Job) == 1 and count(ctx, Image) == 1


def test_pulls_and_deletes_reach_the_inventory(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext
) -> None:
    assert deliver(client, hook, PUSH).status_code == 200
    resp = deliver(client, hook, PULL)
    assert resp.json()["pulls"] == 1 and resp.json()["scans_queued"] == 0
    with ctx.read() as s:
        assert s.scalars(select(Image.last_pulled_at)).one() == START
    delete = json.loads((DATA / "distribution" / "delete-manifest.json").read_bytes())
    delete["events"][0]["target"]["repository"] = "demo/app"
    resp = deliver(client, hook, json.dumps(delete).encode())
    assert resp.json()["deletions"] == 1
    assert count(ctx, Image) == 0 and count(ctx, ImageTag) == 0


@pytest.mark.parametrize(
    ("kind", "payload", "digest"),
    [
        ("harbor", "harbor/push-default.json", "sha256:8a9e9863"),
        ("acr", "acr/push.json", "sha256:80f0d5c8"),
    ],
)
def test_the_dialect_follows_the_registry_kind(
    client: TestClient, ctx: ServiceContext, kind: str, payload: str, digest: str
) -> None:
    sub = subscription(client)
    reg = registry(client, sub["id"], name=kind, url="https://registry.example.com", kind=kind)
    body = (DATA / payload).read_bytes()
    # Harbor sends its policy's auth header verbatim: the bare secret works too
    resp = client.post(
        f"/api/v1/webhooks/{reg['id']}",
        content=body,
        headers={"Authorization": reg["webhook_secret"], "Content-Type": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["scans_queued"] == 1
    with ctx.read() as s:
        assert s.scalars(select(Image.digest)).one().startswith(digest)
    # and a Distribution envelope is not what this registry sends
    problem(deliver(client, reg, PUSH), 400, f"{kind} webhook")


def test_authentication(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shoal.api.webhooks")
    missing = problem(deliver(client, hook, PUSH, secret=False), 401)
    assert missing["detail"] == "registry webhook: missing Authorization header"
    problem(deliver(client, hook, PUSH, Authorization=""), 401, "missing Authorization")
    wrong = problem(deliver(client, hook, PUSH, secret="not-the-secret"), 401)
    resp = client.post("/api/v1/webhooks/999", content=PUSH, headers={"Authorization": "Bearer x"})
    unknown = problem(resp, 401)
    # an unknown receiver looks exactly like a wrong secret
    assert {k: v for k, v in unknown.items() if k != "instance"} == {
        k: v for k, v in wrong.items() if k != "instance"
    }
    assert resp.headers["www-authenticate"].startswith("Bearer")
    problem(deliver(client, hook, PUSH, Authorization="Bearer " + "x" * 10_000), 401)
    assert count(ctx, Job) == 0 and count(ctx, Image) == 0
    # every rejection logged, with why, and never the secret
    reasons = [getattr(r, "reason", "") for r in caplog.records]
    assert "wrong secret" in reasons and "unknown registry" in reasons
    assert len(reasons) == 5
    assert hook["webhook_secret"] not in caplog.text


def test_a_registry_kind_without_webhooks_has_no_receiver(
    client: TestClient, ctx: ServiceContext
) -> None:
    sub = subscription(client)
    reg = registry(client, sub["id"], url="https://123.dkr.ecr.example.com", kind="ecr")
    problem(deliver(client, reg, PUSH), 401, "unknown receiver or wrong secret")


def test_rotating_the_secret_retires_the_old_one(client: TestClient, hook: dict[str, Any]) -> None:
    resp = client.post(f"/api/v1/registries/{hook['id']}/rotate-secret")
    assert resp.status_code == 200
    new = resp.json()["webhook_secret"]
    assert new != hook["webhook_secret"]
    problem(deliver(client, hook, PUSH), 401)
    assert deliver(client, hook, PUSH, secret=new).status_code == 200


def test_oversized_bodies_are_413_unread(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext
) -> None:
    ctx.settings.service.webhook_max_bytes = 2048
    big = json.dumps({"events": [json.loads(PUSH)["events"][0]] * 10}).encode()
    assert len(big) > 2048
    problem(deliver(client, hook, big), 413, "2048")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b" " * 1000

    resp = client.post(
        f"/api/v1/webhooks/{hook['id']}",
        content=chunks(),
        headers={"Authorization": f"Bearer {hook['webhook_secret']}"},
    )
    problem(resp, 413, "more than the 2048 bytes")
    assert count(ctx, Job) == 0


HOSTILE: list[tuple[bytes, str]] = [
    (b"", "body: empty"),
    (b"not json", "body"),
    (b"\xff\xfe\x00\x00", "not UTF-8"),
    (b"[]", "body"),
    (b'{"events": {}}', "events"),
    (b'{"events": [1]}', "events[0]"),
    (b'{"events": [{"action": "push"}]}', "events[0]"),
    (b"[" * 5000 + b"]" * 5000, "body"),
    (b'{"events": [' + b"{" * 3000 + b"}" * 3000 + b"]}", "body"),
    (
        b'{"events": [{"action": "push", "target": {"mediaType": '
        b'"application/vnd.oci.image.manifest.v1+json", "repository": "../../etc", '
        b'"digest": "sha256:00", "tag": "v1"}, "request": {"host": "x"}}]}',
        "events[0].target",
    ),
    (
        b'{"events": [{"action": "push", "target": {"mediaType": '
        b'"application/vnd.oci.image.manifest.v1+json", "repository": "a/b", '
        b'"digest": "sha256:' + b"1" * 64 + b'", "tag": "v1\\u0000x"}, '
        b'"request": {"host": "x"}}]}',
        "tag",
    ),
    (
        b'{"events": [{"action": "push", "timestamp": "yesterday", "target": {"mediaType": '
        b'"application/vnd.oci.image.manifest.v1+json", "repository": "a/b", '
        b'"digest": "sha256:' + b"1" * 64 + b'"}, "request": {"host": "x"}}]}',
        "timestamp",
    ),
    (b'{"events": NaN}', "body"),
]


def test_hostile_bodies_are_400_naming_where_and_keep_nothing(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext
) -> None:
    for body, where in HOSTILE:  # one app and database for all: each case is a request
        resp = deliver(client, hook, body)
        problem(resp, 400, where)
    assert count(ctx, Job) == 0 and count(ctx, Image) == 0


def test_a_delivery_with_one_bad_event_is_refused_whole(
    client: TestClient, hook: dict[str, Any], ctx: ServiceContext
) -> None:
    doc = json.loads(PUSH)
    bad = json.loads(json.dumps(doc["events"][0]))
    bad["target"]["digest"] = "sha256:nothex"
    doc["events"].append(bad)
    problem(deliver(client, hook, json.dumps(doc).encode()), 400, "events[1].target.digest")
    assert count(ctx, Job) == 0 and count(ctx, Image) == 0


def test_path_ids_out_of_range_are_422_not_500(client: TestClient) -> None:
    for rid in ("0", "99999999999999999999", "abc"):
        resp = client.post(f"/api/v1/webhooks/{rid}", content=PUSH)
        problem(resp, 422)
