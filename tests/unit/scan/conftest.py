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
