"""Where images come from: the protocol every source (registry, OCI layout, archives)
implements, so that all of them go through the same analysis path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shoal.oci.types import Descriptor, ImageConfig, Manifest


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """One platform's image: its manifest and config, ready for layer analysis."""

    reference: str  # normalised reference the user gave ("127.0.0.1:5000/app:1", "oci:dir:tag")
    manifest: Manifest
    config: ImageConfig
    index_digest: str | None = None


class ImageSource(Protocol):
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
