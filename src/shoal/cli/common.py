"""What `shoal sbom` and `shoal scan` share: the image options and the analysis call."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from shoal.errors import ConfigError

if TYPE_CHECKING:
    from shoal.config import Settings
    from shoal.model import Sbom

Platform = Annotated[
    str | None,
    typer.Option(help="os/arch[/variant] to pick from a multi-platform image, or 'all'."),
]
Output = Annotated[
    Path | None, typer.Option("--output", "--file", help="Write here instead of stdout.")
]
Username = Annotated[str | None, typer.Option(help="Registry user name.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the registry password from stdin.")
]
Insecure = Annotated[
    bool, typer.Option(help="Allow plain HTTP to this registry (loopback always may).")
]
ConfigFile = Annotated[Path | None, typer.Option(help="TOML settings file.")]


def analyze_image(
    image: str,
    settings: Settings,
    *,
    platform: str | None,
    username: str | None,
    password_stdin: bool,
    insecure: bool,
    console: Console,
) -> list[Sbom]:
    """Analyse `image` (any source) into one SBOM per platform, with layer progress on a
    terminal. The password, if any, is read from stdin and never echoed or logged."""
    from shoal.cli.progress import RichLayerProgress
    from shoal.image.analyze import Analyzer
    from shoal.image.sources import open_source

    if password_stdin and not username:
        raise ConfigError("--password-stdin needs --username")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    progress = RichLayerProgress(console) if console.is_terminal else None
    source = open_source(image, settings, username=username, password=password, insecure=insecure)
    try:
        with progress if progress else nullcontext():
            return Analyzer(settings, progress=progress).analyze(source, platform)
    finally:
        source.close()
