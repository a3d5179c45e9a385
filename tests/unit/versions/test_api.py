"""`shoal.versions.compare` and `scheme_for`: ecosystem names, suffixes, errors."""

from __future__ import annotations

import pytest

from shoal.errors import ShoalError
from shoal.versions import ALL, ECOSYSTEMS, InvalidVersion, compare, scheme_for


@pytest.mark.parametrize(
    ("ecosystem", "scheme"),
    [
        ("Debian", "deb"),
        ("Debian:12", "deb"),
        ("Ubuntu:22.04:LTS", "deb"),
        ("Ubuntu:Pro:18.04:LTS", "deb"),
        ("Alpine", "apk"),
        ("Alpine:v3.19", "apk"),
        ("Wolfi", "apk"),
        ("Chainguard", "apk"),
        ("Red Hat", "rpm"),
        ("Red Hat:enterprise_linux:9::appstream", "rpm"),
        ("Rocky Linux:9", "rpm"),
        ("AlmaLinux:8", "rpm"),
        ("SUSE:Linux Enterprise Server 15 SP5", "rpm"),
        ("openSUSE:Tumbleweed", "rpm"),
        ("Mageia:9", "rpm"),
        ("PyPI", "pep440"),
        ("npm", "npm"),
        ("Go", "go"),
        ("crates.io", "semver"),
        ("Hex", "semver"),
        ("Maven", "maven"),
        ("RubyGems", "gem"),
        ("NuGet", "nuget"),
        ("Packagist", "composer"),
        ("pypi", "pep440"),
        ("rpm", "rpm"),
    ],
)
def test_scheme_for_osv_ecosystems(ecosystem: str, scheme: str) -> None:
    assert scheme_for(ecosystem).name == scheme


def test_unknown_ecosystem_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"unknown ecosystem 'CRAN'"):
        compare("CRAN", "1.0", "2.0")
    with pytest.raises(ValueError, match="Linux"):
        scheme_for("Linux")


def test_compare_uses_the_ecosystem_order() -> None:
    # the same two strings order differently in different ecosystems
    assert compare("Debian:12", "1.0~rc1", "1.0") == -1
    assert compare("Red Hat", "1.0~rc1", "1.0") == -1
    assert compare("PyPI", "1.0rc1", "1.0") == -1
    assert compare("Maven", "1.0-rc1", "1.0") == -1
    assert compare("npm", "1.0.0-rc.1", "1.0.0") == -1
    assert compare("Alpine:v3.20", "1.0_rc1", "1.0") == -1
    assert compare("Debian", "1.0a", "1.0.1") == -1
    assert compare("Red Hat", "1.0a", "1.0.1") == -1
    assert compare("Maven", "1.0a", "1.0.1") == -1
    assert compare("RubyGems", "1.0.a", "1.0") == -1
    assert compare("Debian", "1.0+b1", "1.0") == 1
    assert compare("Packagist", "1.0.0-patch1", "1.0.0") == 1


def test_compare_never_raises_on_strange_versions() -> None:
    odd = ["", " ", "\x00", "💥", "1" * 5000, "-", ":", "~", "v", "1:", "a:b:c", "+", "\n1.0"]
    for scheme in ALL:
        for a in odd:
            for b in [*odd, "1.0"]:
                assert scheme.compare(a, b) in (-1, 0, 1)


def test_all_lists_each_scheme_once_and_every_ecosystem_is_in_all() -> None:
    assert len({s.name for s in ALL}) == len(ALL)
    assert set(ECOSYSTEMS.values()) <= set(ALL)


def test_invalid_version_is_a_shoal_error_with_one_line_message() -> None:
    with pytest.raises(InvalidVersion) as err:
        scheme_for("npm").parse("1.0\nrm -rf /")
    assert isinstance(err.value, ShoalError)
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("invalid npm version '1.0\\nrm -rf /'")


def test_long_versions_are_rejected_by_parse_and_still_compared() -> None:
    long = "1." * 600 + "1"
    for scheme in ALL:
        with pytest.raises(InvalidVersion, match="longer than 1024 characters"):
            scheme.parse(long)
        assert scheme.compare(long, long) == 0
        assert len(str(InvalidVersion(scheme.name, long, "x"))) < 200


def test_version_objects_are_frozen_and_scheme_bound() -> None:
    deb, rpm = scheme_for("Debian"), scheme_for("Red Hat")
    v = deb.parse("1.0-1")
    with pytest.raises(AttributeError):
        v.raw = "2.0"
    assert repr(v) == "Version('deb', '1.0-1')"
    assert str(v) == "1.0-1"
    assert v == deb.parse("1.00-01")
    assert v != rpm.parse("1.0-1")
    with pytest.raises(TypeError):
        _ = v < rpm.parse("1.0-1")
    assert sorted([deb.parse("2"), deb.parse("1~a"), deb.parse("1")]) == [
        deb.parse("1~a"),
        deb.parse("1"),
        deb.parse("2"),
    ]
    assert len({deb.parse("1.0"), deb.parse("1.00"), deb.parse("1.0-0")}) == 1
