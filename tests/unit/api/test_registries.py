"""Registries through the API on both DBs: the webhook secret is shown once (with the
receiver URL and a Distribution `notifications` section that parses), never again, and
neither are credentials; URLs are checked the way the service will use them; the
connection test asks the real registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from shoal.api import create_app
from shoal.db.inventory import registry_credentials
from shoal.db.models import Registry as RegistryRow
from shoal.service.context import ServiceContext
from tests.support.registry import Registry, free_port
from tests.unit.api._inventory import problem, subscription
from tests.unit.api._inventory import registry as make

BASE = "/api/v1/registries"
PASSWORD = "s3cr3t-pa55word-never-shown"


@pytest.fixture
def client(ctx: ServiceContext) -> Iterator[TestClient]:
    ctx.settings.service.public_url = "https://shoal.example.com/"
    with TestClient(create_app(ctx)) as c:
        yield c


@pytest.fixture
def sub_id(client: TestClient) -> int:
    return int(subscription(client)["id"])


def test_create_shows_the_secret_once_with_the_receiver_and_a_config_snippet(
    client: TestClient, sub_id: int, ctx: ServiceContext
) -> None:
    created = make(
        client,
        sub_id,
        url="https://registry.example.com/",
        credentials={"username": "robot", "password": PASSWORD},
    )
    rid = created["id"]
    secret = created["webhook_secret"]
    assert len(secret) >= 40
    receiver = f"https://shoal.example.com/api/v1/webhooks/{rid}"
    assert created["receiver_url"] == receiver
    assert created["url"] == "https://registry.example.com"  # normalised
    assert created["has_credentials"] is True
    setup = created["webhook"]
    assert setup["receiver_url"] == receiver
    assert setup["authorization_header"] == f"Bearer {secret}"
    [endpoint] = yaml.safe_load(setup["distribution_config"])["notifications"]["endpoints"]
    assert endpoint["url"] == receiver
    assert endpoint["headers"] == {"Authorization": [f"Bearer {secret}"]}

    # stored: credentials encrypted, the secret only as a hash
    with ctx.read() as s:
        row = s.get(RegistryRow, rid)
        assert row is not None and ctx.cipher is not None
        assert PASSWORD.encode() not in (row.credentials or b"")
        assert secret not in row.webhook_secret_hash
        creds = registry_credentials(row, cipher=ctx.cipher)
        assert creds is not None and creds.password == PASSWORD

    # never again: not in get, list, patch or rotate answers
    answers = [
        client.get(f"{BASE}/{rid}"),
        client.get(BASE),
        client.get(BASE, params={"subscription_id": sub_id}),
        client.patch(f"{BASE}/{rid}", json={"name": "renamed"}),
    ]
    for resp in answers:
        assert resp.status_code == 200, resp.text
        assert secret not in resp.text and PASSWORD not in resp.text and "robot" not in resp.text
        assert "webhook_secret" not in resp.text
    got = client.get(f"{BASE}/{rid}").json()
    assert set(got) == {
        "id", "subscription_id", "name", "url", "kind", "has_credentials",
        "receiver_url", "created_at",
    }  # fmt: skip
    assert got["name"] == "renamed"


def test_non_distribution_kinds_get_no_distribution_snippet(
    client: TestClient, sub_id: int
) -> None:
    created = make(client, sub_id, url="https://harbor.example.com", kind="harbor")
    assert created["webhook"]["distribution_config"] is None


def test_patch_credentials_and_url(client: TestClient, sub_id: int, ctx: ServiceContext) -> None:
    rid = make(client, sub_id)["id"]
    resp = client.patch(
        f"{BASE}/{rid}",
        json={"credentials": {"username": "u", "password": PASSWORD}, "url": "localhost:5000"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["has_credentials"] is True and PASSWORD not in resp.text
    assert resp.json()["url"] == "localhost:5000"
    resp = client.patch(f"{BASE}/{rid}", json={"credentials": None})
    assert resp.json()["has_credentials"] is False
    with ctx.read() as s:
        assert s.scalars(select(RegistryRow.credentials)).one() is None


def test_list_filters_and_pages(client: TestClient, sub_id: int) -> None:
    other = subscription(client, "other")["id"]
    for i in range(3):
        make(client, sub_id, name=f"r{i}")
    make(client, other, name="theirs")
    page = client.get(BASE, params={"subscription_id": sub_id, "limit": 2}).json()
    assert [r["name"] for r in page["items"]] == ["r0", "r1"]
    rest = client.get(
        BASE, params={"subscription_id": sub_id, "limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert [r["name"] for r in rest["items"]] == ["r2"] and rest["next_cursor"] is None
    assert len(client.get(BASE).json()["items"]) == 4


UNUSABLE_URLS = [
    ("http://registry.example.com", "plain http to 'registry.example.com' is refused"),
    ("ftp://registry.example.com", "scheme 'ftp'"),
    ("https://registry.example.com/some/path", "has a path"),
    ("https://user:pw@registry.example.com", "credentials are stored separately"),
    ("https://registry.example.com:99999", "invalid URL"),
    ("https://registry.example.com/?q=1", "has a path"),
]


def test_unusable_urls_are_422(client: TestClient, sub_id: int) -> None:
    for url, detail in UNUSABLE_URLS:
        resp = client.post(BASE, json={"subscription_id": sub_id, "name": "x", "url": url})
        doc = problem(resp, 422, detail)
        assert doc["detail"].startswith("body.url: ")
    odd = {"subscription_id": sub_id, "name": "a): b", "url": "http://registry.example.com"}
    assert problem(client.post(BASE, json=odd), 422)["detail"].startswith("body.url: plain http")
    assert client.get(BASE).json()["items"] == []


def test_errors(client: TestClient, sub_id: int) -> None:
    rid = make(client, sub_id, name="taken")["id"]
    problem(
        client.post(BASE, json={"subscription_id": sub_id, "name": "taken", "url": "localhost"}),
        409,
        "already has a registry named 'taken'",
    )
    problem(
        client.post(BASE, json={"subscription_id": 999, "name": "x", "url": "localhost"}),
        422,
        "subscription 999 does not exist",
    )
    problem(
        client.post(
            BASE, json={"subscription_id": sub_id, "name": "x", "url": "localhost", "kind": "ftp"}
        ),
        422,
        "body.kind",
    )
    problem(
        client.post(
            BASE,
            json={
                "subscription_id": sub_id,
                "name": "x",
                "url": "localhost",
                "credentials": {"username": "u"},
            },
        ),
        422,
        "body.credentials.password",
    )
    # a registry is added once (finding ids name its images by its host): not again in
    # another spelling, nor in another subscription, nor by moving another one there
    taken_url = client.get(f"{BASE}/{rid}").json()["url"]
    other = subscription(client, "other")["id"]
    for url in (taken_url, taken_url.upper() + "/", taken_url.replace("https://", "")):
        problem(
            client.post(BASE, json={"subscription_id": other, "name": "again", "url": url}),
            409,
            f"taken.example is already registry {rid} ('taken') of subscription {sub_id}",
        )
    second = make(client, sub_id, name="second")["id"]
    problem(
        client.patch(f"{BASE}/{second}", json={"url": taken_url}), 409, "a registry is added once"
    )
    problem(client.patch(f"{BASE}/{second}", json={"name": "taken"}), 409, "taken")
    problem(client.patch(f"{BASE}/{second}", json={"url": None}), 422, "body.url")
    problem(client.patch(f"{BASE}/{second}", json={"url": "http://example.com"}), 422, "http")
    problem(client.patch(f"{BASE}/{second}", json={"kind": "acr"}), 422, "body.kind")
    for method, path in [
        ("GET", f"{BASE}/999"),
        ("PATCH", f"{BASE}/999"),
        ("DELETE", f"{BASE}/999"),
        ("POST", f"{BASE}/999/rotate-secret"),
        ("POST", f"{BASE}/999/test-connection"),
    ]:
        problem(client.request(method, path, json={}), 404, "registry '999' does not exist")
    assert client.delete(f"{BASE}/{rid}").status_code == 204
    problem(client.get(f"{BASE}/{rid}"), 404)


def test_credentials_need_a_key(client: TestClient, sub_id: int, ctx: ServiceContext) -> None:
    ctx.cipher = None
    body = {
        "subscription_id": sub_id,
        "name": "x",
        "url": "localhost",
        "credentials": {"username": "u", "password": "p"},
    }
    problem(client.post(BASE, json=body), 400, "no credentials key")
    # without credentials a registry needs no key
    assert make(client, sub_id, name="anon")["has_credentials"] is False


def test_connection_test_asks_the_real_registry(
    client: TestClient, sub_id: int, registry: Registry, auth_registry: Registry
) -> None:
    good = make(client, sub_id, name="good", url=registry.url)["id"]
    resp = client.post(f"{BASE}/{good}/test-connection")
    assert resp.status_code == 200
    assert resp.json()["ok"] is True and resp.json()["status"] == 200

    wrong = make(
        client,
        sub_id,
        name="wrong-password",
        url=auth_registry.url,
        credentials={"username": "alice", "password": "not-wonderland"},
    )["id"]
    doc = client.post(f"{BASE}/{wrong}/test-connection").json()
    assert doc["ok"] is False and doc["status"] == 401 and "not-wonderland" not in str(doc)

    resp = client.patch(
        f"{BASE}/{wrong}", json={"credentials": {"username": "alice", "password": "wonderland-42"}}
    )
    assert resp.status_code == 200, resp.text
    assert client.post(f"{BASE}/{wrong}/test-connection").json()["ok"] is True

    closed = make(client, sub_id, name="closed", url=f"http://127.0.0.1:{free_port()}")["id"]
    doc = client.post(f"{BASE}/{closed}/test-connection").json()
    assert doc["ok"] is False and doc["status"] is None and doc["message"]
