"""apk versions: the token grammar, apk-tools' fallback for invalid versions."""

from __future__ import annotations

import pytest

from shoal.versions.apk import SCHEME, tokens
from shoal.versions.base import InvalidVersion


@pytest.mark.parametrize(
    "raw",
    ["1", "1.2.3", "1.2.3a", "1.2.3_rc1", "1.2.3_alpha_pre2", "1.2.3_git20240101~1a2b3c-r4",
     "1.0_p1-r0", "0.1.0_alpha", "20240101", "1.2.3~abc"],
)  # fmt: skip
def test_parse_accepts_the_apk_grammar(raw: str) -> None:
    assert SCHEME.parse(raw).raw == raw


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ("", "at the start"),
        ("v1.0", "at the start"),
        ("1.0bc", "after token 3"),
        ("1.0_foo", "after token 2"),
        ("1.0-1", "after token 2"),
        ("1.0-r", "after token 2"),
        ("1.0~", "after token 2"),
        ("1.0~xyz", "after token 2"),
        ("1.0-r1-r2", "after token 3"),
        ("1.0-r1_p1", "after token 3"),
        ("1.0_p1.2", "after token 4"),
        ("1.0 ", "after token 2"),
        ("1.0A", "after token 2"),
    ],
)
def test_parse_rejects_what_apk_version_check_rejects(raw: str, where: str) -> None:
    with pytest.raises(InvalidVersion, match=f"does not follow the apk grammar {where}"):
        SCHEME.parse(raw)


def test_invalid_versions_compare_up_to_where_they_break() -> None:
    # apk-tools: reading stops at the first bad token, which sorts below everything but
    # a pre-release suffix; two versions breaking at the same place are equal.
    assert SCHEME.compare("1.0_foo", "1.0") == -1
    assert SCHEME.compare("1.0_foo", "1.0_bar") == 0
    assert SCHEME.compare("1.0_foo", "1.0_rc1") == 1
    assert SCHEME.compare("1.1-foo", "1.0") == 1
    assert SCHEME.compare("garbage", "0") == -1
    assert SCHEME.compare("garbage", "junk") == 0


def test_leading_zero_components_compare_as_strings() -> None:
    assert SCHEME.compare("1.01", "1.1") == -1
    assert SCHEME.compare("1.010", "1.02") == -1
    assert SCHEME.compare("1.0", "1.00") == -1
    assert SCHEME.compare("01.0", "1.0") == 0  # not for the first component


def test_tokens_end_with_end_or_invalid() -> None:
    assert tokens("1.0")[-1] == (-7, 0)
    assert tokens("1.0bc")[-1] == (-8, 0)
    assert len(tokens("1.2.3_rc1-r2")) == 7


def test_comparable_needs_a_leading_digit() -> None:
    assert SCHEME.comparable("1.0_foo")
    assert not SCHEME.comparable("foo")
    assert not SCHEME.comparable("")
