"""`shoal sbom` end to end: images built from real package data, pushed with skopeo to
the real Distribution registry, analysed through the registry client."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoal.cli.main import app
from shoal.config import load_settings
from shoal.errors import LimitExceeded
from shoal.image.analyze import Analyzer
from shoal.image.sources import open_source
from tests.integration.conftest import real_dist_info, real_dpkg_status
from tests.support.images import Entry, OciLayoutBuilder, push
from tests.support.registry import Registry

pytestmark = pytest.mark.integration
runner = CliRunner()


def sbom_json(args: list[str]) -> dict:  # type: ignore[type-arg]
    res = runner.invoke(app, ["sbom", *args, "-o", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def debian_app(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[str]]:
    """Three layers: a Debian base, pip installs plus apt installs, then a pip uninstall."""
    b = OciLayoutBuilder(tmp_path_factory.mktemp("debian-app"))
    os_release = Path("/usr/lib/os-release").read_bytes()
    base = [
        Entry("usr/lib/os-release", os_release),
        Entry("etc/os-release", type="symlink", target="../usr/lib/os-release"),
        Entry("var/lib/dpkg/status", real_dpkg_status(0, 20)),
    ]
    wheels = real_dist_info("httpx", "rich", "PyYAML")
    app_layer = {"/var/lib/dpkg/status": real_dpkg_status(0, 30), **wheels}
    uninstall = [
        Entry(
            "usr/local/lib/python3.11/site-packages/.wh."
            + next(Path(p).parent.name for p in wheels if "PyYAML" in p or "pyyaml" in p.lower())
        )
    ]
    img = b.add_image(
        [base, app_layer, uninstall],
        tag="v1",
        history=[
            "FROM debian:bookworm",
            "RUN apt-get install && pip install",
            "RUN pip uninstall pyyaml",
        ],
    )
    ref = f"{registry.host}/debian/app:v1"
    push(b.path, "v1", ref)
    return ref, img.diff_ids


def test_sbom_lists_os_and_python_packages_with_layers(debian_app: tuple[str, list[str]]) -> None:
    ref, diff_ids = debian_app
    doc = sbom_json([ref])
    pkgs = doc["packages"]
    debs = [p for p in pkgs if p["type"] == "deb"]
    py = {p["name"].lower(): p for p in pkgs if p["type"] == "python"}
    assert len(debs) == 30
    assert set(py) == {"httpx", "rich"}  # pyyaml was uninstalled in the last layer
    first20 = real_dpkg_status(0, 20).decode()
    for p in debs:
        introduced = diff_ids[0] if f"Package: {p['name']}\n" in first20 else diff_ids[1]
        assert p["layer"] == introduced, p["name"]
    assert py["httpx"]["layerCreatedBy"] == "RUN apt-get install && pip install"
    assert doc["distro"]["id"] == "debian"
    assert all(p["purl"].startswith("pkg:deb/debian/") for p in debs)


def test_second_run_uses_the_layer_cache(debian_app: tuple[str, list[str]]) -> None:
    ref, _ = debian_app
    settings = load_settings()
    first = Analyzer(settings)
    src = open_source(ref, settings)
    (a,) = first.analyze(src)
    src.close()
    assert first.stats["layers_scanned"] == 3
    again = Analyzer(settings)
    src = open_source(ref, settings)
    (b,) = again.analyze(src)
    src.close()
    assert again.stats == {"layers_cached": 3, "layers_scanned": 0, "bytes_fetched": 0}
    assert [p.purl for p in a.packages] == [p.purl for p in b.packages]


def test_multi_platform_index_all_platforms_share_layers(
    registry: Registry, tmp_path: Path
) -> None:
    b = OciLayoutBuilder(tmp_path / "multi")
    shared = {"/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes()}
    amd = b.build_image([shared, real_dist_info("httpx")], architecture="amd64")
    arm = b.build_image([shared, real_dist_info("rich")], architecture="arm64", variant="v8")
    b.add_index([amd, arm], tag="multi")
    ref = f"{registry.host}/multi/app:1"
    push(b.path, "multi", ref, all_platforms=True)

    settings = load_settings()
    an = Analyzer(settings)
    src = open_source(ref, settings)
    sboms = an.analyze(src, "all")
    src.close()
    assert {str(s.image.platform) for s in sboms} == {"linux/amd64", "linux/arm64/v8"}
    assert an.stats["layers_scanned"] == 3  # the shared base layer once
    by_plat = {str(s.image.platform): {p.name for p in s.packages} for s in sboms}
    assert by_plat["linux/amd64"] == {"httpx"}
    assert by_plat["linux/arm64/v8"] == {"rich"}
    assert all(s.image.index_digest for s in sboms)

    doc = sbom_json([ref, "--platform", "linux/arm64"])
    assert [p["name"] for p in doc["packages"]] == ["rich"]
    default = sbom_json([ref])  # host platform
    assert [p["name"] for p in default["packages"]] == ["httpx"]


def test_zstd_layers(registry: Registry, tmp_path: Path) -> None:
    b = OciLayoutBuilder(tmp_path / "z")
    b.add_image([real_dist_info("httpx")], tag="z", compression="zstd")
    ref = f"{registry.host}/zstd/app:1"
    push(b.path, "z", ref)
    assert [p["name"] for p in sbom_json([ref])["packages"]] == ["httpx"]


def test_basic_auth_with_password_stdin(auth_registry: Registry, tmp_path: Path) -> None:
    b = OciLayoutBuilder(tmp_path / "a")
    b.add_image([real_dist_info("rich")], tag="a")
    ref = f"{auth_registry.host}/private/app:1"
    push(b.path, "a", ref, creds="alice:wonderland-42")
    res = runner.invoke(
        app,
        ["sbom", ref, "-o", "json", "--username", "alice", "--password-stdin"],
        input="wonderland-42\n",
    )
    assert res.exit_code == 0, res.output
    assert [p["name"] for p in json.loads(res.stdout)["packages"]] == ["rich"]
    bad = runner.invoke(
        app, ["sbom", ref, "--username", "alice", "--password-stdin"], input="nope\n"
    )
    assert bad.exit_code == 2
    assert "nope" not in bad.output


def test_gzip_bomb_layer_is_refused(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 512 MiB of zeros in one tar entry, streamed through gzip: about 0.5 MB on the wire.
    blob, diff_id = _zero_bomb(512 << 20)
    assert len(blob) < 2_000_000
    b = OciLayoutBuilder(tmp_path / "bomb")
    b.add_image([{"/x": b"1"}], tag="bomb")
    _swap_layer(b, "bomb", blob, diff_id)
    ref = f"{registry.host}/bomb/app:1"
    push(b.path, "bomb", ref)
    monkeypatch.setenv("SHOAL_LIMITS__LAYER_BYTES", str(64 << 20))
    settings = load_settings()
    src = open_source(ref, settings)
    with pytest.raises(LimitExceeded, match="layer_bytes"):
        Analyzer(settings).analyze(src)
    src.close()
    res = runner.invoke(app, ["sbom", ref])
    assert res.exit_code == 2
    assert "decompression bomb" in res.stderr


def _zero_bomb(size: int) -> tuple[bytes, str]:
    out = io.BytesIO()
    sha = hashlib.sha256()
    gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0)

    class Tee(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data):  # type: ignore[no-untyped-def]
            sha.update(data)
            gz.write(data)
            return len(data)

    with tarfile.open(fileobj=Tee(), mode="w|") as tf:
        ti = tarfile.TarInfo("zeros")
        ti.size = size
        tf.addfile(ti, _Zeros(size))
    gz.close()
    return out.getvalue(), "sha256:" + sha.hexdigest()


def test_console_script_writes_a_file(debian_app: tuple[str, list[str]], tmp_path: Path) -> None:
    ref, _ = debian_app
    out = tmp_path / "sbom.cdx.json"
    res = subprocess.run(
        [str(Path(sys.executable).parent / "shoal"), "sbom", ref, "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert "packages" in res.stderr


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, b):  # type: ignore[no-untyped-def]
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def _swap_layer(b: OciLayoutBuilder, tag: str, blob: bytes, diff_id: str) -> None:
    """Replace the single layer of image `tag` with `blob`."""
    index = json.loads((b.path / "index.json").read_text())
    (desc,) = [
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag
    ]
    blobs = b.path / "blobs" / "sha256"
    manifest = json.loads((blobs / desc["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    config["rootfs"]["diff_ids"] = [diff_id]
    cfg = json.dumps(config).encode()
    manifest["config"].update(digest=b.write_blob(cfg), size=len(cfg))
    manifest["layers"][0].update(digest=b.write_blob(blob), size=len(blob))
    mb = json.dumps(manifest).encode()
    desc.update(digest=b.write_blob(mb), size=len(mb))
    (b.path / "index.json").write_text(json.dumps(index))
