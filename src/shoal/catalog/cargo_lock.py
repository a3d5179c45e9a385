"""rust/cargo-lock: crates locked by `Cargo.lock`.

`Cargo.lock` is TOML with one `[[package]]` table per crate in the resolved graph: `name`,
`version`, `source` (`registry+<index url>`, `sparse+<url>`, `git+<url>?rev#commit`;
absent for workspace members and path dependencies) and, from format 2 on, `checksum`.
Format 1 keeps the checksums apart in `[metadata]` as
`"checksum <name> <version> (<source>)" = "<sha256>"`; formats 3 and 4 add a top-level
`version` key. Very old files also name the root crate in a `[root]` table.

Like Syft, every locked crate is reported, the workspace's own crates included; those have
no source and are marked with metadata `source=local`, so a matcher can tell them apart
from the crates.io crate of the same name.
"""

from __future__ import annotations

from typing import Any

from shoal.catalog._support import Problems, UniquePackages, decode_utf8, load_toml
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, PackageType

NAME = "rust/cargo-lock"

_MAX_UNKNOWNS = 20
_CRATE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class CargoLockCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith("/Cargo.lock")

    def catalog(self, f: LayerFile) -> CatalogResult:
        text, problem = decode_utf8(f.data)
        if problem:
            return CatalogResult.failed(f.path, NAME, problem)
        return parse_cargo_lock(text, f.path)


def parse_cargo_lock(text: str, path: str) -> CatalogResult:
    """Crates in a Cargo.lock of any format (1 to 4)."""
    doc, problem = load_toml(text)
    if problem:
        return CatalogResult.failed(path, NAME, problem)

    fmt = doc.get("version")
    if fmt is not None and (not isinstance(fmt, int) or fmt < 1):
        return CatalogResult.failed(path, NAME, f"invalid lockfile version {str(fmt)[:20]!r}")
    tables = doc.get("package", [])
    if not isinstance(tables, list):
        return CatalogResult.failed(path, NAME, "'package' is not an array of tables")
    root = doc.get("root")
    if isinstance(root, dict):
        tables = [root, *tables]
    legacy_checksums = _legacy_checksums(doc.get("metadata"))

    found = UniquePackages(NAME, PackageType.RUST, path)
    problems = Problems(NAME, _MAX_UNKNOWNS)
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            problems.append(f"package[{i}] is not a table")
            continue
        name, version = table.get("name"), table.get("version")
        if not isinstance(name, str) or not name or not set(name) <= _CRATE_CHARS:
            problems.append(f"package[{i}]: invalid crate name {str(name)[:100]!r}")
            continue
        if not isinstance(version, str) or not version or any(c.isspace() for c in version):
            problems.append(f"package[{i}] ({name}): invalid version {str(version)[:100]!r}")
            continue
        found.add(name, version, metadata=_metadata(table, name, version, legacy_checksums))

    return CatalogResult(packages=found.packages(), unknowns=problems.unknowns(path))


def _metadata(
    table: dict[str, Any], name: str, version: str, legacy: dict[tuple[str, str, str], str]
) -> tuple[tuple[str, str], ...]:
    source = table.get("source")
    meta: list[tuple[str, str]] = []
    if isinstance(source, str) and source:
        meta.append(("source", source))
    else:
        meta.append(("source", "local"))
        source = ""
    checksum = table.get("checksum")
    if not isinstance(checksum, str) or not checksum:
        checksum = legacy.get((name, version, source), "")
    if checksum and checksum != "<none>":
        meta.append(("checksum", checksum))
    return tuple(meta)


def _legacy_checksums(metadata: Any) -> dict[tuple[str, str, str], str]:
    """Format 1's `"checksum <name> <version> (<source>)" = "<hex>"` entries."""
    out: dict[tuple[str, str, str], str] = {}
    if not isinstance(metadata, dict):
        return out
    for key, value in metadata.items():
        if not key.startswith("checksum ") or not isinstance(value, str):
            continue
        parts = key.split(" ", 3)
        if len(parts) == 4 and parts[3].startswith("(") and parts[3].endswith(")"):
            out[(parts[1], parts[2], parts[3][1:-1])] = value
    return out


__all__ = ["CargoLockCataloger", "parse_cargo_lock"]
