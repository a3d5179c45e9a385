"""`make demo`: the assessment service on this machine, end to end.

1. `shoal serve` starts with its state under `.demo/service` (embedded SQLite, the
   credentials key, the vulnerability DB built from the real feed snapshots bundled with
   shoal: no network needed);
2. a subscription and a registry are created through the REST API; the registry's answer
   holds its webhook secret and a ready-to-paste Distribution `notifications` section;
3. a local CNCF Distribution registry starts with exactly that section, so every push and
   pull is reported to shoal's receiver for that registry;
4. demo images made of real package databases (this machine's dpkg status and
   os-release, the dist-info of the Python packages in shoal's own virtualenv, the
   node_modules of the npm Debian ships, and old Django / urllib3 / PyYAML releases) are
   pushed with skopeo; shoal scans each one as its push notification arrives;
5. a summary is printed (unhealthy registries and images, top findings by severity with
   their ids, counts) with the API and docs URLs; the service keeps running until
   Ctrl-C, which stops everything the demo started.

    .venv/bin/python -m scripts.demo [--once]

`--once` (or SHOAL_DEMO_EXIT=1, or CI set) exits after the summary. SHOAL_DEMO_DIR moves
the state directory (default `.demo`), SHOAL_DEMO_PORT the service's port (default 8080
when free), SHOAL_DATABASE_URL puts the service on PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.service.e2e_support import ShoalApi, connect_registry  # noqa: E402
from tests.support.images import OciLayoutBuilder, push  # noqa: E402
from tests.support.registry import free_port  # noqa: E402
from tests.support.serve import start_serve  # noqa: E402

SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")
# piped output (a log, a test) gets wide lines rather than truncated ids
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


# --- the demo images (real package data of this machine) --------------------------------


def _tree(src: Path, dest: str, *, names: tuple[str, ...] | None = None) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in src.rglob("*"):
        if p.is_file() and not p.is_symlink() and (names is None or p.name in names):
            out[f"{dest}/{p.relative_to(src)}"] = p.read_bytes()
    return out


def debian_python_image(b: OciLayoutBuilder) -> str:
    """This machine's dpkg status and os-release, then the METADATA of every wheel in
    shoal's own virtualenv."""
    base = {
        "/var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes(),
        "/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes(),
    }
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    wheels: dict[str, bytes] = {}
    for info in (site / "site-packages").glob("*.dist-info"):
        if (info / "METADATA").is_file():
            wheels[f"/usr/local/lib/python3.11/site-packages/{info.name}/METADATA"] = (
                info / "METADATA"
            ).read_bytes()
    return b.add_image(
        [base, wheels],
        tag="debian-python",
        history=["debootstrap bookworm", "pip install -r requirements.txt"],
    ).manifest_digest


