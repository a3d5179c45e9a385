"""Benchmark: import the real OSV feeds and match a 1,000-package SBOM against them.

    .venv/bin/python -m bench.match [DB]      (also run by `make bench`)

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
        else Path(__file__).resolve().parents[2] / f"shared/feeds/osv/{eco}-all.zip"
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


def _time(label: str, sbom: Sbom, db: VulnDB, runs: int = 9) -> str:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rep = scan_sbom(sbom, db)
        times.append((time.perf_counter() - t) * 1e3)
    return (
        f"| {label} | {len(sbom.packages)} | {len(rep.findings)} | {times[0]:.0f} ms | "
        f"{statistics.median(times[1:]):.0f} ms | <= 50 ms |"
    )


def section(db_path: Path | None = None) -> list[str]:
    """The vulnerability-data part of bench/RESULTS.md."""
    lines = ["", "## Vulnerability data and matching", ""]
    with tempfile.TemporaryDirectory() as tmp:
        if db_path is None:
            imports = []
            for i in range(3):
                root = Path(tmp) / f"db{i}"
                t = time.perf_counter()
                db_path = _build_db(root)
                imports.append(time.perf_counter() - t)
            n = _advisories(db_path)
            size = db_path.stat().st_size
            lines += [
                "| measure | result | target |",
                "|---|---|---|",
                f"| import of both OSV zips (PyPI + Go, {n} advisories) into a new DB, "
                f"median of 3 | {statistics.median(imports):.2f} s | <= 5 s |",
                f"| DB size on disk | {size / 1e6:.1f} MB, {size / n * 1000 / 1e6:.2f} MB per "
                "1,000 advisories | |",
                "",
            ]
        db = VulnDB.open(db_path)
        pkgs = _packages()
        image = ImageInfo("bench", None, None, None)
        b = [
            dataclasses.replace(p, version="999.0" if p.type is PackageType.PYTHON else "v999.0.0")
            if p.type in (PackageType.PYTHON, PackageType.GO) and i % 12
            else p
            for i, p in enumerate(pkgs)
        ]
        lines += [
            "Matching an SBOM of 1,000 packages (400 PyPI and 100 Go names that have "
            "advisories, 400 of this machine's real dpkg packages, 100 npm names) with the DB "
            "open: match, merge into findings, filters (`scan_sbom`). Median of 8 runs after "
            "a first one.",
            "",
            "| SBOM | packages | findings | first run | median | target |",
            "|---|---|---|---|---|---|",
            _time(
                "B, typical: 1 in 12 PyPI/Go packages vulnerable", Sbom(image, None, tuple(b)), db
            ),
            _time(
                "A, worst case: every PyPI/Go package vulnerable",
                Sbom(image, None, tuple(pkgs)),
                db,
            ),
        ]
        db.close()
    return lines


def _advisories(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
        return int(c.execute("select count(*) from advisories").fetchone()[0])


if __name__ == "__main__":
    print("\n".join(section(Path(sys.argv[1]) if len(sys.argv) > 1 else None)))
