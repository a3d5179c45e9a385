"""Scan reports built from the Syft SBOMs in testdata and real advisories."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shoal.model.advisory import CveEnrichment, Rating, Severity
from shoal.scan.report import ScanOptions, ScanReport, scan_sbom
from shoal.scan.sbom_input import read_sbom
from shoal.vulndb.protocol import MemoryVulnSource
from tests.unit.match.mini_db import advisories

TESTDATA = Path(__file__).parent / "testdata"
SYFT_CDX = TESTDATA / "syft" / "image.cdx.json"
SYFT_SPDX = TESTDATA / "syft" / "image.spdx.json"
TODAY = dt.date(2025, 3, 1)

ADVISORIES = [
    "osv-pypi/PYSEC-2021-98",
    "osv-pypi/PYSEC-2022-190",
    "osv-pypi/PYSEC-2021-142",
    "osv-pypi/PYSEC-2021-108",
    "osv-pypi/PYSEC-2023-192",
    "osv-pypi/PYSEC-2022-304",
]
# NVD / EPSS / KEV facts as the enrichment importers store them (values set here)
ENRICHMENT = [
    CveEnrichment(
        cve="CVE-2021-33203",
        nvd_severities=(
            Severity(
                "nvd", Rating.MEDIUM, "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.9
            ),
        ),
        epss_score=0.00123,
        epss_percentile=0.5,
        epss_date="2025-02-28",
        cwes=("CWE-22",),
    ),
    CveEnrichment(
        cve="CVE-2022-28346", kev=True, kev_date_added="2024-05-01", kev_due_date="2024-05-22"
    ),
]


def source() -> MemoryVulnSource:
    return MemoryVulnSource(advisories(ADVISORIES), ENRICHMENT)


@pytest.fixture
def report() -> ScanReport:
    return scan_sbom(read_sbom(SYFT_CDX), source(), ScanOptions(today=TODAY))


SHARED_OSV = Path(__file__).resolve().parents[4] / "shared" / "feeds" / "osv"


def real_osv_zip(ecosystem: str) -> Path:
    """The real OSV `<Ecosystem>/all.zip`: shoal's bundled copy, else ../shared/feeds."""
    from shoal.vulndb.resolve import bundled_path

    bundled = bundled_path(f"osv/{ecosystem}")
    if bundled is not None and bundled.suffix == ".zip":
        return bundled
    shared = SHARED_OSV / f"{ecosystem}-all.zip"
    if not shared.is_file():
        pytest.fail(f"real OSV feed {ecosystem} not found (bundled or {shared})")
    return shared


@pytest.fixture(scope="session")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vulnerability DB built by `shoal.vulndb.update` from the real PyPI and Go OSV
    archives (no network). Read-only for tests."""
    from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
    from shoal.vulndb.update import update

    root = tmp_path_factory.mktemp("scan-db")
    (root / "in" / "osv").mkdir(parents=True)
    (root / "in" / "osv" / "PyPI.zip").symlink_to(real_osv_zip("PyPI"))
    (root / "in" / "osv" / "Go.zip").symlink_to(real_osv_zip("Go"))
    db = root / "vuln.db"
    report = update(db, [OsvPyPIFeed(), OsvGoFeed()], from_path=root / "in")
    assert not report.failed, report.to_json()
    return db
