"""The discovery job's bookkeeping on both DBs: the inventory's tags are the poll's
state, a poll's truth about tags is stored even where `dedupe` folded a request away,
first polls leave push times unknown and later ones record them, and bad payloads fail
with one line. (Polling a real registry: tests/integration/service/test_discovery.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shoal.db.inventory import create_registry, create_subscription, image_tags
from shoal.db.models import Image, Job, Registry
from shoal.db.types import JobKind, RegistryKind
from shoal.service.context import ServiceContext
from shoal.service.discovery import (
    DiscoveryError,
    apply_discovery,
    handle_discover,
    known_state,
    submit_discovery,
)
from shoal.triggers.base import Deleted, ScanRequest, TriggerEvent
from shoal.triggers.poll import DiscoveryResult, State
from tests.support.service import START

HOST = "127.0.0.1:5000"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
MT = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def registry_id(ctx: ServiceContext) -> int:
    assert ctx.cipher is not None
    with ctx.write() as s:
        sub = create_subscription(s, "team", now=START)
        return create_registry(
            s, sub.id, "local", f"http://{HOST}", RegistryKind.DISTRIBUTION, cipher=ctx.cipher
        ).registry.id


def result(events: list[TriggerEvent], state: State) -> DiscoveryResult:
    return DiscoveryResult(HOST, events, state, [], 1, len(state), 1, None, START, START)


def apply(ctx: ServiceContext, registry_id: int, res: DiscoveryResult) -> State:
    with ctx.write() as s:
        reg = s.get(Registry, registry_id)
        assert reg is not None
        first = not known_state(s, registry_id)
        apply_discovery(s, ctx, reg, res, first=first)
        return known_state(s, registry_id)


def test_the_polls_state_becomes_the_stored_tags(ctx: ServiceContext, registry_id: int) -> None:
    # two tags on one new digest: dedupe left one request, the state names both
    first = result(
        [ScanRequest(HOST, "team/app", D1, "1.0", MT, None, "poll")],
        {("team/app", "1.0"): D1, ("team/app", "latest"): D1},
    )
    assert apply(ctx, registry_id, first) == first.state
    [image] = list_images(ctx)
    assert image.pushed_at is None  # the first poll cannot know when it was pushed
    with ctx.read() as s:
        assert image_tags(s, image.id) == ["1.0", "latest"]
        assert len(s.scalars(select(Job)).all()) == 1

    # a later poll: 1.0 moved to a new digest (pushed since the last poll)
    ctx.clock.advance(timedelta(minutes=15))  # type: ignore[attr-defined]
    second = result(
        [ScanRequest(HOST, "team/app", D2, "1.0", MT, None, "poll")],
        {("team/app", "1.0"): D2, ("team/app", "latest"): D1},
    )
    assert apply(ctx, registry_id, second) == second.state
    _, new = list_images(ctx)
    assert new.digest == D2 and new.pushed_at == START + timedelta(minutes=15)

    # latest removed and D1 gone from the registry
    third = result(
        [
            Deleted(HOST, "team/app", None, "latest", None, "poll"),
            Deleted(HOST, "team/app", D1, None, None, "poll"),
        ],
        {("team/app", "1.0"): D2},
    )
    assert apply(ctx, registry_id, third) == third.state
    assert [i.digest for i in list_images(ctx)] == [D2]


def list_images(ctx: ServiceContext) -> list[Image]:
    with ctx.read() as s:
        return list(s.scalars(select(Image).order_by(Image.id)))


def test_submit_discovery(ctx: ServiceContext, registry_id: int) -> None:
    with ctx.write() as s:
        a = submit_discovery(s, ctx, registry_id)
        b = submit_discovery(s, ctx, registry_id, "team/app", scan_all=True)
        slot = submit_discovery(s, ctx, registry_id, key="slot-7")
        again = submit_discovery(s, ctx, registry_id, key="slot-7")
    assert len({a.job_id, b.job_id, slot.job_id}) == 3  # manual requests: a job each
    assert again.job_id == slot.job_id and not again.created  # one per scheduler slot
    with ctx.read() as s:
        job = s.get(Job, b.job_id)
        assert job is not None and job.kind is JobKind.DISCOVER_REGISTRY
        assert job.payload == {
            "registry_id": registry_id,
            "repository": "team/app",
            "scan_all": True,
        }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "registry_id None"),
        ({"registry_id": "1"}, "registry_id '1'"),
        ({"registry_id": True}, "registry_id True"),
        ({"registry_id": 1, "repository": 5}, "repository is not a string"),
    ],
)
def test_bad_payloads_fail_with_one_line(
    ctx: ServiceContext, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(DiscoveryError, match=message):
        handle_discover(ctx, payload)


def test_a_deleted_registry_is_nothing_to_do(ctx: ServiceContext) -> None:
    handle_discover(ctx, {"registry_id": 4242})  # no error: the registry went meanwhile
