"""OCI/Docker manifest types shared by the registry client and the on-disk sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shoal.model import Platform

# Media types
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or Docker manifest list."""

    digest: str
    media_type: str
    manifests: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    """An OCI image manifest or Docker schema 2 manifest."""

    digest: str
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    raw: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of the image config shoal uses."""

    digest: str
    platform: Platform | None
    diff_ids: tuple[str, ...]
    history: tuple[dict[str, Any], ...]
    created: str | None = None
    raw: bytes = field(repr=False, default=b"")

    def created_by(self) -> tuple[str | None, ...]:
        """The `created_by` line of each layer, aligned with `diff_ids`.

        History entries with `empty_layer: true` produce no layer and are skipped.
        """
        lines = [h.get("created_by") for h in self.history if not h.get("empty_layer")]
        if len(lines) != len(self.diff_ids):
            return tuple(None for _ in self.diff_ids)
        return tuple(str(x) if x is not None else None for x in lines)


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """One platform's image: its manifest and config, ready for layer analysis."""

    reference: str  # normalised reference the user gave ("127.0.0.1:5000/app:1", "oci-dir:...")
    manifest: Manifest
    config: ImageConfig
    index_digest: str | None = None


class ImageSource(Protocol):
    """Where images come from (registry, OCI layout, archives): every source goes
    through the same analysis path."""

    reference: str

    def resolve(self, platform: str | None) -> list[ResolvedImage]:
        """Images to analyse. `platform` is None (the host's default, linux/amd64 here),
        ``"all"`` (every platform in an index) or ``os/arch[/variant]``."""
        ...

    def fetch_blob(self, desc: Descriptor, dest: Path) -> None:
        """Write the blob to `dest`, verified against `desc.digest` (DigestMismatch if
        not; `dest` is then removed so nothing of it can be used)."""
        ...

    def close(self) -> None: ...
