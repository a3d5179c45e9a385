"""npm/pnpm-lock: `pnpm-lock.yaml` (lockfile formats 5.x, 6.x and 9.x).

Every resolved package is a key of the top-level `packages` map; the key format changed
between format versions:

* 5.x (pnpm 7 and older): `/name/1.2.3`, `/@scope/name/1.2.3`, peers after `_`
  (`/react-dom/18.2.0_react@18.2.0`);
* 6.x (pnpm 8): `/name@1.2.3`, peers in parentheses (`/react-dom@18.2.0(react@18.2.0)`);
* 9.x (pnpm 9+): `name@1.2.3` with no leading slash; peer variants moved to `snapshots`.

Packages that do not come from a registry (tarballs, git) carry explicit `name` and
`version` fields, which win over the key. `file:` and `link:` packages are the project's own
code and are skipped. Development-only packages get metadata `dev=true`: formats 5 and 6
mark them with `dev: true`; for format 9, which no longer does, they are the packages
reachable only from the importers' `devDependencies` through the `snapshots` graph.
"""

from __future__ import annotations

from typing import Any

from shoal.catalog._support import Problems, UniquePackages, yaml_documents
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, PackageType

NAME = "npm/pnpm-lock"

_MAX_UNKNOWNS = 20
_LOCAL = ("file:", "link:", "workspace:")


class PnpmLockCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith("/pnpm-lock.yaml")

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_pnpm_lock(f.data, f.path)


def parse_pnpm_lock(data: bytes, path: str) -> CatalogResult:
    """Packages listed in a pnpm lockfile."""
    docs, problem = yaml_documents(data)
    if problem:
        return CatalogResult.failed(path, NAME, problem)
    # pnpm 10 may put an "env lockfile" document (config and package-manager dependencies)
    # before the project's lockfile document in the same file
    lockfiles = [d for d in docs if isinstance(d, dict) and ("packages" in d or "importers" in d)]
    doc = lockfiles[-1] if lockfiles else (docs[-1] if docs else None)
    if not isinstance(doc, dict):
        return CatalogResult.failed(path, NAME, "top level is not a mapping")
    raw_version = doc.get("lockfileVersion")
    if not isinstance(raw_version, str):
        return CatalogResult.failed(path, NAME, "missing 'lockfileVersion'")
    major = raw_version.strip("'\"").split(".", 1)[0]
    if not (major.isascii() and major.isdigit() and len(major) <= 4):
        return CatalogResult.failed(path, NAME, f"unreadable lockfileVersion {raw_version[:40]!r}")
    slash_keys = int(major) < 6

    packages = doc.get("packages")
    if packages is None or packages == "":
        return CatalogResult()  # a project without dependencies
    if not isinstance(packages, dict):
        return CatalogResult.failed(path, NAME, "'packages' is not a mapping")

    # format 9 dropped the per-package `dev` flag; the importers and snapshots still say it
    dev_only = _dev_only_v9(doc) if int(major) >= 9 else set()
    found = UniquePackages(NAME, PackageType.NPM, path)
    problems = Problems(NAME, _MAX_UNKNOWNS)
    for key, entry in packages.items():
        label = str(key)[:100]
        if not isinstance(entry, dict):
            problems.append(f"packages[{label!r}] is not a mapping")
            continue
        name, version = _from_key(str(key), slash_keys)
        explicit_name, explicit_version = entry.get("name"), entry.get("version")
        if isinstance(explicit_name, str) and explicit_name:
            name = explicit_name
        if isinstance(explicit_version, str) and explicit_version:
            version = explicit_version
        if str(key).startswith(_LOCAL) or version.startswith(_LOCAL):
            continue
        if not name or not version or any(c.isspace() for c in name + version):
            problems.append(f"packages[{label!r}]: cannot read a name and version")
            continue
        found.add(name, version, metadata=_metadata(entry, dev=(name, version) in dev_only))

    return CatalogResult(packages=found.packages(), unknowns=problems.unknowns(path))


def _from_key(key: str, slash_keys: bool) -> tuple[str, str]:
    """(name, version) from a `packages` key; ("", "") when it names neither."""
    k = key[1:] if key.startswith("/") else key
    if slash_keys:
        # `@scope/name/1.2.3_peer@1.0.0`: the version is the last segment, peers after `_`
        name, sep, version = k.rpartition("/")
        if not sep:
            return "", ""
        return name, version.split("_", 1)[0]
    k = k.split("(", 1)[0]  # drop the peer suffix `(react@18.2.0)`
    at = k.find("@", 1)  # a scope's `@` at 0 is part of the name
    if at < 0:
        return "", ""
    return k[:at], k[at + 1 :]


def _dev_only_v9(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(name, version) of packages reachable only from importers' devDependencies.

    Walks `snapshots` (`name@version(peers)` -> its dependencies) breadth-first from each
    importer's direct dependencies; every snapshot is visited at most once per side."""
    importers, snapshots = doc.get("importers"), doc.get("snapshots")
    if not isinstance(importers, dict) or not isinstance(snapshots, dict):
        return set()
    prod: list[str] = []
    dev: list[str] = []
    for importer in importers.values():
        if not isinstance(importer, dict):
            continue
        for section, into in (
            ("dependencies", prod),
            ("optionalDependencies", prod),
            ("devDependencies", dev),
        ):
            deps = importer.get(section)
            if isinstance(deps, dict):
                for dep_name, spec in deps.items():
                    version = spec.get("version") if isinstance(spec, dict) else spec
                    if isinstance(version, str):
                        into.append(_snapshot_key(str(dep_name), version))
    prod_seen = _reachable(prod, snapshots)
    dev_seen = _reachable(dev, snapshots) - prod_seen
    return {nv for nv in (_from_key(k, False) for k in dev_seen) if nv[0]}


def _snapshot_key(name: str, version: str) -> str:
    # an aliased dependency's version is the real `name@version`
    bare = version.split("(", 1)[0]
    return version if bare.find("@", 1) > 0 else f"{name}@{version}"


def _reachable(start: list[str], snapshots: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    queue = list(start)
    while queue:
        key = queue.pop()
        if key in seen or key not in snapshots:
            continue
        seen.add(key)
        snap = snapshots[key]
        if not isinstance(snap, dict):
            continue
        for section in ("dependencies", "optionalDependencies"):
            deps = snap.get(section)
            if isinstance(deps, dict):
                queue.extend(
                    _snapshot_key(str(n), v) for n, v in deps.items() if isinstance(v, str)
                )
    return seen


def _metadata(entry: dict[str, Any], dev: bool = False) -> tuple[tuple[str, str], ...]:
    meta: list[tuple[str, str]] = []
    if dev:
        meta.append(("dev", "true"))
    for flag in ("dev", "optional"):
        if entry.get(flag) == "true" and (flag, "true") not in meta:
            meta.append((flag, "true"))
    resolution = entry.get("resolution")
    if isinstance(resolution, dict):
        for key in ("integrity", "tarball"):
            value = resolution.get(key)
            if isinstance(value, str) and value:
                meta.append((key, value))
    return tuple(meta)


__all__ = ["PnpmLockCataloger", "parse_pnpm_lock"]
