"""An `ImageSource` over an OCI archive: a tar of an OCI image layout, as `skopeo copy ...
oci-archive:` and `buildx --output type=oci` write it.

Nothing is extracted: the tar is indexed once and blobs are read in place by member offset
(`TarTree`), so an archive costs no extra disk and a hostile member name never reaches the
filesystem. Everything else is the layout logic of `OciLayoutSource`.
"""

from __future__ import annotations

from pathlib import Path

from shoal.config import Settings
from shoal.image.sources.files import TarTree, open_tar
from shoal.image.sources.layout import OciLayoutSource


class OciArchiveSource(OciLayoutSource):
    """Images from an OCI archive at `path`; `tag` picks an `index.json` entry."""

    kind = "oci-archive"

    def __init__(
        self, path: Path, tag: str | None, settings: Settings, *, tree: TarTree | None = None
    ) -> None:
        super().__init__(tree or open_tar(path, settings), tag=tag, settings=settings)
