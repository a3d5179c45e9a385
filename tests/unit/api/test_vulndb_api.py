"""The vulnerability data through the API, on both DBs: its status, an update on demand
that runs as a job on the service's queue (the bundled real feeds, rebuilt on a copy),
and any job's status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoal.api import create_app
from shoal.service.context import ServiceContext
from shoal.service.queue import drain
from tests.unit.api._inventory import problem


@pytest.fixture
def own_db_ctx(make_ctx: Callable[..., ServiceContext], vulndb_copy: Path) -> ServiceContext:
    return make_ctx(vulndb=vulndb_copy)


@pytest.fixture
def client(own_db_ctx: ServiceContext) -> Iterator[TestClient]:
    with TestClient(create_app(own_db_ctx)) as c:
        yield c


def test_status_names_every_source_and_no_server_path(
    client: TestClient, own_db_ctx: ServiceContext
) -> None:
    r = client.get("/api/v1/vulnerability-db")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["data_version"] == own_db_ctx.vulndb.version()
    assert {"osv/PyPI", "osv/Go"} <= {s["name"] for s in doc["sources"]}
    assert all(s["origin"] == "bundled" for s in doc["sources"])
    assert doc["advisories"] > 1000
    assert "path" not in doc


def test_an_update_is_a_job_whose_status_the_api_reports(
    client: TestClient, own_db_ctx: ServiceContext
) -> None:
    r = client.post("/api/v1/vulnerability-db/update", json={"sources": ["osv/PyPI"]})
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["state"]) == ("update_feeds", "queued")
    assert r.headers["location"] == job["status_url"] == f"/api/v1/jobs/{job['id']}"
    assert drain(own_db_ctx) >= 1
    done = client.get(job["status_url"]).json()
    assert (done["state"], done["error"]) == ("done", None)
    # the bundled inputs did not change: nothing to rebuild, the data version stays
    assert client.get("/api/v1/vulnerability-db").json()["data_version"] == (
        own_db_ctx.vulndb.version()
    )


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"sources": ["osv/NoSuchEcosystem"]}, 422, "body.sources"),
        ({"sources": "osv/PyPI"}, 422, "body.sources"),
        ({"from": "/etc"}, 422, "from"),  # where inputs come from is the operator's setting
        ({"force": "yes"}, 422, "force"),
    ],
)
def test_bad_update_requests_are_problems_and_queue_nothing(
    client: TestClient, own_db_ctx: ServiceContext, body: object, status: int, detail: str
) -> None:
    problem(client.post("/api/v1/vulnerability-db/update", json=body), status, detail)
    assert drain(own_db_ctx) == 0


def test_unknown_job_is_404(client: TestClient) -> None:
    problem(client.get("/api/v1/jobs/999999"), 404, "999999")
