"""Every command's --help renders (help texts are plain text, never markup)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shoal.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["sbom"],
        ["scan"],
        ["db"],
        ["db", "update"],
        ["db", "status"],
        ["db", "export"],
        ["db", "import"],
    ],
)
def test_help(args: list[str]) -> None:
    res = runner.invoke(app, [*args, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output
