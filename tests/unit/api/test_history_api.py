"""GET /history/trends, /history/age and /history/mttr through HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shoal.db.history import DayCount, record_daily_counts
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from tests.unit.service.views import seed as _seed
from tests.unit.service.views.seed import World

api, enriched_vulndb, vctx, world = _seed.api, _seed.enriched_vulndb, _seed.vctx, _seed.world


def test_history(api: TestClient, vctx: ServiceContext, world: World) -> None:
    today = vctx.clock.now().date()
    with vctx.write() as s:
        record_daily_counts(
            s, [DayCount(today, world.subs["alpha"], world.regs["reg1"], Rating.HIGH, True, 4)]
        )
    t = api.get("/api/v1/history/trends", params={"days": 7}).json()
    assert (t["days"], len(t["series"])) == (7, 7)
    assert t["series"][-1] == {
        "day": today.isoformat(),
        "total": 4,
        "by_severity": {
            "critical": 0,
            "high": 4,
            "medium": 0,
            "low": 0,
            "negligible": 0,
            "unknown": 0,
        },
        "fixable": 4,
    }
    assert len(api.get("/api/v1/history/trends").json()["series"]) == 30
    none = api.get("/api/v1/history/trends", params={"days": 90, "registry_id": world.regs["reg2"]})
    assert sum(d["total"] for d in none.json()["series"]) == 0
    age = api.get("/api/v1/history/age", params={"subscription_id": world.subs["beta"]}).json()
    assert age["buckets"][0] == "0-7d"
    assert {r["severity"]: r["total"] for r in age["rows"] if r["total"]} == {
        "low": 1,
        "unknown": 1,
    }
    m = api.get("/api/v1/history/mttr", params={"days": 30}).json()
    assert m["overall"] == {
        "severity": None,
        "remediated": 1,
        "mean_seconds": 86400.0,
        "mean_days": 1.0,
    }
    assert [r for r in m["rows"] if r["remediated"]] == [
        {"severity": "low", "remediated": 1, "mean_seconds": 86400.0, "mean_days": 1.0}
    ]
    for url, status in (
        ("/api/v1/history/trends?days=14", 400),
        ("/api/v1/history/trends?days=week", 422),
        ("/api/v1/history/mttr?days=0", 422),
        ("/api/v1/history/age?registry_id=0", 422),
    ):
        r = api.get(url)
        assert r.status_code == status, (url, r.text)
