"""Language matchers against real PyPI and Go OSV records; no cross-ecosystem matches."""

from __future__ import annotations

import pytest

from shoal.match.engine import MatchEngine
from shoal.match.language import LanguageMatcher, advisory_name, advisory_version
from shoal.model.package import PackageType
from shoal.vulndb.protocol import MemoryVulnSource
from tests.unit.match.mini_db import advisories, all_osv, mini_db
from tests.unit.match.pkgs import BULLSEYE, deb, go, lang, py

PYPI = ["osv-pypi/" + n for n in (
    "PYSEC-2021-98", "PYSEC-2022-190", "PYSEC-2021-142", "PYSEC-2021-108",
    "PYSEC-2023-192", "PYSEC-2022-304", "PYSEC-2021-125",
)]  # fmt: skip
GO = ["osv-go/GO-2024-2687", "osv-go/GO-2022-0617", "osv-go/GO-2022-0368"]


def fixed_by(pkgs: list, names: list[str]) -> dict[str, tuple[str, ...]]:  # type: ignore[type-arg]
    res = MatchEngine(mini_db(names)).match(pkgs)
    assert res.unknowns == ()
    return {m.row.advisory_id: m.fixed for m in res.matches}


def test_django_3_2() -> None:
    assert fixed_by([py("Django", "3.2")], PYPI) == {
        "PYSEC-2021-98": ("3.2.4",),
        "PYSEC-2022-190": ("3.2.13",),
        "PYSEC-2022-304": ("3.2.16",),
    }


def test_django_fixed_release_is_not_affected_by_that_advisory() -> None:
    assert set(fixed_by([py("django", "3.2.4")], PYPI)) == {"PYSEC-2022-190", "PYSEC-2022-304"}
    assert fixed_by([py("django", "3.2.16")], PYPI) == {}
    # 3.1.x is fixed in 3.1.12 (PYSEC-2021-98); the 3.1 line is not in the other ranges
    assert fixed_by([py("django", "3.1.11")], PYPI) == {"PYSEC-2021-98": ("3.1.12",)}


def test_pyyaml_pep503_name() -> None:
    assert fixed_by([py("PyYAML", "5.3.1")], PYPI) == {"PYSEC-2021-142": ("5.4",)}
    assert fixed_by([py("pyyaml", "5.4")], PYPI) == {}


def test_urllib3_git_ranges_ignored_ecosystem_ranges_and_lists_used() -> None:
    assert fixed_by([py("urllib3", "1.26.4")], PYPI) == {
        "PYSEC-2021-108": ("1.26.5",),
        "PYSEC-2023-192": ("1.26.17",),
    }
    assert fixed_by([py("urllib3", "2.0.6")], PYPI) == {}


def test_pep440_equivalent_spellings() -> None:
    # 3.2.0 is 3.2 under PEP 440 (not in the explicit list as a string, but in range)
    assert set(fixed_by([py("django", "3.2.0")], PYPI)) == {
        "PYSEC-2021-98", "PYSEC-2022-190", "PYSEC-2022-304",
    }  # fmt: skip


def test_withdrawn_advisories_are_ignored() -> None:
    # PYSEC-2021-125 (ansible, every version) and GO-2022-0617 (kubernetes) are withdrawn
    pkgs = [py("ansible", "2.9.0"), go("k8s.io/kubernetes", "v1.20.0")]
    res = MatchEngine(mini_db(PYPI + GO)).match(pkgs)
    assert res.matches == () and res.unknowns == ()


def test_go_stdlib_by_toolchain_version() -> None:
    assert fixed_by([go("stdlib", "go1.22.1")], GO) == {"GO-2024-2687": ("1.22.2",)}
    assert fixed_by([go("stdlib", "go1.21.8")], GO) == {"GO-2024-2687": ("1.21.9",)}
    assert fixed_by([go("stdlib", "go1.22.2")], GO) == {}
    assert advisory_version(go("stdlib", "go1.22.1 X:boringcrypto")) == "1.22.1"


