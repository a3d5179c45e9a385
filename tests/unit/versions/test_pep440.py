"""PEP 440: normalisation and the legacy fallback."""

from __future__ import annotations

import pytest

from shoal.versions.base import InvalidVersion
from shoal.versions.pep440 import SCHEME, legacy_key


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("1.0", "1.0"),
        ("v1.0", "1.0"),
        (" 1.0 ", "1.0"),
        ("1.0-Alpha.1", "1.0a1"),
        ("1.0beta", "1.0b0"),
        ("1.0-c2", "1.0rc2"),
        ("1.0preview3", "1.0rc3"),
        ("1.0-1", "1.0.post1"),
        ("1.0_rev-2", "1.0.post2"),
        ("1.0.DEV", "1.0.dev0"),
        ("0!1.0", "1.0"),
        ("01!001.010", "1!1.10"),
        ("1.0+Ubuntu-1_2", "1.0+ubuntu.1.2"),
        ("1.0+007", "1.0+7"),
        ("\u20031.0\xa0", "1.0"),  # packaging strips Unicode whitespace too
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    assert SCHEME.normalize(raw) == normal


@pytest.mark.parametrize("raw", ["", "1.0-SNAPSHOT", "french toast", "1.0+", "1..0", "1.0 .1"])
def test_non_pep440_is_invalid(raw: str) -> None:
    with pytest.raises(InvalidVersion, match="not a PEP 440 version"):
        SCHEME.parse(raw)
    with pytest.raises(InvalidVersion):
        SCHEME.normalize(raw)


def test_legacy_versions_sort_before_valid_ones() -> None:
    assert SCHEME.compare("2.0-SNAPSHOT", "0.0.dev0") == -1
    assert SCHEME.compare("1.0-SNAPSHOT", "1.1-SNAPSHOT") == -1
    assert SCHEME.comparable("1.0-SNAPSHOT")
    assert not SCHEME.comparable("")


def test_legacy_key_is_setuptools_parse_version() -> None:
    assert legacy_key("1.0") == ("00000001", "*final")
    assert legacy_key("1.0-SNAPSHOT") == ("00000001", "*final-", "*snapshot", "*final")
    assert legacy_key("1.0rc1") == ("00000001", "*c", "00000001", "*final")
    assert legacy_key("1.0.dev") == ("00000001", "*@", "*final")
