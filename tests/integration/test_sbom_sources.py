"""Images on disk go through the same analysis path as registry images."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoal.cli.main import app
from tests.integration.conftest import real_dist_info, real_dpkg_status
from tests.support.images import OciLayoutBuilder

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    b = OciLayoutBuilder(tmp_path / "layout")
    base = {
        "/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes(),
        "/var/lib/dpkg/status": real_dpkg_status(0, 5),
    }
    b.add_image([base, real_dist_info("httpx")], tag="v1")
    return b.path


def names(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(p["name"] for p in doc["packages"])


def run(spec: str) -> dict:  # type: ignore[type-arg]
    res = runner.invoke(app, ["sbom", spec, "-o", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_oci_layout_directory(layout: Path) -> None:
    doc = run(f"oci-dir:{layout}:v1")
    assert len(doc["packages"]) == 6
    assert "httpx" in names(doc)


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_archives_written_by_skopeo(layout: Path, tmp_path: Path, transport: str) -> None:
    archive = tmp_path / f"{transport}.tar"
    dest = f"{transport}:{archive}" + (":app:v1" if transport == "docker-archive" else ":v1")
    subprocess.run(
        ["skopeo", "copy", "--quiet", f"oci:{layout}:v1", dest], check=True, capture_output=True
    )
    doc = run(f"{transport}:{archive}")
    assert names(doc) == names(run(f"oci-dir:{layout}:v1"))


def test_platform_all_writes_one_file_per_platform(tmp_path: Path) -> None:
    b = OciLayoutBuilder(tmp_path / "multi")
    amd = b.build_image([real_dist_info("httpx")], architecture="amd64")
    arm = b.build_image([real_dist_info("rich")], architecture="arm64", variant="v8")
    b.add_index([amd, arm], tag="m")
    out = tmp_path / "sbom.json"
    res = runner.invoke(
        app,
        ["sbom", f"oci-dir:{b.path}:m", "--platform", "all", "-o", "json", "--output", str(out)],
    )
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in tmp_path.glob("sbom-*.json"))
    assert files == ["sbom-linux-amd64.json", "sbom-linux-arm64-v8.json"]
    assert names(json.loads((tmp_path / "sbom-linux-arm64-v8.json").read_text())) == ["rich"]
    assert not list(tmp_path.glob("*.part"))


def test_unknown_path_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["sbom", f"oci-dir:{tmp_path}/missing"])
    assert res.exit_code == 2
    assert res.stderr.startswith("error:")
    assert len(res.stderr.strip().splitlines()) == 1
