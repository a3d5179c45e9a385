"""`shoal scan`: analyse an image (or read an SBOM), match it against the local
vulnerability DB, and report. Wiring only: the work is done by `shoal.image`,
`shoal.scan` and `shoal.vulndb`.

Exit codes: 0 scan done (and nothing at or above ``--fail-on``), 1 a finding at or above
``--fail-on`` remains, 2 the scan could not be done (one line on stderr says why).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from shoal.cli import common
from shoal.config import load_settings
from shoal.errors import ShoalError

if TYPE_CHECKING:
    from shoal.config import Settings
    from shoal.model.advisory import Rating
    from shoal.model.sbom import Sbom
    from shoal.scan.formats.base import ReportFormatter
    from shoal.scan.report import ScanReport
    from shoal.vulndb.protocol import VulnSource

err = Console(stderr=True)

DEFAULT_IGNORE_FILE = ".shoalignore"
_LOCAL_SOURCES = ("oci-dir:", "oci-archive:", "docker-archive:")


class ScanUsageError(ShoalError):
    pass


def scan(
    image: Annotated[
        str | None,
        typer.Argument(
            help="Image reference, or oci-dir:PATH[:TAG], oci-archive:PATH[:TAG], "
            "docker-archive:PATH[:TAG]. Omit with --sbom."
        ),
    ] = None,
    sbom_file: Annotated[
        Path | None,
        typer.Option("--sbom", help="Scan this CycloneDX or SPDX JSON SBOM instead of an image."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--output-format", "-o", help="table, json, sarif or cyclonedx-json.")
    ] = "table",
    severity: Annotated[
        str | None,
        typer.Option(
            help="Only report these severities, e.g. critical,high (add 'unknown' to keep "
            "findings nobody has rated yet)."
        ),
    ] = None,
    ignore_unfixed: Annotated[
        bool, typer.Option("--ignore-unfixed", help="Drop findings without a released fix.")
    ] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit 1 when a finding at or above this severity remains (CI gate)."),
    ] = None,
    ignore_file: Annotated[
        Path | None,
        typer.Option(
            help=f"Ignore list (text or YAML); default ./{DEFAULT_IGNORE_FILE} when present."
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(help="No network at all: local image sources or --sbom, local/bundled DB."),
    ] = False,
    platform: common.Platform = None,
    output: common.Output = None,
    db: Annotated[
        Path | None,
        typer.Option(help="Vulnerability DB file (default: settings vulndb.path)."),
    ] = None,
    username: common.Username = None,
    password_stdin: common.PasswordStdin = False,
    insecure: common.Insecure = False,
    config: common.ConfigFile = None,
) -> None:
    """Report every known vulnerability of every package in an image or SBOM."""
    from shoal.match.ignore import load_ignore_file
    from shoal.scan.formats import get_report_formatter
    from shoal.scan.report import ScanOptions, parse_severities, scan_sbom

    try:
        if (image is None) == (sbom_file is None):
            raise ScanUsageError("give either an IMAGE or --sbom FILE (not both)")
        formatter = get_report_formatter(output_format)
        severities = parse_severities(severity) if severity else None
        threshold = _threshold(fail_on)
        if offline and image is not None and not image.startswith(_LOCAL_SOURCES):
            raise ScanUsageError(
                f"--offline: {image!r} would be pulled from a registry; "
                "use oci-dir:, oci-archive:, docker-archive: or --sbom"
            )
        rules = []
        path = ignore_file or (
            Path(DEFAULT_IGNORE_FILE) if Path(DEFAULT_IGNORE_FILE).is_file() else None
        )
        if path is not None:
            rules = load_ignore_file(path)
        options = ScanOptions(
            severities=severities, ignore_unfixed=ignore_unfixed, ignore_rules=rules
        )
        settings = load_settings(config)
        source = open_db(db or settings.vulndb.path)
        try:
            sboms = _sboms(image, sbom_file, platform, settings, username, password_stdin, insecure)
            reports = [scan_sbom(s, source, options) for s in sboms]
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        _write(reports, formatter, output)
        failed = threshold is not None and any(r.fails(threshold) for r in reports)
    except (ShoalError, ValueError) as e:
        err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for r in reports:
        for rule in r.expired_rules:
            err.print(
                f"[yellow]warning:[/] ignore rule {escape(rule.id)} ({escape(rule.origin)}) "
                f"expired on {rule.expires}; it no longer applies",
                highlight=False,
            )
    if failed:
        assert threshold is not None
        err.print(
            f"[red]✗[/] findings at or above {threshold.value} remain (--fail-on)", highlight=False
        )
        raise typer.Exit(1)


def _threshold(text: str | None) -> Rating | None:
    from shoal.model.advisory import Rating

    if text is None:
        return None
    try:
        # "unknown" ranks lowest, so --fail-on unknown fails on any finding at all
        return Rating(text.strip().lower())
    except ValueError:
        names = ", ".join(x.value for x in Rating)
        raise ScanUsageError(f"--fail-on {text[:40]!r}: expected one of {names}") from None


def open_db(path: Path) -> VulnSource:
    """The vulnerability DB at `path`. The first time there is none, it is built from the
    feed snapshots bundled with shoal (no network, a few seconds), and the user is told
    how to get current data; if that fails, a one-line error says how to get a DB."""
    from shoal.vulndb.store import VulnDB

    if not path.is_file():
        _build_from_bundled(path)
    return VulnDB.open(path)


def _build_from_bundled(path: Path) -> None:
    from shoal.feeds import ALL as FEEDS
    from shoal.vulndb.resolve import bundled_path
    from shoal.vulndb.update import update

    how = (
        "run `shoal db update` (or `shoal db import BUNDLE` on an air-gapped machine), or pass --db"
    )
    feeds = [cls() for cls in FEEDS if bundled_path(cls.name) is not None]
    if not feeds:
        raise ScanUsageError(f"no vulnerability DB at {str(path)!r}: {how}")
    err.print(
        f"[yellow]note:[/] no vulnerability DB at {escape(str(path))!r}; building it from the feed "
        "snapshots bundled with shoal (no network). For current data: `shoal db update`.",
        highlight=False,
        soft_wrap=True,
    )
    report = update(path, feeds)
    if not path.is_file():
        failed = "; ".join(f"{s.name}: {s.error}" for s in report.failed)
        raise ScanUsageError(f"no vulnerability DB at {str(path)!r} ({failed[:200]}): {how}")


def _sboms(
    image: str | None,
    sbom_file: Path | None,
    platform: str | None,
    settings: Settings,
    username: str | None,
    password_stdin: bool,
    insecure: bool,
) -> list[Sbom]:
    if sbom_file is not None:
        from shoal.scan.sbom_input import read_sbom

        return [read_sbom(sbom_file)]
    assert image is not None
    return common.analyze_image(
        image,
        settings,
        platform=platform,
        username=username,
        password_stdin=password_stdin,
        insecure=insecure,
        console=err,
    )


def _write(reports: list[ScanReport], formatter: ReportFormatter, output: Path | None) -> None:
    """One document per platform, like `shoal sbom`."""
    from shoal.scan.formats.table import TableFormatter

    if output is None:
        if isinstance(formatter, TableFormatter):
            out = Console(highlight=False)
            for r in reports:
                formatter.render(r, out)
            return
        for r in reports:
            formatter.write(r, sys.stdout.buffer)
        sys.stdout.flush()
        return
    for r in reports:
        path = output
        if len(reports) > 1 and r.sbom.image.platform is not None:
            suffix = str(r.sbom.image.platform).replace("/", "-")
            path = output.with_name(f"{output.stem}-{suffix}{output.suffix}")
        tmp = path.with_name(path.name + ".part")
        try:
            with tmp.open("wb") as f:
                formatter.write(r, f)
            tmp.replace(path)  # never leave a half-written report behind
        except OSError as e:
            raise ScanUsageError(f"cannot write {str(path)!r}: {e.strerror or e}") from e
