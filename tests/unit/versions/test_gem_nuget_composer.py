"""RubyGems, NuGet and Composer specifics."""

from __future__ import annotations

import pytest

from shoal.versions.base import InvalidVersion
from shoal.versions.composer import SCHEME as COMPOSER
from shoal.versions.composer import normalize
from shoal.versions.gem import SCHEME as GEM
from shoal.versions.gem import canonical_segments
from shoal.versions.nuget import SCHEME as NUGET


def test_gem_canonical_segments() -> None:
    assert canonical_segments("1.0.0") == [1]
    assert canonical_segments("1.0.b1") == [1, "b", 1]
    assert canonical_segments("1.0.a.0.1") == [1, "a", 0, 1]
    assert canonical_segments("1.0-1") == [1, "pre", 1]
    assert canonical_segments("") == []
    assert GEM.is_prerelease("1.0.a") and not GEM.is_prerelease("1.0")


@pytest.mark.parametrize("raw", ["junk", "1..0", "1.0 beta", ".1", "1.0-", "-1", "1.0_1"])
def test_gem_rejects_malformed(raw: str) -> None:
    with pytest.raises(InvalidVersion, match="malformed version number string"):
        GEM.parse(raw)


def test_gem_strings_are_older_than_the_zero_they_meet() -> None:
    assert GEM.compare("1.0.a.0.b", "1.0.a") == -1
    assert GEM.compare("1.0.a.0.1", "1.0.a") == 1


@pytest.mark.parametrize(
    "raw", ["1.0.0.0.0", "a.b", "1.0-", "1.0.0-beta..1", "2147483648.0", "v1.0", "1.0.0-é", ""]
)
def test_nuget_rejects(raw: str) -> None:
    with pytest.raises(InvalidVersion):
        NUGET.parse(raw)


def test_nuget_labels_compare_case_insensitively() -> None:
    assert NUGET.parse("1.0.0-BETA") == NUGET.parse("1.0.0-beta")
    assert NUGET.compare("1.0.0-beta", "1.0.0-Gamma") == -1
    assert NUGET.compare("1.0.0-alpha+x", "1.0.0-ALPHA+y") == 0


@pytest.mark.parametrize(
    ("raw", "normal"),
    # what composer/semver 3.3's VersionParser::normalize returns
    [
        ("1.0", "1.0.0.0"),
        ("v2.1.3-beta2", "2.1.3.0-beta2"),
        ("1.0.0-beta.2", "1.0.0.0-beta2"),
        ("1.0.0-RC1-dev", "1.0.0.0-RC1-dev"),
        ("1.0-beta-dev", "1.0.0.0-beta-dev"),
        ("1.0.0-p1", "1.0.0.0-patch1"),
        ("1.0.0-stable", "1.0.0.0"),
        ("1.0.0+build", "1.0.0.0"),
        ("1.0@beta", "1.0.0.0"),
        ("1.0 as 2.0", "1.0.0.0"),
        ("1.x-dev", "1.9999999.9999999.9999999-dev"),
        ("v1.0.X-dev", "1.0.9999999.9999999-dev"),
        ("1.0-dev", "1.0.0.0-dev"),
        ("2010-01-02", "2010.01.02"),
        ("master", "dev-master"),
        ("dev-feature/x", "dev-feature/x"),
        ("DEV-x", "dev-x"),
    ],
)
def test_composer_normalize(raw: str, normal: str) -> None:
    assert normalize(raw) == normal


@pytest.mark.parametrize("raw", ["1.0#abc", "feature-dev", "1.0.0.0.0", "", "not a version"])
def test_composer_rejects_what_composer_cannot_normalise(raw: str) -> None:
    with pytest.raises(InvalidVersion, match="not a version Composer can normalise"):
        normalize(raw)


def test_composer_named_branches_are_not_versions() -> None:
    with pytest.raises(InvalidVersion, match="named dev branch"):
        COMPOSER.parse("dev-master")
    assert not COMPOSER.comparable("dev-master")
    assert COMPOSER.compare("dev-master", "0.0.1") == -1
    assert COMPOSER.compare("dev-master", "master") == 0
    assert COMPOSER.compare("junk", "dev-master") == -1
