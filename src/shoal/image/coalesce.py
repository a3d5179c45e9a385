"""From per-layer scans to one SBOM: keep what the final image holds, attribute each
package to the layer that introduced it, attach the distro and stray licences, and merge
duplicates found by several catalogers or at several paths."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from shoal.errors import LimitExceeded
from shoal.image.layerscan import LayerScan
from shoal.image.osrelease import OS_RELEASE_PATHS, detect_distro
from shoal.image.view import FinalView
from shoal.model import Distro, ImageInfo, Location, Package, PackageType, Sbom, Unknown

PkgKey = tuple[str, str, str, str]


def coalesce(image: ImageInfo, scans: Sequence[LayerScan], *, symlink_hops: int) -> Sbom:
    view = FinalView(scans, symlink_hops=symlink_hops)
    diff_ids = [s.diff_id for s in scans]
    created_by = [layer.created_by for layer in image.layers] or [None] * len(scans)
    unknowns: list[Unknown] = []

    distro = _distro(view, unknowns)

    # The lowest layer in which each (path, cataloger, package) appears.
    first_seen: dict[tuple[str, str, PkgKey], int] = {}
    for i, scan in enumerate(scans):
        for r in scan.results:
            for p in r.result.packages:
                first_seen.setdefault((r.path, r.cataloger, p.key), i)

    merged: dict[PkgKey, tuple[int, Package]] = {}
    licenses: dict[tuple[PackageType, str], tuple[str, ...]] = {}
    for i, scan in enumerate(scans):
        for u in scan.problems:
            if view.visible(u.path, i):
                unknowns.append(u)
        for r in scan.results:
            if not view.visible(r.path, i):
                continue
            unknowns.extend(dataclasses.replace(u, layer=diff_ids[i]) for u in r.result.unknowns)
            for ev in r.result.licenses:
                licenses.setdefault((ev.type, ev.package_name), ev.licenses)
            for p in r.result.packages:
                k = first_seen[(r.path, r.cataloger, p.key)]
                located = dataclasses.replace(
                    p,
                    locations=tuple(Location(loc.path, diff_ids[i]) for loc in p.locations)
                    or (Location(r.path, diff_ids[i]),),
                )
                prev = merged.get(p.key)
                if prev is None:
                    merged[p.key] = (k, located)
                else:
                    pk, pp = prev
                    locs = pp.locations + tuple(
                        loc for loc in located.locations if loc not in pp.locations
                    )
                    base = pp if pk <= k else located
                    merged[p.key] = (min(pk, k), dataclasses.replace(base, locations=locs))

    packages = []
    for k, p in merged.values():
        lic = p.licenses or licenses.get((p.type, p.name), ())
        packages.append(
            dataclasses.replace(
                p,
                licenses=lic,
                layer=diff_ids[k],
                layer_created_by=created_by[k] if k < len(created_by) else None,
                distro=distro if p.type.is_os else None,
            )
        )
    packages.sort(key=lambda p: (p.type.value, p.namespace or "", p.name, p.version))
    return Sbom(image=image, distro=distro, packages=tuple(packages), unknowns=tuple(unknowns))


def _distro(view: FinalView, unknowns: list[Unknown]) -> Distro | None:
    files: dict[str, bytes] = {}
    for path in OS_RELEASE_PATHS:
        try:
            data = view.read_os_file(path)
        except LimitExceeded as e:
            unknowns.append(Unknown(path=path, cataloger="os-release", reason=str(e)))
            continue
        if data is not None:
            files[path] = data
    return detect_distro(files) if files else None
