"""npm/package-lock: `package-lock.json` and `npm-shrinkwrap.json`.

Two layouts exist (https://docs.npmjs.com/cli/configuring-npm/package-lock-json):

* lockfileVersion 1 (npm 5-6): a `dependencies` tree keyed by package name, nested
  `dependencies` for copies installed below another package.
* lockfileVersion 2 and 3 (npm 7+): a flat `packages` map keyed by install path
  (`node_modules/a/node_modules/b`). Version 2 also keeps the v1 tree for old npm; only
  `packages` is read then, so nothing is reported twice.

The root project (`""`), workspace folders and `link` entries are the user's own code, not
installed packages, and are skipped. Development dependencies are reported, marked with
metadata `dev=true`. A package installed at several paths is reported once.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from shoal.catalog._support import Problems, UniquePackages, load_json
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, PackageType

NAME = "npm/package-lock"

# Bounds on hostile input: the v1 tree is walked without recursion, to this depth; at
# most this many problems are listed one by one before they are summarised.
_MAX_DEPTH = 256
_MAX_UNKNOWNS = 20


class NpmLockCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        p = entry.path
        # `node_modules/.package-lock.json` (npm's hidden lockfile) mirrors node_modules,
        # which npm/package-json reads already; the check below does not match it.
        return p.endswith("/package-lock.json") or p.endswith("/npm-shrinkwrap.json")

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_package_lock(f.data, f.path)


class _Collector:
    """Packages in order of first appearance, de-duplicated by (name, version)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.packages = UniquePackages(NAME, PackageType.NPM, path)
        self.problems = Problems(NAME, _MAX_UNKNOWNS)

    def add(self, name: str, version: str, entry: dict[str, Any]) -> None:
        if (name, version) in self.packages:
            return
        meta: list[tuple[str, str]] = []
        for flag in ("dev", "optional", "devOptional"):
            if entry.get(flag) is True:
                meta.append((flag, "true"))
        for key in ("resolved", "integrity"):
            value = entry.get(key)
            if isinstance(value, str) and value:
                meta.append((key, value))
        self.packages.add(name, version, metadata=meta, licenses=_licenses(entry.get("license")))

    def problem(self, reason: str) -> None:
        self.problems.append(reason)

    def result(self) -> CatalogResult:
        return CatalogResult(
            packages=self.packages.packages(),
            unknowns=self.problems.unknowns(self.path),
        )


def parse_package_lock(data: bytes, path: str) -> CatalogResult:
    """Installed packages listed by an npm lockfile (any lockfileVersion)."""
    doc, problem = load_json(data)
    if problem:
        return CatalogResult.failed(path, NAME, problem)
    if not isinstance(doc, dict):
        return CatalogResult.failed(path, NAME, "top level is not an object")

    out = _Collector(path)
    packages = doc.get("packages")
    if isinstance(packages, dict):
        _parse_packages(packages, out)
    elif "dependencies" in doc:
        _parse_dependencies_tree(doc["dependencies"], out)
    elif packages is not None:
        out.problem("'packages' is not an object")
    return out.result()


def _parse_packages(packages: dict[str, Any], out: _Collector) -> None:
    for key, entry in packages.items():
        if key == "":
            continue  # the root project
        if not isinstance(entry, dict):
            out.problem(f"packages[{key[:100]!r}] is not an object")
            continue
        marker = key.rfind("node_modules/")
        if marker < 0 or entry.get("link") is True:
            continue  # a workspace folder or a symlink to one: the user's own code
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            # the install path names the package unless it is an alias (`"name"` is set then)
            name = key[marker + len("node_modules/") :]
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            out.problem(f"packages[{key[:100]!r}] has no version")
            continue
        out.add(name, version, entry)


def _parse_dependencies_tree(tree: Any, out: _Collector) -> None:
    if not isinstance(tree, dict):
        out.problem("'dependencies' is not an object")
        return
    queue: deque[tuple[dict[str, Any], int]] = deque([(tree, 0)])
    while queue:
        deps, depth = queue.popleft()
        for name, entry in deps.items():
            if not isinstance(entry, dict):
                out.problem(f"dependencies[{name[:100]!r}] is not an object")
                continue
            version = entry.get("version")
            if not isinstance(version, str) or not version:
                out.problem(f"dependencies[{name[:100]!r}] has no version")
            elif version.startswith(("file:", "link:")):
                pass  # a local folder: the user's own code
            else:
                real_name, real_version = _unalias(name, version)
                out.add(real_name, real_version, entry)
            nested = entry.get("dependencies")
            if isinstance(nested, dict) and nested:
                if depth + 1 >= _MAX_DEPTH:
                    out.problem(f"dependencies nested deeper than {_MAX_DEPTH} below {name!r}")
                else:
                    queue.append((nested, depth + 1))


def _unalias(name: str, version: str) -> tuple[str, str]:
    # v1 writes an aliased install (`"foo": "npm:bar@1.2.3"`) with the real package in the
    # version; the real name is what advisories are keyed by.
    if version.startswith("npm:"):
        spec = version[4:]
        at = spec.rfind("@")
        if at > 0:
            return spec[:at], spec[at + 1 :]
    return name, version


def _licenses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    return ()


__all__ = ["NpmLockCataloger", "parse_package_lock"]
