"""Distro matchers against real Debian DSA and Alpine secdb entries."""

from __future__ import annotations

import dataclasses

import pytest

from shoal.match.distro import ApkMatcher, DpkgMatcher, RpmMatcher, releases
from shoal.match.engine import MatchEngine
from shoal.model.advisory import Advisory, AffectedPackage, AffectedRange, FixState
from shoal.model.package import Distro, Package, PackageType
from shoal.vulndb.protocol import MemoryVulnSource
from tests.unit.match.mini_db import mini_db
from tests.unit.match.pkgs import ALPINE_3_11, BOOKWORM, BULLSEYE, BUSTER, apk, deb

OPENSSL_DSAS = ["debian-dsa/DSA-5343-1", "debian-dsa/DSA-5169-1", "debian-dsa/DSA-5139-1"]


def matched(pkgs: list[Package], names: list[str]) -> dict[str, tuple[str, ...]]:
    """advisory id -> fixed versions, for every match."""
    res = MatchEngine(mini_db(names)).match(pkgs)
    return {m.row.advisory_id: m.fixed for m in res.matches}


def test_dpkg_binary_matches_by_source_package_and_source_version() -> None:
    libssl = deb("libssl1.1", "1.1.1n-0+deb11u2", source="openssl")
    assert matched([libssl], OPENSSL_DSAS) == {
        "DSA-5343-1": ("1.1.1n-0+deb11u4",),
        "DSA-5169-1": ("1.1.1n-0+deb11u3",),
    }


def test_dpkg_source_version_is_evaluated_not_the_binary_version() -> None:
    # a binNMU: binary 1.1.1n-0+deb11u3+b1, source 1.1.1n-0+deb11u3 (fixed for DSA-5169-1)
    pkg = deb("libssl1.1", "1.1.1n-0+deb11u3+b1", "openssl", "1.1.1n-0+deb11u3")
    assert matched([pkg], OPENSSL_DSAS) == {"DSA-5343-1": ("1.1.1n-0+deb11u4",)}


def test_dpkg_release_must_equal_the_image_release() -> None:
    on_buster = deb("openssl", "1.1.1n-0+deb10u2", distro=BUSTER)
    res = MatchEngine(mini_db(OPENSSL_DSAS)).match([on_buster])
    assert {(m.row.advisory_id, m.detail.release) for m in res.matches} == {("DSA-5169-1", "10")}
    on_bookworm = deb("openssl", "1.1.1n-0+deb11u1", distro=BOOKWORM)
    assert matched([on_bookworm], OPENSSL_DSAS) == {}


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("2:1.20.11-1+deb11u4", True),
        ("2:1.20.11-1+deb11u5", False),
        ("2:1.20.11-1+deb11u6", False),
        ("1.20.11-1+deb11u9", True),  # epoch 0 sorts below epoch 2 whatever follows
        ("3:1.0-1", False),
    ],
)
def test_dpkg_epochs(version: str, affected: bool) -> None:
    pkg = deb("xserver-common", version, "xorg-server")
    assert ("DSA-5342-1" in matched([pkg], ["debian-dsa/DSA-5342-1"])) is affected


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("2.38.3-1~deb11u2", True),
        ("2.38.4-1~deb11u0", True),
        ("2.38.4-1~deb11u1", False),
        ("2.38.4-1", False),  # no tilde sorts after any tilde
        ("2.38.4-1~", True),
    ],
)
def test_dpkg_tilde(version: str, affected: bool) -> None:
    pkg = deb("libwpewebkit-1.0-3", version, "wpewebkit")
    assert ("DSA-5341-1" in matched([pkg], ["debian-dsa/DSA-5341-1"])) is affected


def test_dpkg_match_detail_says_how() -> None:
    pkg = deb("libssl1.1", "1.1.1n-0+deb11u1", "openssl")
    res = MatchEngine(mini_db(["debian-dsa/DSA-5139-1"])).match([pkg])
    (m,) = res.matches
    d = m.detail
    assert (d.matcher, d.ecosystem, d.name, d.release, d.version) == (
        "distro/dpkg",
        "Debian",
        "openssl",
        "11",
        "1.1.1n-0+deb11u1",
    )
    assert (d.source, d.advisory_id) == ("debian/dsa", "DSA-5139-1")
    assert d.constraint == "ecosystem range: introduced 0, fixed 1.1.1n-0+deb11u2"


def test_ubuntu_image_is_not_matched_against_debian_advisories() -> None:
    jammy = Distro(id="ubuntu", version_id="22.04", version_codename="jammy")
    pkg = deb("openssl", "1.1.1n-0+deb11u1", distro=jammy)
    assert matched([pkg], OPENSSL_DSAS) == {}


def test_distro_without_feed_is_one_unknown_not_silence() -> None:
    mint = Distro(id="linuxmint", version_id="21")
    pkgs = [deb("openssl", "1.1.1n-0+deb11u1", distro=mint), deb("bash", "5.1-2", distro=mint)]
    res = MatchEngine(mini_db(OPENSSL_DSAS)).match(pkgs)
    assert res.matches == ()
    (unk,) = res.unknowns
    assert unk.reason == "no advisory feed for distribution 'linuxmint' (2 packages)"


def test_debian_without_version_id_uses_the_codename_when_entries_carry_it() -> None:
    trixie = Distro(id="debian", version_codename="trixie")
    assert releases("Debian", trixie) == frozenset({"trixie", "13"})
    assert releases("Debian", BULLSEYE) == frozenset({"11", "bullseye"})
    assert releases("Alpine", ALPINE_3_11) == frozenset({"v3.11"})
    assert releases("Ubuntu", Distro(id="ubuntu", version_id="22.04")) == frozenset({"22.04"})
    assert releases("Red Hat", Distro(id="rhel", version_id="9.3")) == frozenset({"9", "9.3"})
    assert releases("Debian", Distro(id="debian")) is None


