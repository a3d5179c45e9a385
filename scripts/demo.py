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
        refs = []
        for tag, repo in (("debian-python", "demo/app"), ("node-tools", "demo/tools")):
            ref = f"{reg.host}/{repo}:1"
            push(b.path, tag, ref)
            refs.append(ref)
            console.print(f"pushed {ref} (skopeo)")
        settings = load_settings(cache={"dir": DEMO / "cache"})
        fmt = get_formatter("cyclonedx-json")
        table = Table(title="SBOMs")
        for col in ("image", "distro", "packages", "by type", "seconds", "SBOM"):
            table.add_column(col)
        for ref in refs:
            t0 = time.perf_counter()
            source = open_source(ref, settings)
            try:
                (sbom,) = Analyzer(settings).analyze(source)
            finally:
                source.close()
            dt = time.perf_counter() - t0
            out = DEMO / (ref.split("/", 1)[1].replace("/", "_").replace(":", "_") + ".cdx.json")
            with out.open("wb") as f:
                fmt.write(sbom, f)
            types = Counter(p.type.value for p in sbom.packages)
            table.add_row(
                ref,
                sbom.distro.pretty_name or sbom.distro.id if sbom.distro else "-",
                str(len(sbom.packages)),
                ", ".join(f"{k} {v}" for k, v in sorted(types.items())),
                f"{dt:.2f}",
                str(out.relative_to(ROOT)),
            )
        console.print(table)
        console.print(
            "Try: [bold].venv/bin/shoal sbom "
            f"{refs[0]} -o spdx-json[/] (the registry runs until this demo exits)."
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
