"""Maven ComparableVersion: item trees, canonical forms, structural equality, cycles."""

from __future__ import annotations

import pytest

from shoal.versions.base import InvalidVersion
from shoal.versions.maven import SCHEME, canonical, parse_items


@pytest.mark.parametrize(
    ("raw", "canon"),
    # canonical forms as ComparableVersion prints them (Maven 3.8.7)
    [
        ("1.0", "1"),
        ("1.0.0-SNAPSHOT", "1-snapshot"),
        ("1.0-ga", "1"),
        ("1.0.RELEASE", "1"),
        ("1a1", "1-alpha-1"),
        ("1.0-CR1", "1-rc-1"),
        ("1.0.RC1", "1-rc-1"),
        ("003.r-git", "3.r-git"),
        ("0010.stable.cr", "10.stable-rc"),
        ("1-0.5", "1-0.5"),
        ("31.1-jre", "31.1-jre"),
        ("2.0.0.Beta1", "2-beta-1"),
    ],
)
def test_canonical_form(raw: str, canon: str) -> None:
    assert canonical(parse_items(raw)) == canon


def test_item_tree() -> None:
    assert parse_items("1.2-alpha-3") == (1, 2, ("alpha", (3,)))
    assert parse_items("00.SNAPSHO0T.1.9.b-2024") == (("snapsho", (("t", 1, 9, "b", (2024,)),)),)
    assert parse_items("") == ()


def test_equality_is_structural_as_in_maven() -> None:
    assert SCHEME.parse("1.0") == SCHEME.parse("1-ga")
    assert hash(SCHEME.parse("1.0")) == hash(SCHEME.parse("1.0.0"))
    assert SCHEME.parse("1.0") != SCHEME.parse("1.1")


def test_every_string_compares_but_blank_does_not_parse() -> None:
    with pytest.raises(InvalidVersion, match="version is empty"):
        SCHEME.parse(" ")
    assert SCHEME.compare("", "0") == 0
    # as ComparableVersion answers: a qualifier is older than any number, but an unknown
    # one is newer than the empty version and than "sp"
    assert SCHEME.compare("!!!", "1") == -1
    assert SCHEME.compare("!!!", "0") == 1
    assert SCHEME.compare("sp", "!!!") == -1
    assert not SCHEME.comparable("")


def test_maven_order_has_cycles_for_versions_not_starting_with_a_digit() -> None:
    # ComparableVersion answers exactly this (java ... ComparableVersion : 0rc 0 :).
    assert SCHEME.compare(":", "0rc") == -1
    assert SCHEME.compare("0rc", "0") == -1
    assert SCHEME.compare("0", ":") == -1


def test_huge_numbers_compare_numerically() -> None:
    assert SCHEME.compare("1.99999999999999999999", "1.100000000000000000000") == -1
    assert SCHEME.compare("1." + "9" * 200, "1." + "9" * 199) == 1
