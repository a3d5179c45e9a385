"""Test doubles for the engine tests: a tiny cataloger over `*.pkglist` files (one
`name version` per line) so layer/whiteout/attribution logic is tested apart from any
real package format; the real catalogers are exercised by the integration tests."""

from __future__ import annotations

import io
from typing import BinaryIO

from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.config import Limits
from shoal.image.layerscan import LayerScan
from shoal.image.tarwalk import LayerWalker
from shoal.model import CatalogResult, Location, Package, PackageType, Unknown
from tests.support.images import LayerSpec, compress, make_tar


class ListCataloger(Cataloger):
    name = "test/pkglist"
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith(".pkglist")

    def catalog(self, f: LayerFile) -> CatalogResult:
        pkgs = []
        unknowns = []
        for n, line in enumerate(f.data.decode().splitlines(), 1):
            parts = line.split()
            if len(parts) != 2:
                unknowns.append(Unknown(f.path, self.name, f"line {n}: want 'name version'"))
                continue
            pkgs.append(
                Package(
                    name=parts[0],
                    version=parts[1],
                    type=PackageType.NPM,
                    cataloger=self.name,
                    locations=(Location(f.path),),
                )
            )
        return CatalogResult(packages=tuple(pkgs), unknowns=tuple(unknowns))


class ElfCataloger(Cataloger):
    """Wants executables, accepts only ELF by magic: exercises head_size/accepts."""

    name = "test/elf"
    head_size = 4
    seen: list[str]

    def __init__(self) -> None:
        self.seen = []

    def wants(self, entry: FileEntry) -> bool:
        return entry.executable

    def accepts(self, head: bytes) -> bool:
        return head == b"\x7fELF"

    def catalog(self, f: LayerFile) -> CatalogResult:
        self.seen.append(f.path)
        return CatalogResult()


class BrokenCataloger(Cataloger):
    name = "test/broken"

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith(".boom")

    def catalog(self, f: LayerFile) -> CatalogResult:
        raise RuntimeError("kaboom")


def scan_layer(
    spec: LayerSpec | bytes,
    *,
    catalogers: list[Cataloger] | None = None,
    compression: str = "gzip",
    limits: Limits | None = None,
    diff_id: str | None = None,
) -> LayerScan:
    import hashlib

    raw = spec if isinstance(spec, bytes) else make_tar(spec)
    blob, _ = compress(raw, compression)  # type: ignore[arg-type]
    did = diff_id if diff_id is not None else "sha256:" + hashlib.sha256(raw).hexdigest()
    walker = LayerWalker(catalogers or [ListCataloger()], limits or Limits())

    def open_blob() -> BinaryIO:
        return io.BytesIO(blob)

    return walker.walk(open_blob, did, what="layer test")
