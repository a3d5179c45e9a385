"""Events a page at a time; trends, age of open findings and MTTR."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shoal.db.history import DayCount, record_daily_counts, snapshot_daily_counts
from shoal.db.types import EventType
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.views import history as h
from shoal.service.views.errors import InvalidQuery
from shoal.service.views.events import list_events
from tests.support.service import START
from tests.unit.service.views.seed import (
    OPENSSL_0108,
    OPENSSL_3400,
    REQUESTS_GHSA,
    ZLIB_45853,
    World,
    assess,
    clock,
)

# -- events --------------------------------------------------------------------------------


def test_events_page_through_the_log_once(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        whole = list_events(s, limit=1000)
    # 10 findings opened, 1 resolved, 5 scans, 4 images went not_applicable -> unhealthy
    kinds = [e.type for e in whole.items]
    assert (kinds.count(EventType.FINDING_OPENED), kinds.count(EventType.FINDING_RESOLVED)) == (
        10,
        1,
    )
    assert (kinds.count(EventType.IMAGE_SCANNED), kinds.count(EventType.ASSESSMENT_CHANGED)) == (
        5,
        4,
    )
    assert whole.next_cursor == whole.items[-1].id
    got = []
    cursor = 0
    with vctx.read() as s:
        while True:
            page = list_events(s, cursor=cursor, limit=3)
            if not page.items:
                assert page.next_cursor == cursor  # poll again from here
                break
            got += [e.id for e in page.items]
            cursor = page.next_cursor
    assert got == [e.id for e in whole.items] == sorted(got)


def test_event_filters(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        resolved = list_events(s, types=[EventType.FINDING_RESOLVED]).items
        beta = list_events(s, subscription_id=world.subs["beta"]).items
        both = list_events(
            s, types=[EventType.IMAGE_SCANNED], subscription_id=world.subs["alpha"]
        ).items
    assert [(e.finding_id, e.image_id) for e in resolved] == [
        (world.fid("i1", ZLIB_45853), world.images["i1"])
    ]
    assert {e.image_id for e in beta} == {world.images["i4"]}
    assert len(both) == 4 and {e.subscription_id for e in both} == {world.subs["alpha"]}


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"cursor": -1}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"subscription_id": 0}, "subscription_id"),
    ],
)
def test_event_bad_input(vctx: ServiceContext, kwargs: dict[str, int], parameter: str) -> None:
    with vctx.read() as s, pytest.raises(InvalidQuery) as e:
        list_events(s, **kwargs)  # type: ignore[arg-type]
    assert e.value.parameter == parameter


# -- trends --------------------------------------------------------------------------------


def test_trends_sum_registries_and_fill_missing_days(vctx: ServiceContext, world: World) -> None:
    today = date(2026, 11, 20)
    a, b = world.subs["alpha"], world.subs["beta"]
    r1, r2, r3 = world.regs["reg1"], world.regs["reg2"], world.regs["reg3"]
    rows = [
        DayCount(today, a, r1, Rating.CRITICAL, True, 2),
        DayCount(today, a, r2, Rating.CRITICAL, True, 1),
        DayCount(today, a, r2, Rating.LOW, False, 4),
        DayCount(today - timedelta(days=2), a, r1, Rating.HIGH, True, 5),
        DayCount(today - timedelta(days=6), b, r3, Rating.UNKNOWN, False, 7),
        DayCount(today - timedelta(days=7), a, r1, Rating.HIGH, True, 99),  # outside 7 days
        DayCount(today + timedelta(days=1), a, r1, Rating.HIGH, True, 99),  # after today
    ]
    with vctx.write() as s:
        record_daily_counts(s, rows)
    with vctx.read() as s:
        week = h.trends(s, days=7, today=today)
        alpha = h.trends(s, days=7, today=today, subscription_id=a)
        reg2 = h.trends(s, days=30, today=today, registry_id=r2)
        quarter = h.trends(s, days=90, today=today, subscription_id=b)
    assert [d.day for d in week] == [today - timedelta(days=6 - i) for i in range(7)]
    assert [d.total for d in week] == [7, 0, 0, 0, 5, 0, 7]
    last = week[-1]
    assert (last.by_severity[Rating.CRITICAL], last.by_severity[Rating.LOW], last.fixable) == (
        3,
        4,
        3,
    )
    assert week[0].by_severity[Rating.UNKNOWN] == 7 and week[0].fixable == 0
    assert [d.total for d in alpha] == [0, 0, 0, 0, 5, 0, 7]
    assert len(reg2) == 30 and [d.total for d in reg2][-1] == 5 and sum(d.total for d in reg2) == 5
    assert len(quarter) == 90 and sum(d.total for d in quarter) == 7


def test_trends_from_a_real_snapshot(vctx: ServiceContext, world: World) -> None:
    today = clock(vctx).now().date()
    with vctx.write() as s:
        snapshot_daily_counts(s, world.subs["alpha"], today)
    with vctx.read() as s:
        (day,) = h.trends(s, days=7, today=today, subscription_id=world.subs["alpha"])[-1:]
    assert (day.total, day.fixable) == (7, 5)
    assert day.by_severity[Rating.CRITICAL] == 3


def test_trends_bad_input(vctx: ServiceContext) -> None:
    with vctx.read() as s:
        with pytest.raises(InvalidQuery, match="days: 14 is not one of 7, 30, 90"):
            h.trends(s, days=14, today=date(2026, 1, 1))
        with pytest.raises(InvalidQuery, match="registry_id"):
            h.trends(s, days=7, today=date(2026, 1, 1), registry_id=-3)


# -- age -----------------------------------------------------------------------------------


def test_age_buckets_by_whole_days(vctx: ServiceContext, world: World) -> None:
    # now = START + 8 days + 1 hour: findings opened at +0h and +1h are 8 days old (the
    # second exactly, the boundary counts), those opened at +2h and +3h are 7 days old
    now = START + timedelta(days=8, hours=1)
    with vctx.read() as s:
        rows = {r.severity: r for r in h.age(s, now=now)}
        beta = {r.severity: r for r in h.age(s, now=now, subscription_id=world.subs["beta"])}
    crit = rows[Rating.CRITICAL]
    assert (crit.buckets["8-30d"], crit.buckets["0-7d"], crit.total) == (2, 1, 3)
    assert crit.oldest_first_seen == START
    assert rows[Rating.HIGH].buckets["8-30d"] == 1  # i2, opened at +1h
    assert rows[Rating.LOW].buckets == {**dict.fromkeys(rows[Rating.LOW].buckets, 0), "0-7d": 2}
    assert rows[Rating.NEGLIGIBLE].total == 0 and rows[Rating.NEGLIGIBLE].oldest_first_seen is None
    assert sum(r.total for r in rows.values()) == 9
    assert {s: r.total for s, r in beta.items() if r.total} == {Rating.LOW: 1, Rating.UNKNOWN: 1}
    with vctx.read() as s:
        later = {r.severity: r for r in h.age(s, now=START + timedelta(days=400))}
    assert later[Rating.CRITICAL].buckets["over-365d"] == 3


# -- mean time to remediate ----------------------------------------------------------------


def test_mttr_arithmetic(vctx: ServiceContext, world: World) -> None:
    # i1's zlib (low): first seen START, fixed at +24h            -> 86,400 s
    # i2 rescanned at +72h without requests (high, seen at +1h)   -> 71 h
    assess(vctx, world.images["i2"], [OPENSSL_3400], START + timedelta(hours=72))
    now = START + timedelta(hours=72)
    with vctx.read() as s:
        rows = {r.severity: r for r in h.mttr(s, now=now, window_days=90)}
        recent = {r.severity: r for r in h.mttr(s, now=now, window_days=1)}
        beta = h.mttr(s, now=now, subscription_id=world.subs["beta"])
        reg1 = {r.severity: r for r in h.mttr(s, now=now, registry_id=world.regs["reg1"])}
    assert (rows[Rating.LOW].remediated, rows[Rating.LOW].mean_seconds) == (1, 86400.0)
    assert (rows[Rating.HIGH].remediated, rows[Rating.HIGH].mean_seconds) == (1, 71 * 3600.0)
    assert rows[Rating.CRITICAL] == h.MttrRow(Rating.CRITICAL, 0, None)
    overall = h.overall(list(rows.values()))
    assert overall is not None
    assert (overall.remediated, overall.mean_seconds) == (2, (86400 + 71 * 3600) / 2)
    # a 1-day window ending at +72h starts at +48h: only the high one
    assert (recent[Rating.HIGH].remediated, recent[Rating.LOW].remediated) == (1, 0)
    assert all(r.remediated == 0 for r in beta)
    assert reg1[Rating.HIGH].remediated == 1
    # a window ending before the first fix holds nothing
    with vctx.read() as s:
        early = h.mttr(s, now=START + timedelta(hours=23), window_days=90)
    assert h.overall(early) is None


def test_mttr_counts_a_refixed_finding_from_first_sighting_to_last_fix(
    vctx: ServiceContext, world: World
) -> None:
    # i1's medium openssl finding: seen at 0h, fixed at +48h, back at +60h, fixed at +100h
    i1 = world.images["i1"]
    assess(vctx, i1, [OPENSSL_3400], START + timedelta(hours=48))
    assess(vctx, i1, [OPENSSL_3400, OPENSSL_0108], START + timedelta(hours=60))
    assess(vctx, i1, [OPENSSL_3400], START + timedelta(hours=100))
    with vctx.read() as s:
        rows = {r.severity: r for r in h.mttr(s, now=START + timedelta(hours=100))}
    assert (rows[Rating.MEDIUM].remediated, rows[Rating.MEDIUM].mean_seconds) == (1, 100 * 3600.0)
    assert REQUESTS_GHSA.severity is Rating.HIGH and rows[Rating.HIGH].remediated == 0


def test_mttr_bad_window(vctx: ServiceContext) -> None:
    with vctx.read() as s:
        for days in (0, 3651):
            with pytest.raises(InvalidQuery, match="days"):
                h.mttr(s, now=START, window_days=days)
