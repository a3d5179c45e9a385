"""The result of analysing one image for one platform."""

from __future__ import annotations

from dataclasses import dataclass, field

from shoal.model.package import Distro, Package, Unknown


@dataclass(frozen=True, slots=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/amd64``, ``linux/arm64/v8``; raises ValueError on anything else."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(
            os=parts[0], architecture=parts[1], variant=parts[2] if len(parts) == 3 else None
        )

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True, slots=True)
class LayerInfo:
    digest: str  # blob digest as stored (compressed)
    diff_id: str  # digest of the uncompressed tar (from the image config)
    media_type: str
    size: int
    created_by: str | None = None  # config history line that produced this layer


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """Identity of the analysed image."""

    reference: str  # what the user asked for, normalised ("docker.io/library/alpine:3.19")
    manifest_digest: str | None
    config_digest: str | None
    platform: Platform | None
    layers: tuple[LayerInfo, ...] = ()
    repo_digests: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created: str | None = None
    index_digest: str | None = None  # the index the manifest was selected from, if any


@dataclass(frozen=True)
class Sbom:
    image: ImageInfo
    distro: Distro | None
    packages: tuple[Package, ...] = ()
    unknowns: tuple[Unknown, ...] = field(default=())
    tool: str = "shoal"
    tool_version: str = "0.1.0"
