"""On-disk image sources: OCI layouts built in Python, archives written by skopeo (the real
tool), Docker `docker save` layouts, and hostile variants of each."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform as stdlib_platform
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.config import Settings
from shoal.errors import (
    DigestMismatch,
    LimitExceeded,
    NotFound,
    ShoalError,
    SourceError,
    UnsupportedManifest,
)
from shoal.image.source import ImageSource, ResolvedImage
from shoal.image.sources import (
    DockerArchiveSource,
    OciArchiveSource,
    OciLayoutSource,
    open_source,
    split_path_tag,
)
from shoal.image.sources.docker_archive import normalize_tag
from shoal.image.sources.files import open_tar
from shoal.oci.manifest import DOCKER_LAYER
from shoal.oci.types import DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_MANIFEST
from tests.support.images import BuiltImage, LayerSpec, OciLayoutBuilder, make_tar

LAYERS: list[LayerSpec] = [
    {"/etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"},
    {"/lib/apk/db/installed": b"P:musl\nV:1.2.4-r2\n\n"},
]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def cfg() -> Settings:
    return Settings()


def small(**limits: int) -> Settings:
    return Settings.model_validate({"limits": limits})


def skopeo(*args: str) -> None:
    if not shutil.which("skopeo"):
        pytest.fail("skopeo is not installed: run 'make test', which installs it")
    res = subprocess.run(
        ["skopeo", "copy", "--quiet", *args], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr


@pytest.fixture
def layout(tmp_path: Path) -> tuple[OciLayoutBuilder, BuiltImage]:
    b = OciLayoutBuilder(tmp_path / "layout")
    img = b.add_image(LAYERS, tag="v1", history=["ADD rootfs", "RUN apk add musl"])
    return b, img


def fetch_all(src: ImageSource, image: ResolvedImage, dest: Path) -> list[bytes]:
    out = []
    for i, desc in enumerate((image.manifest.config, *image.manifest.layers)):
        target = dest / f"blob{i}"
        src.fetch_blob(desc, target)
        out.append(target.read_bytes())
    return out


def layer_diff_ids(blobs: list[bytes]) -> list[str]:
    return [sha(gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b) for b in blobs]


# -- OCI image layout directory ---------------------------------------------------------


def test_layout_resolves_tagged_image_and_fetches_verified_blobs(
    layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path, cfg: Settings
) -> None:
    b, img = layout
    src = open_source(f"oci-dir:{b.path}:v1", cfg)
    assert isinstance(src, OciLayoutSource)
    assert src.reference == f"oci-dir:{b.path}:v1"
    [image] = src.resolve(None)
    assert image.manifest.digest == img.manifest_digest
    assert image.manifest.media_type == OCI_MANIFEST
    assert image.config.diff_ids == tuple(img.diff_ids)
    assert image.config.created_by() == ("ADD rootfs", "RUN apk add musl")
    assert str(image.config.platform) == "linux/amd64"
    assert image.index_digest is None
    blobs = fetch_all(src, image, tmp_path)
    assert json.loads(blobs[0]) == img.config
    assert layer_diff_ids(blobs[1:]) == img.diff_ids


def test_layout_plain_directory_path_with_single_image(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings
) -> None:
    b, img = layout
    src = open_source(str(b.path), cfg)
    assert isinstance(src, OciLayoutSource)
    assert src.resolve(None)[0].manifest.digest == img.manifest_digest


def test_layout_multi_platform_index(
    tmp_path: Path, cfg: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = OciLayoutBuilder(tmp_path / "multi")
    amd = b.build_image(LAYERS, architecture="amd64")
    arm = b.build_image(LAYERS[:1], architecture="arm64", variant="v8")
    index_digest = b.add_index([amd, arm], tag="latest")
    src = open_source(f"oci-dir:{b.path}:latest", cfg)

    monkeypatch.setattr(stdlib_platform, "machine", lambda: "aarch64")
    [image] = src.resolve(None)
    assert image.manifest.digest == arm.manifest_digest
    assert image.index_digest == index_digest
    assert [i.manifest.digest for i in src.resolve("all")] == [
        amd.manifest_digest,
        arm.manifest_digest,
    ]
    assert src.resolve("linux/amd64")[0].config.diff_ids == tuple(amd.diff_ids)
    with pytest.raises(NotFound, match=r"available: linux/amd64, linux/arm64/v8"):
        src.resolve("linux/ppc64le")


def test_layout_tag_selection_errors_list_tags(tmp_path: Path, cfg: Settings) -> None:
    b = OciLayoutBuilder(tmp_path / "tags")
    b.add_image(LAYERS, tag="v1")
    b.add_image(LAYERS[:1], tag="v2")
    with pytest.raises(SourceError, match=r"holds 2 images, pick one with :TAG; tags: v1, v2$"):
        open_source(str(b.path), cfg).resolve(None)
    with pytest.raises(SourceError, match=r"index.json: no image tagged 'v3'; tags: v1, v2$"):
        open_source(f"oci-dir:{b.path}:v3", cfg).resolve(None)
    assert len(open_source(f"oci:{b.path}:v2", cfg).resolve(None)[0].manifest.layers) == 1


def test_layout_same_image_under_two_tags_is_one_image(tmp_path: Path, cfg: Settings) -> None:
    b = OciLayoutBuilder(tmp_path / "twotags")
    img = b.add_image(LAYERS, tag="v1")
    b.add_image(LAYERS, tag="latest")  # same content, same digest
    assert open_source(str(b.path), cfg).resolve(None)[0].manifest.digest == img.manifest_digest


def test_layout_single_manifest_platform_mismatch(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings
) -> None:
    b, _ = layout
    src = open_source(f"oci-dir:{b.path}:v1", cfg)
    with pytest.raises(NotFound, match=r"image is for linux/amd64, not linux/arm64/v8"):
        src.resolve("linux/arm64")
    assert len(src.resolve("linux/amd64")) == 1


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda p: (p / "oci-layout").unlink(), SourceError, r"oci-layout: missing"),
        (
            lambda p: (p / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}'),
            SourceError,
            r"oci-layout: unsupported imageLayoutVersion '2.0.0'",
        ),
        (lambda p: (p / "oci-layout").write_text("{"), SourceError, r"oci-layout: malformed JSON"),
        (lambda p: (p / "index.json").unlink(), SourceError, r"index.json: missing"),
        (
            lambda p: (p / "index.json").write_text('{"schemaVersion": 2, "manifests": {}}'),
            SourceError,
            r"index.json: 'manifests' must be an array",
        ),
        (
            lambda p: (p / "index.json").write_text('{"schemaVersion": 2, "manifests": []}'),
            SourceError,
            r"index.json: holds no images",
        ),
    ],
)
def test_layout_structure_errors(
    layout: tuple[OciLayoutBuilder, BuiltImage],
    cfg: Settings,
    damage: Callable[[Path], Any],
    error: type[Exception],
    message: str,
) -> None:
    b, _ = layout
    damage(b.path)
    with pytest.raises(error, match=message) as exc:
        open_source(f"oci-dir:{b.path}", cfg).resolve(None)
    assert str(b.path) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_layout_huge_index_json_is_refused_before_parsing(
    layout: tuple[OciLayoutBuilder, BuiltImage],
) -> None:
    b, _ = layout
    index = json.loads((b.path / "index.json").read_text())
    index["annotations"] = {"padding": "x" * 5000}
    (b.path / "index.json").write_text(json.dumps(index))
    with pytest.raises(SourceError, match=r"index.json is \d+ bytes, over the limit of 4096"):
        open_source(str(b.path), small(manifest_bytes=4096)).resolve(None)


def test_layout_missing_blob_names_the_file(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings
) -> None:
    b, img = layout
    hexpart = img.config["rootfs"]["diff_ids"][0]  # not a blob: pick the manifest's config
    cfg_digest = img.manifest["config"]["digest"]
    (b.path / "blobs" / "sha256" / cfg_digest.split(":")[1]).unlink()
    with pytest.raises(SourceError, match=rf"blob {cfg_digest} missing \(blobs/sha256/"):
        open_source(str(b.path), cfg).resolve(None)
    assert hexpart  # the config named the diff_ids we built


def test_layout_tampered_manifest_is_a_digest_mismatch(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings
) -> None:
    b, img = layout
    path = b.path / "blobs" / "sha256" / img.manifest_digest.split(":")[1]
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(DigestMismatch, match=rf"{img.manifest_digest}: .* is 579 bytes"):
        open_source(str(b.path), cfg).resolve(None)
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":  2', b'"schemaVersion": 3'))
    with pytest.raises(DigestMismatch, match=r"content does not match its descriptor"):
        open_source(str(b.path), cfg).resolve(None)


def test_layout_tampered_layer_fails_fetch_and_removes_dest(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings, tmp_path: Path
) -> None:
    b, _ = layout
    src = open_source(str(b.path), cfg)
    [image] = src.resolve(None)
    layer = image.manifest.layers[0]
    blob = b.path / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(DigestMismatch, match=r"content hashes to sha256:"):
        src.fetch_blob(layer, dest)
    assert not dest.exists()
    blob.write_bytes(bytes(data) + b"more")
    with pytest.raises(DigestMismatch, match=r"bytes, not"):
        src.fetch_blob(layer, dest)
    assert not dest.exists()


def test_layout_symlinked_blob_escaping_the_layout_is_refused(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings, tmp_path: Path
) -> None:
    b, img = layout
    secret = tmp_path / "secret"
    secret.write_text("root:x:0:0")
    blob = b.path / "blobs" / "sha256" / img.manifest_digest.split(":")[1]
    blob.unlink()
    blob.symlink_to(secret)
    with pytest.raises(SourceError, match=r"symlink leads outside"):
        open_source(str(b.path), cfg).resolve(None)


def test_layout_blob_that_is_a_fifo_is_refused(
    layout: tuple[OciLayoutBuilder, BuiltImage], cfg: Settings
) -> None:
    b, img = layout
    blob = b.path / "blobs" / "sha256" / img.manifest_digest.split(":")[1]
    blob.unlink()
    os.mkfifo(blob)
    with pytest.raises(SourceError, match=r"missing|not a regular file"):
        open_source(str(b.path), cfg).resolve(None)


def test_layout_holding_an_artifact_is_unsupported(tmp_path: Path, cfg: Settings) -> None:
    b = OciLayoutBuilder(tmp_path / "helm")
    chart_cfg = b.write_blob(b'{"name":"mychart","version":"0.1.0"}')
    chart = b.write_blob(b"chart-bytes")
    manifest = {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": chart_cfg,
            "size": 36,
        },
        "layers": [
            {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "digest": chart,
                "size": 11,
            }
        ],
    }
    raw = json.dumps(manifest).encode()
    b._tag(b.write_blob(raw), len(raw), OCI_MANIFEST, "0.1.0")
    with pytest.raises(UnsupportedManifest, match=r"helm.config.v1\+json"):
        open_source(str(b.path), cfg).resolve(None)


# -- OCI archive ---------------------------------------------------------------------------


def test_oci_archive_written_by_skopeo(
    layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path, cfg: Settings
) -> None:
    b, img = layout
    archive = tmp_path / "image.tar"
    skopeo(f"oci:{b.path}:v1", f"oci-archive:{archive}:v1")
    for spec in (f"oci-archive:{archive}:v1", f"oci-archive:{archive}", str(archive)):
        src = open_source(spec, cfg)
        assert isinstance(src, OciArchiveSource)
        [image] = src.resolve(None)
        assert image.config.diff_ids == tuple(img.diff_ids)
        assert layer_diff_ids(fetch_all(src, image, tmp_path)[1:]) == img.diff_ids
        src.close()


def test_oci_archive_compressed_with_gzip(
    layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path, cfg: Settings
) -> None:
    b, img = layout
    archive = tmp_path / "image.tar"
    skopeo(f"oci:{b.path}:v1", f"oci-archive:{archive}:v1")
    gz = tmp_path / "image.tar.gz"
    gz.write_bytes(gzip.compress(archive.read_bytes()))
    src = open_source(f"oci-archive:{gz}", cfg)
    [image] = src.resolve(None)
    assert layer_diff_ids(fetch_all(src, image, tmp_path)[1:]) == img.diff_ids
    src.close()
    with pytest.raises(LimitExceeded, match=r"decompresses to more than 1000 bytes"):
        open_source(f"oci-archive:{gz}", small(image_bytes=1000))


def test_oci_archive_compressed_with_zstd(
    layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path, cfg: Settings
) -> None:
    b, img = layout
    archive = tmp_path / "image.tar"
    skopeo(f"oci:{b.path}:v1", f"oci-archive:{archive}:v1")
    zst = tmp_path / "image.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(archive.read_bytes()))
    src = open_source(str(zst), cfg)
    assert isinstance(src, OciArchiveSource)
    [image] = src.resolve(None)
    assert image.config.diff_ids == tuple(img.diff_ids)
    src.close()


def tar_with(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                ti = tarfile.TarInfo(e[0])
                ti.size = len(e[1])
                tf.addfile(ti, io.BytesIO(e[1]))
    return buf.getvalue()


def symlink(name: str, target: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.SYMTYPE
    ti.linkname = target
    return ti


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("../evil", b"x"), r"'../evil' escapes the image root"),
        (("blobs/../../evil", b"x"), r"escapes the image root"),
        (("/etc/passwd", b"x"), r"absolute path '/etc/passwd' refused"),
        (symlink("blobs/sha256/aa", "../../../etc/passwd"), r"escapes the image root"),
        (symlink("blobs/sha256/aa", "/etc/passwd"), r"links to absolute '/etc/passwd'"),
    ],
)
def test_oci_archive_hostile_member_names(
    tmp_path: Path, cfg: Settings, entry: tarfile.TarInfo | tuple[str, bytes], message: str
) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_with([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), entry]))
    with pytest.raises(SourceError, match=message) as exc:
        open_source(f"oci-archive:{archive}", cfg)
    assert str(archive) in str(exc.value)


def test_oci_archive_that_is_not_a_tar(tmp_path: Path, cfg: Settings) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x01" * 2000)
    with pytest.raises(SourceError, match=r"junk.tar: not a readable tar archive"):
        open_source(f"oci-archive:{junk}", cfg)
    bad_gz = tmp_path / "bad.tar.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(SourceError, match=r"bad.tar.gz: corrupt compressed archive"):
        open_source(f"oci-archive:{bad_gz}", cfg)


def test_oci_archive_truncated_blob_is_caught(
    layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path, cfg: Settings
) -> None:
    b, _ = layout
    archive = tmp_path / "image.tar"
    skopeo(f"oci:{b.path}:v1", f"oci-archive:{archive}:v1")
    data = archive.read_bytes()
    # Drop the end-of-archive blocks and the tail of the last member.
    (tmp_path / "cut.tar").write_bytes(data[: len(data) - 2048 - 100])
    with pytest.raises(ShoalError):
        src = open_source(f"oci-archive:{tmp_path / 'cut.tar'}", cfg)
        [image] = src.resolve(None)
        fetch_all(src, image, tmp_path)


def test_oci_archive_too_many_members(tmp_path: Path) -> None:
    archive = tmp_path / "many.tar"
    archive.write_bytes(tar_with([(f"f{i}", b"") for i in range(20)]))
    with pytest.raises(LimitExceeded, match=r"more than 10 tar members"):
        open_source(f"oci-archive:{archive}", small(layer_entries=10))


# -- docker save archives ----------------------------------------------------------------


@pytest.fixture
def docker_archive(layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path) -> Path:
    b, _ = layout
    archive = tmp_path / "docker.tar"
    skopeo(
        "--additional-tag",
        "registry.example:5000/team/app:2",
        f"oci:{b.path}:v1",
        f"docker-archive:{archive}:app:v1",
    )
    return archive


def test_docker_archive_written_by_skopeo(
    docker_archive: Path, layout: tuple[OciLayoutBuilder, BuiltImage], tmp_path: Path, cfg: Settings
) -> None:
    _, img = layout
    src = open_source(f"docker-archive:{docker_archive}:app:v1", cfg)
    assert isinstance(src, DockerArchiveSource)
    [image] = src.resolve(None)
    assert src.repo_tags == ("docker.io/library/app:v1", "registry.example:5000/team/app:2")
    m = image.manifest
    assert m.media_type == DOCKER_MANIFEST
    assert m.digest == sha(m.raw)
    assert [x.media_type for x in m.layers] == [DOCKER_LAYER, DOCKER_LAYER]
    # uncompressed layers: blob digest == diff_id, as for a registry image's config
    assert [x.digest for x in m.layers] == img.diff_ids
    assert image.config.diff_ids == tuple(img.diff_ids)
    assert image.config.created_by() == ("ADD rootfs", "RUN apk add musl")
    blobs = fetch_all(src, image, tmp_path)
    assert sha(blobs[0]) == image.config.digest
    assert layer_diff_ids(blobs[1:]) == img.diff_ids


@pytest.mark.parametrize(
    "tag",
    [None, "app:v1", "docker.io/library/app:v1", "registry.example:5000/team/app:2", "@0"],
)
def test_docker_archive_tag_forms(docker_archive: Path, cfg: Settings, tag: str | None) -> None:
    spec = f"docker-archive:{docker_archive}" + (f":{tag}" if tag else "")
    assert len(open_source(spec, cfg).resolve(None)) == 1


def test_docker_archive_unknown_tag_lists_tags(docker_archive: Path, cfg: Settings) -> None:
    with pytest.raises(SourceError, match=r"no image tagged 'app:v9'; tags: docker.io/library"):
        open_source(f"docker-archive:{docker_archive}:app:v9", cfg).resolve(None)
    with pytest.raises(SourceError, match=r"no image @3; it holds 1"):
        open_source(f"docker-archive:{docker_archive}:@3", cfg).resolve(None)


def test_docker_archive_is_sniffed_from_a_plain_path(docker_archive: Path, cfg: Settings) -> None:
    assert isinstance(open_source(str(docker_archive), cfg), DockerArchiveSource)


def test_docker_archive_extracted_directory(
    docker_archive: Path, tmp_path: Path, cfg: Settings
) -> None:
    out = tmp_path / "extracted"
    with tarfile.open(docker_archive) as tf:
        tf.extractall(out, filter="data")
    src = open_source(str(out), cfg)
    assert isinstance(src, DockerArchiveSource)
    [image] = src.resolve(None)
    assert len(fetch_all(src, image, tmp_path)) == 3


def docker_legacy_tar(layers: list[bytes], *, config: dict[str, Any] | None = None) -> bytes:
    """The layout `docker save` wrote before Docker 25: `<id>/layer.tar`, `<hex>.json`."""
    diff_ids = [sha(gzip.decompress(x) if x[:2] == b"\x1f\x8b" else x) for x in layers]
    cfg_doc = config or {
        "architecture": "arm64",
        "variant": "v8",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"step {i}"} for i in range(len(layers))],
    }
    cfg_bytes = json.dumps(cfg_doc).encode()
    cfg_name = sha(cfg_bytes).split(":")[1] + ".json"
    ids = [hashlib.sha256(f"v1-{i}".encode()).hexdigest() for i in range(len(layers))]
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = []
    for i, layer in zip(ids, layers, strict=True):
        entries += [(f"{i}/VERSION", b"1.0"), (f"{i}/json", b"{}"), (f"{i}/layer.tar", layer)]
    entries.append((cfg_name, cfg_bytes))
    manifest = [
        {
            "Config": cfg_name,
            "RepoTags": ["busybox:1.36"],
            "Layers": [f"{i}/layer.tar" for i in ids],
        }
    ]
    entries.append(("manifest.json", json.dumps(manifest).encode()))
    entries.append(("repositories", b'{"busybox":{"1.36":"x"}}'))
    return tar_with(entries)


def test_docker_legacy_layout_with_a_gzip_layer(tmp_path: Path, cfg: Settings) -> None:
    plain = make_tar(LAYERS[0])
    zipped = gzip.compress(make_tar(LAYERS[1]), mtime=0)
    archive = tmp_path / "legacy.tar"
    archive.write_bytes(docker_legacy_tar([plain, zipped]))
    src = open_source(str(archive), cfg)
    [image] = src.resolve(None)
    assert str(image.config.platform) == "linux/arm64/v8"
    first, second = image.manifest.layers
    assert (first.media_type, first.digest, first.size) == (DOCKER_LAYER, sha(plain), len(plain))
    # compressed layer.tar found by magic; its digest is what its bytes hash to
    assert (second.media_type, second.digest) == (DOCKER_LAYER_GZIP, sha(zipped))
    blobs = fetch_all(src, image, tmp_path)
    assert blobs[1:] == [plain, zipped]
    with pytest.raises(NotFound, match=r"image is for linux/arm64/v8, not linux/amd64"):
        src.resolve("linux/amd64")


def test_docker_layer_count_mismatch(tmp_path: Path, cfg: Settings) -> None:
    plain = make_tar(LAYERS[0])
    config = {"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []}}
    archive = tmp_path / "mismatch.tar"
    archive.write_bytes(docker_legacy_tar([plain], config=config))
    with pytest.raises(SourceError, match=r"lists 1 layers but config sha256:\w+ has 0 diff_ids"):
        open_source(str(archive), cfg).resolve(None)


def test_docker_layer_not_matching_its_diff_id(tmp_path: Path, cfg: Settings) -> None:
    plain = make_tar(LAYERS[0])
    other = make_tar(LAYERS[1])
    config = {
        "os": "linux",
        "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [sha(other)]},
    }
    archive = tmp_path / "forged.tar"
    archive.write_bytes(docker_legacy_tar([plain], config=config))
    src = open_source(str(archive), cfg)
    [image] = src.resolve(None)
    with pytest.raises(DigestMismatch, match=r"layer.tar: blob sha256:"):
        src.fetch_blob(image.manifest.layers[0], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_docker_config_not_matching_its_name(tmp_path: Path, cfg: Settings) -> None:
    name = "a" * 64 + ".json"
    cfg_bytes = b'{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}'
    manifest: list[dict[str, Any]] = [{"Config": name, "RepoTags": None, "Layers": []}]
    archive = tmp_path / "cfg.tar"
    archive.write_bytes(
        tar_with([(name, cfg_bytes), ("manifest.json", json.dumps(manifest).encode())])
    )
    with pytest.raises(DigestMismatch, match=r"not the name's digest"):
        open_source(str(archive), cfg).resolve(None)


def docker25_tar(
    tmp_path: Path, *, other_platform: bool = False, index_json: bytes | None = None
) -> tuple[bytes, BuiltImage, str | None]:
    """Docker 25+ with the containerd store: an OCI layout plus manifest.json pointing into
    blobs/sha256 (layers gzip-compressed). With `other_platform`, the tag names a
    multi-platform index whose arm64 manifest `docker save` did not include."""
    b = OciLayoutBuilder(tmp_path / "d25")
    img = b.build_image(LAYERS, architecture="amd64")
    index_digest = None
    if other_platform:
        arm = b.build_image(LAYERS[:1], architecture="arm64", variant="v8")
        index_digest = b.add_index([img, arm], tag="3.19")
        (b.path / "blobs" / "sha256" / arm.manifest_digest.split(":")[1]).unlink()
    else:
        b._tag(img.manifest_digest, len(img.manifest_bytes), OCI_MANIFEST, "3.19")
    index = json.loads((b.path / "index.json").read_text())
    index["manifests"][0]["annotations"] = {
        "io.containerd.image.name": "docker.io/library/alpine:3.19",
        "org.opencontainers.image.ref.name": "3.19",
    }
    manifest = [
        {
            "Config": "blobs/sha256/" + img.manifest["config"]["digest"].split(":")[1],
            "RepoTags": ["alpine:3.19"],
            "Layers": ["blobs/sha256/" + d.split(":")[1] for d in img.layer_digests],
        }
    ]
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = [
        ("oci-layout", (b.path / "oci-layout").read_bytes()),
        ("index.json", index_json if index_json is not None else json.dumps(index).encode()),
        ("manifest.json", json.dumps(manifest).encode()),
        ("repositories", b"{}"),
    ]
    for blob in sorted((b.path / "blobs" / "sha256").iterdir()):
        entries.append((f"blobs/sha256/{blob.name}", blob.read_bytes()))
    return tar_with(entries), img, index_digest


@pytest.mark.parametrize("other_platform", [False, True])
def test_docker25_archive_uses_the_real_manifest(
    tmp_path: Path, cfg: Settings, other_platform: bool
) -> None:
    data, img, index_digest = docker25_tar(tmp_path, other_platform=other_platform)
    archive = tmp_path / "d25.tar"
    archive.write_bytes(data)
    src = open_source(str(archive), cfg)
    assert isinstance(src, DockerArchiveSource)  # manifest.json wins: it has the RepoTags
    [image] = src.resolve(None)
    assert src.repo_tags == ("alpine:3.19",)
    assert image.manifest.digest == img.manifest_digest
    assert image.manifest.media_type == OCI_MANIFEST
    assert image.index_digest == index_digest
    assert [x.digest for x in image.manifest.layers] == img.layer_digests
    assert layer_diff_ids(fetch_all(src, image, tmp_path)[1:]) == img.diff_ids
    as_oci = open_source(f"oci-archive:{archive}:docker.io/library/alpine:3.19", cfg)
    assert as_oci.resolve("linux/amd64")[0].manifest.digest == img.manifest_digest


def test_docker25_archive_with_broken_oci_index_builds_a_manifest(
    tmp_path: Path, cfg: Settings
) -> None:
    data, img, _ = docker25_tar(tmp_path, index_json=b"{not json")
    archive = tmp_path / "d25.tar"
    archive.write_bytes(data)
    src = open_source(f"docker-archive:{archive}", cfg)
    [image] = src.resolve(None)
    assert image.manifest.media_type == DOCKER_MANIFEST
    assert image.manifest.digest != img.manifest_digest
    assert [x.digest for x in image.manifest.layers] == img.layer_digests
    assert {x.media_type for x in image.manifest.layers} == {DOCKER_LAYER_GZIP}
    assert layer_diff_ids(fetch_all(src, image, tmp_path)[1:]) == img.diff_ids


@pytest.mark.parametrize(
    ("manifest_json", "message"),
    [
        (b"{}", r"manifest.json: expected an array of images"),
        (b"[]", r"manifest.json: holds no images"),
        (b"[1]", r"\[0\] must be an object"),
        (b'[{"Config": 1, "Layers": []}]', r"\[0\].Config must be a file name"),
        (b'[{"Config": "c", "Layers": "x"}]', r"\[0\].Layers must be an array"),
        (b'[{"Config": "c", "Layers": [], "RepoTags": [1]}]', r"\[0\].RepoTags"),
        (b'[{"Config": "../../c", "Layers": []}]', r"escapes the image root"),
        (b'[{"Config": "c", "Layers": []}]', r"c: config missing from archive"),
        (b"[{", r"manifest.json: malformed JSON"),
    ],
)
def test_docker_manifest_json_errors(
    tmp_path: Path, cfg: Settings, manifest_json: bytes, message: str
) -> None:
    archive = tmp_path / "bad.tar"
    archive.write_bytes(tar_with([("manifest.json", manifest_json)]))
    with pytest.raises(SourceError, match=message) as exc:
        open_source(f"docker-archive:{archive}", cfg).resolve(None)
    assert "\n" not in str(exc.value)


def test_docker_archive_with_two_images_needs_a_tag(tmp_path: Path, cfg: Settings) -> None:
    one = json.loads(tar_member(docker_legacy_tar([make_tar(LAYERS[0])]), "manifest.json"))[0]
    two = dict(one, RepoTags=["busybox:latest"])
    data = docker_legacy_tar([make_tar(LAYERS[0])])
    archive = tmp_path / "two.tar"
    archive.write_bytes(replace_member(data, "manifest.json", json.dumps([one, two]).encode()))
    with pytest.raises(SourceError, match=r"holds 2 images, pick one with :TAG or :@N"):
        open_source(str(archive), cfg).resolve(None)
    src = open_source(f"docker-archive:{archive}:busybox", cfg)
    assert isinstance(src, DockerArchiveSource)
    src.resolve(None)
    assert src.repo_tags == ("busybox:latest",)


def tar_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        f = tf.extractfile(name)
        assert f is not None
        return f.read()


def replace_member(data: bytes, name: str, content: bytes) -> bytes:
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for ti in tf:
            f = tf.extractfile(ti)
            entries.append((ti.name, content if ti.name == name else (f.read() if f else b"")))
    return tar_with(entries)


@pytest.mark.parametrize(
    ("given_tag", "normal"),
    [
        ("app", "docker.io/library/app:latest"),
        ("app:1", "docker.io/library/app:1"),
        ("team/app:1", "docker.io/team/app:1"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("quay.io/x/y:2", "quay.io/x/y:2"),
        ("index.docker.io/library/app:1", "docker.io/library/app:1"),
    ],
)
def test_normalize_tag(given_tag: str, normal: str) -> None:
    assert normalize_tag(given_tag) == normal


# -- open_source ---------------------------------------------------------------------------


def test_registry_references_go_to_registry_source(cfg: Settings) -> None:
    from shoal.oci.registry_source import RegistrySource

    for spec in ("registry:127.0.0.1:5000/app:1", "docker://127.0.0.1:5000/app:1"):
        src = open_source(spec, cfg, insecure=True)
        assert isinstance(src, RegistrySource)
        assert "127.0.0.1:5000/app:1" in src.reference
        src.close()
    src = open_source("alpine:3.19", cfg)
    assert isinstance(src, RegistrySource)
    src.close()


def test_paths_that_do_not_exist(cfg: Settings, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope.tar: no such file or directory"):
        open_source(str(tmp_path / "nope.tar"), cfg)
    with pytest.raises(SourceError, match=r"no such file or directory"):
        open_source(f"oci-archive:{tmp_path}/missing.tar:v1", cfg)
    with pytest.raises(SourceError, match=r"missing path"):
        open_source("oci-dir:", cfg)


def test_path_with_colons_and_tag(tmp_path: Path) -> None:
    odd = tmp_path / "a:b.tar"
    odd.write_bytes(b"")
    assert split_path_tag(f"{odd}") == (odd, None)
    assert split_path_tag(f"{odd}:app:1") == (odd, "app:1")
    assert split_path_tag(f"{odd}:") == (odd, None)


def test_unrecognised_directory_and_tar(tmp_path: Path, cfg: Settings) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"neither an OCI layout nor an extracted docker"):
        open_source(str(tmp_path / "empty"), cfg)
    t = tmp_path / "other.tar"
    t.write_bytes(tar_with([("hello.txt", b"hi")]))
    with pytest.raises(SourceError, match=r"tar holds neither manifest.json nor oci-layout"):
        open_source(str(t), cfg)


# -- fuzzing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Config",
                    "Layers",
                    "RepoTags",
                    "LayerSources",
                    "schemaVersion",
                    "manifests",
                    "mediaType",
                    "digest",
                    "size",
                    "annotations",
                ]
            ),
            c,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=100),
    manifest_json=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=100),
)
def test_fuzz_archives_fail_cleanly(index: bytes, manifest_json: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "fuzz.tar"
        archive.write_bytes(
            tar_with(
                [
                    ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                    ("index.json", index),
                    ("manifest.json", manifest_json),
                ]
            )
        )
        for spec in (f"oci-archive:{archive}", f"docker-archive:{archive}"):
            try:
                src = open_source(spec, Settings())
                src.resolve(None)
            except ShoalError as e:
                assert "\n" not in str(e)


member_names = st.lists(
    st.text(alphabet="./ab\\:", min_size=1, max_size=12), min_size=1, max_size=6
)


@settings(max_examples=200, deadline=None)
@given(names=member_names, links=member_names)
def test_fuzz_member_names_never_escape(names: list[str], links: list[str]) -> None:
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = [(n, b"x") for n in names]
    entries += [symlink(f"l{i}", target) for i, target in enumerate(links)]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "names.tar"
        archive.write_bytes(tar_with(entries))
        try:
            tree = open_tar(archive, Settings())
        except SourceError as e:
            assert "\n" not in str(e)
            return
        for i in range(len(links)):
            # A link resolves to a member of the archive or to nothing, never to a host file.
            if tree.exists(f"l{i}"):
                assert tree.read(f"l{i}", 10) == b"x"
        tree.close()
