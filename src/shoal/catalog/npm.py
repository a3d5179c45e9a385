"""npm/package-json: packages installed under `node_modules`.

Each installed npm package carries its own `package.json`
(https://docs.npmjs.com/cli/configuring-npm/package-json). Only manifests that sit directly
in a package directory of a `node_modules` tree are read: `node_modules/<name>/package.json`
and `node_modules/@<scope>/<name>/package.json`. An application's own `package.json` (outside
`node_modules`) describes source code, not an installed package, and nested manifests
deeper inside a package (`dist/esm/package.json`) are build artefacts.
"""

from __future__ import annotations

from typing import Any

from shoal.catalog._support import load_json
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "npm/package-json"

# A package name is at most 214 characters (npm's validate-npm-package-name).
_MAX_NAME = 214


class NpmCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        p = entry.path
        if not p.endswith("/package.json"):
            return False
        parts = p.rsplit("/", 4)  # [..., "node_modules", ("@scope",) "name", "package.json"]
        if len(parts) >= 3 and parts[-3] == "node_modules":
            return not parts[-2].startswith(("@", "."))
        return len(parts) == 5 and parts[1] == "node_modules" and parts[2].startswith("@")

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_package_json(f.data, f.path)


def parse_package_json(data: bytes, path: str) -> CatalogResult:
    """The package an installed `package.json` describes."""
    doc, problem = load_json(data)
    if problem:
        return CatalogResult.failed(path, NAME, problem)
    if not isinstance(doc, dict):
        return CatalogResult.failed(path, NAME, f"top level is {_kind(doc)}, not an object")

    name = doc.get("name")
    version = doc.get("version")
    if not isinstance(name, str) or not name:
        return CatalogResult.failed(path, NAME, "missing or non-string 'name'")
    if len(name) > _MAX_NAME or any(c.isspace() for c in name):
        return CatalogResult.failed(path, NAME, f"invalid package name {name[:100]!r}")
    if not isinstance(version, str) or not version.strip():
        return CatalogResult.failed(path, NAME, f"missing or non-string 'version' of {name!r}")

    meta: list[tuple[str, str]] = []
    if doc.get("private") is True:
        meta.append(("private", "true"))
    pkg = Package(
        name=name,
        version=version.strip(),
        type=PackageType.NPM,
        cataloger=NAME,
        locations=(Location(path=path),),
        licenses=npm_licenses(doc),
        metadata=tuple(meta),
    )
    return CatalogResult(packages=(pkg,))


def npm_licenses(doc: dict[str, Any]) -> tuple[str, ...]:
    """`license` as a string (SPDX expression) or a legacy `{type}` object, or the legacy
    `licenses` array of strings or `{type, url}` objects."""
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, dict):
            value = value.get("type")
        if isinstance(value, str) and value.strip() and value.strip() not in found:
            found.append(value.strip())

    for field in ("license", "licenses"):
        value = doc.get(field)
        # either field may hold one value or, against the spec but in the wild, an array
        for item in value[:64] if isinstance(value, list) else [value]:
            add(item)
    return tuple(found)


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


__all__ = ["NpmCataloger", "npm_licenses", "parse_package_json"]
