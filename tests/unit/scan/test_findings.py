"""Merging raw matches into findings: ids, fix state, severity provenance."""

from __future__ import annotations

import dataclasses
import hashlib

from shoal.match.engine import MatchEngine
from shoal.model.advisory import CveEnrichment, FixState, Rating, Severity
from shoal.model.finding import Finding, finding_key
from shoal.model.package import Package
from shoal.scan.findings import build_findings, vulnerability_ids
from shoal.vulndb.protocol import MemoryVulnSource
from tests.unit.match.mini_db import advisories, load
from tests.unit.match.pkgs import deb, go, py


def findings(pkgs: list[Package], db: MemoryVulnSource) -> list[Finding]:
    res = MatchEngine(db).match(pkgs)
    cves = {c for a in res.advisories.values() for c in a.cve_ids}
    return build_findings(res.matches, res.advisories, db.enrichment(cves))


def test_one_finding_per_cve_of_a_multi_cve_distro_advisory() -> None:
    db = MemoryVulnSource(advisories(["debian-dsa/DSA-5343-1"]))
    fs = findings([deb("libssl1.1", "1.1.1n-0+deb11u3", "openssl")], db)
    assert [f.vulnerability for f in fs] == [
        "CVE-2022-2097",
        "CVE-2022-4304",
        "CVE-2022-4450",
        "CVE-2023-0215",
        "CVE-2023-0286",
    ]
    assert all(f.ids == (f.vulnerability, "DSA-5343-1") for f in fs)
    assert {(f.fix_state, f.fixed_versions) for f in fs} == {
        (FixState.FIXED, ("1.1.1n-0+deb11u4",))
    }


def test_same_cve_from_two_feeds_is_one_finding_with_all_ids() -> None:
    (pysec,) = load("osv-pypi/PYSEC-2021-142")
    # The GHSA database carries the same flaw under its own id; model that record as
    # the same affected data delivered by a second source.
    ghsa = dataclasses.replace(
        pysec,
        id="GHSA-8q59-q68h-6hv4",
        source="osv/GHSA",
        aliases=("CVE-2020-14343",),
        severities=(Severity("osv/GHSA", Rating.CRITICAL, "vendor"),),
    )
    fs = findings([py("PyYAML", "5.3.1")], MemoryVulnSource([pysec, ghsa]))
    (f,) = fs
    assert f.vulnerability == "CVE-2020-14343"
    assert f.ids == ("CVE-2020-14343", "GHSA-8q59-q68h-6hv4", "PYSEC-2021-142")
    assert {(m.source, m.advisory_id) for m in f.matched_by} == {
        ("osv/PyPI", "PYSEC-2021-142"),
        ("osv/GHSA", "GHSA-8q59-q68h-6hv4"),
    }
    assert f.fixed_versions == ("5.4",)
    assert (f.severity.effective, f.severity.effective_source) == (Rating.CRITICAL, "osv/GHSA")


def test_advisory_without_cve_is_reported_under_its_ghsa_alias() -> None:
    (adv,) = load("osv-go/GO-2022-0368")
    assert vulnerability_ids(adv) == ("GHSA-gv9j-4w24-q7vx",)
    (f,) = findings([go("github.com/coredns/coredns", "v1.6.5")], MemoryVulnSource([adv]))
    assert f.vulnerability == "GHSA-gv9j-4w24-q7vx"
    assert f.ids == ("GHSA-gv9j-4w24-q7vx", "GO-2022-0368")


def test_finding_key_is_truncated_sha256_of_purl_and_vulnerability() -> None:
    (f,) = findings(
        [py("pyyaml", "5.3.1")], MemoryVulnSource(advisories(["osv-pypi/PYSEC-2021-142"]))
    )
    expected = hashlib.sha256(b"pkg:pypi/pyyaml@5.3.1\nCVE-2020-14343").hexdigest()[:16]
    assert f.key == expected == finding_key("pkg:pypi/pyyaml@5.3.1", "CVE-2020-14343")


def test_osv_cvss_vector_gives_the_severity_when_nvd_has_none() -> None:
    db = MemoryVulnSource(advisories(["osv-pypi/PYSEC-2023-192"]))
    (f,) = findings([py("urllib3", "1.26.4")], db)
    sev = f.severity
    assert (sev.effective, sev.effective_source) == (Rating.HIGH, "osv:PyPI")
    (s,) = sev.advisory
    assert (s.type, s.vector, s.score) == (
        "CVSS_V3",
        "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
        8.1,
    )
    assert sev.nvd == () and sev.distro == () and sev.epss is None and sev.kev is None


