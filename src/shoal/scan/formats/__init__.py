"""Scan report formats, listed explicitly and chosen by id with `get_report_formatter`."""

from __future__ import annotations

from shoal.errors import ExportError
from shoal.scan.formats.base import ReportFormatter
from shoal.scan.formats.cyclonedx import CycloneDxVexFormatter
from shoal.scan.formats.json import ScanJsonFormatter
from shoal.scan.formats.sarif import SarifFormatter
from shoal.scan.formats.table import TableFormatter

ALL: tuple[type[ReportFormatter], ...] = (
    TableFormatter,
    ScanJsonFormatter,
    SarifFormatter,
    CycloneDxVexFormatter,
)


def get_report_formatter(id: str) -> ReportFormatter:
    """A new formatter for `id` (``table``, ``json``, ``sarif``, ``cyclonedx-json``)."""
    for cls in ALL:
        if cls.id == id:
            return cls()
    known = ", ".join(cls.id for cls in ALL)
    raise ExportError(f"unknown scan output format {id!r}: expected one of {known}")


__all__ = [
    "ALL",
    "CycloneDxVexFormatter",
    "ReportFormatter",
    "SarifFormatter",
    "ScanJsonFormatter",
    "TableFormatter",
    "get_report_formatter",
]
