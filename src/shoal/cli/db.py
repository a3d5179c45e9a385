"""`shoal db ...`: update, inspect, export and import the local vulnerability DB.

Wiring and output only; the work is `shoal.vulndb`. Exit codes: 0 success, 1 an update
finished but some source failed (its previous data kept), 2 nothing was done (bad
arguments, a locked, foreign or corrupt DB, a refused bundle).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shoal import __version__
from shoal.config import Settings, load_settings
from shoal.errors import ShoalError

db_app = typer.Typer(
    name="db",
    help="The local vulnerability database: update, status, export, import.",
    no_args_is_help=True,
)
err = Console(stderr=True)
out = Console()

DbOpt = Annotated[
    Path | None, typer.Option("--db", help="DB file (default: settings vulndb.path).")
]
ConfigOpt = Annotated[Path | None, typer.Option(help="TOML settings file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _db_path(settings: Settings, db: Path | None) -> Path:
    return (db or settings.vulndb.path).expanduser()


def _fail(e: ShoalError) -> typer.Exit:
    err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _human_age(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _select_feeds(
    names: list[str], from_path: Path | None, online: bool, settings: Settings
) -> list[Any]:
    from shoal.feeds import ALL, get_feed
    from shoal.vulndb import inputs, resolve

    chosen = names or settings.vulndb.sources
    if chosen:
        return [get_feed(n) for n in dict.fromkeys(chosen)]
    if from_path is not None:
        if not from_path.is_dir():
            raise typer.BadParameter(
                f"{str(from_path)!r} is not a directory: name the feed it holds with --source",
                param_hint="--from",
            )
        picked = [f() for f in ALL if inputs.find_entry(from_path, f.name) is not None]
        if not picked:
            raise typer.BadParameter(
                f"nothing under {str(from_path)!r} is named after a source "
                "(e.g. osv/PyPI-all.zip, alpine-secdb/, debian/DSA/)",
                param_hint="--from",
            )
        return picked
    if online:
        return [f() for f in ALL]
    return [f() for f in ALL if resolve.bundled_path(f.name) is not None]


@db_app.command("update")
def update_cmd(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Update only this source (repeatable)."),
    ] = None,
    from_path: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Read inputs from this file or directory instead of fetching (air-gapped).",
        ),
    ] = None,
    online: Annotated[
        bool | None,
        typer.Option(
            "--online/--offline",
            help="Fetch from upstream URLs (default: settings vulndb.online; "
            "offline uses the data bundled with shoal).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Re-read inputs even when unchanged.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Bring the vulnerability DB up to date (atomically: a failure keeps the old one)."""
    from shoal.vulndb.update import update

    try:
        settings = _settings(config)
        use_net = settings.vulndb.online if online is None else online
        if from_path is not None:
            use_net = False
        feeds = _select_feeds(list(source or []), from_path, use_net, settings)
        path = _db_path(settings, db)
        http = (
            httpx.Client(
                timeout=settings.oci.timeout,
                follow_redirects=True,
                headers={"User-Agent": f"shoal/{__version__}"},
            )
            if use_net
            else None
        )
        try:
            report = update(path, feeds, from_path=from_path, http=http, force=force)
        finally:
            if http is not None:
                http.close()
    except ShoalError as e:
        raise _fail(e) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    else:
        for s in report.sources:
            if s.status == "failed":
                err.print(f"[red]✗[/] {s.name}: {s.error}", highlight=False, soft_wrap=True)
                continue
            where = f"{s.origin} {s.location}".strip()
            if s.status == "unchanged":
                err.print(f"[dim]=[/] {s.name}: unchanged ({where or 'upstream'})", highlight=False)
                continue
            err.print(
                f"[green]✓[/] {s.name}: {s.records} records "
                f"(+{s.added} ~{s.changed} -{s.removed})"
                + (f", {s.problems} problem{'s' if s.problems > 1 else ''}" if s.problems else "")
                + f" [dim]{where}[/]",
                highlight=False,
            )
            for p in s.problem_samples[:3]:
                err.print(f"    [yellow]![/] {p.record}: {p.reason}", highlight=False)
        verdict = "updated" if report.replaced else "unchanged"
        err.print(
            f"{report.db_path}: {verdict}, {len(report.changed_keys)} packages affected",
            highlight=False,
        )
        if report.rebuilt:
            err.print(f"[yellow]rebuilt:[/] {report.rebuilt}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@db_app.command("status")
def status_cmd(db: DbOpt = None, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Sources, record counts, upstream timestamps, build time, age and size."""
    from shoal.vulndb.status import db_status

    try:
        st = db_status(_db_path(_settings(config), db))
    except ShoalError as e:
        raise _fail(e) from None
    if as_json:
        sys.stdout.write(json.dumps(st.to_json(), indent=2, default=str) + "\n")
        return
    out.print(f"[bold]{st.path}[/]", highlight=False)
    out.print(
        f"schema {st.schema_version}, data version {st.data_version}, built {st.built_at} "
        f"({_human_age(st.age_seconds)} ago), {_human_size(st.size_bytes)}",
        highlight=False,
    )
    out.print(
        f"{st.advisories} advisories, {st.affected} affected-package entries, "
        f"{st.enrichment} CVEs with enrichment",
        highlight=False,
    )
    table = Table("source", "records", "problems", "origin", "upstream", "read at")
    for s in st.sources:
        table.add_row(
            s.name, str(s.records), str(s.problems), s.origin, s.upstream or "", s.fetched_at
        )
    out.print(table)
    if st.bundled:
        out.print(
            f"[yellow]note:[/] {', '.join(s.name for s in st.bundled)} "
            "come from snapshots bundled with shoal; run `shoal db update --online` "
            "or `--from PATH` for current data.",
            highlight=False,
        )


@db_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="Bundle to write (.tar.zst).")],
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the DB as one checksummed bundle, for air-gapped sites."""
    from shoal.vulndb.bundle import export_bundle

    try:
        info = export_bundle(_db_path(_settings(config), db), file)
    except ShoalError as e:
        raise _fail(e) from None
    err.print(
        f"[green]✓[/] {info.path}: DB {info.data_version} ({_human_size(info.db_size)}, "
        f"sha256 {info.db_sha256[:16]}…), {len(info.sources)} sources",
        highlight=False,
    )


@db_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Bundle written by `shoal db export`.")],
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Verify a bundle completely, then make it the DB (the old one stays if it fails)."""
    from shoal.vulndb.bundle import import_bundle

    try:
        settings = _settings(config)
        info = import_bundle(
            file, _db_path(settings, db), max_db_bytes=settings.vulndb.max_import_bytes
        )
    except ShoalError as e:
        raise _fail(e) from None
    err.print(
        f"[green]✓[/] {info.path}: imported DB {info.data_version} built {info.built_at}, "
        f"{len(info.sources)} sources",
        highlight=False,
    )
