from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shoal.triggers import Deleted, DistributionTrigger, PullEvent, ScanRequest, TriggerFormatError

from .helpers import doc, dumps, payload

MANIFEST = "sha256:11447abab684ba4c5fca7da11538d67ebe218f7c9a60ba4c7f3e88652145987f"
INDEX = "sha256:93d2abd89a980"  # prefix; full digest checked from the file
HEADERS = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}


def parse(body: bytes) -> list[Any]:
    return DistributionTrigger().parse(HEADERS, body)


def test_captured_manifest_push_is_one_scan_request() -> None:
    (event,) = parse(payload("distribution/push-manifest.json"))
    assert isinstance(event, ScanRequest)
    assert event.digest == MANIFEST
    assert event.repository == "demo/app"
    assert event.tag == "v1"
    assert event.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert event.registry_host.startswith("127.0.0.1:")
    assert event.pushed_at is not None and event.pushed_at.tzinfo is not None
    assert event.source == "distribution"


@pytest.mark.parametrize("name", ["push-blob.json", "pull-blob.json"])
def test_captured_blob_events_are_ignored(name: str) -> None:
    assert parse(payload(f"distribution/{name}")) == []


def test_captured_index_push_keeps_its_media_type() -> None:
    (event,) = parse(payload("distribution/push-index.json"))
    assert isinstance(event, ScanRequest)
    assert event.media_type == "application/vnd.oci.image.index.v1+json"
    assert event.digest.startswith(INDEX)
    assert event.tag == "multi"
    assert event.repository == "demo/multi"


def test_captured_manifest_pull_is_a_pull_event() -> None:
    (event,) = parse(payload("distribution/pull-manifest.json"))
    assert isinstance(event, PullEvent)
    assert (event.repository, event.digest, event.tag) == ("demo/app", MANIFEST, "v1")
    assert event.pulled_at is not None


def test_a_pull_by_shoals_own_scanner_is_not_use_of_the_image() -> None:
    """Scanning reads the manifest, and Distribution reports that as a pull; counting
    it would keep every scanned image "in use" for ever."""
    body = doc("distribution/pull-manifest.json")
    body["events"][0]["request"]["useragent"] = "shoal/0.1"
    assert parse(dumps(body)) == []
    body["events"][0]["request"]["useragent"] = "skopeo/1.9.3 shoal/0.1"  # not ours
    assert len(parse(dumps(body))) == 1
    del body["events"][0]["request"]["useragent"]
    assert len(parse(dumps(body))) == 1


def test_captured_manifest_delete_has_digest_only() -> None:
    (event,) = parse(payload("distribution/delete-manifest.json"))
    assert isinstance(event, Deleted)
    assert (event.repository, event.digest, event.tag) == ("demo/multi", MANIFEST, None)


def test_docs_pull_example() -> None:
    (event,) = parse(payload("distribution/docs-pull.json"))
    assert event == PullEvent(
        registry_host="192.168.100.227:5000",
        repository="hello-world",
        digest="sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
        tag="latest",
        pulled_at=datetime(2016, 3, 9, 14, 44, 26, 402973, tzinfo=timezone(timedelta(hours=-8))),
        source="distribution",
    )


def test_docs_envelope_yields_the_manifest_only() -> None:
    events = parse(payload("distribution/docs-envelope.json"))
    assert events == [
        ScanRequest(
            registry_host="registrycluster.local",
            repository="library/test",
            digest="sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
            tag=None,
            media_type="application/vnd.docker.distribution.manifest.v2+json",
            pushed_at=datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC),
            source="distribution",
        )
    ]


def _event() -> dict[str, Any]:
    return copy.deepcopy(doc("distribution/push-manifest.json")["events"][0])


def test_batched_envelope_keeps_order_and_repeats() -> None:
    push, pull = _event(), doc("distribution/pull-manifest.json")["events"][0]
    events = parse(dumps({"events": [push, pull, push]}))
    assert [type(e) for e in events] == [ScanRequest, PullEvent, ScanRequest]
    assert events[0].key == events[2].key


def test_host_falls_back_to_target_url() -> None:
    ev = _event()
    del ev["request"]
    ev["target"]["url"] = f"http://Reg.Example:5000/v2/demo/app/manifests/{MANIFEST}"
    (event,) = parse(dumps({"events": [ev]}))
    assert event.registry_host == "reg.example:5000"


def test_tag_and_repository_deletes() -> None:
    tag_delete = {
        "action": "delete",
        "target": {"repository": "demo/app", "tag": "v1"},
        "request": {"host": "r.example"},
    }
    repo_delete = {
        "action": "delete",
        "target": {"repository": "demo/app"},
        "request": {"host": "r.example"},
    }
    assert parse(dumps({"events": [tag_delete, repo_delete]})) == [
        Deleted("r.example", "demo/app", None, "v1", None, "distribution"),
        Deleted("r.example", "demo/app", None, None, None, "distribution"),
    ]


