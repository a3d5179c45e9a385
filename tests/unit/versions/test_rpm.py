"""rpm EVRs: splitting like parseEVR, rpmvercmp segments, strict parsing."""

from __future__ import annotations

import pytest

from shoal.versions.base import InvalidVersion
from shoal.versions.rpm import SCHEME, segments, split


def test_split_like_parse_evr() -> None:
    assert split("1:2.38.1-5.el9") == (1, "2.38.1", "5.el9")
    assert split("2.38.1-5.el9") == (0, "2.38.1", "5.el9")
    assert split("2.38.1") == (0, "2.38.1", None)
    assert split(":1.0-1") == (0, "1.0", "1")
    assert split("1.0-rc1-1") == (0, "1.0-rc1", "1")
    assert split("a:1.0") == (0, "a:1.0", None)  # not an epoch: ':' is a separator


def test_segments_ignore_separators() -> None:
    assert segments("1.0") == segments("1_0") == segments("1+0") == segments("1..0")
    assert segments("1.0a") == segments("1.0.a")  # a letter run is its own segment
    assert segments("1.0a") != segments("1.0b")
    assert segments("1.0~rc1")[2] == (0, 0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "version is empty"),
        ("1:", "version is empty"),
        ("1.0-", "release is empty"),
        ("a:1.0", "epoch is not a number"),
        ("1.0 1", "invalid character in version"),
        ("1.0-1 2", "invalid character in release"),
        ("1.0-é", "invalid character in release"),
    ],
)
def test_parse_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=reason):
        SCHEME.parse(raw)


def test_compare_accepts_anything_like_rpmvercmp() -> None:
    assert SCHEME.compare("a:1.0", "1.0") == -1
    assert SCHEME.compare("", "") == 0
    assert SCHEME.compare("...", "") == 0
    assert SCHEME.compare("é", "") == 0
    assert SCHEME.compare("1.0-1", "1.0") == 1  # documented: missing release is ""
