"""The findings view: every filter, both sorts, cursors, one finding, exemptions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shoal.db.findings import ObservedFinding
from shoal.db.models import Event
from shoal.db.types import EventType, FindingState
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.views.errors import Conflict, InvalidQuery, NotFound
from shoal.service.views.findings import (
    FindingQuery,
    FindingSort,
    get_finding,
    list_findings,
    set_exemption,
)
from tests.support.service import START
from tests.unit.service.views.seed import (
    BUSYBOX_0005,
    OPENSSL_0108,
    OPENSSL_3400,
    REQUESTS,
    REQUESTS_GHSA,
    ZLIB_45853,
    World,
    assess,
)

OPEN: list[tuple[str, ObservedFinding]] = [
    ("i1", OPENSSL_3400),
    ("i1", OPENSSL_0108),
    ("i2", REQUESTS_GHSA),
    ("i2", OPENSSL_3400),
    ("i3", OPENSSL_3400),
    ("i3", OPENSSL_0108),
    ("i3", ZLIB_45853),
    ("i4", BUSYBOX_0005),
    ("i4", ZLIB_45853),
]
OPENED_AT = {"i1": 0, "i2": 1, "i3": 2, "i4": 3}  # hours after START


def ids(w: World, pairs: list[tuple[str, ObservedFinding]]) -> set[str]:
    return {w.fid(i, o) for i, o in pairs}


def everything(ctx: ServiceContext, q: FindingQuery, limit: int = 1000) -> list[str]:
    """Every id the query yields, page by page."""
    out: list[str] = []
    cursor = None
    with ctx.read() as s:
        while True:
            page = list_findings(s, q, cursor=cursor, limit=limit)
            out += [r.id for r in page.items]
            if page.next_cursor is None:
                return out
            assert len(page.items) == limit
            cursor = page.next_cursor


def test_default_is_open_findings_newest_first(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        page = list_findings(s)
    assert page.next_cursor is None
    got = [(r.first_seen, r.id) for r in page.items]
    assert {r.id for r in page.items} == ids(world, OPEN)
    assert got == sorted(got, reverse=True)
    assert [r.first_seen for r in page.items][:2] == [START + timedelta(hours=3)] * 2
    assert all(r.state is FindingState.OPEN for r in page.items)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"severities": (Rating.CRITICAL,)},
            [("i1", OPENSSL_3400), ("i2", OPENSSL_3400), ("i3", OPENSSL_3400)],
        ),
        (
            {"severities": (Rating.LOW, Rating.UNKNOWN)},
            [("i3", ZLIB_45853), ("i4", ZLIB_45853), ("i4", BUSYBOX_0005)],
        ),
        ({"fixable": False}, [("i1", OPENSSL_0108), ("i3", OPENSSL_0108), ("i4", BUSYBOX_0005)]),
        (
            {"fixable": True},
            [
                ("i1", OPENSSL_3400),
                ("i2", REQUESTS_GHSA),
                ("i2", OPENSSL_3400),
                ("i3", OPENSSL_3400),
                ("i3", ZLIB_45853),
                ("i4", ZLIB_45853),
            ],
        ),
        (
            {"package": "openssl"},
            [
                ("i1", OPENSSL_3400),
                ("i1", OPENSSL_0108),
                ("i2", OPENSSL_3400),
                ("i3", OPENSSL_3400),
                ("i3", OPENSSL_0108),
            ],
        ),
        ({"package": REQUESTS}, [("i2", REQUESTS_GHSA)]),
        ({"package": "pkg:pypi/requests@9.9.9"}, []),
        ({"vulnerability_id": "CVE-2023-45853"}, [("i3", ZLIB_45853), ("i4", ZLIB_45853)]),
        ({"since": START + timedelta(hours=2)}, [p for p in OPEN if p[0] in ("i3", "i4")]),
        (
            {"states": (FindingState.FIXED,)},
            [("i1", ZLIB_45853)],
        ),
        ({"states": (FindingState.OPEN, FindingState.FIXED)}, [*OPEN, ("i1", ZLIB_45853)]),
        ({"states": ()}, [*OPEN, ("i1", ZLIB_45853)]),
        (
            {
                "severities": (Rating.CRITICAL, Rating.MEDIUM),
                "fixable": False,
                "package": "openssl",
            },
            [("i1", OPENSSL_0108), ("i3", OPENSSL_0108)],
        ),
    ],
)
def test_each_filter(
    vctx: ServiceContext, world: World, query: dict[str, Any], expected: list[Any]
) -> None:
    assert set(everything(vctx, FindingQuery(**query))) == ids(world, expected)


@pytest.mark.parametrize(
    ("scope", "key", "images"),
    [
        ("subscription_id", ("subs", "alpha"), ("i1", "i2", "i3")),
        ("subscription_id", ("subs", "beta"), ("i4",)),
        ("registry_id", ("regs", "reg2"), ("i3",)),
        ("registry_id", ("regs", "reg1"), ("i1", "i2")),
        ("repository_id", ("repos", "reg1/app"), ("i1",)),
        ("image_id", ("images", "i4"), ("i4",)),
        ("image_id", ("images", "i5"), ()),
    ],
)
def test_scope_filters(
    vctx: ServiceContext, world: World, scope: str, key: tuple[str, str], images: tuple[str, ...]
) -> None:
    value = getattr(world, key[0])[key[1]]
    got = everything(vctx, FindingQuery(**{scope: value}))
    assert set(got) == ids(world, [p for p in OPEN if p[0] in images])


def test_rows_say_where_the_image_sits(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        (row,) = list_findings(s, FindingQuery(package=REQUESTS)).items
    assert row.id == world.fid("i2", REQUESTS_GHSA)
    assert (row.package_name, row.package_version, row.package_purl) == (
        "requests",
        "2.25.0",
        REQUESTS,
    )
    assert (row.vulnerability_id, row.severity, row.fixable, row.fixed_versions) == (
        "GHSA-9wx4-h78v-vm56",
        Rating.HIGH,
        True,
        ("2.32.0",),
    )
    assert (row.first_seen, row.last_seen, row.resolved_at) == (
        START + timedelta(hours=1),
        START + timedelta(hours=1),
        None,
    )
    img = row.image
    assert (img.image_id, img.digest, img.platform, img.tags) == (
        world.images["i2"],
        world.digests["i2"],
        "linux/amd64",
        ("1.0",),
    )
    assert (img.repository_name, img.registry_name, img.registry_host) == (
        "web",
        "reg1",
        "reg1.example:5000",
    )
    assert img.subscription_id == world.subs["alpha"]
    assert img.last_scanned_at == START + timedelta(hours=1)


def test_severity_sort_is_rank_order_then_newest(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        rows = list_findings(s, FindingQuery(sort=FindingSort.SEVERITY)).items
    ranks = [r.severity.rank for r in rows]
    assert ranks == sorted(ranks, reverse=True)
    assert rows[0].severity is Rating.CRITICAL
    assert rows[-1].severity is Rating.UNKNOWN
    crit = [(r.first_seen, r.id) for r in rows if r.severity is Rating.CRITICAL]
    assert crit == sorted(crit, reverse=True)


@pytest.mark.parametrize("sort", list(FindingSort))
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_cursor_round_trip_covers_every_row_once(
    vctx: ServiceContext, world: World, sort: FindingSort, limit: int
) -> None:
    q = FindingQuery(states=(), sort=sort)
    whole = everything(vctx, q)
    paged = everything(vctx, q, limit=limit)
    assert paged == whole
    assert len(paged) == len(set(paged)) == 10


def test_severity_cursor_with_a_severity_filter(vctx: ServiceContext, world: World) -> None:
    q = FindingQuery(severities=(Rating.UNKNOWN, Rating.CRITICAL), sort=FindingSort.SEVERITY)
    paged = everything(vctx, q, limit=1)
    assert paged == everything(vctx, q)
    assert set(paged) == ids(
        world,
        [("i1", OPENSSL_3400), ("i2", OPENSSL_3400), ("i3", OPENSSL_3400), ("i4", BUSYBOX_0005)],
    )


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "x" * 500}, "cursor"),
        ({"q": FindingQuery(since=START.replace(tzinfo=None))}, "since"),
        ({"q": FindingQuery(package="x" * 2049)}, "package"),
        ({"q": FindingQuery(vulnerability_id="")}, "vulnerability_id"),
        ({"q": FindingQuery(image_id=0)}, "image_id"),
    ],
)
def test_bad_input_names_the_parameter(
    vctx: ServiceContext, kwargs: dict[str, Any], parameter: str
) -> None:
    with vctx.read() as s, pytest.raises(InvalidQuery) as e:
        list_findings(s, **kwargs)
    assert e.value.parameter == parameter
    assert "\n" not in str(e.value)


def test_a_cursor_of_the_other_sort_is_refused(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        page = list_findings(s, FindingQuery(), limit=2)
        assert page.next_cursor is not None
        with pytest.raises(InvalidQuery, match="cursor"):
            list_findings(s, FindingQuery(sort=FindingSort.SEVERITY), cursor=page.next_cursor)


def test_a_finding_inserted_between_pages_is_not_skipped(
    vctx: ServiceContext, world: World
) -> None:
    from tests.unit.service.views.seed import assess, obs

    with vctx.read() as s:
        first = list_findings(s, FindingQuery(), limit=3)
    late = obs("pkg:pypi/idna@2.0", "idna", "2.0", "CVE-2024-3651", Rating.MEDIUM, True)
    # an older first_seen cannot happen for a new row; a newer one sorts before the cursor
    assess(vctx, world.images["i5"], [late], START + timedelta(hours=30))
    rest = []
    cursor = first.next_cursor
    with vctx.read() as s:
        while cursor is not None:
            page = list_findings(s, FindingQuery(), cursor=cursor, limit=3)
            rest += [r.id for r in page.items]
            cursor = page.next_cursor
    assert sorted([r.id for r in first.items] + rest) == sorted(ids(world, OPEN))


def test_get_finding(vctx: ServiceContext, world: World) -> None:
    fid = world.fid("i1", ZLIB_45853)
    with vctx.read() as s:
        row = get_finding(s, fid)
        assert (row.state, row.resolved_at) == (FindingState.FIXED, START + timedelta(hours=24))
        assert row.image.tags == ("latest", "v1")
        with pytest.raises(NotFound):
            get_finding(s, "0" * 32)
        with pytest.raises(InvalidQuery, match="32 lowercase hex"):
            get_finding(s, "../etc/passwd")


def _assessment_events(ctx: ServiceContext) -> list[Event]:
    with ctx.read() as s:
        return list(
            s.scalars(
                select(Event)
                .where(Event.type == EventType.ASSESSMENT_CHANGED)
                .where(Event.payload["cause"].as_string().is_not(None))
                .order_by(Event.id)
            )
        )


def test_exemption_flips_health_and_records_the_reason(vctx: ServiceContext, world: World) -> None:
    # i4 (beta, threshold high): busybox of unknown severity makes it unhealthy;
    # zlib (low) does not. Exempting busybox makes it healthy.
    fid = world.fid("i4", BUSYBOX_0005)
    vctx.clock.advance(timedelta(hours=5))  # type: ignore[attr-defined]
    with vctx.write() as s:
        row = set_exemption(s, fid, exempted=True, reason="  not shipped  ", now=vctx.clock.now())
    assert row.state is FindingState.EXEMPTED
    (ev,) = _assessment_events(vctx)
    assert (ev.image_id, ev.finding_id, ev.subscription_id) == (
        world.images["i4"],
        fid,
        world.subs["beta"],
    )
    assert ev.payload == {
        "digest": world.digests["i4"],
        "from": "unhealthy",
        "to": "healthy",
        "cause": "exemption",
        "finding_id": fid,
        "reason": "not shipped",
    }
    with vctx.read() as s:
        assert fid not in {r.id for r in list_findings(s).items}
        assert list_findings(s, FindingQuery(states=(FindingState.EXEMPTED,))).items[0].id == fid
    with vctx.write() as s, pytest.raises(Conflict, match="exempted, not open"):
        set_exemption(s, fid, exempted=True, reason="again", now=vctx.clock.now())
    with vctx.write() as s:
        assert set_exemption(s, fid, exempted=False, reason="", now=vctx.clock.now()).state is (
            FindingState.OPEN
        )
    events = _assessment_events(vctx)
    assert [e.payload["cause"] for e in events] == ["exemption", "exemption_lifted"]
    assert "reason" not in events[1].payload


def test_exemption_without_a_health_change_adds_no_event(
    vctx: ServiceContext, world: World
) -> None:
    # i1 stays unhealthy (critical open) when its medium finding is exempted
    with vctx.write() as s:
        set_exemption(s, world.fid("i1", OPENSSL_0108), exempted=True, reason="x", now=START)
    assert _assessment_events(vctx) == []


@pytest.mark.parametrize(
    ("finding", "exempted", "reason", "error"),
    [
        (("i1", ZLIB_45853), True, "fixed already", Conflict),
        (("i1", OPENSSL_3400), False, "", Conflict),
        (("i1", OPENSSL_3400), True, "   ", InvalidQuery),
        (("i1", OPENSSL_3400), True, "x" * 1001, InvalidQuery),
    ],
)
def test_exemption_refusals_change_nothing(
    vctx: ServiceContext,
    world: World,
    finding: tuple[str, ObservedFinding],
    exempted: bool,
    reason: str,
    error: type[Exception],
) -> None:
    fid = world.fid(*finding)
    with vctx.read() as s:
        before = get_finding(s, fid).state
    with vctx.write() as s, pytest.raises(error):
        set_exemption(s, fid, exempted=exempted, reason=reason, now=START)
    with vctx.read() as s:
        assert get_finding(s, fid).state is before
    with vctx.write() as s, pytest.raises(NotFound):
        set_exemption(s, "f" * 32, exempted=True, reason="r", now=START)


def test_a_registry_moved_to_another_host_keeps_its_findings_under_new_ids(
    vctx: ServiceContext, world: World
) -> None:
    """Finding ids name the registry's host: after its URL moves, its findings (with
    their exemptions and first_seen) and the events naming them carry the ids the new
    host makes; another registry's findings keep theirs."""
    from fastapi.testclient import TestClient

    from shoal.api import create_app
    from shoal.model.finding import image_finding_id

    moved, kept = world.fid("i1", OPENSSL_3400), world.fid("i3", OPENSSL_3400)
    with vctx.write() as s:
        set_exemption(s, moved, exempted=True, reason="not shipped", now=vctx.clock.now())
    with vctx.read() as s:
        before = get_finding(s, moved)
    with TestClient(create_app(vctx)) as c:
        resp = c.patch(
            f"/api/v1/registries/{world.regs['reg1']}", json={"url": "https://Moved.example:443"}
        )
        assert resp.status_code == 200, resp.text
        assert c.get(f"/api/v1/findings/{moved}").status_code == 404
    where = world.where["i1"]
    new = image_finding_id(
        type(where)("moved.example", where.repository, where.digest, where.platform),
        OPENSSL_3400.purl,
        OPENSSL_3400.vulnerability_id,
    )
    with vctx.read() as s:
        after = get_finding(s, new)
        assert (after.state, after.exemption_reason, after.first_seen) == (
            FindingState.EXEMPTED,
            "not shipped",
            before.first_seen,
        )
        assert get_finding(s, kept).id == kept  # reg2's copy of the same image
        named = set(s.scalars(select(Event.finding_id).where(Event.finding_id.is_not(None))))
        assert new in named and moved not in named and kept in named
    # and the next assessment finds them under the new ids: nothing opens or resolves
    i1 = [OPENSSL_3400, OPENSSL_0108]
    mark = _last_event_id(vctx)
    assess(vctx, world.images["i1"], i1, START + timedelta(hours=30))
    with vctx.read() as s:
        types = {e.type for e in s.scalars(select(Event).where(Event.id > mark))}
    assert types == {EventType.IMAGE_SCANNED}


def _last_event_id(ctx: ServiceContext) -> int:
    with ctx.read() as s:
        return int(s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0)
