"""The human-readable table: findings grouped by package, coloured by severity, with a
totals line and what was ignored, filtered or could not be decided."""

from __future__ import annotations

from typing import BinaryIO, ClassVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shoal.model.advisory import FixState, Rating
from shoal.model.finding import Finding
from shoal.scan.report import ScanReport

STYLE = {
    Rating.CRITICAL: "bold red",
    Rating.HIGH: "red",
    Rating.MEDIUM: "yellow",
    Rating.LOW: "cyan",
    Rating.NEGLIGIBLE: "dim",
    Rating.UNKNOWN: "magenta",
}


def _fix(f: Finding) -> str:
    if f.fixed_versions:
        return ", ".join(f.fixed_versions)
    return {FixState.WONT_FIX: "won't fix", FixState.NOT_FIXED: "not fixed"}.get(f.fix_state, "?")


def build_table(report: ScanReport) -> Table:
    # Every cell is a Text: names and versions come from the image and must never be
    # read as rich markup ("[red]" in a package name stays literal).
    table = Table(title=Text(report.sbom.image.reference), show_lines=False, expand=False)
    table.add_column("Package", overflow="fold")
    for col in ("Installed", "Vulnerability", "Severity"):
        table.add_column(col, no_wrap=True)  # ids and versions are unreadable when folded
    table.add_column("Fixed in", overflow="fold")
    table.add_column("Layer", no_wrap=True)
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in report.findings:
        groups.setdefault((f.package.name, f.package.version, f.package.type.value), []).append(f)
    for (name, version, ptype), fs in sorted(groups.items()):
        fs.sort(key=lambda f: (-f.rating.rank, f.vulnerability))
        for i, f in enumerate(fs):
            sev = Text(f.rating.value, style=STYLE[f.rating])
            if f.severity.kev:
                sev.append(" KEV", style="bold red")
            layer = (f.package.layer or "")[7:19]
            table.add_row(
                Text(f"{name} ({ptype})" if i == 0 else ""),
                Text(version if i == 0 else ""),
                Text(f.vulnerability),
                sev,
                Text(_fix(f)),
                Text(layer if i == 0 else ""),
                end_section=i == len(fs) - 1,
            )
    return table


def totals_line(report: ScanReport) -> Text:
    t = Text(f"{len(report.findings)} findings")
    parts = [(r, report.counts.get(r.value, 0)) for r in Rating]
    shown = [(r, n) for r, n in sorted(parts, key=lambda x: -x[0].rank) if n]
    if shown:
        t.append(": ")
        for i, (r, n) in enumerate(shown):
            if i:
                t.append(", ")
            t.append(f"{n} {r.value}", style=STYLE[r])
    extras = []
    if report.ignored:
        extras.append(f"{len(report.ignored)} ignored")
    if report.filtered:
        extras.append(f"{report.filtered} filtered")
    if report.unknowns:
        extras.append(f"{len(report.unknowns)} undecided")
    if extras:
        t.append(f" ({', '.join(extras)})")
    return t


class TableFormatter:
    id: ClassVar[str] = "table"
    media_type: ClassVar[str] = "text/plain"

    def __init__(self, *, width: int | None = None, color: bool | None = None) -> None:
        self._width = width
        self._color = color

    def write(self, report: ScanReport, out: BinaryIO) -> None:
        import io

        buf = io.StringIO()
        console = Console(
            file=buf,
            width=self._width or 140,
            force_terminal=self._color,
            no_color=self._color is False,
            highlight=False,
        )
        self.render(report, console)
        out.write(buf.getvalue().encode("utf-8"))

    def render(self, report: ScanReport, console: Console) -> None:
        if report.findings:
            console.print(build_table(report))
        else:
            console.print(Text(f"No vulnerabilities found in {report.sbom.image.reference}."))
        console.print(totals_line(report))
        for r in report.expired_rules:
            console.print(
                Text(
                    f"ignore rule expired: {r.id} ({r.origin}, expired {r.expires})", style="yellow"
                )
            )
        for u in report.unknowns[:20]:
            who = f"{u.package.name} {u.package.version}: " if u.package else ""
            console.print(Text(f"undecided: {who}{u.reason}", style="magenta"))
        if len(report.unknowns) > 20:
            console.print(Text(f"... and {len(report.unknowns) - 20} more undecided (see -o json)"))
