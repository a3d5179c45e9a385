"""OSV range evaluation, against trimmed real advisories (testdata/osv) and the schema's
event semantics (last_affected, limit, several introduced/fixed pairs, unknowns)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.versions.pep440 import SCHEME as PEP440
from shoal.versions.ranges import Event, affected, affected_by_ranges, parse_events

OSV = Path(__file__).parent / "testdata" / "osv"


def advisory(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OSV / f"{name}.json").read_text())
    return data


def any_affected(adv: dict[str, Any], package: str, version: str) -> bool | None:
    results = [
        affected_by_ranges(a["package"]["ecosystem"], version, a["ranges"])
        for a in adv["affected"]
        if a["package"]["name"] == package
    ]
    if any(results):
        return True
    return None if None in results else False


@pytest.mark.parametrize(
    ("version", "want"),
    [("2.2.1", False), ("2.3.0", True), ("2.28.2", True), ("2.30.0", True), ("2.31.0", False),
     ("2.32.3", False), ("2.31.0rc1", True), ("2.31.0.post1", False), ("v2.30", True)],
)  # fmt: skip
def test_pypi_requests(version: str, want: bool) -> None:
    assert any_affected(advisory("PYSEC-2023-74"), "requests", version) is want


@pytest.mark.parametrize(
    ("package", "version", "want"),
    [
        ("stdlib", "1.17.13", True),
        ("stdlib", "1.18.5", True),
        ("stdlib", "1.18.6", False),
        ("stdlib", "v1.18.10", False),
        ("stdlib", "1.19.0", True),
        ("stdlib", "1.19.0-rc.2", False),  # a 1.19 pre-release is before "introduced: 1.19.0"
        ("stdlib", "1.19.1", False),
        ("golang.org/x/net", "0.0.0-20220722155237-a158d28d115b", True),
        ("golang.org/x/net", "v0.0.0-20220906165146-f3363e06e74c", False),
        ("golang.org/x/net", "0.1.0", False),
        ("golang.org/x/net", "v0.0.0.1", None),
    ],
)
def test_go_semver_ranges(package: str, version: str, want: bool | None) -> None:
    assert any_affected(advisory("GO-2022-0969"), package, version) is want


@pytest.mark.parametrize(
    ("version", "want"),
    [("3.1.4-r4", True), ("3.1.4-r5", False), ("3.1.4-r10", False), ("3.1.4", True),
     ("3.1.4_rc1-r9", True), ("3.2.0-r0", False), ("not-a-version", None)],
)  # fmt: skip
def test_alpine_openssl(version: str, want: bool | None) -> None:
    assert any_affected(advisory("ALPINE-CVE-2024-0727"), "openssl", version) is want


@pytest.mark.parametrize(
    ("version", "want"),
    [("2.36-9+deb12u1", True), ("2.36-9+deb12u2", True), ("2.36-9+deb12u3", False),
     ("2.36-9+deb12u10", False), ("2.36-9", True), ("2.36-9+deb12u3~bpo1", True),
     ("1:2.0", False), ("2.36-", None)],
)  # fmt: skip
def test_debian_glibc(version: str, want: bool | None) -> None:
    assert any_affected(advisory("DEBIAN-CVE-2023-4911"), "glibc", version) is want


@pytest.mark.parametrize(
    ("version", "want"),
    [("2.0-beta8", False), ("2.0-beta9", True), ("2.0", True), ("2.3", True), ("2.3.1", False),
     ("2.4", True), ("2.12.1", True), ("2.12.2", False), ("2.13.0", True), ("2.14.1", True),
     ("2.15.0", False), ("2.17.1", False), ("2.15.0-rc1", True), ("2.3.0.1", True)],
)  # fmt: skip
def test_maven_log4shell(version: str, want: bool) -> None:
    adv = advisory("GHSA-jfh8-c2jp-5v3q")
    assert any_affected(adv, "org.apache.logging.log4j:log4j-core", version) is want


def test_last_affected_includes_the_version_itself() -> None:
    events = [{"introduced": "1.0.0"}, {"last_affected": "1.2.0"}]
    assert affected("npm", "1.2.0", events) is True
    assert affected("npm", "1.2.1-0", events) is False
    assert affected("npm", "1.2.0-rc.1", events) is True


def test_limit_bounds_the_range() -> None:
    events = [{"introduced": "0"}, {"limit": "2.0.0"}]
    assert affected("crates.io", "1.9.9", events) is True
    assert affected("crates.io", "2.0.0", events) is False
    assert affected("crates.io", "3.0.0", events) is False


def test_unsorted_events_and_reintroduction() -> None:
    events = [{"fixed": "1.5"}, {"introduced": "2.0"}, {"introduced": "1.0"}, {"fixed": "2.2"}]
    got = [affected("PyPI", v, events) for v in ("0.9", "1.0", "1.5", "1.9", "2.0", "2.2")]
    assert got == [False, True, False, False, True, False]


def test_no_introduced_means_never_affected() -> None:
    assert affected("PyPI", "1.0", [{"fixed": "2.0"}]) is False
    assert affected("PyPI", "1.0", []) is False


def test_unparseable_versions_are_unknown_never_false() -> None:
    events = [{"introduced": "0"}, {"fixed": "1.0.0"}]
    assert affected("npm", "not.a.version", events) is None
    assert affected("npm", "0.9.0", [{"introduced": "0"}, {"fixed": "garbage"}]) is None
    assert affected("RubyGems", "1..0", events) is None
    # schemes that order anything: legacy PyPI versions sort before all valid ones
    assert affected("PyPI", "1.0-SNAPSHOT", events) is True


def test_semver_ranges_ignore_the_ecosystem_scheme() -> None:
    events = [{"introduced": "1.0.0"}, {"fixed": "1.0.1"}]
    assert affected("PyPI", "1.0.0", events, range_type="SEMVER") is True
    assert affected("PyPI", "1.0", events, range_type="SEMVER") is None


def test_affected_by_ranges_combines_ranges() -> None:
    ranges = [
        {"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.1"}]},
    ]
    assert affected_by_ranges("PyPI", "2.0.5", ranges) is True
    assert affected_by_ranges("PyPI", "1.5", ranges) is False
    assert affected_by_ranges("npm", "1.5", [*ranges[:1], ranges[1]]) is None
    assert affected_by_ranges("PyPI", "1.5", [ranges[0]]) is False


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([{"introduced": "1", "fixed": "2"}], "event 0: expected one of"),
        ([{"fixed": 2}], "event 0: unknown event or non-string version"),
        ([{"introduced": "0"}, {"patched": "1"}], "event 1: unknown event"),
        (["1.0"], "event 0: expected one of"),
    ],
)
def test_malformed_events_raise_one_line_value_errors(events: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        affected("PyPI", "1.0", events)
    assert "\n" not in str(err.value)


def test_bad_range_types_and_ecosystems() -> None:
    with pytest.raises(ValueError, match="range 0: unknown range type 'SEMVAR'"):
        affected_by_ranges("npm", "1.0.0", [{"type": "SEMVAR", "events": []}])
    with pytest.raises(ValueError, match="range 0: 'events' is not a list"):
        affected_by_ranges("npm", "1.0.0", [{"type": "SEMVER"}])
    with pytest.raises(ValueError, match="cannot be evaluated"):
        affected("npm", "1.0.0", [], range_type="GIT")
    with pytest.raises(ValueError, match="unknown ecosystem 'CRAN'"):
        affected("CRAN", "1.0", [{"introduced": "0"}])


def test_parse_events_accepts_event_objects() -> None:
    evs = parse_events([Event("introduced", "1.0"), {"fixed": "2.0"}])
    assert evs == (Event("introduced", "1.0"), Event("fixed", "2.0"))


event_versions = st.sampled_from(["0", "1.0", "1.1", "1.2", "2.0", "2.0a1", "3", "x y", ""])
event_kinds = st.sampled_from(["introduced", "fixed", "last_affected", "limit"])
valid = st.sampled_from(["0.1", "1.0", "1.0.post1", "1.1", "1.2rc1", "1.2", "2.0a1", "2.0", "3"])


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(st.builds(lambda k, v: {k: v}, event_kinds, event_versions), max_size=6),
    version=event_versions,
)
def test_affected_never_crashes_and_is_three_valued(
    events: list[dict[str, str]], version: str
) -> None:
    assert affected("PyPI", version, events) in (True, False, None)
    assert affected("npm", version, events) in (True, False, None)


@settings(max_examples=300, deadline=None)
@given(introduced=valid, fixed=valid, version=valid)
def test_one_range_is_the_half_open_interval(introduced: str, fixed: str, version: str) -> None:
    cmp = PEP440.compare
    if cmp(introduced, fixed) >= 0:
        return
    events = [{"fixed": fixed}, {"introduced": introduced}]
    want = cmp(introduced, version) <= 0 < cmp(fixed, version)
    assert affected("PyPI", version, events) is want
    last = [{"introduced": introduced}, {"last_affected": fixed}]
    assert affected("PyPI", version, last) is (cmp(introduced, version) <= 0 <= cmp(fixed, version))