def test_nvd_beats_osv_for_language_packages_and_epss_kev_are_kept() -> None:
    # Enrichment as the NVD/EPSS/KEV importers deliver it (values given here)
    enr = CveEnrichment(
        cve="CVE-2023-43804",
        nvd_severities=(
            Severity(
                "nvd",
                Rating.MEDIUM,
                "CVSS_V4",
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
                6.9,
            ),
            Severity(
                "nvd", Rating.HIGH, "CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.1
            ),
        ),
        epss_score=0.0123,
        epss_percentile=0.85,
        epss_date="2024-10-01",
        kev=True,
        kev_date_added="2024-01-02",
    )
    db = MemoryVulnSource(advisories(["osv-pypi/PYSEC-2023-192"]), [enr])
    (f,) = findings([py("urllib3", "1.26.4")], db)
    sev = f.severity
    assert (sev.effective, sev.effective_source) == (Rating.HIGH, "nvd")  # v3 preferred
    assert len(sev.nvd) == 2 and len(sev.advisory) == 1
    assert sev.epss is not None and (sev.epss.score, sev.epss.percentile) == (0.0123, 0.85)
    assert sev.kev is not None and sev.kev.date_added == "2024-01-02"


def test_distro_rating_wins_for_os_packages() -> None:
    (dsa,) = load("debian-dsa/DSA-5139-1")
    urgent = dataclasses.replace(
        dsa,
        affected=tuple(dataclasses.replace(a, severity=Rating.LOW) for a in dsa.affected),
    )
    enr = CveEnrichment(
        cve="CVE-2022-1292",
        nvd_severities=(Severity("nvd", Rating.CRITICAL, "CVSS_V3", None, 9.8),),
    )
    (f,) = findings([deb("openssl", "1.1.1n-0+deb11u1")], MemoryVulnSource([urgent], [enr]))
    assert (f.severity.effective, f.severity.effective_source) == (Rating.LOW, "debian/dsa")
    assert f.severity.nvd[0].score == 9.8  # NVD kept beside it
    # without the distro's rating, NVD's counts
    (g,) = findings([deb("openssl", "1.1.1n-0+deb11u1")], MemoryVulnSource([dsa], [enr]))
    assert (g.severity.effective, g.severity.effective_source) == (Rating.CRITICAL, "nvd")


def test_no_severity_anywhere_is_unknown() -> None:
    (f,) = findings(
        [py("pyyaml", "5.3.1")], MemoryVulnSource(advisories(["osv-pypi/PYSEC-2021-142"]))
    )
    assert (f.severity.effective, f.severity.effective_source) == (Rating.UNKNOWN, "")


def test_fix_state_from_the_feed_when_no_fixed_version() -> None:
    (dsa,) = load("debian-dsa/DSA-5139-1")
    open_entry = dataclasses.replace(
        dsa.affected[1],
        ranges=(dataclasses.replace(dsa.affected[1].ranges[0], events=(("introduced", "0"),)),),
        fix_state=FixState.WONT_FIX,
    )
    adv = dataclasses.replace(dsa, affected=(open_entry,))
    (f,) = findings([deb("openssl", "1.1.1n-0+deb11u9")], MemoryVulnSource([adv]))
    assert (f.fix_state, f.fixed_versions) == (FixState.WONT_FIX, ())


def test_description_references_published_come_from_the_advisories() -> None:
    (f,) = findings(
        [go("stdlib", "go1.22.1")], MemoryVulnSource(advisories(["osv-go/GO-2024-2687"]))
    )
    assert f.vulnerability == "CVE-2023-45288"
    assert f.summary == "HTTP/2 CONTINUATION flood in net/http"
    assert f.description.startswith("An attacker may cause an HTTP/2 endpoint")
    assert "https://go.dev/issue/65051" in f.references
    assert f.ids == ("CVE-2023-45288", "GHSA-4v7x-pqxf-cx7m", "GO-2024-2687")


def test_same_package_found_twice_is_one_finding() -> None:
    import dataclasses as dc

    from shoal.model.package import Location

    a = dc.replace(
        py("pyyaml", "5.3.1"), locations=(Location("/venv1/METADATA"),), layer="sha256:a"
    )
    b = dc.replace(
        py("pyyaml", "5.3.1"), locations=(Location("/venv2/METADATA"),), layer="sha256:b"
    )
    fs = findings([a, b], MemoryVulnSource(advisories(["osv-pypi/PYSEC-2021-142"])))
    assert [f.vulnerability for f in fs] == ["CVE-2020-14343"]
    assert len(fs[0].matched_by) == 1  # the same detail, once


def test_undetermined_stays_unknown_and_open_stays_not_fixed() -> None:
    (dsa,) = load("debian-dsa/DSA-5139-1")
    entry = dsa.affected[1]
    open_range = (dataclasses.replace(entry.ranges[0], events=(("introduced", "0"),)),)
    for state in (FixState.UNKNOWN, FixState.NOT_FIXED):
        adv = dataclasses.replace(
            dsa, affected=(dataclasses.replace(entry, ranges=open_range, fix_state=state),)
        )
        (f,) = findings([deb("openssl", "1.1.1n-0+deb11u9")], MemoryVulnSource([adv]))
        assert (f.fix_state, f.fixed_versions) == (state, ())
