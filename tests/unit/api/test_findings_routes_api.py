"""Every view route is in the OpenAPI document; an empty database answers empty pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoal.service.context import ServiceContext
from tests.unit.service.views import seed as _seed

api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world


def test_openapi_lists_every_view_route(api: TestClient) -> None:
    paths: dict[str, Any] = api.get("/openapi.json").json()["paths"]
    for p in (
        "/api/v1/findings",
        "/api/v1/findings/{finding_id}",
        "/api/v1/findings/{finding_id}/exemption",
        "/api/v1/vulnerabilities",
        "/api/v1/vulnerabilities/{vulnerability_id}",
        "/api/v1/assessments",
        "/api/v1/assessments/images/{image_id}",
        "/api/v1/events",
        "/api/v1/subscriptions/{subscription_id}/subAssessments",
        "/api/v1/subscriptions/{subscription_id}/assessments/{assessment_key}/subAssessments",
        "/api/v1/history/trends",
        "/api/v1/history/age",
        "/api/v1/history/mttr",
    ):
        assert p in paths, p
    assert set(paths["/api/v1/findings/{finding_id}/exemption"]) == {"post", "delete"}


@pytest.mark.parametrize(
    "path", ["/api/v1/findings", "/api/v1/vulnerabilities", "/api/v1/assessments", "/api/v1/events"]
)
def test_empty_database_answers(path: str, vctx: ServiceContext) -> None:
    c = _seed.client(vctx)
    r = c.get(path)
    assert r.status_code == 200 and r.json()["items"] == []
