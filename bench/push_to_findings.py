"""Benchmark: push -> findings visible in the API, for a ~100 MB image of real packages.

    .venv/bin/python -m bench.push_to_findings [N] [--database-url URL] [--write]

(also run by `make bench`). A running `shoal serve` (its defaults: embedded SQLite, two
in-process workers; `--database-url` for PostgreSQL), a local CNCF Distribution registry
whose `notifications` point at it (the section shoal's create-registry answer gives), and
an image pushed N times with skopeo, each time with a distinct digest. The figure is the
time from the end of the `skopeo copy` to the first page of the image's findings being
non-empty in `GET /api/v1/findings?image_id=...` (polled every 20 ms; the image id from
`GET /api/v1/images?digest=...`): notification delivery, webhook, queue, manifest and
blob reads, analysis, matching, the write, and the API read, all included.

The image is built once (cached in bench/work/push-layout) from real Debian packages
installed on this machine: the files `dpkg -L` lists for the base system (priority
required/important) in one layer, then Python 3.11 with pip, libc6-dev and make, Perl,
git and OpenSSL in a second, each layer with the dpkg status and info files of its packages;
about 100 MB gzip-compressed. A third, small layer holds the real METADATA of Django 3.2,
urllib3 1.26.4 and PyYAML 5.3.1 (so there are findings) and a build id, which is what
changes between pushes: each push is a new manifest over the same two big layers, as a
new build of an application usually is.

Two runs, each on a fresh service and registry:
- layer cache on (the service's default): the big layers are analysed on the first push,
  and later pushes reuse the per-layer results; only the new layer is downloaded;
- layer cache off (`SHOAL_CACHE__ENABLED=false`): every push downloads and analyses all
  ~100 MB again, the worst case of an image whose every layer is new.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import math
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.integration.service.e2e_support import (  # noqa: E402
    TESTDATA,
    ShoalApi,
    connect_registry,
)
from tests.support.images import push  # noqa: E402
from tests.support.registry import free_port  # noqa: E402
from tests.support.serve import ServeProcess, start_serve  # noqa: E402

from bench.results import replace_section  # noqa: E402

WORK = HERE / "work" / "push-layout"
N_PUSHES = int(os.environ.get("BENCH_PUSHES", "20"))
SECOND_LAYER = [
    "python3.11", "python3.11-minimal", "libpython3.11-stdlib", "libpython3.11-minimal",
    "libpython3.11", "python3", "python3-minimal", "python3-pip", "python3-setuptools",
    "python3-wheel", "libc6-dev", "linux-libc-dev", "libcrypt-dev", "libnsl-dev",
    "libtirpc-dev", "rpcsvc-proto", "make", "perl", "perl-modules-5.36", "libperl5.36",
    "libgdbm6", "libgdbm-compat4", "git", "git-man", "libcurl3-gnutls", "liberror-perl",
    "openssl", "libssl3", "ca-certificates", "libexpat1", "libffi8", "libsqlite3-0",
    "libreadline8", "libncursesw6", "libbz2-1.0", "liblzma5", "zlib1g", "libuuid1",
    "libdb5.3", "media-types", "tzdata",
]  # fmt: skip
_MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


# --- the image ---------------------------------------------------------------------------


def _status() -> dict[str, str]:
    """Installed packages -> their real dpkg status stanza."""
    text = Path("/var/lib/dpkg/status").read_text()
    out: dict[str, str] = {}
    for stanza in text.strip().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if "install ok installed" in fields.get("Status", ""):
            arch = fields.get("Architecture", "")
            out[fields["Package"]] = stanza
            out[f"{fields['Package']}:{arch}"] = stanza
    return out


def _priority(stanza: str) -> str:
    for line in stanza.splitlines():
        if line.startswith("Priority: "):
            return line.split(": ", 1)[1]
    return ""


def _info_files(pkg: str) -> list[Path]:
    info = Path("/var/lib/dpkg/info")
    name = pkg.split(":", maxsplit=1)[0]
    return sorted(
        p
        for p in info.glob(f"{name}*")
        if p.name.split(".")[0] in (name, f"{name}:amd64") and p.is_file()
    )


def _layer(packages: list[str], status_stanzas: list[str], extra: dict[str, bytes]) -> bytes:
    """A tar of the packages' regular files (as `dpkg -L` lists them), their dpkg info
    files, and the dpkg status given."""
    buf = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:

        def add(path: str, data: bytes, mode: int = 0o644) -> None:
            if path in seen:
                return
            seen.add(path)
            ti = tarfile.TarInfo(path.lstrip("/"))
            ti.size, ti.mode, ti.mtime = len(data), mode, 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))

        for pkg in packages:
            listed = subprocess.run(
                ["dpkg", "-L", pkg], capture_output=True, text=True, check=False
            ).stdout
            for line in listed.splitlines():
                p = Path(line)
                if line.startswith("/") and p.is_file() and not p.is_symlink():
                    try:
                        add(line, p.read_bytes(), p.stat().st_mode & 0o777)
                    except OSError:
                        continue
            for info in _info_files(pkg):
                add(str(info), info.read_bytes())
        add("/var/lib/dpkg/status", ("\n\n".join(status_stanzas) + "\n").encode())
        for path, data in extra.items():
            add(path, data)
    return buf.getvalue()


def _blob(layout: Path, data: bytes) -> str:
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / d.split(":")[1]).write_bytes(data)
    return d


@dataclass
class BaseImage:
    layout: Path
    layers: list[dict[str, Any]]  # descriptors of the two big layers
    diff_ids: list[str]
    packages: int

    @property
    def size(self) -> int:
        return sum(int(d["size"]) for d in self.layers)


def build() -> BaseImage:
    """The two big layers, built once into bench/work/push-layout."""
    meta = WORK / "base.json"
    if meta.exists():
        doc = json.loads(meta.read_text())
        return BaseImage(WORK, doc["layers"], doc["diff_ids"], doc["packages"])
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "blobs" / "sha256").mkdir(parents=True)
    (WORK / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    status = _status()
    names = sorted({k.split(":")[0] for k in status})
    base = [n for n in names if _priority(status[n]) in ("required", "important")]
    second = [n for n in SECOND_LAYER if n in status and n not in base]
    os_release = {"/usr/lib/os-release": Path("/usr/lib/os-release").read_bytes()}
    raw1 = _layer(base, [status[n] for n in base], os_release)
    raw2 = _layer(second, [status[n] for n in base + second], {})
    layers, diff_ids = [], []
    for raw in (raw1, raw2):
        blob = gzip.compress(raw, compresslevel=6, mtime=0)
        layers.append({"mediaType": _MEDIA_LAYER, "digest": _blob(WORK, blob), "size": len(blob)})
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    doc = {"layers": layers, "diff_ids": diff_ids, "packages": len(base) + len(second)}
    meta.write_text(json.dumps(doc))
    img = BaseImage(WORK, layers, diff_ids, doc["packages"])
    print(f"built {WORK} ({img.size / 1e6:.0f} MB compressed, {img.packages} packages)")
    return img


def app_layer() -> dict[str, bytes]:
    files = {
        "/" + str(p.relative_to(TESTDATA)): p.read_bytes()
        for p in TESTDATA.rglob("*")
        if p.is_file() and str(p.relative_to(TESTDATA)).startswith("usr/local")
    }
    return files


def new_build(img: BaseImage, tag: str, build_id: str) -> str:
    """A new image over the base layers with a small app layer naming `build_id`,
    tagged `tag` in the layout; its manifest digest."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, data in [*app_layer().items(), ("/etc/build-id", build_id.encode())]:
            ti = tarfile.TarInfo(path.lstrip("/"))
            ti.size, ti.mtime = len(data), 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    blob = gzip.compress(raw, compresslevel=6, mtime=0)
    top = {"mediaType": _MEDIA_LAYER, "digest": _blob(img.layout, blob), "size": len(blob)}
    config = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {
            "type": "layers",
            "diff_ids": [*img.diff_ids, "sha256:" + hashlib.sha256(raw).hexdigest()],
        },
    }
    cfg = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _blob(img.layout, cfg),
            "size": len(cfg),
        },
        "layers": [*img.layers, top],
    }
    mbytes = json.dumps(manifest).encode()
    digest = _blob(img.layout, mbytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": digest,
                "size": len(mbytes),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (img.layout / "index.json").write_text(json.dumps(index))
    return digest


# --- the measurement ---------------------------------------------------------------------


@dataclass
class Run:
    label: str
    seconds: list[float]  # push end -> findings visible, per push
    push_seconds: list[float]  # the skopeo copy itself
    findings: int
    job_seconds: float  # mean scan job run time inside the service


def measure(img: BaseImage, n: int, *, cache: bool, database_url: str | None, tmp: Path) -> Run:
    env = {"SHOAL_CACHE__DIR": str(tmp / "cache"), "SHOAL_CACHE__ENABLED": str(cache).lower()}
    svc = start_serve(
        tmp / "svc",
        database_url=database_url,
        port=free_port(),
        args=["--no-scheduler", "--no-access-log"],
        env=env,
    )
    link = None
    try:
        svc.wait_ready(timeout=120)
        api = ShoalApi(svc.client)
        sub = api.create_subscription("bench")
        link = connect_registry(api, sub["id"], tmp / "registry")
        reg = link.registry
        seconds, pushes, findings = [], [], 0
        for i in range(n):
            digest = new_build(img, "app", f"build-{i}-{time.time_ns()}")
            t0 = time.perf_counter()
            push(img.layout, "app", f"{reg.host}/bench/app:{i}")
            t_pushed = time.perf_counter()
            image_id = None
            deadline = t_pushed + 300
            while True:
                if image_id is None:
                    rows = api.get("/images", registry_id=link.registry_id, digest=digest, limit=1)[
                        "items"
                    ]
                    image_id = rows[0]["id"] if rows else None
                if image_id is not None:
                    page = api.get("/findings", image_id=image_id, limit=1)
                    if page["items"]:
                        break
                if time.perf_counter() > deadline:
                    raise SystemExit(
                        f"push {i}: no findings within 300 s\n{svc.log_text()[-3000:]}"
                    )
                time.sleep(0.02)
            seconds.append(time.perf_counter() - t_pushed)
            pushes.append(t_pushed - t0)
            if not findings:
                findings = len(api.findings(image_id=image_id))
            print(
                f"{'cache on ' if cache else 'cache off'} push {i + 1}/{n}: skopeo "
                f"{pushes[-1]:.2f} s, then findings after {seconds[-1]:.2f} s",
                flush=True,
            )
        label = "layer cache on (default)" if cache else "layer cache off (every layer new)"
        return Run(label, seconds, pushes, findings, job_seconds(svc))
    finally:
        if link is not None:
            link.stop()
        svc.stop()


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values`, nearest rank (p95 of 20 values: the 19th smallest)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def job_seconds(svc: ServeProcess) -> float:
    """Mean run time of the service's finished scan jobs, from its /metrics."""
    sums: dict[str, float] = {}
    for line in svc.client.get("/metrics").text.splitlines():
        for what in ("sum", "count"):
            key = f'shoal_job_duration_seconds_{what}{{kind="scan_image",outcome="done"}} '
            if line.startswith(key):
                sums[what] = float(line.split()[-1])
    return sums.get("sum", 0.0) / max(1.0, sums.get("count", 0.0))


def _db_name(url: str | None) -> str:
    return "PostgreSQL" if url and url.startswith("postgresql") else "SQLite"


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str | None]:
    """A new, empty database on the PostgreSQL at 127.0.0.1:5432 (dropped afterwards);
    None when there is no server to use."""
    import psycopg

    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    name = f"shoal_bench_push_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
    except psycopg.OperationalError as e:
        print(f"PostgreSQL at 127.0.0.1:5432 not usable, skipped: {e}", flush=True)
        yield None
        return
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def section(n: int = N_PUSHES, database_url: str | None = None) -> list[str]:
    """The push-to-findings part of bench/RESULTS.md: on the embedded SQLite and on a
    scratch PostgreSQL database (or only on `database_url` when given)."""
    img = build()
    runs: list[tuple[str, Run]] = []
    dbs = ["given"] if database_url else ["SQLite", "PostgreSQL"]
    with tempfile.TemporaryDirectory(prefix="shoal-bench-push-") as tmp:
        for db in dbs:
            for cache in (True, False):
                with contextlib.ExitStack() as stack:
                    url = database_url if db == "given" else None
                    if db == "PostgreSQL":  # a fresh database per run
                        url = stack.enter_context(scratch_postgres())
                        if url is None:
                            break
                    where = Path(tmp) / f"{db}-{'cache-on' if cache else 'cache-off'}"
                    run = measure(img, n, cache=cache, database_url=url, tmp=where)
                    runs.append((db if db != "given" else _db_name(database_url), run))
    lines = [
        "",
        "## Push to findings",
        "",
        "`python -m bench.push_to_findings`: `shoal serve` (2 in-process workers; embedded "
        "SQLite, then PostgreSQL 127.0.0.1) and a local Distribution registry notifying it, "
        "on loopback, a fresh service, database and registry per run. Image: "
        f"{img.size / 1e6:.0f} MB compressed, 3 layers: {img.packages} real Debian 12 "
        "packages installed on this machine (the base system, then Python 3.11 with pip, "
        "libc6-dev, make, Perl, git, OpenSSL: their files and dpkg data) and a small top "
        "layer with real Django 3.2 / urllib3 1.26.4 / PyYAML 5.3.1 metadata and a build id, "
        f"new for each of the {n} pushes of a run (a distinct digest each time). Time from "
        "the end of the `skopeo copy` to the image's findings being returned by "
        "`GET /api/v1/findings?image_id=...` (polled every 20 ms). Load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| database | run | pushes | first push | p50 | p95 | max | target p95 | scan job, mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for db, r in runs:
        lines.append(
            f"| {db} | {r.label} | {len(r.seconds)} | {r.seconds[0]:.2f} s | "
            f"{statistics.median(r.seconds):.2f} s | {pct(r.seconds, 0.95):.2f} s | "
            f"{max(r.seconds):.2f} s | <= 5 s | {r.job_seconds:.2f} s |"
        )
    cold = runs[1][1]
    lines += [
        "",
        f'Each image has {runs[0][1].findings} findings. "Scan job" is the service\'s own '
        "`shoal_job_duration_seconds` for its scan jobs (registry reads, analysis, matching, "
        "the write); the rest is notification delivery, the webhook, queueing and the API "
        "read. With the layer cache on, the first push is the cold one (both big layers "
        "downloaded and analysed); later pushes download and analyse only the new top layer. "
        "With it off, every push downloads and analyses the whole image. The `skopeo copy` "
        f"itself (not counted): {cold.push_seconds[0]:.2f} s for a first push (all "
        f"{img.size / 1e6:.0f} MB uploaded), {statistics.median(cold.push_seconds):.2f} s "
        "median (the big layers already in the registry).",
    ]
    return lines


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), N_PUSHES))
    url = None
    if "--database-url" in argv:
        url = argv[argv.index("--database-url") + 1]
    lines = section(n, url)
    print("\n".join(lines))
    if "--write" in argv:
        replace_section("## Push to findings", lines)


if __name__ == "__main__":
    print(f"{platform.node()}: {os.cpu_count()} cores", flush=True)
    main(sys.argv[1:])
