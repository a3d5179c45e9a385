"""`make demo`: a local Distribution registry, demo images built from real packages on
this machine, pushed with skopeo, and shoal analysing them into SBOMs.

The images are made of real package databases, not invented ones: this machine's dpkg
status and os-release, the dist-info of the Python packages installed in shoal's own
virtualenv, and the node_modules of the npm that Debian ships. Ctrl-C (or the end of
the run) stops everything the demo started.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.images import OciLayoutBuilder, push  # noqa: E402
from tests.support.registry import start_registry  # noqa: E402

from shoal.config import load_settings  # noqa: E402
from shoal.export import get_formatter  # noqa: E402
from shoal.image.analyze import Analyzer  # noqa: E402
from shoal.image.sources import open_source  # noqa: E402
from shoal.scan.report import scan_sbom  # noqa: E402
from shoal.vulndb.store import VulnDB  # noqa: E402
from shoal.vulndb.update import bootstrap  # noqa: E402

DEMO = ROOT / ".demo"
console = Console()


def _tree(src: Path, dest: str, *, suffixes: tuple[str, ...] | None = None) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in src.rglob("*"):
        if p.is_file() and not p.is_symlink() and (suffixes is None or p.name in suffixes):
            out[f"{dest}/{p.relative_to(src)}"] = p.read_bytes()
    return out


def debian_python_image(b: OciLayoutBuilder) -> None:
    base = {
        "/var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes(),
        "/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes(),
    }
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = site / "site-packages"
    wheels: dict[str, bytes] = {}
    for info in site.glob("*.dist-info"):
        for name in ("METADATA",):
            if (info / name).is_file():
                wheels[f"/usr/local/lib/python3.11/site-packages/{info.name}/{name}"] = (
                    info / name
                ).read_bytes()
    b.add_image(
        [base, wheels],
        tag="debian-python",
        history=["debootstrap bookworm", "pip install -r requirements.txt"],
    )


def node_image(b: OciLayoutBuilder) -> None:
    npm = Path("/usr/lib/node_modules/npm")
    layers = [{"/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes()}]
    if npm.is_dir():
        layers.append(_tree(npm, "/usr/lib/node_modules/npm", suffixes=("package.json",)))
    b.add_image(layers, tag="node-tools", history=["base", "npm install -g npm"])


def legacy_image(b: OciLayoutBuilder) -> None:
    """Old, vulnerable releases: the real METADATA of django 3.2, urllib3 1.26.4 and
    PyYAML 5.3.1 wheels (trimmed test data) over a Debian base."""
    tree = ROOT / "tests/unit/scan/testdata/image"
    files = {f"/{p.relative_to(tree)}": p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    base = {k: v for k, v in files.items() if not k.startswith("/usr/local")}
    app = {k: v for k, v in files.items() if k.startswith("/usr/local")}
    b.add_image([base, app], tag="legacy", history=["FROM debian:bookworm", "pip install"])


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    console.rule("[bold]shoal demo")
    reg = start_registry(DEMO / "registry")
    stop = lambda *_: (reg.stop(), sys.exit(130))  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    try:
        console.print(f"registry: CNCF Distribution on [bold]{reg.url}[/]")
        b = OciLayoutBuilder(DEMO / "layout")
        debian_python_image(b)
        node_image(b)
        legacy_image(b)
        refs = []
        images = (
            ("debian-python", "demo/app"),
            ("node-tools", "demo/tools"),
            ("legacy", "demo/legacy"),
        )
        for tag, repo in images:
            ref = f"{reg.host}/{repo}:1"
            push(b.path, tag, ref)
            refs.append(ref)
            console.print(f"pushed {ref} (skopeo)")
        settings = load_settings(cache={"dir": DEMO / "cache"})
        fmt = get_formatter("cyclonedx-json")
        db_path = DEMO / "vulndb" / "vuln.db"
        t0 = time.perf_counter()
        bootstrap(db_path)  # the real feed snapshots bundled with shoal; no network
        console.print(
            f"vulnerability DB built from the bundled feeds in {time.perf_counter() - t0:.1f} s"
        )
        db = VulnDB.open(db_path)
        table = Table(title="Images")
        for col in ("image", "distro", "packages", "findings", "seconds"):
            table.add_column(col)
        all_findings = []
        for ref in refs:
            t0 = time.perf_counter()
            source = open_source(ref, settings)
            try:
                (sbom,) = Analyzer(settings).analyze(source)
            finally:
                source.close()
            report = scan_sbom(sbom, db)
            all_findings += [(ref, f) for f in report.findings]
            dt = time.perf_counter() - t0
            out = DEMO / (ref.split("/", 1)[1].replace("/", "_").replace(":", "_") + ".cdx.json")
            with out.open("wb") as f:
                fmt.write(sbom, f)
            types = Counter(p.type.value for p in sbom.packages)
            sev = Counter(f.rating.value for f in report.findings)
            table.add_row(
                ref.split("/", 1)[1],
                sbom.distro.pretty_name or sbom.distro.id if sbom.distro else "-",
                f"{len(sbom.packages)} ("
                + ", ".join(f"{k} {v}" for k, v in sorted(types.items()))
                + ")",
                ", ".join(f"{v} {k}" for k, v in sev.most_common()) or "none",
                f"{dt:.2f}",
            )
        db.close()
        console.print(table)
        top = sorted(
            all_findings,
            key=lambda rf: (-rf[1].rating.rank, rf[1].package.name, rf[1].vulnerability),
        )[:10]
        if top:
            t = Table(title="Top findings")
            for col in ("image", "package", "installed", "vulnerability", "severity", "fixed in"):
                t.add_column(col)
            for ref, f in top:
                t.add_row(
                    ref.split("/", 1)[1],
                    f.package.name,
                    f.package.version,
                    f.vulnerability,
                    f.rating.value,
                    ", ".join(f.fixed_versions) or "-",
                )
            console.print(t)
        console.print(f"SBOMs (CycloneDX) written to {DEMO.relative_to(ROOT)}/")
        console.print(
            f"Try: [bold].venv/bin/shoal scan {refs[2]}[/] or [bold].venv/bin/shoal sbom "
            f"{refs[0]} -o spdx-json[/] (the registry runs until this demo exits; "
            f"SHOAL_VULNDB__PATH={db_path.relative_to(ROOT)} uses the demo's DB)."
        )
        if sys.stdin.isatty() and not os.environ.get("CI"):
            console.print("Press Ctrl-C to stop the registry.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        reg.stop()
        console.print("stopped the registry")


if __name__ == "__main__":
    sys.exit(main())
