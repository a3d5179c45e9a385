"""dotnet/deps-json: NuGet packages a .NET application was built with, from `*.deps.json`.

The .NET SDK writes `<app>.deps.json` beside the application's assemblies
(https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md).
Its `libraries` map is keyed `Name/Version`; each value has a `type`:

* `package`: a NuGet package, with `sha512` (of the .nupkg), `path` and `hashPath`;
* `runtimepack`: a NuGet runtime pack of a self-contained app;
* `project`: a project of the build itself (the application, or a referenced project);
* `reference`: a plain assembly reference, with no package behind it.

Packages and runtime packs are reported; projects too, marked `type=project`, as Syft does,
since a project's version is what the application reports. References are skipped: they
name a DLL, not anything a NuGet advisory could be about.
"""

from __future__ import annotations

from typing import Any

from shoal.catalog._support import Problems, UniquePackages, load_json
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, PackageType

NAME = "dotnet/deps-json"

_REPORTED = ("package", "runtimepack", "project")
_MAX_UNKNOWNS = 20


class DotnetCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith(".deps.json")

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_deps_json(f.data, f.path)


def parse_deps_json(data: bytes, path: str) -> CatalogResult:
    """Libraries listed in a `.deps.json`."""
    doc, problem = load_json(data, encoding="utf-8-sig")  # MSBuild may write a BOM; never UTF-16
    if problem:
        return CatalogResult.failed(path, NAME, problem)
    if not isinstance(doc, dict):
        return CatalogResult.failed(path, NAME, "top level is not an object")
    libraries = doc.get("libraries")
    if not isinstance(libraries, dict):
        return CatalogResult.failed(path, NAME, "'libraries' is missing or not an object")

    found = UniquePackages(NAME, PackageType.DOTNET, path)
    problems = Problems(NAME, _MAX_UNKNOWNS)
    for key, lib in libraries.items():
        label = key[:100]
        if not isinstance(lib, dict):
            problems.append(f"libraries[{label!r}] is not an object")
            continue
        kind = lib.get("type")
        if kind not in _REPORTED:
            continue
        name, slash, version = key.partition("/")
        if not slash or not name or not version or any(c.isspace() for c in key):
            problems.append(f"libraries[{label!r}]: key is not 'Name/Version'")
            continue
        found.add(name, version, metadata=_metadata(lib))

    return CatalogResult(packages=found.packages(), unknowns=problems.unknowns(path))


def _metadata(lib: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    meta: list[tuple[str, str]] = [("type", str(lib["type"]))]
    for key in ("sha512", "path", "hashPath"):
        value = lib.get(key)
        if isinstance(value, str) and value:
            meta.append((key, value))
    return tuple(meta)


__all__ = ["DotnetCataloger", "parse_deps_json"]