def node_image(b: OciLayoutBuilder) -> str:
    """os-release, then the package.json files of the npm that Debian ships."""
    npm = Path("/usr/lib/node_modules/npm")
    layers = [{"/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes()}]
    if npm.is_dir():
        layers.append(_tree(npm, "/usr/lib/node_modules/npm", names=("package.json",)))
    return b.add_image(
        layers, tag="node-tools", history=["base", "npm install -g npm"]
    ).manifest_digest


def legacy_image(b: OciLayoutBuilder) -> str:
    """Old, vulnerable releases: the real METADATA of Django 3.2, urllib3 1.26.4 and
    PyYAML 5.3.1 wheels (trimmed test data) over a Debian base."""
    tree = ROOT / "tests/unit/scan/testdata/image"
    files = {f"/{p.relative_to(tree)}": p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    base = {k: v for k, v in files.items() if not k.startswith("/usr/local")}
    app = {k: v for k, v in files.items() if k.startswith("/usr/local")}
    return b.add_image(
        [base, app], tag="legacy", history=["FROM debian:bookworm", "pip install"]
    ).manifest_digest


IMAGES: tuple[tuple[str, str, Callable[[OciLayoutBuilder], str]], ...] = (
    ("debian-python", "demo/app", debian_python_image),  # (layout tag, repository, builder)
    ("node-tools", "demo/tools", node_image),
    ("legacy", "demo/legacy", legacy_image),
)


# --- helpers ----------------------------------------------------------------------------


def service_port() -> int:
    wanted = os.environ.get("SHOAL_DEMO_PORT")
    if wanted:
        return int(wanted)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", 8080))
        except OSError:
            return free_port()
    return 8080


def counts(doc: dict[str, Any]) -> str:
    parts = [f"{doc[s]} {s}" for s in SEVERITIES if doc.get(s)]
    return ", ".join(parts) or "none"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# --- the demo ---------------------------------------------------------------------------


def summary(api: ShoalApi, url: str, registry_id: int, images: dict[str, int]) -> None:
    regs = api.get("/assessments", scope="registry")["items"]
    table = Table(title="Registries (recommendation: vulnerability findings should be resolved)")
    for col in ("registry", "status", "images (unhealthy/scanned/total)", "open findings"):
        table.add_column(col)
    for a in regs:
        im = a["images"]
        table.add_row(
            f"{a['scope']['name']} (id {a['scope']['id']})",
            a["status"],
            f"{im['unhealthy']}/{im['scanned']}/{im['total']}",
            f"{a['open_total']} ({counts(a['open_findings'])}), {a['fixable']} fixable",
        )
    console.print(table)

    table = Table(title="Images")
    for col in ("image", "id", "status", "OS", "open findings", "fixable"):
        table.add_column(col)
    for ref, image_id in images.items():
        d = api.image(image_id)
        os_name = (d.get("os") or {}).get("pretty_name") or (d.get("os") or {}).get("id") or "-"
        table.add_row(
            ref,
            str(image_id),
            d["health"],
            str(os_name),
            counts(d["open_findings"]),
            str(d["fixable"]),
        )
    console.print(table)

    top = api.get("/findings", sort="severity", limit=10, registry_id=registry_id)["items"]
    if top:
        table = Table(title="Top findings by severity")
        for col in ("severity", "vulnerability", "package", "installed", "fixed in", "image"):
            table.add_column(col, no_wrap=True)
        table.add_column("finding id", overflow="fold")
        for f in top:
            table.add_row(
                f["severity"],
                f["vulnerability_id"],
                f["package"]["name"],
                f["package"]["version"],
                ", ".join(f["fixed_versions"]) or "-",
                f"{f['image']['repository']}:{','.join(f['image']['tags'])}",
                f["id"],
            )
        console.print(table)
    total = api.get("/assessments", scope="subscription")["items"]
    if total:
        a = total[0]
        console.print(
            f"subscription [bold]{a['scope']['name']}[/]: [bold]{a['status']}[/], "
            f"{a['open_total']} open findings ({counts(a['open_findings'])}), "
            f"{a['fixable']} fixable, {a['images']['unhealthy']} of {a['images']['total']} "
            "images unhealthy"
        )
    console.print(
        f"API: [bold]{url}/api/v1[/]   docs: [bold]{url}/docs[/]   "
        f"e.g. curl '{url}/api/v1/findings?severity=high&sort=severity'"
    )


def main(argv: list[str]) -> int:
    once = (
        "--once" in argv
        or os.environ.get("SHOAL_DEMO_EXIT", "") not in ("", "0")
        or bool(os.environ.get("CI"))
    )
    demo = Path(os.environ.get("SHOAL_DEMO_DIR") or ROOT / ".demo").resolve()
    shutil.rmtree(demo, ignore_errors=True)
    demo.mkdir(parents=True)
    # Ctrl-C and SIGTERM both end the demo through the `finally` below (SIGINT set
    # explicitly: a shell starting the demo in the background leaves it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stops: list[tuple[str, Callable[[], object]]] = []
    t_start = time.perf_counter()
    console.rule("[bold]shoal demo: the assessment service")
    try:
        port = service_port()
        svc = start_serve(
            demo / "service",
            database_url=os.environ.get("SHOAL_DATABASE_URL") or None,
            port=port,
        )
        stops.append(("shoal serve", svc.stop))
        svc.wait_ready(timeout=120)
        url = svc.url
        console.print(f"shoal serve: [bold]{url}[/] (state in {demo / 'service'}, log serve.log)")
        api = ShoalApi(svc.client)

        sub = api.create_subscription("demo")
        link = connect_registry(api, sub["id"], demo / "registry", name="local")
        stops.append(("registry", link.stop))
        reg = link.registry
        console.print(
            f"registry: CNCF Distribution on [bold]{reg.url}[/], notifications to "
            f"{link.created['receiver_url']} (the section shoal's API gave)"
        )

        b = OciLayoutBuilder(demo / "layout")
        digests: dict[str, str] = {}
        for tag, repo, build in IMAGES:
            digests[f"{repo}:1"] = build(b)
            ref = f"{reg.host}/{repo}:1"
            t0 = time.perf_counter()
            push(b.path, tag, ref)
            console.print(f"pushed {ref} (skopeo, {time.perf_counter() - t0:.1f} s)")

        images: dict[str, int] = {}
        for ref, digest in digests.items():
            repo = ref.split(":", 1)[0]
            image = api.wait_image(link.registry_id, repo, digest, timeout=120)
            scanned = api.wait_scanned(image["id"], timeout=240)
            images[ref] = scanned["id"]
            console.print(
                f"scanned {ref} ({scanned['platform']}, vulnerability data "
                f"{scanned['db_version'][:12]})"
            )
        console.print(f"all scans done {time.perf_counter() - t_start:.0f} s after the start")
        summary(api, url, link.registry_id, images)
        if once:
            return 0
        console.print(
            "The service and the registry keep running: push more images to "
            f"[bold]{reg.host}[/] (skopeo copy --dest-tls-verify=false ...). "
            "Press Ctrl-C to stop them."
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print()
        return 0
    finally:
        for what, stop in reversed(stops):
            stop()
            console.print(f"stopped {what}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