def test_go_module_path_and_v_prefix() -> None:
    assert fixed_by([go("golang.org/x/net", "v0.22.0")], GO) == {"GO-2024-2687": ("0.23.0",)}
    assert fixed_by([go("golang.org/x/net", "v0.23.0")], GO) == {}
    assert fixed_by([go("github.com/coredns/coredns", "v1.6.5")], GO) == {
        "GO-2022-0368": ("1.6.6",)
    }
    # a pseudo-version before the fix
    pseudo = "v0.0.0-20240101000000-abcdefabcdef"
    assert fixed_by([go("golang.org/x/net", pseudo)], GO) == {"GO-2024-2687": ("0.23.0",)}


def test_unparseable_version_is_an_unknown_match_not_silence() -> None:
    # PyPI orders even legacy versions (as OSV does); a 1,201-character one it does not
    huge = "1" + ".0" * 600
    res = MatchEngine(mini_db(["osv-pypi/PYSEC-2021-142"])).match([py("pyyaml", huge)])
    assert res.matches == ()
    (u,) = res.unknowns
    assert (u.source, u.advisory_id) == ("osv/PyPI", "PYSEC-2021-142")
    assert "cannot be ordered against range 'introduced 0, fixed 5.4' in PyPI" in u.reason
    legacy = MatchEngine(mini_db(["osv-pypi/PYSEC-2021-142"])).match([py("pyyaml", "five")])
    assert [m.fixed for m in legacy.matches] == [("5.4",)]  # legacy sorts below 0
    go_devel = MatchEngine(mini_db(GO)).match([go("golang.org/x/net", "(devel)")])
    assert [u.advisory_id for u in go_devel.unknowns] == ["GO-2024-2687"]


def test_no_cross_ecosystem_false_positives() -> None:
    distro = advisories(["debian-dsa/DSA-5169-1", "alpine-secdb/v3.11-main"])
    db = MemoryVulnSource(all_osv("osv-pypi") + all_osv("osv-go") + distro)
    pkgs = [
        # Debian's own django/pyyaml/urllib3 packages are patched by Debian: PyPI ranges
        # must not apply to them
        deb("python3-django", "2:2.2.28-1~deb11u1", source="python-django"),
        deb("django", "3.2"),
        deb("pyyaml", "5.3.1"),
        deb("stdlib", "1.22.1"),
        # language packages named like distro source packages
        py("openssl", "1.1.1"),
        lang(PackageType.NPM, "openssl", "1.0.0"),
        lang(PackageType.GEM, "django", "3.2"),
        go("django", "v3.2.0"),
    ]
    res = MatchEngine(db).match(pkgs)
    assert res.matches == () and res.unknowns == ()


def test_ecosystem_names() -> None:
    m = LanguageMatcher()
    maven = lang(PackageType.JAVA, "log4j-core", "2.14.1", namespace="org.apache.logging.log4j")
    assert advisory_name(maven) == "org.apache.logging.log4j:log4j-core"
    assert advisory_name(lang(PackageType.PHP, "Symfony/HTTP-Kernel", "1")) == "symfony/http-kernel"
    assert advisory_name(py("Zope.Interface", "1")) == "zope-interface"
    q = m.query(lang(PackageType.RUST, "regex", "1.5.4"))
    assert (q.ecosystem, q.name, q.releases) == ("crates.io", "regex", None)  # type: ignore[union-attr]
    assert not m.applies_to(deb("regex", "1", distro=BULLSEYE))


def test_maven_without_group_is_unknown() -> None:
    jar = lang(PackageType.JAVA, "mystery", "1.0")
    res = MatchEngine(mini_db([])).match([jar])
    assert res.unknowns[0].reason == "Maven package 'mystery' without a groupId: cannot look it up"


@pytest.mark.parametrize("n", [1, 2, 5])
def test_duplicate_packages_each_get_their_matches(n: int) -> None:
    res = MatchEngine(mini_db(PYPI)).match([py("pyyaml", "5.3.1")] * n)
    assert len(res.matches) == n
