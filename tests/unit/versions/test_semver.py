"""SemVer dialects: npm, strict SemVer (crates.io, Hex), and Go."""

from __future__ import annotations

import pytest

from shoal.versions.base import InvalidVersion
from shoal.versions.semver import GO, NPM, SEMVER


@pytest.mark.parametrize(
    "raw",
    ["1.0", "1", "01.0.0", "1.01.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b", "=1.0.0",
     "1.0.0.0", "V1.0.0", "v 1.0.0", "1.0.0-é", ""],
)  # fmt: skip
def test_npm_rejects_what_node_semver_rejects(raw: str) -> None:
    with pytest.raises(InvalidVersion, match="not a semantic version"):
        NPM.parse(raw)


def test_npm_accepts_v_and_whitespace_but_strict_semver_does_not() -> None:
    assert NPM.parse("v1.2.3") == NPM.parse(" 1.2.3 ")
    for raw in ("v1.2.3", " 1.2.3"):
        with pytest.raises(InvalidVersion):
            SEMVER.parse(raw)


def test_npm_bounds_numbers_to_javascript_safe_integers() -> None:
    assert NPM.is_valid("9007199254740991.0.0")
    with pytest.raises(InvalidVersion, match="larger than 2\\^53-1"):
        NPM.parse("9007199254740992.0.0")
    assert SEMVER.is_valid("9007199254740992.0.0")


def test_build_metadata_is_ignored() -> None:
    assert NPM.compare("1.0.0+a", "1.0.0+b") == 0
    assert SEMVER.compare("1.0.0+a", "1.0.0") == 0


def test_invalid_strict_versions_sort_first_by_text() -> None:
    assert SEMVER.compare("1.0", "0.0.0") == -1
    assert SEMVER.compare("1.0", "1.1") == -1
    assert not SEMVER.comparable("1.0")


def test_go_accepts_osv_spelling_and_shorthands() -> None:
    assert GO.parse("1.2.3") == GO.parse("v1.2.3")
    assert GO.parse("v1") == GO.parse("v1.0.0")
    assert GO.parse("v1.2") == GO.parse("v1.2.0")
    assert GO.compare("v2.0.0+incompatible", "v2.0.0") == 0


@pytest.mark.parametrize("raw", ["v1.2.3.4", "v1.02.3", "v1.2-pre", "v1.2+meta", "vv1", "", "v"])
def test_go_rejects_what_x_mod_semver_rejects(raw: str) -> None:
    with pytest.raises(InvalidVersion, match="not a Go semantic version"):
        GO.parse(raw)


def test_go_invalid_versions_are_all_equal_and_oldest() -> None:
    assert GO.compare("v1.2.3.4", "junk") == 0
    assert GO.compare("junk", "v0.0.0-00010101000000-000000000000") == -1


def test_go_pseudo_versions_order_between_releases() -> None:
    pseudo = "v1.2.4-0.20191109021931-daa7c04131f5"
    assert GO.compare("v1.2.3", pseudo) == -1
    assert GO.compare(pseudo, "v1.2.4") == -1
    older, newer = "v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa"
    assert GO.compare(older, newer) == -1
