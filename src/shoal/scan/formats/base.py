"""The `ReportFormatter` protocol and what the scan output formats share."""

from __future__ import annotations

from typing import BinaryIO, ClassVar, Protocol

from shoal.model.advisory import Severity
from shoal.model.finding import Finding
from shoal.scan.report import ScanReport


class ReportFormatter(Protocol):
    """Writes a `ScanReport` in one format, selected by `id` (``json``, ``sarif``)."""

    id: ClassVar[str]
    media_type: ClassVar[str]

    def write(self, report: ScanReport, out: BinaryIO) -> None: ...


def severity_json(s: Severity) -> dict[str, object]:
    return {
        "source": s.source,
        "rating": s.rating.value,
        "type": s.type,
        "vector": s.vector,
        "score": s.score,
    }


def sorted_findings(findings: tuple[Finding, ...]) -> list[Finding]:
    """Most severe first, then by package and vulnerability: a stable order."""
    return sorted(
        findings,
        key=lambda f: (-f.rating.rank, f.package.name, f.package.version, f.vulnerability, f.id),
    )
