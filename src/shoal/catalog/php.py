"""php/composer-installed: packages Composer installed, from `vendor/composer/installed.json`.

Composer 1 writes the file as a JSON array of package objects; Composer 2 wraps the array
as `{"packages": [...], "dev": bool, "dev-package-names": [...]}`. Each package has a
`name` (`vendor/project`), the installed `version` and a `license` list.

The version is kept exactly as written, with any leading `v` (`v5.8.36`), as Syft does:
it is the tag Composer installed, and advisories that omit the `v` are the matcher's
business, where the comparison happens. Composer 2 lists development-only packages in
`dev-package-names`; they are reported with metadata `dev=true`.
"""

from __future__ import annotations

from typing import Any

from shoal.catalog._support import Problems, load_json
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "php/composer-installed"

_MAX_UNKNOWNS = 20
_MAX_LICENSES = 64


class PhpCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith("/vendor/composer/installed.json")

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_installed_json(f.data, f.path)


def parse_installed_json(data: bytes, path: str) -> CatalogResult:
    """Packages in a Composer 1 or 2 `installed.json`."""
    doc, problem = load_json(data)
    if problem:
        return CatalogResult.failed(path, NAME, problem)

    dev_names: set[str] = set()
    if isinstance(doc, dict):  # Composer 2
        entries = doc.get("packages")
        if not isinstance(entries, list):
            return CatalogResult.failed(path, NAME, "'packages' is missing or not an array")
        names = doc.get("dev-package-names")
        if isinstance(names, list):
            dev_names = {n for n in names if isinstance(n, str)}
    elif isinstance(doc, list):  # Composer 1
        entries = doc
    else:
        return CatalogResult.failed(path, NAME, "top level is neither an array nor an object")

    found: dict[tuple[str, str], Package] = {}
    problems = Problems(NAME, _MAX_UNKNOWNS)
    for i, entry in enumerate(entries):
        pkg, problem = _package(entry, i, path, dev_names)
        if problem:
            problems.append(problem)
        elif pkg is not None and (pkg.name, pkg.version) not in found:
            found[(pkg.name, pkg.version)] = pkg

    return CatalogResult(packages=tuple(found.values()), unknowns=problems.unknowns(path))


def _package(
    entry: Any, i: int, path: str, dev_names: set[str]
) -> tuple[Package | None, str | None]:
    if not isinstance(entry, dict):
        return None, f"packages[{i}] is not an object"
    name = entry.get("name")
    version = entry.get("version")
    if not isinstance(name, str) or not name:
        return None, f"packages[{i}] has no name"
    vendor, slash, project = name.partition("/")
    if not slash or not vendor or not project or any(c.isspace() for c in name):
        return None, f"packages[{i}]: invalid package name {name[:100]!r} (want vendor/name)"
    if not isinstance(version, str) or not version or any(c.isspace() for c in version):
        return None, f"packages[{i}] ({name}) has no usable version"

    meta: list[tuple[str, str]] = []
    if name in dev_names:
        meta.append(("dev", "true"))
    for key in ("source", "dist"):
        ref = entry.get(key)
        if isinstance(ref, dict):
            url, reference = ref.get("url"), ref.get("reference")
            if isinstance(url, str) and url:
                meta.append((f"{key}.url", url))
            if isinstance(reference, str) and reference:
                meta.append((f"{key}.reference", reference))
    kind = entry.get("type")
    if isinstance(kind, str) and kind:
        meta.append(("type", kind))
    pkg = Package(
        name=name,
        version=version,
        type=PackageType.PHP,
        cataloger=NAME,
        locations=(Location(path=path),),
        licenses=_licenses(entry.get("license")),
        metadata=tuple(meta),
    )
    return pkg, None


def _licenses(value: Any) -> tuple[str, ...]:
    # the schema allows a single string as well as the usual list
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    out = [x.strip() for x in items[:_MAX_LICENSES] if isinstance(x, str) and x.strip()]
    return tuple(dict.fromkeys(out))


__all__ = ["PhpCataloger", "parse_installed_json"]
