"""Build OCI images in Python (no Docker) and push them with skopeo.

layout = OciLayoutBuilder(tmp_path / "layout")
img = layout.add_image(
    [{"/etc/os-release": b"ID=debian\n", "/var/lib/dpkg/status": status}],
    tag="v1",
)
push(layout.path, "v1", f"{registry.host}/demo:v1")
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zstandard

Compression = Literal["gzip", "zstd", "none"]


@dataclass
class Entry:
    """A tar entry with full control: symlinks, hard links, dirs, whiteouts, modes."""

    path: str
    data: bytes = b""
    type: Literal["file", "dir", "symlink", "hardlink"] = "file"
    target: str = ""
    mode: int = 0o644


LayerSpec = Mapping[str, bytes] | Iterable[Entry]


def make_tar(spec: LayerSpec) -> bytes:
    entries = [Entry(p, d) for p, d in spec.items()] if isinstance(spec, Mapping) else list(spec)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.path.lstrip("/"))
            ti.mode = e.mode
            ti.mtime = 1_700_000_000
            if e.type == "file":
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
            elif e.type == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            elif e.type == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e.target
                tf.addfile(ti)
            else:
                ti.type = tarfile.LNKTYPE
                ti.linkname = e.target.lstrip("/")
                tf.addfile(ti)
    return buf.getvalue()


def compress(data: bytes, how: Compression) -> tuple[bytes, str]:
    if how == "gzip":
        return gzip.compress(
            data, compresslevel=1, mtime=0
        ), "application/vnd.oci.image.layer.v1.tar+gzip"
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(
            data
        ), "application/vnd.oci.image.layer.v1.tar+zstd"
    return data, "application/vnd.oci.image.layer.v1.tar"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class BuiltImage:
    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    diff_ids: list[str]
    layer_digests: list[str]
    manifest_bytes: bytes = field(repr=False, default=b"")


class OciLayoutBuilder:
    """Writes an OCI image layout directory (index.json, oci-layout, blobs/sha256)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        }
        self._save_index()

    def write_blob(self, data: bytes) -> str:
        d = _digest(data)
        (self.path / "blobs" / "sha256" / d.split(":")[1]).write_bytes(data)
        return d

    def _save_index(self) -> None:
        (self.path / "index.json").write_text(json.dumps(self.index))

    def build_image(
        self,
        layers: list[LayerSpec],
        *,
        compression: Compression = "gzip",
        os: str = "linux",
        architecture: str = "amd64",
        variant: str | None = None,
        history: list[str] | None = None,
    ) -> BuiltImage:
        descs, diff_ids, digests = [], [], []
        for spec in layers:
            raw = make_tar(spec)
            blob, media = compress(raw, compression)
            d = self.write_blob(blob)
            descs.append({"mediaType": media, "digest": d, "size": len(blob)})
            diff_ids.append(_digest(raw))
            digests.append(d)
        config: dict[str, Any] = {
            "created": "2024-01-01T00:00:00Z",
            "architecture": architecture,
            "os": os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {
                    "created": "2024-01-01T00:00:00Z",
                    "created_by": (history[i] if history else f"layer {i}"),
                }
                for i in range(len(layers))
            ],
        }
        if variant:
            config["variant"] = variant
        cfg_bytes = json.dumps(config).encode()
        cfg_digest = self.write_blob(cfg_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cfg_digest,
                "size": len(cfg_bytes),
            },
            "layers": descs,
        }
        mbytes = json.dumps(manifest).encode()
        mdigest = self.write_blob(mbytes)
        return BuiltImage(mdigest, manifest, config, diff_ids, digests, mbytes)

    def add_image(self, layers: list[LayerSpec], *, tag: str, **kw: Any) -> BuiltImage:
        img = self.build_image(layers, **kw)
        self._tag(
            img.manifest_digest,
            len(img.manifest_bytes),
            "application/vnd.oci.image.manifest.v1+json",
            tag,
        )
        return img

    def add_index(self, images: list[BuiltImage], *, tag: str) -> str:
        manifests = []
        for img in images:
            plat = {"os": img.config["os"], "architecture": img.config["architecture"]}
            if img.config.get("variant"):
                plat["variant"] = img.config["variant"]
            manifests.append(
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": img.manifest_digest,
                    "size": len(img.manifest_bytes),
                    "platform": plat,
                }
            )
        idx = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }
        ib = json.dumps(idx).encode()
        d = self.write_blob(ib)
        self._tag(d, len(ib), "application/vnd.oci.image.index.v1+json", tag)
        return d

    def _tag(self, digest: str, size: int, media: str, tag: str) -> None:
        self.index["manifests"] = [
            m
            for m in self.index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
        ]
        self.index["manifests"].append(
            {
                "mediaType": media,
                "digest": digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        )
        self._save_index()


def push(
    layout: Path,
    tag: str,
    dest: str,
    *,
    all_platforms: bool = False,
    creds: str | None = None,
    fmt: str | None = None,
) -> None:
    """skopeo copy oci:LAYOUT:TAG docker://DEST (plain HTTP to the loopback registry)."""
    cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if all_platforms:
        cmd.append("--all")
    if creds:
        cmd += ["--dest-creds", creds]
    if fmt:
        cmd += ["--format", fmt]
    cmd += [f"oci:{layout}:{tag}", f"docker://{dest}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"skopeo copy failed: {res.stderr.strip()}")
