from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from shoal.triggers import AcrTrigger, Deleted, ScanRequest, TriggerFormatError

from .helpers import doc, dumps, payload

HELLO = "sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d"


def parse(body: bytes) -> list[Any]:
    return AcrTrigger().parse({"Content-Type": "application/json"}, body)


def test_docs_push_example() -> None:
    assert parse(payload("acr/push.json")) == [
        ScanRequest(
            registry_host="myregistry.azurecr.io",
            repository="hello-world",
            digest=HELLO,
            tag="v1",
            media_type="application/vnd.docker.distribution.manifest.v2+json",
            pushed_at=datetime(2017, 11, 17, 16, 52, 1, 343145, tzinfo=UTC),
            source="acr",
        )
    ]


def test_docs_delete_example() -> None:
    assert parse(payload("acr/delete.json")) == [
        Deleted(
            registry_host="myregistry.azurecr.io",
            repository="hello-world",
            digest=HELLO,
            tag=None,
            deleted_at=datetime(2017, 11, 17, 16, 54, 53, 657764, tzinfo=UTC),
            source="acr",
        )
    ]


def test_chart_events_are_not_triggers_even_with_masked_digests() -> None:
    assert parse(payload("acr/chart-push.json")) == []


def _push() -> dict[str, Any]:
    return copy.deepcopy(doc("acr/push.json"))


def test_quarantine_asks_for_a_scan() -> None:
    d = _push()
    d["action"] = "quarantine"
    (event,) = parse(dumps(d))
    assert isinstance(event, ScanRequest) and event.digest == HELLO


def test_ping_and_unknown_actions_are_skipped() -> None:
    assert parse(dumps({"id": "x", "timestamp": "2023-01-01T00:00:00Z", "action": "ping"})) == []
    assert parse(dumps({"action": "chart_delete", "target": None})) == []


def test_push_without_media_type_is_still_an_image() -> None:
    d = _push()
    del d["target"]["mediaType"]
    (event,) = parse(dumps(d))
    assert event.media_type is None


def test_push_of_a_non_image_media_type_is_skipped() -> None:
    d = _push()
    d["target"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    assert parse(dumps(d)) == []


def test_repository_delete_without_digest() -> None:
    d = doc("acr/delete.json")
    del d["target"]["digest"]
    (event,) = parse(dumps(d))
    assert isinstance(event, Deleted)
    assert event.digest is None and event.key == "delete myregistry.azurecr.io/hello-world"


def _bad(mutate: Any) -> bytes:
    d = _push()
    mutate(d)
    return dumps(d)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x00", r"^acr webhook: body: not JSON"),
        (b'{"events": []}', r"^acr webhook: action: missing$"),
        (_bad(lambda d: d.pop("target")), r"^acr webhook: target: missing$"),
        (_bad(lambda d: d.pop("request")), r"^acr webhook: request: missing$"),
        (_bad(lambda d: d["request"].pop("host")), r"^acr webhook: request\.host: missing$"),
        (
            _bad(lambda d: d["request"].update(host="my registry")),
            r"request\.host: invalid registry host 'my registry'$",
        ),
        (_bad(lambda d: d["target"].pop("digest")), r"^acr webhook: target\.digest: missing$"),
        (
            _bad(lambda d: d["target"].update(digest="sha256:80f0")),
            r"^acr webhook: target\.digest: invalid sha256 digest",
        ),
        (
            _bad(lambda d: d["target"].update(repository="")),
            r"^acr webhook: target\.repository: missing$",
        ),
        (
            _bad(lambda d: d["target"].update(repository="hello//world")),
            r"target\.repository: invalid repository name 'hello//world'$",
        ),
        (
            _bad(lambda d: d["target"].update(tag="x" * 129)),
            r"^acr webhook: target\.tag: invalid tag",
        ),
        (
            _bad(lambda d: d.update(timestamp=5)),
            r"^acr webhook: timestamp: expected a string, got a number$",
        ),
    ],
)
def test_malformed_bodies_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(TriggerFormatError, match=message) as info:
        parse(body)
    assert "\n" not in str(info.value)
