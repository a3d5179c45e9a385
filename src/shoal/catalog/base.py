"""The cataloger extension point.

The engine walks every layer once. For each regular file it asks every cataloger
`wants(entry)` (no I/O, called for every file, so keep it to string tests on the path),
reads the files some cataloger wants (bounded by the per-file limit), optionally lets the
cataloger reject them by their first bytes (`accepts`), and calls `catalog(file)`.

`catalog` is pure: bytes in, `CatalogResult` out. A malformed file becomes an `Unknown`
in the result, never an exception; the engine also turns any exception that escapes into
an `Unknown`, but that is a bug in the cataloger. Results are cached per
(layer diff_id, cataloger name@version): bump `version` whenever output changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shoal.model import CatalogResult


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file as seen in a layer's tar stream (content not yet read)."""

    path: str  # absolute and normalised: "/usr/lib/python3/dist-packages/x.dist-info/METADATA"
    size: int
    mode: int  # permission bits, e.g. 0o755

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)


@dataclass(frozen=True, slots=True)
class LayerFile:
    """A file's content, handed to `Cataloger.catalog`."""

    path: str
    data: bytes
    mode: int = 0o644


class Cataloger:
    """Base class of every cataloger. Subclasses set `name` and `version` and override
    `wants` and `catalog`; `accepts` and `head_size` are optional."""

    name: ClassVar[str]  # "os/dpkg": persisted in caches and SBOMs, never renamed
    version: ClassVar[int] = 1  # bump -> invalidates the layer cache for this cataloger
    head_size: ClassVar[int] = 0  # >0: engine peeks this many bytes and calls accepts()

    def wants(self, entry: FileEntry) -> bool:
        raise NotImplementedError

    def accepts(self, head: bytes) -> bool:
        """Second, cheap filter on the first `head_size` bytes (e.g. ELF magic)."""
        return True

    def catalog(self, f: LayerFile) -> CatalogResult:
        raise NotImplementedError

    @classmethod
    def id(cls) -> str:
        return f"{cls.name}@{cls.version}"
