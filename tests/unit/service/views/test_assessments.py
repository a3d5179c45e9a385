"""The recommendation per subscription, registry, repository and image."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shoal.db.inventory import SubscriptionSettings, create_subscription, record_push
from shoal.db.models import Subscription
from shoal.model.advisory import Rating
from shoal.service.assess import Health
from shoal.service.context import ServiceContext
from shoal.service.views.assessments import (
    Cause,
    ScopeKind,
    get_assessment,
    list_assessments,
)
from shoal.service.views.errors import InvalidQuery, NotFound
from shoal.service.views.findings import set_exemption
from tests.support.service import START
from tests.unit.service.views.seed import BUSYBOX_0005, World, assess, obs


def counts(**kw: int) -> dict[Rating, int]:
    out = {r: 0 for r in Rating}
    out.update({Rating(k): v for k, v in kw.items()})
    return out


def test_subscription_alpha(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        a = get_assessment(s, ScopeKind.SUBSCRIPTION, world.subs["alpha"])
    assert (a.kind, a.name, a.subscription_id, a.threshold) == (
        ScopeKind.SUBSCRIPTION,
        "alpha",
        world.subs["alpha"],
        Rating.MEDIUM,
    )
    assert (a.status, a.cause) == (Health.UNHEALTHY, None)
    # i1: critical, medium; i2: high, critical; i3: critical, medium, low (i1's low is fixed)
    assert a.open_by_severity == counts(critical=3, high=1, medium=2, low=1)
    assert a.open_findings == 7
    assert a.fixable == 5
    assert (a.images, a.scanned_images, a.unhealthy_images, a.healthy_images) == (4, 3, 3, 0)
    assert a.last_scanned_at == START + timedelta(hours=24)


def test_unknown_severity_is_unhealthy_under_any_threshold(
    vctx: ServiceContext, world: World
) -> None:
    # beta's threshold is high; i4 has an unknown-severity and a low finding
    with vctx.read() as s:
        a = get_assessment(s, ScopeKind.IMAGE, world.images["i4"])
    assert (a.status, a.threshold, a.unhealthy_images) == (Health.UNHEALTHY, Rating.HIGH, 1)
    assert a.open_by_severity == counts(unknown=1, low=1)
    assert a.name == f"tools@{world.digests['i4']}"
    with vctx.write() as s:
        set_exemption(s, world.fid("i4", BUSYBOX_0005), exempted=True, reason="r", now=START)
    with vctx.read() as s:
        after = get_assessment(s, ScopeKind.REGISTRY, world.regs["reg3"])
    assert (after.status, after.open_findings, after.unhealthy_images) == (Health.HEALTHY, 1, 0)


@pytest.mark.parametrize(
    ("threshold", "severity", "health"),
    [
        (Rating.MEDIUM, Rating.MEDIUM, Health.UNHEALTHY),
        (Rating.MEDIUM, Rating.LOW, Health.HEALTHY),
        (Rating.HIGH, Rating.MEDIUM, Health.HEALTHY),
        (Rating.HIGH, Rating.CRITICAL, Health.UNHEALTHY),
        (Rating.CRITICAL, Rating.HIGH, Health.HEALTHY),
        (Rating.CRITICAL, Rating.UNKNOWN, Health.UNHEALTHY),
        (Rating.NEGLIGIBLE, Rating.NEGLIGIBLE, Health.UNHEALTHY),
        (Rating.LOW, Rating.NEGLIGIBLE, Health.HEALTHY),
    ],
)
def test_health_follows_the_subscription_threshold(
    vctx: ServiceContext, world: World, threshold: Rating, severity: Rating, health: Health
) -> None:
    from shoal.db.inventory import create_registry, ensure_repository
    from shoal.db.types import RegistryKind

    assert vctx.cipher is not None
    with vctx.write() as s:
        sub = create_subscription(
            s, "gamma", settings=SubscriptionSettings(unhealthy_severity=threshold), now=START
        )
        reg = create_registry(
            s, sub.id, "r", "http://r.example", RegistryKind.DISTRIBUTION, cipher=vctx.cipher
        ).registry
        repo = ensure_repository(s, reg.id, "one")
        image_id = record_push(s, repo.id, "sha256:" + "9" * 64, at=START).id
        sub_id = sub.id
    assess(
        vctx,
        image_id,
        [obs("pkg:pypi/x@1", "x", "1", "CVE-2024-0001", severity, False)],
        START + timedelta(days=2),
    )
    with vctx.read() as s:
        for kind, ident in (
            (ScopeKind.IMAGE, image_id),
            (ScopeKind.REPOSITORY, repo.id),
            (ScopeKind.REGISTRY, reg.id),
            (ScopeKind.SUBSCRIPTION, sub_id),
        ):
            a = get_assessment(s, kind, ident)
            assert (a.status, a.threshold) == (health, threshold), kind
            assert a.open_by_severity == counts(**{severity.value: 1})


def test_not_applicable_until_scanned(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        i5 = get_assessment(s, ScopeKind.IMAGE, world.images["i5"])
        app = get_assessment(s, ScopeKind.REPOSITORY, world.repos["reg1/app"])
    assert (i5.status, i5.cause, i5.images, i5.scanned_images) == (
        Health.NOT_APPLICABLE,
        Cause.NOT_SCANNED,
        1,
        0,
    )
    assert i5.open_findings == 0 and i5.last_scanned_at is None
    # the repository has one scanned (unhealthy) image and the unscanned one
    assert (app.status, app.images, app.scanned_images, app.unhealthy_images) == (
        Health.UNHEALTHY,
        2,
        1,
        1,
    )
    with vctx.write() as s:
        empty = create_subscription(s, "empty", now=START).id
    with vctx.read() as s:
        e = get_assessment(s, ScopeKind.SUBSCRIPTION, empty)
    assert (e.status, e.cause, e.images) == (Health.NOT_APPLICABLE, Cause.NOT_SCANNED, 0)


def test_plan_disabled_is_not_applicable(vctx: ServiceContext, world: World) -> None:
    with vctx.write() as s:
        sub = s.get(Subscription, world.subs["alpha"])
        assert sub is not None
        sub.plan_enabled = False
    with vctx.read() as s:
        a = get_assessment(s, ScopeKind.REGISTRY, world.regs["reg1"])
    assert (a.status, a.cause) == (Health.NOT_APPLICABLE, Cause.PLAN_DISABLED)
    assert a.open_findings == 4  # the counts are still shown


def test_registry_and_repository_counts(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        reg1 = get_assessment(s, ScopeKind.REGISTRY, world.regs["reg1"])
        reg2 = get_assessment(s, ScopeKind.REGISTRY, world.regs["reg2"])
        web = get_assessment(s, ScopeKind.REPOSITORY, world.repos["reg1/web"])
    assert (reg1.name, reg1.open_by_severity) == ("reg1", counts(critical=2, high=1, medium=1))
    assert (reg1.fixable, reg1.images, reg1.scanned_images) == (3, 3, 2)
    assert (reg2.open_by_severity, reg2.fixable) == (counts(critical=1, medium=1, low=1), 2)
    assert (web.name, web.open_findings, web.fixable, web.status) == (
        "web",
        2,
        2,
        Health.UNHEALTHY,
    )


@pytest.mark.parametrize("kind", list(ScopeKind))
def test_listing_pages_through_every_scope_once(
    vctx: ServiceContext, world: World, kind: ScopeKind
) -> None:
    expected = {
        ScopeKind.SUBSCRIPTION: set(world.subs.values()),
        ScopeKind.REGISTRY: set(world.regs.values()),
        ScopeKind.REPOSITORY: set(world.repos.values()),
        ScopeKind.IMAGE: set(world.images.values()),
    }[kind]
    seen: list[int] = []
    cursor = None
    with vctx.read() as s:
        while True:
            page = list_assessments(s, kind, cursor=cursor, limit=2)
            seen += [a.id for a in page.items]
            for a in page.items:
                assert a == get_assessment(s, kind, a.id)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert sorted(seen) == sorted(expected)


def test_listing_narrowed_to_a_parent(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        regs = list_assessments(s, ScopeKind.REGISTRY, subscription_id=world.subs["alpha"])
        imgs = list_assessments(s, ScopeKind.IMAGE, registry_id=world.regs["reg1"])
        repo_imgs = list_assessments(s, ScopeKind.IMAGE, repository_id=world.repos["reg1/app"])
        repos = list_assessments(s, ScopeKind.REPOSITORY, subscription_id=world.subs["beta"])
    assert [a.name for a in regs.items] == ["reg1", "reg2"]
    assert {a.id for a in imgs.items} == {world.images[i] for i in ("i1", "i2", "i5")}
    assert {a.id for a in repo_imgs.items} == {world.images[i] for i in ("i1", "i5")}
    assert [a.name for a in repos.items] == ["tools"]


@pytest.mark.parametrize(
    ("kind", "kwargs", "parameter"),
    [
        (ScopeKind.SUBSCRIPTION, {"registry_id": 1}, "registry_id"),
        (ScopeKind.REGISTRY, {"registry_id": 1}, "registry_id"),
        (ScopeKind.REPOSITORY, {"repository_id": 1}, "repository_id"),
        (ScopeKind.IMAGE, {"subscription_id": 0}, "subscription_id"),
        (ScopeKind.IMAGE, {"limit": 0}, "limit"),
        (ScopeKind.IMAGE, {"cursor": "bad"}, "cursor"),
    ],
)
def test_bad_listing_parameters(
    vctx: ServiceContext, kind: ScopeKind, kwargs: dict[str, int | str], parameter: str
) -> None:
    with vctx.read() as s, pytest.raises(InvalidQuery) as e:
        list_assessments(s, kind, **kwargs)  # type: ignore[arg-type]
    assert e.value.parameter == parameter


def test_a_cursor_of_another_scope_kind_is_refused(vctx: ServiceContext, world: World) -> None:
    with vctx.read() as s:
        page = list_assessments(s, ScopeKind.IMAGE, limit=1)
        assert page.next_cursor
        with pytest.raises(InvalidQuery, match="cursor"):
            list_assessments(s, ScopeKind.REGISTRY, cursor=page.next_cursor)


def test_missing_scope(vctx: ServiceContext) -> None:
    with vctx.read() as s:
        for kind in ScopeKind:
            with pytest.raises(NotFound, match=kind.value):
                get_assessment(s, kind, 12345)
