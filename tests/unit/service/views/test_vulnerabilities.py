"""View 2: vulnerabilities with their facts (CVSS, EPSS, KEV) and their reach."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.views.errors import InvalidQuery, NotFound
from shoal.service.views.findings import FindingQuery
from shoal.service.views.vulnerabilities import (
    VulnQuery,
    VulnSort,
    get_vulnerability,
    list_vulnerabilities,
)
from tests.support.service import START
from tests.unit.service.views.seed import World, seed

BY_SEVERITY = [
    "CVE-2024-3400",
    "GHSA-9wx4-h78v-vm56",
    "CVE-2025-0108",
    "CVE-2023-45853",
    "CVE-1999-0005",
]


def every(ctx: ServiceContext, q: VulnQuery, limit: int = 1000) -> list[str]:
    out: list[str] = []
    cursor = None
    with ctx.read() as s:
        while True:
            page = list_vulnerabilities(s, ctx, q, cursor=cursor, limit=limit)
            out += [v.id for v in page.items]
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor


def test_list_with_reach_and_facts(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        page = list_vulnerabilities(s, vctx)
    assert [v.id for v in page.items] == BY_SEVERITY
    v = {x.id: x for x in page.items}
    c = v["CVE-2024-3400"]  # i1, i2, i3: three repositories in two registries
    assert (c.severity, c.fixable, c.findings, c.images, c.repositories, c.registries) == (
        Rating.CRITICAL,
        True,
        3,
        3,
        3,
        2,
    )
    assert c.first_seen == START
    assert c.info.best_cvss is not None
    assert (c.info.best_cvss.version, c.info.best_cvss.score, c.info.best_cvss.source) == (
        "3.1",
        10.0,
        "nvd",
    )
    assert c.info.best_cvss.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
    assert c.info.published == "2024-04-12T08:15:06.230Z"
    assert c.info.cwes == ("CWE-20", "CWE-77")
    assert (c.info.kev, c.info.epss_score) == (False, None)
    kev = v["CVE-2025-0108"]
    assert (kev.info.kev, kev.info.kev_date_added, kev.fixable) == (True, "2025-02-18", False)
    epss = v["CVE-1999-0005"]
    assert (epss.info.epss_score, epss.info.epss_percentile) == (0.91963, 0.99214)
    assert (epss.severity, epss.registries) == (Rating.UNKNOWN, 1)
    zlib = v["CVE-2023-45853"]  # open on i3 and i4 only (fixed on i1)
    assert (zlib.images, zlib.registries, zlib.first_seen) == (2, 2, START + timedelta(hours=2))
    assert zlib.info.description.startswith("MiniZip in zlib through 1.3")
    assert zlib.info.references == ("https://security-tracker.debian.org/tracker/CVE-2023-45853",)
    ghsa = v["GHSA-9wx4-h78v-vm56"]  # the enrichment DB has no advisory for it
    assert (ghsa.info.cvss, ghsa.info.summary, ghsa.info.cves) == ((), "", ())


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (VulnQuery(severities=(Rating.LOW, Rating.UNKNOWN)), ["CVE-2023-45853", "CVE-1999-0005"]),
        (VulnQuery(fixable=False), ["CVE-2025-0108", "CVE-1999-0005"]),
        (VulnQuery(fixable=True, severities=(Rating.HIGH,)), ["GHSA-9wx4-h78v-vm56"]),
        (
            VulnQuery(findings=FindingQuery(states=(FindingState.FIXED,))),
            ["CVE-2023-45853"],
        ),
        (VulnQuery(findings=FindingQuery(package="openssl")), ["CVE-2024-3400", "CVE-2025-0108"]),
        (
            VulnQuery(findings=FindingQuery(since=START + timedelta(hours=3))),
            ["CVE-2023-45853", "CVE-1999-0005"],
        ),
        (VulnQuery(sort=VulnSort.ID), sorted(BY_SEVERITY)),
    ],
)
def test_filters_and_sorts(
    vctx: ServiceContext, world: World, q: VulnQuery, expected: list[str]
) -> None:
    assert every(vctx, q) == expected


def test_scope_filters(vctx: ServiceContext, world: World) -> None:
    beta = VulnQuery(findings=FindingQuery(subscription_id=world.subs["beta"]))
    assert every(vctx, beta) == ["CVE-2023-45853", "CVE-1999-0005"]
    reg2 = VulnQuery(findings=FindingQuery(registry_id=world.regs["reg2"]))
    assert every(vctx, reg2) == ["CVE-2024-3400", "CVE-2025-0108", "CVE-2023-45853"]
    web = VulnQuery(findings=FindingQuery(repository_id=world.repos["reg1/web"]))
    assert every(vctx, web) == ["CVE-2024-3400", "GHSA-9wx4-h78v-vm56"]
    with vctx.read() as s:
        page = list_vulnerabilities(s, vctx, reg2)
    # the counts are of the scope only
    assert [(v.images, v.registries) for v in page.items] == [(1, 1)] * 3


@pytest.mark.parametrize("sort", list(VulnSort))
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_cursor_round_trip(vctx: ServiceContext, world: World, sort: VulnSort, limit: int) -> None:
    q = VulnQuery(sort=sort, findings=FindingQuery(states=()))
    assert every(vctx, q, limit=limit) == every(vctx, q)
    assert len(every(vctx, q, limit=limit)) == 5


def test_bad_input(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        with pytest.raises(InvalidQuery, match="limit"):
            list_vulnerabilities(s, vctx, limit=1001)
        page = list_vulnerabilities(s, vctx, limit=1)
        assert page.next_cursor
        with pytest.raises(InvalidQuery, match="cursor"):
            list_vulnerabilities(s, vctx, VulnQuery(sort=VulnSort.ID), cursor=page.next_cursor)
        with pytest.raises(InvalidQuery, match="cursor"):
            list_vulnerabilities(s, vctx, cursor="eyJ4Ijox")
        with pytest.raises(NotFound, match="CVE-2000-0001"):
            get_vulnerability(s, vctx, "CVE-2000-0001")
        with pytest.raises(InvalidQuery):
            get_vulnerability(s, vctx, "C" * 101)


def test_detail_pages_the_affected_images(vctx: ServiceContext, world: World) -> None:
    seen = []
    cursor = None
    with vctx.read() as s:
        while True:
            d = get_vulnerability(s, vctx, "CVE-2024-3400", cursor=cursor, limit=2)
            assert d.summary.images == 3
            seen += d.affected
            if d.next_cursor is None:
                break
            cursor = d.next_cursor
    assert [a.image.image_id for a in seen] == sorted(world.images[i] for i in ("i1", "i2", "i3"))
    first = seen[0]
    assert (first.image.repository_name, first.image.registry_name, first.image.tags) == (
        "app",
        "reg1",
        ("latest", "v1"),
    )
    (pkg,) = first.packages
    assert (pkg.name, pkg.version, pkg.fixed_versions, pkg.state) == (
        "openssl",
        "3.0.11-1~deb12u2",
        ("3.0.13-1",),
        FindingState.OPEN,
    )
    with vctx.read() as s:
        fixed = get_vulnerability(
            s, vctx, "CVE-2023-45853", FindingQuery(states=(FindingState.FIXED,))
        )
    assert [a.image.image_id for a in fixed.affected] == [world.images["i1"]]
    assert fixed.affected[0].packages[0].state is FindingState.FIXED


def test_without_a_vulnerability_db_the_facts_are_missing_not_invented(
    make_ctx: Callable[..., ServiceContext], tmp_path: Path
) -> None:
    ctx = make_ctx(vulndb=tmp_path / "not-built-yet.db")
    seed(ctx)
    with ctx.read() as s:
        page = list_vulnerabilities(s, ctx)
    assert [v.id for v in page.items] == BY_SEVERITY
    for v in page.items:
        assert (v.info.cvss, v.info.epss_score, v.info.kev, v.info.description) == (
            (),
            None,
            False,
            "",
        )