def test_unknown_release_is_reported() -> None:
    res = MatchEngine(mini_db(OPENSSL_DSAS)).match(
        [deb("openssl", "1.0", distro=Distro(id="debian"))]
    )
    assert res.matches == ()
    assert "release of 'debian' unknown" in res.unknowns[0].reason


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.1.1d-r2", {"CVE-2019-1551"}),
        ("1.1.1d-r0", {"CVE-2019-1551", "CVE-2019-1547", "CVE-2019-1549", "CVE-2019-1563"}),
        ("1.1.1d-r3", set()),
        ("1.1.1g-r0", set()),
        ("1.1.1_pre1-r0", {
            "CVE-2019-1551", "CVE-2019-1547", "CVE-2019-1549", "CVE-2019-1563",
            "CVE-2019-1543", "CVE-2018-0734", "CVE-2018-0735",
        }),  # _pre sorts before the release
    ],
)  # fmt: skip
def test_apk_origin_and_branch(version: str, expected: set[str]) -> None:
    libcrypto = apk("libcrypto1.1", version, origin="openssl")
    assert set(matched([libcrypto], ["alpine-secdb/v3.11-main"])) == expected


def test_apk_other_branch_does_not_match() -> None:
    other = Distro(id="alpine", version_id="3.12.0")
    pkg = apk("libcrypto1.1", "1.1.1d-r0", origin="openssl", distro=other)
    assert matched([pkg], ["alpine-secdb/v3.11-main"]) == {}


def test_apk_version_that_does_not_sort_is_an_unknown_match() -> None:
    pkg = apk("libcrypto1.1", "not a version!", origin="openssl")
    res = MatchEngine(mini_db(["alpine-secdb/v3.11-main"])).match([pkg])
    assert res.matches == ()
    assert len(res.unknowns) == 7  # one per advisory entry it could not be placed against
    assert {u.source for u in res.unknowns} == {"alpine/secdb"}
    assert all("cannot be ordered" in u.reason for u in res.unknowns)


def test_rpm_source_name_from_sourcerpm() -> None:
    pkg = Package(
        name="openssl-libs",
        version="1:3.0.7-24.el9",
        type=PackageType.RPM,
        cataloger="os/rpm",
        metadata=(("sourcerpm", "openssl-3.0.7-24.el9.src.rpm"),),
        distro=Distro(id="rhel", version_id="9.3"),
    )
    q = RpmMatcher().query(pkg)
    assert q.name == "openssl" and q.ecosystem == "Red Hat"  # type: ignore[union-attr]
    assert q.version == "1:3.0.7-24.el9"  # type: ignore[union-attr]
    assert q.releases == frozenset({"9", "9.3", ""})  # type: ignore[union-attr]
    assert q.also == ("openssl-libs",)  # type: ignore[union-attr]
    assert q.release_prefixes == ("enterprise_linux:9:",)  # type: ignore[union-attr]


def _rhel_entry(name: str, release: str, fixed: str) -> AffectedPackage:
    # the shape of an OSV Red Hat record ("Red Hat:enterprise_linux:9::appstream/<binary>")
    return AffectedPackage(
        ecosystem="Red Hat",
        name=name,
        release=release,
        ranges=(AffectedRange("ECOSYSTEM", (("introduced", "0"), ("fixed", fixed))),),
        fix_state=FixState.FIXED,
    )


def test_rpm_matches_binary_names_and_red_hat_streams() -> None:
    adv = Advisory(
        id="RHSA-2024:0000",
        source="osv/Red Hat",
        aliases=("CVE-2023-5678",),
        affected=(
            _rhel_entry("openssl-libs", "enterprise_linux:9::baseos", "1:3.0.7-25.el9_3"),
            _rhel_entry("openssl-libs", "enterprise_linux:8::baseos", "1:1.1.1k-12.el8_9"),
            _rhel_entry("openssl-libs", "enterprise_linux:90::baseos", "1:9.0-1"),
        ),
    )
    pkg = Package(
        name="openssl-libs",
        version="1:3.0.7-24.el9",
        type=PackageType.RPM,
        cataloger="os/rpm",
        metadata=(("sourcerpm", "openssl-3.0.7-24.el9.src.rpm"),),
        distro=Distro(id="rhel", version_id="9.3"),
    )
    res = MatchEngine(MemoryVulnSource([adv])).match([pkg])
    assert [(m.detail.release, m.detail.name, m.fixed) for m in res.matches] == [
        ("enterprise_linux:9::baseos", "openssl-libs", ("1:3.0.7-25.el9_3",))
    ]
    fixed = dataclasses.replace(pkg, version="1:3.0.7-25.el9_3")
    assert MatchEngine(MemoryVulnSource([adv])).match([fixed]).matches == ()


def test_suse_release_names_are_reported_not_silently_skipped() -> None:
    pkg = Package(
        name="openssl",
        version="3.0.8-1",
        type=PackageType.RPM,
        cataloger="os/rpm",
        distro=Distro(id="sles", version_id="15.5"),
    )
    (u,) = MatchEngine(MemoryVulnSource([])).match([pkg]).unknowns
    assert u.reason == "SUSE release names are not mapped from os-release yet"


def test_matchers_claim_only_their_package_type() -> None:
    assert DpkgMatcher().applies_to(deb("a", "1"))
    assert not DpkgMatcher().applies_to(apk("a", "1"))
    assert ApkMatcher().applies_to(apk("a", "1"))
