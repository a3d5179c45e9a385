"""The `shoal` command line. Wiring only: parsing and rich output live here, the work is
done by `shoal.image`, `shoal.export` and friends."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from shoal import __version__
from shoal.cli import common
from shoal.config import load_settings
from shoal.errors import ShoalError

if TYPE_CHECKING:
    from shoal.export.base import Formatter
    from shoal.model import Sbom

app = typer.Typer(
    name="shoal",
    help="Open, exact and fast vulnerability assessment for container images and registries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say "os/arch[/variant]": not markup
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shoal {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


@app.command()
def sbom(
    image: Annotated[
        str,
        typer.Argument(
            help="Image reference (registry/repo:tag or @digest), or oci-dir:PATH[:TAG], "
            "oci-archive:PATH[:TAG], docker-archive:PATH[:TAG]."
        ),
    ],
    output_format: Annotated[
        str, typer.Option("--output-format", "-o", help="cyclonedx-json, spdx-json or json.")
    ] = "cyclonedx-json",
    platform: common.Platform = None,
    output: common.Output = None,
    username: common.Username = None,
    password_stdin: common.PasswordStdin = False,
    insecure: common.Insecure = False,
    config: common.ConfigFile = None,
) -> None:
    """Analyse an image into an SBOM listing every OS and language package."""
    from shoal.export import get_formatter

    try:
        settings = load_settings(config)
        formatter = get_formatter(output_format)
        sboms = common.analyze_image(
            image,
            settings,
            platform=platform,
            username=username,
            password_stdin=password_stdin,
            insecure=insecure,
            console=err,
        )
        _write(sboms, formatter, output)
        for s in sboms:
            err.print(
                f"[green]✓[/] {s.image.reference} {s.image.platform or ''}: "
                f"{len(s.packages)} packages"
                + (f", {len(s.unknowns)} unknowns" if s.unknowns else ""),
                highlight=False,
            )
    except ShoalError as e:
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _write(sboms: list[Sbom], formatter: Formatter, output: Path | None) -> None:
    """One document per platform: to stdout one after another, to files one each
    (``out.json`` -> ``out-linux-arm64-v8.json`` when there are several)."""
    if output is None:
        for s in sboms:
            formatter.write(s, sys.stdout.buffer)
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        return
    for s in sboms:
        path = output
        if len(sboms) > 1 and s.image.platform is not None:
            suffix = str(s.image.platform).replace("/", "-")
            path = output.with_name(f"{output.stem}-{suffix}{output.suffix}")
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as f:
            formatter.write(s, f)
        tmp.replace(path)  # never leave a half-written SBOM behind


from shoal.cli.scan import scan as _scan  # noqa: E402  (after `app` exists; scan imports no CLI state)

app.command(name="scan")(_scan)

from shoal.cli.db import db_app as _db_app  # noqa: E402  (sub-app; imports no CLI state)

app.add_typer(_db_app, name="db")

from shoal.cli.serve import serve as _serve  # noqa: E402  (the service; imports no CLI state)
from shoal.cli.serve import worker as _worker  # noqa: E402

app.command(name="serve")(_serve)
app.command(name="worker")(_worker)
