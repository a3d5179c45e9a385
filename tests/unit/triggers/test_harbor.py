from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from shoal.triggers import Deleted, HarborTrigger, PullEvent, ScanRequest, TriggerFormatError

from .helpers import doc, dumps, payload

ALPINE = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
DELETED = "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14"


def parse(body: bytes) -> list[Any]:
    return HarborTrigger().parse({"Content-Type": "application/json"}, body)


def test_docs_push_example() -> None:
    assert parse(payload("harbor/push-default.json")) == [
        ScanRequest(
            registry_host="hub.harbor.com",
            repository="test-webhook/debian",
            digest="sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8",
            tag="latest",
            media_type=None,
            pushed_at=datetime.fromtimestamp(1586922308, UTC),
            source="harbor",
        )
    ]


def test_push_by_digest_has_no_tag() -> None:
    (event,) = parse(payload("harbor/push-by-digest.json"))
    assert isinstance(event, ScanRequest)
    assert (event.registry_host, event.repository, event.digest) == (
        "localhost",
        "harbor/alpine",
        ALPINE,
    )
    assert event.tag is None


def test_pull_default_and_cloudevents_agree_but_for_time() -> None:
    (default,) = parse(payload("harbor/pull-default.json"))
    (cloud,) = parse(payload("harbor/pull-cloudevents.json"))
    assert isinstance(default, PullEvent) and isinstance(cloud, PullEvent)
    assert default.key == cloud.key == f"pull localhost/harbor/alpine@{ALPINE}"
    assert default.pulled_at == datetime.fromtimestamp(1680502372, UTC)
    assert cloud.pulled_at == datetime(2023, 4, 3, 6, 12, 52, tzinfo=UTC)


@pytest.mark.parametrize("name", ["delete-default.json", "delete-cloudevents.json"])
def test_delete_names_digest_and_tag(name: str) -> None:
    (event,) = parse(payload(f"harbor/{name}"))
    assert isinstance(event, Deleted)
    assert (event.registry_host, event.repository, event.digest, event.tag) == (
        "localhost",
        "harbor/alpine",
        DELETED,
        "3.8",
    )


def test_scan_and_other_events_are_not_triggers() -> None:
    assert parse(payload("harbor/scanning-completed.json")) == []
    assert parse(dumps({"type": "QUOTA_WARNING", "event_data": "anything"})) == []
    assert parse(dumps({"specversion": "1.0", "type": "harbor.scan.completed"})) == []


def _push() -> dict[str, Any]:
    return copy.deepcopy(doc("harbor/push-default.json"))


def test_one_event_per_resource() -> None:
    d = _push()
    res = d["event_data"]["resources"][0]
    d["event_data"]["resources"].append(
        {**res, "tag": "12", "resource_url": "hub.harbor.com/test-webhook/debian:12"}
    )
    events = parse(dumps(d))
    assert [e.tag for e in events] == ["latest", "12"]
    assert events[0].key == events[1].key  # same digest: one scan


def test_old_harbor_without_repo_full_name() -> None:
    d = _push()
    del d["event_data"]["repository"]["repo_full_name"]
    (event,) = parse(dumps(d))
    assert event.repository == "test-webhook/debian"


def test_host_with_port() -> None:
    d = _push()
    d["event_data"]["resources"][0]["resource_url"] = (
        "harbor.example:8443/test-webhook/debian:latest"
    )
    (event,) = parse(dumps(d))
    assert event.registry_host == "harbor.example:8443"


def _bad(mutate: Any) -> bytes:
    d = _push()
    mutate(d)
    return dumps(d)


def _res(d: dict[str, Any]) -> dict[str, Any]:
    return d["event_data"]["resources"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", r"^harbor webhook: body: not JSON"),
        (b'"PUSH_ARTIFACT"', r"^harbor webhook: body: expected an object, got a string$"),
        (b"{}", r"^harbor webhook: type: missing$"),
        (_bad(lambda d: d.pop("event_data")), r"^harbor webhook: event_data: missing$"),
        (
            _bad(lambda d: d.update(event_data=[])),
            r"^harbor webhook: event_data: expected an object, got an array$",
        ),
        (_bad(lambda d: d["event_data"].pop("resources")), r"event_data\.resources: missing$"),
        (_bad(lambda d: d["event_data"].pop("repository")), r"event_data\.repository: missing$"),
        (
            _bad(lambda d: d["event_data"]["repository"].update(repo_full_name="Test/Debian")),
            r"event_data\.repository\.repo_full_name: invalid repository name 'Test/Debian'$",
        ),
        (_bad(lambda d: _res(d).pop("digest")), r"event_data\.resources\[0\]\.digest: missing$"),
        (
            _bad(lambda d: _res(d).update(digest="sha256:" + "G" * 64)),
            r"resources\[0\]\.digest: invalid sha256 digest",
        ),
        (
            _bad(lambda d: _res(d).update(tag="bad tag")),
            r"resources\[0\]\.tag: invalid tag 'bad tag'$",
        ),
        (_bad(lambda d: _res(d).pop("resource_url")), r"resources\[0\]\.resource_url: missing$"),
        (
            _bad(lambda d: _res(d).update(resource_url="hub.harbor.com/other/repo:latest")),
            r"resources\[0\]\.resource_url: 'hub\.harbor\.com/other/repo:latest' does not name repository 'test-webhook/debian'$",
        ),
        (
            _bad(lambda d: _res(d).update(resource_url="bad_host!/test-webhook/debian:latest")),
            r"resource_url: invalid registry host 'bad_host!'$",
        ),
        (
            _bad(lambda d: d.update(occur_at="1586922308")),
            r"^harbor webhook: occur_at: expected Unix seconds, got a string$",
        ),
        (
            _bad(lambda d: d.update(occur_at=True)),
            r"occur_at: expected Unix seconds, got a boolean$",
        ),
        (
            _bad(lambda d: d.update(occur_at=10**20)),
            r"occur_at: timestamp 100000000000000000000 out of range$",
        ),
    ],
)
def test_malformed_bodies_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(TriggerFormatError, match=message) as info:
        parse(body)
    assert "\n" not in str(info.value)


def test_cloudevents_bad_time() -> None:
    d = doc("harbor/pull-cloudevents.json")
    d["time"] = "03/04/2023"
    with pytest.raises(
        TriggerFormatError, match=r"^harbor webhook: time: invalid timestamp '03/04/2023'$"
    ):
        parse(dumps(d))
    del d["data"]
    d["time"] = "2023-04-03T06:12:52Z"
    with pytest.raises(TriggerFormatError, match=r"^harbor webhook: data: missing$"):
        parse(dumps(d))
