"""Polling discovery against a fake Distribution API on httpx.MockTransport: catalog and
tag pagination, HEAD without Docker-Content-Digest, moved and deleted tags, deleted
manifests and repositories, per-repository failures, limits, rate limiting, and fuzzed
registry answers. The real registry (tests/integration/test_poll_discovery.py) covers
the rest."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.config import OciSettings
from shoal.errors import ConfigError, RegistryError
from shoal.oci.client import RegistryClient
from shoal.triggers.base import Deleted, ScanRequest, TriggerEvent
from shoal.triggers.poll import (
    MAX_CONSECUTIVE_FAILURES,
    DiscoveryResult,
    PollError,
    discover,
)

TESTDATA = Path(__file__).parent / "testdata" / "poll"
HOST = "registry.test"
V2S2 = (TESTDATA / "alpine-docker-v2s2.json").read_bytes()
LIST = (TESTDATA / "alpine-docker-list.json").read_bytes()
OCI = (TESTDATA / "buildkit-oci-manifest-amd64.json").read_bytes()
INDEX = (TESTDATA / "buildkit-oci-index-attestations.json").read_bytes()
ORAS_ARTIFACT = json.dumps(
    {
        "mediaType": "application/vnd.oci.artifact.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "blobs": [],
    }
).encode()

_PATH = re.compile(r"/v2/(?P<repo>.+)/(?:(?P<tags>tags/list)|manifests/(?P<ref>[^/]+))")

Override = Callable[[httpx.Request], httpx.Response | None]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def media_type(data: bytes) -> str:
    try:
        mt = json.loads(data).get("mediaType")
    except ValueError:
        mt = None
    return mt if isinstance(mt, str) else "application/vnd.oci.image.manifest.v1+json"


def errors(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": message}]})


class FakeRegistry:
    """The parts of the Distribution API that polling uses, with Distribution's
    behaviour: sorted listings, ``Link`` pagination (`page` items per page), 404
    NAME_UNKNOWN for a repository without tags, manifests kept when untagged."""

    def __init__(self, page: int | None = None, *, digest_header: bool = True) -> None:
        self.manifests: dict[str, dict[str, bytes]] = {}  # repo -> digest -> bytes
        self.tag_map: dict[str, dict[str, str]] = {}  # repo -> tag -> digest
        self.page = page
        self.digest_header = digest_header
        self.requests: list[httpx.Request] = []
        self.overrides: list[Override] = []

    # -- changing it, as a client pushing and deleting would ---------------------------

    def push(self, repo: str, tag: str, data: bytes) -> str:
        d = sha(data)
        self.manifests.setdefault(repo, {})[d] = data
        self.tag_map.setdefault(repo, {})[tag] = d
        return d

    def untag(self, repo: str, tag: str) -> None:
        del self.tag_map[repo][tag]

    def delete_manifest(self, repo: str, digest: str) -> None:
        """DELETE /v2/<repo>/manifests/<digest>: the manifest and every tag naming it."""
        del self.manifests[repo][digest]
        self.tag_map[repo] = {t: d for t, d in self.tag_map[repo].items() if d != digest}

    def delete_repository(self, repo: str) -> None:
        self.manifests.pop(repo, None)
        self.tag_map.pop(repo, None)

    def expected_state(self) -> dict[tuple[str, str], str]:
        return {(r, t): d for r, tags in self.tag_map.items() for t, d in tags.items()}

    # -- serving ---------------------------------------------------------------------

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        for override in self.overrides:
            resp = override(req)
            if resp is not None:
                return resp
        path = req.url.path
        if path == "/v2/_catalog":
            repos = sorted(r for r, tags in self.tag_map.items() if tags or self.manifests[r])
            return self._listing(req, "repositories", repos, {})
        m = _PATH.fullmatch(path)
        if m is None:
            return errors(404, "NOT_FOUND", "no route")
        repo = m["repo"]
        if m["tags"]:
            tags = self.tag_map.get(repo)
            if not tags:
                return errors(404, "NAME_UNKNOWN", "repository name not known to registry")
            return self._listing(req, "tags", sorted(tags), {"name": repo})
        ref = m["ref"]
        digest = ref if ":" in ref else self.tag_map.get(repo, {}).get(ref)
        data = self.manifests.get(repo, {}).get(digest or "")
        if data is None:
            return errors(404, "MANIFEST_UNKNOWN", "manifest unknown")
        headers = {"Content-Type": media_type(data), "Content-Length": str(len(data))}
        if self.digest_header:
            headers["Docker-Content-Digest"] = sha(data)
        if req.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=data)

    def _listing(
        self, req: httpx.Request, key: str, items: list[str], extra: dict[str, str]
    ) -> httpx.Response:
        query = parse_qs(urlsplit(str(req.url)).query)
        last = query.get("last", [""])[0]
        if last:
            items = [i for i in items if i > last]
        headers = {}
        if self.page is not None and len(items) > self.page:
            items = items[: self.page]
            headers["Link"] = (
                f'<{req.url.path}?last={quote(items[-1], safe="")}&n={self.page}>; rel="next"'
            )
        return httpx.Response(200, json={**extra, key: items}, headers=headers)

    # -- what was asked --------------------------------------------------------------

    def count(self, method: str, pattern: str) -> int:
        return sum(
            1 for r in self.requests if r.method == method and re.fullmatch(pattern, r.url.path)
        )


def client_for(fake: FakeRegistry, *, retries: int = 0) -> RegistryClient:
    return RegistryClient(
        HOST,
        settings=OciSettings(retries=retries),
        transport=httpx.MockTransport(fake),
        sleep=lambda _: None,
    )


def poll(
    fake: FakeRegistry, known: dict[tuple[str, str], str] | None = None, **kw: object
) -> DiscoveryResult:
    with client_for(fake) as c:
        return discover(c, known or {}, registry_host=HOST, **kw)  # type: ignore[arg-type]


def scan(repo: str, digest: str, tag: str, mt: str | None) -> ScanRequest:
    return ScanRequest(HOST, repo, digest, tag, mt, None, "poll")


def deleted(repo: str, digest: str | None = None, tag: str | None = None) -> Deleted:
    return Deleted(HOST, repo, digest, tag, None, "poll")


def scans(events: list[TriggerEvent]) -> list[ScanRequest]:
    return [e for e in events if isinstance(e, ScanRequest)]


DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def fake() -> FakeRegistry:
    reg = FakeRegistry()
    reg.push("library/alpine", "3.19", LIST)
    reg.push("library/alpine", "latest", LIST)
    reg.push("library/alpine", "3.19-amd64", V2S2)
    reg.push("team/app", "v1", OCI)
    reg.push("team/app", "v1-multi", INDEX)
    return reg


# -- first and second poll -----------------------------------------------------------------


def test_first_poll_requests_every_digest_once(fake: FakeRegistry) -> None:
    result = poll(fake)

    assert result.events == [
        scan("library/alpine", sha(LIST), "3.19", DOCKER_LIST),
        scan("library/alpine", sha(V2S2), "3.19-amd64", DOCKER_V2),
        # "latest" names the same digest as "3.19": scanned once
        scan("team/app", sha(OCI), "v1", OCI_MANIFEST),
        scan("team/app", sha(INDEX), "v1-multi", OCI_INDEX),
    ]
    assert result.state == fake.expected_state()
    assert result.errors == []
    assert result.truncated is None and result.complete
    assert (result.repositories, result.tags) == (2, 5)
    # catalog + 2 tag lists + 5 HEADs, and nothing else
    assert result.requests == 8 == len(fake.requests)
    assert fake.count("HEAD", r"/v2/.+/manifests/.+") == 5
    assert fake.count("GET", r"/v2/.+/manifests/.+") == 0


def test_second_poll_finds_nothing(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.requests.clear()

    second = poll(fake, first.state)

    assert second.events == []
    assert second.state == first.state
    assert second.complete
    assert fake.count("GET", r"/v2/.+/manifests/.+") == 0  # HEADs only


def test_two_new_tags_on_one_digest_scan_once_and_both_are_in_state() -> None:
    fake = FakeRegistry()
    fake.push("team/app", "v2", OCI)
    fake.push("team/app", "stable", OCI)

    result = poll(fake)

    assert result.events == [scan("team/app", sha(OCI), "stable", OCI_MANIFEST)]
    assert result.state == {("team/app", "stable"): sha(OCI), ("team/app", "v2"): sha(OCI)}


def test_times_come_from_the_injected_clock(fake: FakeRegistry) -> None:
    ticks = iter([datetime(2026, 1, 2, 3, 4, tzinfo=UTC), datetime(2026, 1, 2, 3, 5, tzinfo=UTC)])

    result = poll(fake, now=lambda: next(ticks))

    assert result.finished_at - result.started_at == timedelta(minutes=1)


# -- pagination ----------------------------------------------------------------------------


def test_catalog_and_tags_are_followed_across_pages() -> None:
    fake = FakeRegistry(page=2)
    for i in range(5):
        fake.push(f"repo{i}", "latest", OCI)
    for i in range(7):
        fake.push("repo0", f"t{i}", V2S2)

    result = poll(fake)

    assert result.state == fake.expected_state()
    assert len(result.state) == 12
    assert fake.count("GET", r"/v2/_catalog") == 3
    assert fake.count("GET", r"/v2/repo0/tags/list") == 4
    # a listing counts once however many pages it had
    assert result.requests == 1 + 5 + 12


# -- HEAD without Docker-Content-Digest ------------------------------------------------------


def test_missing_docker_content_digest_falls_back_to_get() -> None:
    fake = FakeRegistry(digest_header=False)
    fake.push("team/app", "v1", OCI)
    fake.push("team/app", "v1-multi", INDEX)

    result = poll(fake)

    assert [(e.tag, e.digest) for e in scans(result.events)] == [
        ("v1", sha(OCI)),
        ("v1-multi", sha(INDEX)),
    ]
    assert fake.count("HEAD", r"/v2/team/app/manifests/.+") == 2
    assert fake.count("GET", r"/v2/team/app/manifests/.+") == 2
    assert result.requests == 1 + 1 + 2 + 2


def test_malformed_docker_content_digest_is_as_good_as_none() -> None:
    fake = FakeRegistry()
    fake.push("team/app", "v1", OCI)
    fake.overrides.append(
        lambda req: (
            httpx.Response(200, headers={"Docker-Content-Digest": "sha256:nothex"})
            if req.method == "HEAD"
            else None
        )
    )

    result = poll(fake)

    assert result.state == {("team/app", "v1"): sha(OCI)}


# -- changes -------------------------------------------------------------------------------


def test_moved_tag_gives_one_request_with_the_new_digest(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.push("team/app", "v1", V2S2)  # re-pushed with other content

    result = poll(fake, first.state)

    assert result.events == [scan("team/app", sha(V2S2), "v1", DOCKER_V2)]
    assert result.state[("team/app", "v1")] == sha(V2S2)
    # the old manifest is still there, untagged: asked for by digest, not reported deleted
    assert fake.count("HEAD", f"/v2/team/app/manifests/{sha(OCI)}") == 1


def test_removed_tag_is_deleted_but_its_manifest_stays(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.untag("library/alpine", "latest")  # "3.19" still names the same digest

    result = poll(fake, first.state)

    assert result.events == [deleted("library/alpine", tag="latest")]
    assert ("library/alpine", "latest") not in result.state
    assert fake.count("HEAD", r"/v2/library/alpine/manifests/sha256:.+") == 0


def test_deleted_manifest_gives_its_tags_and_its_digest(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.delete_manifest("library/alpine", sha(LIST))

    result = poll(fake, first.state)

    assert result.events == [
        deleted("library/alpine", tag="3.19"),
        deleted("library/alpine", tag="latest"),
        deleted("library/alpine", digest=sha(LIST)),
    ]
    assert result.state == fake.expected_state()


def test_repository_missing_from_the_catalog_is_deleted(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.delete_repository("team/app")

    result = poll(fake, first.state)

    assert result.events == [deleted("team/app")]
    assert all(repo != "team/app" for repo, _ in result.state)


def test_repository_listed_without_tags_is_deleted_once(fake: FakeRegistry) -> None:
    # Distribution keeps listing a repository whose manifests were all deleted and
    # answers 404 NAME_UNKNOWN for its tags.
    first = poll(fake)
    fake.tag_map["team/app"] = {}

    result = poll(fake, first.state)

    assert result.events == [deleted("team/app")]
    assert poll(fake, result.state).events == []


def test_non_image_manifest_is_tracked_but_not_scanned() -> None:
    fake = FakeRegistry()
    fake.push("team/app", "sbom", ORAS_ARTIFACT)

    result = poll(fake)

    assert result.events == []
    assert result.state == {("team/app", "sbom"): sha(ORAS_ARTIFACT)}


# -- failures are data ----------------------------------------------------------------------


def test_one_repository_failing_does_not_stop_the_others(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.push("team/app", "v2", V2S2)
    fake.push("library/alpine", "edge", V2S2)
    fake.overrides.append(
        lambda req: (
            errors(500, "UNKNOWN", "storage driver error")
            if req.url.path == "/v2/library/alpine/tags/list"
            else None
        )
    )

    result = poll(fake, first.state)

    assert result.events == [scan("team/app", sha(V2S2), "v2", DOCKER_V2)]
    assert result.errors == [
        PollError(
            "library/alpine",
            None,
            "registry.test/library/alpine: HTTP 500 from registry.test "
            "(UNKNOWN: storage driver error)",
        )
    ]
    # the failed repository keeps its stored tags: no deletion, retried next time
    assert {k: v for k, v in result.state.items() if k[0] == "library/alpine"} == {
        k: v for k, v in first.state.items() if k[0] == "library/alpine"
    }
    assert not result.complete


def test_one_tag_failing_keeps_its_stored_digest_and_siblings_resolve() -> None:
    fake = FakeRegistry()
    for tag in ("a", "b", "c"):
        fake.push("team/app", tag, OCI)
    first = poll(fake)
    fake.push("team/app", "b", V2S2)
    fake.push("team/app", "c", INDEX)
    fake.overrides.append(
        lambda req: httpx.Response(502) if req.url.path == "/v2/team/app/manifests/b" else None
    )

    result = poll(fake, first.state)

    assert result.events == [scan("team/app", sha(INDEX), "c", OCI_INDEX)]
    assert [(e.repository, e.tag) for e in result.errors] == [("team/app", "b")]
    assert "HTTP 502" in result.errors[0].message
    assert result.state[("team/app", "b")] == sha(OCI)  # the old one, until it resolves


def test_a_repository_failing_every_request_is_left_after_a_few_tags() -> None:
    fake = FakeRegistry()
    for i in range(20):
        fake.push("team/app", f"t{i:02}", OCI)
    first = poll(fake)
    fake.overrides.append(
        lambda req: httpx.Response(503) if req.url.path.startswith("/v2/team/app/man") else None
    )
    fake.requests.clear()

    result = poll(fake, first.state)

    assert fake.count("HEAD", r"/v2/team/app/manifests/.+") == MAX_CONSECUTIVE_FAILURES
    assert len(result.errors) == MAX_CONSECUTIVE_FAILURES
    assert result.events == []
    assert result.state == first.state


def test_tag_gone_between_listing_and_head_counts_as_deleted(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.overrides.append(
        lambda req: (
            errors(404, "MANIFEST_UNKNOWN", "manifest unknown")
            if req.url.path == "/v2/team/app/manifests/v1"
            else None
        )
    )

    result = poll(fake, first.state)

    assert deleted("team/app", tag="v1") in result.events
    assert result.errors == []


def test_rate_limited_stops_the_poll_and_keeps_everything_not_reached(
    fake: FakeRegistry,
) -> None:
    first = poll(fake)
    fake.delete_repository("team/app")
    fake.push("zz/other", "v1", OCI)
    fake.overrides.append(
        lambda req: (
            errors(429, "TOOMANYREQUESTS", "pull rate limit")
            if req.method == "HEAD" and "3.19-amd64" in req.url.path
            else None
        )
    )

    result = poll(fake, first.state)

    assert result.truncated == (
        "registry.test: rate limited; stopped polling at library/alpine:3.19-amd64"
    )
    # team/app vanished from the catalog, which was read in full; zz/other was not reached
    assert result.events == [deleted("team/app")]
    assert ("zz/other", "v1") not in result.state
    assert {k for k in result.state if k[0] == "library/alpine"} == {
        k for k in first.state if k[0] == "library/alpine"
    }


def test_rate_limited_on_tags_list_keeps_stored_state() -> None:
    fake = FakeRegistry()
    fake.push("a/one", "v1", OCI)
    fake.push("b/two", "v1", OCI)
    first = poll(fake)
    fake.overrides.append(
        lambda req: errors(429, "TOOMANYREQUESTS", "slow down") if "tags" in req.url.path else None
    )

    result = poll(fake, first.state)

    assert result.truncated == "registry.test: rate limited; stopped polling at a/one"
    assert result.events == []
    assert result.state == first.state


# -- the catalog -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [(401, "UNAUTHORIZED"), (403, "DENIED"), (404, "NOT_FOUND")]
)
def test_catalog_not_offered_says_to_name_repositories(status: int, code: str) -> None:
    fake = FakeRegistry()
    fake.overrides.append(
        lambda req: errors(status, code, "nope") if req.url.path == "/v2/_catalog" else None
    )

    with pytest.raises(RegistryError) as info:
        poll(fake)

    message = str(info.value)
    assert message.startswith("registry.test: the registry does not list its repositories")
    assert message.endswith("name the repositories to poll explicitly")
    assert "(/v2/_catalog: registry.test: " in message
    assert "\n" not in message


def test_catalog_failing_half_way_raises_rather_than_delete_the_rest() -> None:
    fake = FakeRegistry(page=1)
    fake.push("a/one", "v1", OCI)
    fake.push("b/two", "v1", OCI)
    fake.overrides.append(
        lambda req: (
            httpx.Response(500) if req.url.path == "/v2/_catalog" and req.url.query else None
        )
    )

    with pytest.raises(RegistryError, match=r"^registry\.test: HTTP 500 from registry\.test$"):
        poll(fake, {("b/two", "v1"): sha(OCI)})


def test_invalid_names_from_the_registry_are_errors_not_requests() -> None:
    fake = FakeRegistry()
    fake.push("team/app", "v1", OCI)
    fake.overrides.append(
        lambda req: (
            httpx.Response(200, json={"repositories": ["team/app", "../../etc", "UPPER"]})
            if req.url.path == "/v2/_catalog"
            else (
                httpx.Response(200, json={"name": "team/app", "tags": ["v1", "-bad", "a" * 200]})
                if req.url.path == "/v2/team/app/tags/list"
                else None
            )
        )
    )

    result = poll(fake)

    assert result.state == {("team/app", "v1"): sha(OCI)}
    assert [e.message for e in result.errors] == [
        "registry.test/team/app: invalid tag '-bad' in tag list",
        f"registry.test/team/app: invalid tag {'a' * 100!r} in tag list",
        "registry.test: invalid repository name '../../etc'",
        "registry.test: invalid repository name 'UPPER'",
    ]
    assert all(".." not in r.url.path for r in fake.requests)


# -- explicit repositories --------------------------------------------------------------------


def test_explicit_repositories_skip_the_catalog_and_keep_the_rest_of_the_state(
    fake: FakeRegistry,
) -> None:
    first = poll(fake)
    fake.delete_repository("library/alpine")
    fake.push("team/app", "v2", V2S2)
    fake.requests.clear()

    result = poll(fake, first.state, repositories=["team/app", "team/app"])

    assert fake.count("GET", "/v2/_catalog") == 0
    assert result.events == [scan("team/app", sha(V2S2), "v2", DOCKER_V2)]
    # library/alpine was not in scope: its stored tags stay, nothing is reported deleted
    assert result.state[("library/alpine", "3.19")] == sha(LIST)
    assert result.repositories == 1


def test_explicit_repository_that_does_not_exist(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.delete_repository("team/app")

    result = poll(fake, first.state, repositories=["team/app", "team/typo"])

    assert result.events == [deleted("team/app")]
    assert [(e.repository, e.message) for e in result.errors] == [
        (
            "team/typo",
            "registry.test/team/typo: not found (NAME_UNKNOWN: repository name not known "
            "to registry)",
        )
    ]


# -- limits ----------------------------------------------------------------------------------


def test_max_repositories_truncates_and_deletes_nothing_unseen(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.delete_repository("team/app")  # would be reported, had the catalog been read

    result = poll(fake, first.state, max_repositories=1)

    assert result.truncated is None  # the catalog now holds one repository only
    fake.push("team/app", "v1", OCI)
    fake.push("zz/late", "v1", OCI)

    result = poll(fake, first.state, max_repositories=1)

    assert result.truncated == (
        "registry.test: the catalog lists more than max_repositories (1) repositories; "
        "polled the first 1"
    )
    assert result.events == []
    assert result.state == first.state
    assert result.repositories == 1


def test_max_tags_truncates_inside_a_repository(fake: FakeRegistry) -> None:
    first = poll(fake)
    fake.untag("team/app", "v1-multi")
    fake.push("team/app", "v0", V2S2)

    result = poll(fake, first.state, max_tags=4)

    assert (
        result.truncated
        == "registry.test: more than max_tags (4) tags; stopped polling in team/app"
    )
    assert result.tags == 4
    # v0 (seen) is new; v1-multi was beyond the limit: not reported deleted, kept
    assert result.events == [scan("team/app", sha(V2S2), "v0", DOCKER_V2)]
    assert result.state[("team/app", "v1-multi")] == sha(INDEX)


def test_explicit_list_longer_than_max_repositories() -> None:
    fake = FakeRegistry()
    fake.push("a/one", "v1", OCI)

    result = poll(fake, repositories=["a/one", "b/two"], max_repositories=1)

    assert result.truncated is not None and "max_repositories (1)" in result.truncated
    assert result.state == {("a/one", "v1"): sha(OCI)}


@pytest.mark.parametrize("kw", [{"max_tags": 0}, {"max_repositories": -1}])
def test_limits_below_one_are_a_config_error(kw: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match=r"^poll limits must be at least 1"):
        poll(FakeRegistry(), **kw)


# -- properties and fuzzing ----------------------------------------------------------------

_REPOS = st.sampled_from(["a/one", "b/two", "c", "d/e/f"])
_TAGS = st.sampled_from(["latest", "v1", "v1.0", "edge", "x_y"])
_BODIES = st.sampled_from([OCI, V2S2, LIST, INDEX])
_LAYOUT = st.dictionaries(st.tuples(_REPOS, _TAGS), _BODIES, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_LAYOUT, after=_LAYOUT, page=st.one_of(st.none(), st.integers(1, 3)))
def test_poll_reports_exactly_what_changed(
    before: dict[tuple[str, str], bytes],
    after: dict[tuple[str, str], bytes],
    page: int | None,
) -> None:
    fake = FakeRegistry(page)
    for (repo, tag), body in before.items():
        fake.push(repo, tag, body)
    first = poll(fake)
    assert first.state == fake.expected_state()
    assert {(e.repository, e.digest) for e in scans(first.events)} == {
        (r, sha(b)) for (r, _), b in before.items()
    }

    fake = FakeRegistry(page)
    for (repo, tag), body in after.items():
        fake.push(repo, tag, body)
    second = poll(fake, first.state)

    assert second.state == fake.expected_state()
    assert second.errors == []
    changed = {(r, sha(b)) for (r, t), b in after.items() if first.state.get((r, t)) != sha(b)}
    assert {(e.repository, e.digest) for e in scans(second.events)} == changed
    removed_repos = {r for r, _ in first.state} - {r for r, _ in after}
    gone_tags = {(r, t) for (r, t) in first.state if (r, t) not in after and r not in removed_repos}
    dels = [e for e in second.events if isinstance(e, Deleted)]
    assert {(e.repository, e.tag) for e in dels if e.tag} == gone_tags
    assert {e.repository for e in dels if not e.tag and not e.digest} == removed_repos
    assert len({e.key for e in second.events}) == len(second.events)
    assert poll(fake, second.state).events == []


_HEADERS = st.dictionaries(
    st.sampled_from(["Docker-Content-Digest", "Content-Type", "Content-Length", "Link"]),
    st.text(max_size=80),
    max_size=4,
)
_JUNK_BODY = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=10,
    ).map(lambda v: json.dumps(v).encode()),
    st.lists(st.text(max_size=30), max_size=5).map(
        lambda xs: json.dumps({"repositories": xs, "tags": xs}).encode()
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from([200, 200, 200, 204, 301, 400, 401, 404, 500]),
    headers=_HEADERS,
    body=_JUNK_BODY,
    target=st.sampled_from(["/v2/_catalog", "tags/list", "manifests/"]),
)
def test_hostile_registry_answers_are_errors_never_crashes(
    status: int, headers: dict[str, str], body: bytes, target: str
) -> None:
    fake = FakeRegistry()
    fake.push("team/app", "v1", OCI)
    fake.push("zz/ok", "v1", V2S2)
    known = {("team/app", "v1"): sha(V2S2), ("team/app", "old"): sha(INDEX)}

    def hostile(req: httpx.Request) -> httpx.Response | None:
        if target in req.url.path and "zz/ok" not in req.url.path:
            safe = {k: v for k, v in headers.items() if v.isascii() and v.isprintable()}
            return httpx.Response(status, headers=safe, content=body)
        return None

    fake.overrides.append(hostile)
    try:
        result = poll(fake, known)
    except RegistryError as e:
        assert target == "/v2/_catalog"
        assert "\n" not in str(e)
        return
    if target != "/v2/_catalog":
        # the healthy repository is always found (a catalog that answers 200 without a
        # list is taken at its word by the client: an empty registry)
        assert result.state[("zz/ok", "v1")] == sha(V2S2)
    # failures never look like deletions of a whole repository
    failed = {err.repository for err in result.errors}
    gone = {
        e.repository
        for e in result.events
        if isinstance(e, Deleted) and e.tag is None and e.digest is None
    }
    assert not failed & gone
    assert all("\n" not in err.message for err in result.errors)


_NAMES = st.text(st.characters(codec="utf-8"), max_size=20)


@settings(max_examples=100, deadline=None)
@given(known=st.dictionaries(st.tuples(_NAMES | _REPOS, _NAMES | _TAGS), _NAMES, max_size=6))
def test_garbage_in_the_stored_state_is_survived(known: dict[tuple[str, str], str]) -> None:
    fake = FakeRegistry()
    fake.push("a/one", "v1", OCI)

    result = poll(fake, known)

    assert result.state[("a/one", "v1")] == sha(OCI)
    assert all("\n" not in err.message for err in result.errors)


def test_docker_hub_style_catalog_refusal_after_token_auth() -> None:
    # Docker Hub hands out a token for registry:catalog:* and still refuses the catalog.
    fake = FakeRegistry()
    challenge = (
        'Bearer realm="https://auth.registry.test/token",service="registry.test",'
        'scope="registry:catalog:*"'
    )
    fake.overrides.append(
        lambda req: (
            httpx.Response(200, json={"token": "t0k3n"})
            if req.url.host == "auth.registry.test"
            else httpx.Response(
                401,
                headers={"WWW-Authenticate": challenge},
                json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            )
            if req.url.path == "/v2/_catalog"
            else None
        )
    )

    with pytest.raises(RegistryError) as info:
        poll(fake)

    assert str(info.value) == (
        "registry.test: the registry does not list its repositories (/v2/_catalog: "
        "registry.test: access denied (HTTP 401) (UNAUTHORIZED: authentication required)); "
        "name the repositories to poll explicitly"
    )


def test_denied_tag_stops_its_repository_only() -> None:
    fake = FakeRegistry()
    for tag in ("a", "b", "c"):
        fake.push("private/app", tag, OCI)
    fake.push("public/app", "v1", V2S2)
    known = {("private/app", "a"): sha(OCI), ("private/app", "c"): sha(V2S2)}
    fake.overrides.append(
        lambda req: (
            errors(403, "DENIED", "requested access to the resource is denied")
            if req.url.path.startswith("/v2/private/app/manifests/")
            else None
        )
    )

    result = poll(fake, known)

    assert fake.count("HEAD", r"/v2/private/app/manifests/.+") == 1
    assert [(e.repository, e.tag) for e in result.errors] == [("private/app", "a")]
    assert result.events == [scan("public/app", sha(V2S2), "v1", DOCKER_V2)]
    assert result.state == {**known, ("public/app", "v1"): sha(V2S2)}


def test_failed_check_of_an_untagged_digest_is_an_error_not_a_deletion(
    fake: FakeRegistry,
) -> None:
    first = poll(fake)
    fake.delete_manifest("team/app", sha(INDEX))
    fake.overrides.append(
        lambda req: (
            httpx.Response(500) if req.url.path == f"/v2/team/app/manifests/{sha(INDEX)}" else None
        )
    )

    result = poll(fake, first.state)

    assert result.events == [deleted("team/app", tag="v1-multi")]
    assert [(e.repository, e.tag) for e in result.errors] == [("team/app", None)]
    assert sha(INDEX) in result.errors[0].message


def test_a_registry_repeating_its_tag_list_forever_runs_out_of_budget() -> None:
    fake = FakeRegistry()
    fake.push("team/app", "v1", OCI)
    pages = iter(range(10**6))
    fake.overrides.append(
        lambda req: (
            httpx.Response(
                200,
                json={"name": "team/app", "tags": ["v1", "v1"]},
                headers={"Link": f'</v2/team/app/tags/list?page={next(pages)}>; rel="next"'},
            )
            if req.url.path == "/v2/team/app/tags/list"
            else None
        )
    )

    result = poll(fake, max_tags=50)

    assert result.truncated == (
        "registry.test: more than max_tags (50) tags; stopped polling in team/app"
    )
    assert fake.count("GET", "/v2/team/app/tags/list") == 26
    assert result.state == {("team/app", "v1"): sha(OCI)}
