"""Rust crates compiled into executables by `cargo auditable`.

`cargo auditable build` embeds the crate dependency tree in the section ``.dep-v0``:
zlib-compressed JSON ``{"format": 1, "packages": [{"name", "version", "source", "kind",
"dependencies", "root"}, ...]}`` (schema: rustsec.org/schemas/cargo-auditable.json).
`dependencies` are indices into `packages`; `kind` is ``"runtime"`` (the default) or
``"build"`` (build scripts and proc-macros, which are not linked into the binary).

As Syft, Trivy and osv-scalibr do, only runtime crates become packages (the root crate
included): build-only crates never run in the image.

Decompression is bounded: cargo-auditable's own reader refuses more than 8 MiB of JSON,
so anything larger is forged and becomes an `Unknown` without being inflated further.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.catalog.elf import ExecutableError, is_executable, may_be_program, parse_executable
from shoal.model import CatalogResult, Location, Package, PackageType, Unknown

NAME = "rust/cargo-auditable"
SECTION = ".dep-v0"
MAX_JSON = 8 * 1024 * 1024
# A real tree has hundreds of crates; this only stops a forged list from costing much.
MAX_PACKAGES = 100_000


class RustBinaryCataloger(Cataloger):
    name = NAME
    version = 1
    head_size = 4

    def wants(self, entry: FileEntry) -> bool:
        return may_be_program(entry)

    def accepts(self, head: bytes) -> bool:
        return is_executable(head)

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_rust_binary(f.data, f.path)


def parse_rust_binary(data: bytes, path: str) -> CatalogResult:
    """Crates from the `.dep-v0` section of the executable `data` at `path` (ELF, PE,
    or Mach-O, where the section sits in the __DATA segment under the same name).

    No such section (most executables): empty result. Headers too broken to find
    sections in are not reported either: without the section nothing says the file is
    ours (the Go cataloger, which can scan for its magic, does report them). A section
    that is there but broken is an `Unknown`.
    """
    try:
        exe = parse_executable(data)
    except ExecutableError:
        return CatalogResult()
    sec = exe.section(SECTION) if exe is not None else None
    if exe is None or sec is None:
        return CatalogResult()
    try:
        raw = exe.section_data(sec)
    except ExecutableError as e:
        return CatalogResult.failed(path, NAME, f"{SECTION}: {e}")
    return parse_audit_data(raw, path)


def parse_audit_data(compressed: bytes, path: str) -> CatalogResult:
    """Packages from the compressed audit data (the bytes of the `.dep-v0` section)."""

    def fail(reason: str) -> CatalogResult:
        return CatalogResult.failed(path, NAME, f"{SECTION}: {reason}")

    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(compressed, MAX_JSON + 1)
    except zlib.error as e:
        return fail(f"bad zlib data ({e})")
    if len(text) > MAX_JSON:
        return fail(f"audit data inflates past {MAX_JSON} bytes")
    if not inflater.eof:
        return fail("zlib data is truncated")
    try:
        # Decode first: json.loads(bytes) would also guess UTF-16/32, which the format
        # (serde_json output) never is.
        doc = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        return fail("audit data is not UTF-8")
    except json.JSONDecodeError as e:
        return fail(f"bad JSON at line {e.lineno} column {e.colno}: {e.msg}")
    except RecursionError:
        return fail("JSON nested too deeply")
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
        return fail("JSON has no 'packages' list")
    entries: list[Any] = doc["packages"]
    if len(entries) > MAX_PACKAGES:
        return fail(f"{len(entries)} packages (limit {MAX_PACKAGES})")
    fmt = doc.get("format", 0)

    packages: list[Package] = []
    unknowns: list[Unknown] = []
    for i, entry in enumerate(entries):
        problem = _check(entry, len(entries))
        if problem:
            unknowns.append(Unknown(path, NAME, f"{SECTION}: packages[{i}]: {problem}"))
            continue
        if entry.get("kind", "runtime") != "runtime":
            continue
        meta: list[tuple[str, str]] = [("rust.source", _source(entry["source"]))]
        if entry.get("root") is True:
            meta.append(("rust.root", "true"))
        if isinstance(fmt, int) and not isinstance(fmt, bool):
            meta.append(("rust.audit_format", str(fmt)))
        packages.append(
            Package(
                name=entry["name"],
                version=entry["version"],
                type=PackageType.RUST,
                cataloger=NAME,
                locations=(Location(path=path),),
                metadata=tuple(meta),
            )
        )
    return CatalogResult(packages=tuple(packages), unknowns=tuple(unknowns))


def _check(entry: Any, count: int) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    for key in ("name", "version"):
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            return f"missing or non-string '{key}'"
    src = entry.get("source")
    if not (isinstance(src, str) or (isinstance(src, dict) and isinstance(src.get("Other"), str))):
        return "missing or malformed 'source'"
    if entry.get("kind", "runtime") not in ("runtime", "build"):
        return f"unknown kind {str(entry.get('kind'))[:40]!r}"
    deps = entry.get("dependencies", [])
    if not isinstance(deps, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < count for d in deps
    ):
        return "'dependencies' must be indices into 'packages'"
    return None


def _source(src: str | dict[str, str]) -> str:
    # Serialized as "crates.io", "git", "local", "registry", or {"Other": "..."}.
    return src if isinstance(src, str) else src["Other"]
