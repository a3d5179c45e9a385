"""Report building: severity and fix filters, ignore rules, --fail-on."""

from __future__ import annotations

import datetime as dt

import pytest

from shoal.match.ignore import IgnoreRule
from shoal.model.advisory import Rating
from shoal.scan.report import ScanOptions, ScanReport, parse_severities, scan_sbom
from shoal.scan.sbom_input import read_sbom
from tests.unit.scan.conftest import SYFT_CDX, TODAY, source


def run(**kw: object) -> ScanReport:
    return scan_sbom(read_sbom(SYFT_CDX), source(), ScanOptions(today=TODAY, **kw))  # type: ignore[arg-type]


def test_all_findings(report: ScanReport) -> None:
    got = sorted((f.package.name, f.vulnerability, f.fixed_versions) for f in report.findings)
    assert got == [
        ("django", "CVE-2021-33203", ("3.2.4",)),
        ("django", "CVE-2022-28346", ("3.2.13",)),
        ("django", "CVE-2022-41323", ("3.2.16",)),
        ("pyyaml", "CVE-2020-14343", ("5.4",)),
        ("urllib3", "CVE-2021-33503", ("1.26.5",)),
        ("urllib3", "CVE-2023-43804", ("1.26.17",)),
    ]
    assert report.counts["unknown"] == 4 and report.unknowns == ()
    # the Debian packages have no advisories in this DB, and PyPI ones never apply to them
    assert {f.package.type.value for f in report.findings} == {"python"}


def test_severity_filter_counts_what_it_drops() -> None:
    rep = run(severities=parse_severities("critical,high"))
    assert [f.vulnerability for f in rep.findings] == ["CVE-2023-43804"]
    assert rep.filtered == 5


def test_ignore_unfixed() -> None:
    assert len(run(ignore_unfixed=True).findings) == 6  # every one has a fix


def test_ignore_rules_by_any_id_package_and_expiry() -> None:
    rules = [
        IgnoreRule("GHSA-8q59-q68h-6hv4"),  # pyyaml's, by its GHSA alias
        IgnoreRule("CVE-2023-43804", package="pkg:pypi/django"),  # wrong package: no effect
        IgnoreRule("CVE-2021-33503", package="pkg:pypi/urllib3"),  # any version
        IgnoreRule("CVE-2022-28346", expires=dt.date(2025, 3, 1)),  # expired today
    ]
    rep = run(ignore_rules=rules)
    assert sorted(i.finding.vulnerability for i in rep.ignored) == [
        "CVE-2020-14343",
        "CVE-2021-33503",
    ]
    assert [r.id for r in rep.expired_rules] == ["CVE-2022-28346"]
    assert len(rep.findings) == 4


def test_ignore_by_finding_id_or_key(report: ScanReport) -> None:
    f = report.findings[0]
    rep = run(ignore_rules=[IgnoreRule(f.id)])
    assert [i.finding.id for i in rep.ignored] == [f.id]
    rep = run(ignore_rules=[IgnoreRule(f.key)])  # the same package in any image
    assert [i.finding.id for i in rep.ignored] == [f.id]


def test_fail_on(report: ScanReport) -> None:
    assert report.fails(Rating.HIGH)
    assert not report.fails(Rating.CRITICAL)
    assert report.fails(Rating.UNKNOWN)  # "unknown" ranks lowest: any finding fails


def test_parse_severities() -> None:
    assert parse_severities("High, critical,") == {Rating.HIGH, Rating.CRITICAL}
    with pytest.raises(
        ValueError, match=r"^unknown severity 'severe' \(expected one of critical, high"
    ):
        parse_severities("high,severe")


def test_finding_ids_name_the_image_as_the_service_does() -> None:
    from shoal.model.finding import ImageLocation
    from shoal.model.sbom import ImageInfo, Platform
    from shoal.scan.report import image_location

    d, idx = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    amd64 = Platform("linux", "amd64")
    pulled = ImageInfo("127.0.0.1:5000/team/app:v1", d, None, amd64)
    assert image_location(pulled) == ImageLocation("127.0.0.1:5000", "team/app", d, "linux/amd64")
    # a platform of an index: the service stores it under the index's digest
    arm = ImageInfo("docker.io/library/alpine:3.19", d, None, Platform("linux", "arm64", "v8"),
                    index_digest=idx)  # fmt: skip
    assert image_location(arm) == ImageLocation(
        "docker.io", "library/alpine", idx, "linux/arm64/v8"
    )
    # read from disk: no registry, no repository
    for ref in ("oci-dir:/tmp/layout:v1", "docker-archive:/tmp/app.tar", "oci-archive:x.tar"):
        assert image_location(ImageInfo(ref, d, None, amd64)) == ImageLocation(
            "", "", d, "linux/amd64"
        )
    assert image_location(ImageInfo("sbom.json", None, None, None)).digest == ""
