from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.feeds.base import FeedError
from shoal.feeds.debian_tracker import DebianTrackerFeed, urgency_rating
from shoal.model.advisory import Advisory, FeedProblem, FixState, Rating
from tests.unit.feeds.paths import TESTDATA

TRACKER = TESTDATA / "debian_tracker" / "tracker.json"


def _split(items: list[Advisory | FeedProblem]) -> tuple[dict[str, Advisory], list[FeedProblem]]:
    return (
        {a.id: a for a in items if isinstance(a, Advisory)},
        [p for p in items if isinstance(p, FeedProblem)],
    )


@pytest.fixture(scope="module")
def tracker() -> dict[str, Advisory]:
    advs, problems = _split(list(DebianTrackerFeed().parse(TRACKER)))
    assert problems == []
    return advs


def test_one_advisory_per_cve_with_affected_releases(tracker: dict[str, Advisory]) -> None:
    # CVE-2007-2383 is "fixed_version 0" everywhere and CVE-2022-0358 has no releases
    assert sorted(tracker) == [
        "CVE-2005-3111",
        "CVE-2008-7220",
        "CVE-2013-1444",
        "CVE-2022-0456",
        "CVE-2023-45853",
    ]
    assert all(a.source == "debian/tracker" for a in tracker.values())


def test_chromium_cve_2022_0456(tracker: dict[str, Advisory]) -> None:
    a = tracker["CVE-2022-0456"]
    by_release = {x.release: x for x in a.affected}
    assert set(by_release) == {"12", "11", "10", "sid", "9"}
    assert by_release["12"].fixed_versions() == ("98.0.4758.80-1",)
    assert by_release["12"].fix_state is FixState.FIXED
    assert by_release["11"].fixed_versions() == ("98.0.4758.80-1~deb11u1",)
    # open in an end-of-life release: no fix will come
    assert by_release["10"].fix_state is FixState.WONT_FIX
    assert by_release["10"].ranges[0].events == (("introduced", "0"),)
    assert by_release["12"].severity is Rating.UNKNOWN  # "not yet assigned"
    assert all(x.name == "chromium" and x.ecosystem == "Debian" for x in a.affected)
    assert a.references == ("https://security-tracker.debian.org/tracker/CVE-2022-0456",)


def test_nvd_derived_urgency_and_description(tracker: dict[str, Advisory]) -> None:
    a = tracker["CVE-2008-7220"]
    assert a.details.startswith("Unspecified vulnerability in Prototype")
    assert {x.severity for x in a.affected} == {Rating.HIGH}  # "high**"
    assert {x.release for x in a.affected} == {"9", "8", "10", "sid"}


def test_nodsa_ignored_is_wont_fix(tracker: dict[str, Advisory]) -> None:
    a = tracker["CVE-2023-45853"]
    by_release = {x.release: x for x in a.affected}
    assert by_release["12"].fix_state is FixState.WONT_FIX
    assert by_release["12"].severity is Rating.NEGLIGIBLE  # "unimportant"
    assert by_release["13"].fixed_versions() == ("1:1.3.dfsg-3.1",)


def _doc(**releases: dict[str, Any]) -> dict[str, Any]:
    return {"bash": {"CVE-2026-2000": {"description": "d", "releases": releases}}}


def test_postponed_is_not_fixed_and_undetermined_is_unknown() -> None:
    doc = _doc(
        trixie={
            "status": "open",
            "urgency": "low",
            "nodsa": "Minor issue",
            "nodsa_reason": "postponed",
        },
        bookworm={"status": "undetermined", "urgency": "not yet assigned"},
    )
    (adv,) = DebianTrackerFeed().parse_doc(doc)
    assert isinstance(adv, Advisory)
    by = {x.release: x for x in adv.affected}
    assert by["13"].fix_state is FixState.NOT_FIXED and by["13"].severity is Rating.LOW
    assert by["12"].fix_state is FixState.UNKNOWN


def test_malformed_entries_are_problems_and_the_rest_imports() -> None:
    doc: dict[str, Any] = json.loads(TRACKER.read_text())
    doc["Bad Name"] = {}
    doc["openssl"] = {
        "NOT-AN-ID": {},
        "CVE-2024-0727": {
            "releases": {
                "bookworm": {"status": "resolved"},
                "narnia": {"status": "open"},
                "bullseye": {"status": "weird"},
                "trixie": "not an object",
                "sid": {"status": "resolved", "fixed_version": "3.1.5-1", "urgency": "low"},
            }
        },
        "CVE-2024-0728": {"releases": "nope"},
    }
    doc["xz-utils"] = ["not", "an", "object"]
    advs, problems = _split(list(DebianTrackerFeed().parse_doc(doc)))
    assert len(advs) == 6
    assert [x.release for x in advs["CVE-2024-0727"].affected] == ["sid"]
    records = sorted(p.record for p in problems)
    assert records == [
        "Bad Name",
        "openssl/CVE-2024-0727/bookworm",
        "openssl/CVE-2024-0727/bullseye",
        "openssl/CVE-2024-0727/narnia",
        "openssl/CVE-2024-0727/trixie",
        "openssl/CVE-2024-0728",
        "openssl/NOT-AN-ID",
        "xz-utils",
    ]
    assert all("\n" not in p.reason for p in problems)


def test_whole_file_errors(tmp_path: Path) -> None:
    (tmp_path / "tracker.json").write_text("[1, 2]")
    with pytest.raises(FeedError, match="expected an object of source packages"):
        list(DebianTrackerFeed().parse(tmp_path))
    (tmp_path / "tracker.json").write_text("{")
    with pytest.raises(FeedError, match="invalid JSON at line 1"):
        list(DebianTrackerFeed().parse(tmp_path))


@pytest.mark.parametrize(
    ("urgency", "rating"),
    [
        ("low**", Rating.LOW),
        ("medium", Rating.MEDIUM),
        ("high", Rating.HIGH),
        ("unimportant", Rating.NEGLIGIBLE),
        ("not yet assigned", Rating.UNKNOWN),
        ("end-of-life", Rating.UNKNOWN),
        (None, None),
    ],
)
def test_urgency_rating(urgency: str | None, rating: Rating | None) -> None:
    assert urgency_rating(urgency) is rating


release_values = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["resolved", "open", "undetermined", "x"]) | st.integers(),
        "fixed_version": st.sampled_from(["0", "1.0-1", ""]) | st.none() | st.integers(),
        "urgency": st.sampled_from(["low", "high**", "end-of-life"]) | st.none(),
        "nodsa_reason": st.sampled_from(["ignored", "postponed", ""]),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["bash", "zlib", "Bad"]),
        st.dictionaries(
            st.sampled_from(["CVE-2024-0001", "TEMP-0000000-1A2B3C", "X"]),
            st.fixed_dictionaries(
                {},
                optional={
                    "description": st.text(max_size=5) | st.integers(),
                    "releases": st.dictionaries(
                        st.sampled_from(["bookworm", "sid", "narnia"]),
                        release_values | st.integers(),
                    )
                    | st.lists(st.integers(), max_size=1),
                },
            )
            | st.integers(),
        )
        | st.text(max_size=3),
    )
)
def test_fuzz_tracker_documents(doc: dict[str, Any]) -> None:
    for item in DebianTrackerFeed().parse_doc(doc):
        assert isinstance(item, Advisory | FeedProblem)
        if isinstance(item, Advisory):
            assert item.affected
