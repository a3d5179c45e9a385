"""dpkg versions: what parse rejects (dpkg's own messages) and how compare falls back."""

from __future__ import annotations

import pytest

from shoal.versions.base import InvalidVersion
from shoal.versions.deb import SCHEME, part_key, split


def test_split_follows_dpkg() -> None:
    assert split("1:2.38.1-5+deb12u3") == (1, "2.38.1", "5+deb12u3")
    assert split("2.0-rc1-3") == (0, "2.0-rc1", "3")
    assert split(" 1.0 ") == (0, "1.0", "")
    assert split("1:2:3") == (1, "2:3", "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "version string is empty"),
        ("   ", "version string is empty"),
        ("1.0 1", "version string has embedded spaces"),
        (":1.0", "epoch in version is empty"),
        ("a:1.0", "epoch in version is not number"),
        ("-1:1.0", "epoch in version is not number"),
        ("99999999999:1.0", "epoch in version is too big"),
        ("1.0-", "revision number is empty"),
        ("-1", "version number is empty"),
        ("1:-1", "version number is empty"),
        ("a1.0", "version number does not start with digit"),
        ("1.0_1", "invalid character in version number"),
        ("1.0-1:2", "epoch in version is not number"),  # dpkg splits the epoch first
        ("1.0-1#2", "invalid character in revision number"),
        ("1.0-1_2", "invalid character in revision number"),
    ],
)
def test_parse_rejects_what_dpkg_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=reason):
        SCHEME.parse(raw)


def test_warnings_still_compare_like_dpkg() -> None:
    # dpkg only warns about these and compares them anyway.
    assert not SCHEME.is_valid("a")
    assert SCHEME.comparable("a")
    assert SCHEME.compare("a", "1") == 1
    assert SCHEME.compare("1_0", "1") == 1
    assert SCHEME.compare("1.0_1", "1.0.1") == 1  # '_' sorts after '.', as bytes


def test_refused_versions_sort_first_by_text() -> None:
    assert not SCHEME.comparable("1.0-")
    assert SCHEME.compare("1.0-", "0") == -1
    assert SCHEME.compare(":1", "0~") == -1
    assert SCHEME.compare("", "1.0-") == -1
    assert SCHEME.compare("1.0-", "1.0-") == 0


def test_part_key_puts_tilde_below_end_and_letters_below_symbols() -> None:
    assert part_key("1.0~") < part_key("1.0") < part_key("1.0a") < part_key("1.0+")
    assert part_key("0") == part_key("") == part_key("00")
    assert part_key("000~x") < part_key("000")


def test_non_ascii_compares_by_utf8_bytes_after_ascii() -> None:
    assert SCHEME.compare("1.0é", "1.0z") == 1
    assert SCHEME.compare("1.0é", "1.0ê") == -1
    assert SCHEME.compare("1.٣", "1.3") == 1  # not an ASCII digit: not a number to dpkg
