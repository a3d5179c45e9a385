"""Benchmark (not a test): match a 1,000-package SBOM against the real OSV DB.

    .venv/bin/python -m tests.unit.scan.bench_match [DB]

Builds a DB from the real PyPI and Go OSV archives (bundled or ../shared/feeds) when no
DB is given, then times `scan_sbom` (match, merge into findings, filters) with the DB
already open. Two SBOMs of the same 1,000 packages (400 PyPI and 100 Go names that have
advisories, 400 real dpkg packages of this machine, 100 npm names):
A: every PyPI/Go package at a version its advisories list (thousands of findings, a
worst case); B: one PyPI/Go package in twelve vulnerable, the rest past every fix.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from shoal.model.package import Distro, Package, PackageType
from shoal.model.sbom import ImageInfo, Sbom
from shoal.scan.report import scan_sbom
from shoal.vulndb.store import VulnDB


def _zip(eco: str) -> Path:
    from shoal.vulndb.resolve import bundled_path

    p = bundled_path(f"osv/{eco}")
    return (
        p
        if p is not None
        else Path(__file__).resolve().parents[4] / f"shared/feeds/osv/{eco}-all.zip"
    )


def _build_db(root: Path) -> Path:
    from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
    from shoal.vulndb.update import update

    (root / "in" / "osv").mkdir(parents=True)
    (root / "in" / "osv" / "PyPI.zip").symlink_to(_zip("PyPI"))
    (root / "in" / "osv" / "Go.zip").symlink_to(_zip("Go"))
    update(root / "vuln.db", [OsvPyPIFeed(), OsvGoFeed()], from_path=root / "in")
    return root / "vuln.db"


def _packages() -> list[Package]:
    bookworm = Distro(id="debian", version_id="12", version_codename="bookworm")
    py: dict[str, str] = {}
    with zipfile.ZipFile(_zip("PyPI")) as z:
        for n in sorted(z.namelist()):
            for a in json.loads(z.read(n)).get("affected", []):
                py.setdefault(a["package"]["name"], (a.get("versions") or ["1.0"])[0])
    go: list[str] = []
    with zipfile.ZipFile(_zip("Go")) as z:
        for n in sorted(z.namelist()):
            go += [a["package"]["name"] for a in json.loads(z.read(n)).get("affected", [])]
    pkgs = [Package(n, v, PackageType.PYTHON, "bench") for n, v in list(py.items())[:400]]
    pkgs += [Package(n, "v0.0.1", PackageType.GO, "bench") for n in list(dict.fromkeys(go))[:100]]
    status = Path("/var/lib/dpkg/status")
    for s in (status.read_text().split("\n\n") if status.is_file() else [])[:400]:
        name, ver = re.search(r"^Package: (\S+)", s, re.M), re.search(r"^Version: (\S+)", s, re.M)
        src = re.search(r"^Source: (\S+)", s, re.M)
        if name and ver:
            pkgs.append(
                Package(
                    name[1],
                    ver[1],
                    PackageType.DEB,
                    "bench",
                    source_name=src[1] if src else None,
                    distro=bookworm,
                )
            )
    while len(pkgs) < 1000:
        pkgs.append(Package(f"bench-pkg-{len(pkgs)}", "1.0.0", PackageType.NPM, "bench"))
    return pkgs[:1000]


def _time(label: str, sbom: Sbom, db: VulnDB, runs: int = 9) -> None:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rep = scan_sbom(sbom, db)
        times.append((time.perf_counter() - t) * 1e3)
    print(
        f"{label}: {len(sbom.packages)} packages, {len(rep.findings)} findings; "
        f"first {times[0]:.1f} ms, median of the rest {statistics.median(times[1:]):.1f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(sys.argv[1]) if len(sys.argv) > 1 else _build_db(Path(tmp))
        db = VulnDB.open(path)
        pkgs = _packages()
        image = ImageInfo("bench", None, None, None)
        _time("A (worst case)", Sbom(image, None, tuple(pkgs)), db)
        b = [
            dataclasses.replace(p, version="999.0" if p.type is PackageType.PYTHON else "v999.0.0")
            if p.type in (PackageType.PYTHON, PackageType.GO) and i % 12
            else p
            for i, p in enumerate(pkgs)
        ]
        _time("B (typical)", Sbom(image, None, tuple(b)), db)
        db.close()


if __name__ == "__main__":
    main()
