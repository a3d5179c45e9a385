from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.feeds.base import FeedError
from shoal.feeds.debian_dsa import DebianDlaFeed, DebianDsaFeed
from shoal.feeds.debian_releases import CODENAMES, release_of
from shoal.model.advisory import Advisory, AffectedPackage, AffectedRange, FeedProblem, FixState
from tests.unit.feeds.paths import BUNDLED


def _split(items: list[Advisory | FeedProblem]) -> tuple[dict[str, Advisory], list[FeedProblem]]:
    return (
        {a.id: a for a in items if isinstance(a, Advisory)},
        [p for p in items if isinstance(p, FeedProblem)],
    )


@pytest.fixture(scope="module")
def dsa() -> tuple[dict[str, Advisory], list[FeedProblem]]:
    return _split(list(DebianDsaFeed().parse(BUNDLED / "debian" / "DSA" / "list.zst")))


def test_bundled_dsa_list_imports(dsa: tuple[dict[str, Advisory], list[FeedProblem]]) -> None:
    advs, problems = dsa
    assert len(advs) == 5391  # 5,406 entries less 15 announcements
    (p,) = problems
    assert p.record == "list.zst:17244"
    assert "kernel-image-2.4.17-ia64" in p.reason and "kept as written" in p.reason
    assert all(a.source == "debian/dsa" for a in advs.values())


def test_bundled_dla_list_imports() -> None:
    advs, problems = _split(list(DebianDlaFeed().parse(BUNDLED / "debian" / "DLA")))
    assert len(advs) == 3530
    assert problems == []
    a = advs["DLA-3377-1"]
    assert a.source == "debian/dla"
    assert a.aliases == ("CVE-2023-26604",)
    assert a.affected[0].release == "10"
    assert a.affected[0].fixed_versions() == ("241-7~deb10u9",)


def test_dsa_5365_1_curl_field_by_field(dsa: tuple[dict[str, Advisory], list[FeedProblem]]) -> None:
    a = dsa[0]["DSA-5365-1"]
    assert a.aliases == ("CVE-2023-23916",)
    assert a.summary == "curl - security update"
    assert a.published == "2023-02-27T00:00:00Z"
    assert a.references == ("https://security-tracker.debian.org/tracker/DSA-5365-1",)
    assert a.affected == (
        AffectedPackage(
            ecosystem="Debian",
            name="curl",
            release="11",
            ranges=(
                AffectedRange("ECOSYSTEM", (("introduced", "0"), ("fixed", "7.74.0-1.3+deb11u7"))),
            ),
            fix_state=FixState.FIXED,
        ),
    )


def test_epoch_version_and_ten_cves(dsa: tuple[dict[str, Advisory], list[FeedProblem]]) -> None:
    a = dsa[0]["DSA-5372-1"]
    assert len(a.aliases) == 10
    assert a.affected[0].fixed_versions() == ("2:6.0.3.7+dfsg-2+deb11u1",)
    assert len(dsa[0]["DSA-5361-1"].aliases) == 10


def test_unfixed_not_affected_and_notes(dsa: tuple[dict[str, Advisory], list[FeedProblem]]) -> None:
    a = dsa[0]["DSA-880-1"]  # woody <unfixed>, sarge fixed, a NOTE
    assert a.aliases == ("CVE-2005-2869", "CVE-2005-3300", "CVE-2005-3301", "CVE-2005-3787")
    woody, sarge = a.affected
    assert (woody.release, woody.fix_state) == ("3.0", FixState.NOT_FIXED)
    assert woody.ranges[0].events == (("introduced", "0"),)
    assert (sarge.release, sarge.fixed_versions()) == ("3.1", ("4:2.6.2-3sarge1",))
    # a "(high)" note after the status or the version is not part of it
    g = dsa[0]["DSA-746-1"]
    assert [x.fix_state for x in g.affected] == [FixState.NOT_FIXED, FixState.FIXED]
    assert g.affected[1].fixed_versions() == ("0.9.16.005-3.sarge0",)


def test_end_of_life_is_wont_fix(dsa: tuple[dict[str, Advisory], list[FeedProblem]]) -> None:
    (x,) = dsa[0]["DSA-3699-1"].affected
    assert (x.name, x.release, x.fix_state) == ("virtualbox", "8", FixState.WONT_FIX)
    assert x.ranges[0].events == (("introduced", "0"),)


def test_not_affected_lines_make_no_entry(
    dsa: tuple[dict[str, Advisory], list[FeedProblem]],
) -> None:
    for a in dsa[0].values():
        for x in a.affected:
            assert x.fix_state is not FixState.UNKNOWN


def test_announcements_are_not_advisories(
    dsa: tuple[dict[str, Advisory], list[FeedProblem]],
) -> None:
    assert "DSA-4205-1" not in dsa[0]  # "jessie end-of-life"
    assert "DSA-3281-1" not in dsa[0]  # key change notice


def test_malformed_lines_are_reported_and_the_rest_imports() -> None:
    text = (
        "junk before any header\n"
        "\t[bullseye] - orphan 1.0-1\n"
        "[27 Feb 2023] DSA-5365-1 curl - security update\n"
        "\t{CVE-2023-23916 not-a-cve}\n"
        "\t[bullseye] - curl 7.74.0-1.3+deb11u7\n"
        "\t[narnia] - curl 7.74.0-1.3+deb11u7\n"
        "\t[bullseye] - curl <wat>\n"
        "\tgarbage line\n"
        "[31 Feb 2023] DSA-9999-1 x - y\n"
        "\t[bullseye] - x 1.0\n"
        "[01 Mar 2023] DLA-1-1 wrong list\n"
        "\t[buster] - y 1.0\n"
    )
    advs, problems = _split(list(DebianDsaFeed().parse_text(text, "list")))
    assert set(advs) == {"DSA-5365-1", "DSA-9999-1"}
    assert advs["DSA-5365-1"].aliases == ("CVE-2023-23916",)
    assert len(advs["DSA-5365-1"].affected) == 1
    assert advs["DSA-9999-1"].published is None
    lines = sorted(int(p.record.split(":")[1]) for p in problems)
    assert lines == [1, 2, 4, 6, 7, 8, 9, 11, 12]  # 12: a line of the rejected entry
    assert all("\n" not in p.reason for p in problems)


def test_codename_table() -> None:
    assert release_of("bookworm") == "12"
    assert release_of("Trixie") == "13"
    assert release_of("forky") == "14"
    assert release_of("buzz") == "1.1"
    assert release_of("sid") == "sid"
    assert release_of("narnia") is None
    assert len(set(CODENAMES.values())) == len(CODENAMES)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "[27 Feb 2023] DSA-5365-1 curl - security update",
                "[99 Xyz 2023] DSA-1-1 x",
                "\t{CVE-2023-23916}",
                "\t{",
                "\t[bullseye] - curl 7.74.0-1.3+deb11u7",
                "\t[bullseye] - curl <unfixed>",
                "\t[sid] - curl",
                "\tNOTE: x",
                "",
            ]
        )
        | st.text(max_size=40),
        max_size=20,
    )
)
def test_fuzz_list_text(lines: list[str]) -> None:
    for item in DebianDsaFeed().parse_text("\n".join(lines), "list"):
        assert isinstance(item, Advisory | FeedProblem)
        if isinstance(item, Advisory):
            assert item.id.startswith("DSA-")


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no such file"):
        list(DebianDsaFeed().parse(tmp_path / "nope"))