@pytest.mark.parametrize("action", ["mount", "replicate", "future-thing"])
def test_unknown_and_blob_only_actions_are_skipped(action: str) -> None:
    ev = _event()
    ev["action"] = action
    assert parse(dumps({"events": [ev]})) == []


def test_empty_envelope_is_no_events() -> None:
    assert parse(b'{"events": []}') == []


def test_media_type_parameters_are_ignored() -> None:
    ev = _event()
    ev["target"]["mediaType"] = "application/vnd.oci.image.manifest.v1+json; charset=utf-8"
    assert len(parse(dumps({"events": [ev]}))) == 1


def _bad(mutate: Any) -> bytes:
    ev = _event()
    mutate(ev)
    return dumps({"events": [_event(), ev]})  # the first is fine: errors name [1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", r"^distribution webhook: body: empty$"),
        (b"not json", r"^distribution webhook: body: not JSON: Expecting value"),
        (b"\xff\xfe{}", r"^distribution webhook: body: not UTF-8"),
        (b"[]", r"^distribution webhook: body: expected an object, got an array$"),
        (b"{}", r"^distribution webhook: events: missing$"),
        (b'{"events": {}}', r"^distribution webhook: events: expected an array, got an object$"),
        (
            b'{"events": [1]}',
            r"^distribution webhook: events\[0\]: expected an object, got a number$",
        ),
        (b'{"events": [{"action": NaN}]}', r"not JSON: NaN is not valid JSON"),
        (b'{"events": [{}]}', r"^distribution webhook: events\[0\]\.action: missing$"),
        (b'{"events": [{"action": "push"}]}', r"events\[0\]\.target: missing$"),
        (b'{"events": [{"action": 7}]}', r"events\[0\]\.action: expected a string, got a number$"),
        (_bad(lambda e: e["target"].pop("digest")), r"events\[1\]\.target\.digest: missing$"),
        (
            _bad(lambda e: e["target"].update(digest="sha256:abc")),
            r"events\[1\]\.target\.digest: invalid sha256 digest 'sha256:abc'",
        ),
        (
            _bad(lambda e: e["target"].update(digest="md5:" + "a" * 32)),
            r"target\.digest: unsupported digest algorithm 'md5'",
        ),
        (
            _bad(lambda e: e["target"].update(repository="Demo/App")),
            r"events\[1\]\.target\.repository: invalid repository name 'Demo/App'$",
        ),
        (
            _bad(lambda e: e["target"].update(repository="a" * 300)),
            r"target\.repository: repository name longer than 255$",
        ),
        (_bad(lambda e: e["target"].update(repository="../etc")), r"invalid repository name"),
        (
            _bad(lambda e: e["target"].pop("repository")),
            r"events\[1\]\.target\.repository: missing$",
        ),
        (
            _bad(lambda e: e["target"].update(tag="-bad")),
            r"events\[1\]\.target\.tag: invalid tag '-bad'$",
        ),
        (
            _bad(lambda e: e["target"].update(tag=["v1"])),
            r"target\.tag: expected a string, got an array$",
        ),
        (
            _bad(lambda e: e["request"].update(host="bad host")),
            r"events\[1\]\.request\.host: invalid registry host 'bad host'$",
        ),
        (
            _bad(lambda e: (e.pop("request"), e["target"].pop("url"))),
            r"events\[1\]\.request\.host: missing \(and no target\.url",
        ),
        (
            _bad(lambda e: e.update(timestamp="yesterday")),
            r"events\[1\]\.timestamp: invalid timestamp 'yesterday'$",
        ),
        (
            _bad(lambda e: e.update(target="x")),
            r"events\[1\]\.target: expected an object, got a string$",
        ),
    ],
)
def test_malformed_bodies_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(TriggerFormatError, match=message) as info:
        parse(body)
    assert "\n" not in str(info.value)


def test_huge_body_is_refused_before_parsing() -> None:
    body = b'{"events": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    with pytest.raises(TriggerFormatError, match=r"body: \d+ bytes, more than the 1048576 allowed"):
        parse(body)


def test_deep_nesting_is_refused() -> None:
    body = b'{"events": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(TriggerFormatError, match="body: JSON nested too deeply"):
        parse(body)


def test_too_many_events_are_refused() -> None:
    body = b'{"events": [' + b",".join([b"{}"] * 10_001) + b"]}"
    with pytest.raises(TriggerFormatError, match=r"events: 10001 entries, more than the 10000"):
        parse(body)
