"""What one pass over one layer found, in a form that can be cached by diff_id."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shoal.model import CatalogResult, LicenseEvidence, Location, Package, PackageType, Unknown

FORMAT = 1  # bump when the cached JSON shape changes


@dataclass
class FileResult:
    """One cataloger's result for one file of the layer."""

    path: str
    cataloger: str
    result: CatalogResult


@dataclass
class LayerScan:
    diff_id: str
    results: list[FileResult] = field(default_factory=list)
    wanted: set[str] = field(default_factory=set)  # every path some cataloger wanted
    whiteouts: set[str] = field(default_factory=set)  # paths deleted by `.wh.NAME`
    opaque: set[str] = field(default_factory=set)  # dirs whose lower content is hidden
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> target as written
    os_files: dict[str, bytes] = field(default_factory=dict)  # os-release and friends
    problems: list[Unknown] = field(default_factory=list)  # layer-level (file too large, ...)
    entries: int = 0
    bytes_read: int = 0  # decompressed tar bytes

    # -- cache serialisation -------------------------------------------------------------
    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "diff_id": self.diff_id,
            "results": [
                {"path": r.path, "cataloger": r.cataloger, "result": _result_to(r.result)}
                for r in self.results
            ],
            "wanted": sorted(self.wanted),
            "whiteouts": sorted(self.whiteouts),
            "opaque": sorted(self.opaque),
            "symlinks": self.symlinks,
            "os_files": {k: v.decode("latin-1") for k, v in self.os_files.items()},
            "problems": [_unknown_to(u) for u in self.problems],
            "entries": self.entries,
            "bytes_read": self.bytes_read,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LayerScan:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise ValueError(f"cached layer scan has format {doc.get('format')!r}, not {FORMAT}")
        return cls(
            diff_id=doc["diff_id"],
            results=[
                FileResult(r["path"], r["cataloger"], _result_from(r["result"]))
                for r in doc["results"]
            ],
            wanted=set(doc["wanted"]),
            whiteouts=set(doc["whiteouts"]),
            opaque=set(doc["opaque"]),
            symlinks=dict(doc["symlinks"]),
            os_files={k: v.encode("latin-1") for k, v in doc["os_files"].items()},
            problems=[_unknown_from(u) for u in doc["problems"]],
            entries=doc["entries"],
            bytes_read=doc["bytes_read"],
        )


def _pkg_to(p: Package) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "type": p.type.value,
        "cataloger": p.cataloger,
        "locations": [[loc.path, loc.layer] for loc in p.locations],
        "licenses": list(p.licenses),
        "arch": p.arch,
        "source_name": p.source_name,
        "source_version": p.source_version,
        "namespace": p.namespace,
        "metadata": [list(kv) for kv in p.metadata],
    }


def _pkg_from(d: dict[str, Any]) -> Package:
    return Package(
        name=d["name"],
        version=d["version"],
        type=PackageType(d["type"]),
        cataloger=d["cataloger"],
        locations=tuple(Location(path=a, layer=b) for a, b in d["locations"]),
        licenses=tuple(d["licenses"]),
        arch=d["arch"],
        source_name=d["source_name"],
        source_version=d["source_version"],
        namespace=d["namespace"],
        metadata=tuple((k, v) for k, v in d["metadata"]),
    )


def _unknown_to(u: Unknown) -> list[str | None]:
    return [u.path, u.cataloger, u.reason, u.layer]


def _unknown_from(v: list[str | None]) -> Unknown:
    path, cataloger, reason, layer = v
    return Unknown(path=path or "", cataloger=cataloger or "", reason=reason or "", layer=layer)


def _result_to(r: CatalogResult) -> dict[str, Any]:
    return {
        "packages": [_pkg_to(p) for p in r.packages],
        "unknowns": [_unknown_to(u) for u in r.unknowns],
        "licenses": [[e.type.value, e.package_name, list(e.licenses), e.path] for e in r.licenses],
    }


def _result_from(d: dict[str, Any]) -> CatalogResult:
    return CatalogResult(
        packages=tuple(_pkg_from(p) for p in d["packages"]),
        unknowns=tuple(_unknown_from(u) for u in d["unknowns"]),
        licenses=tuple(
            LicenseEvidence(PackageType(t), n, tuple(ls), path) for t, n, ls, path in d["licenses"]
        ),
    )
