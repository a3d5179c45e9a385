"""Benchmark: re-match 10,000 stored image SBOMs after a feed update, SQLite and PostgreSQL.

    .venv/bin/python -m bench.rematch [N_IMAGES]      (also run by `make bench`)

Images are built from real package lists, ~200 packages each, sampled per image with a
fixed seed so that images overlap the way real ones do (a few base images, shared
application stacks):
- Debian 12: this machine's `/var/lib/dpkg/status` packages (name, version, source); each
  image takes one of 12 base sets of 110 packages plus 40 more;
- PyPI: names and versions from the real PyPI OSV archive (versions its advisories list,
  so many are vulnerable); every image has pip and setuptools (real pip releases) plus
  ~33 more;
- Go: module names and versions from the real Go OSV archive, ~15 in 30 % of images.

Each image goes through the service's own code: `record_push`, `store_sbom` with its
lookup keys, a first assessment. The vulnerability DB starts as the bundled feeds with
the PyPI advisories of pip and setuptools left out; the timed feed update imports the
full real PyPI archive, so every image has a changed key (the worst case: all 10,000 are
re-matched, and most open new findings). Timed end to end: the feed-update job (DB
update, selecting the images through `sbom_keys`, queueing the re-match jobs) and the
re-match jobs run by the service's in-process queue with 2 worker threads, until the
queue is empty.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select

from bench.results import replace_section
from shoal.config import Settings
from shoal.db import migrate
from shoal.db.inventory import create_registry, create_subscription, ensure_repository, record_push
from shoal.db.models import Event, Finding, Job
from shoal.db.sboms import store_sbom
from shoal.db.types import EventType, FindingState, JobKind, JobState, RegistryKind
from shoal.model.package import Distro, Location, Package, PackageType
from shoal.model.sbom import ImageInfo, LayerInfo, Platform, Sbom
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.feeds import submit_feed_update
from shoal.service.queue import InProcessQueue
from shoal.service.rematch import RematchStats, keys_version, match_keys, rematch_images
from shoal.vulndb.resolve import bundled_path
from shoal.vulndb.update import bundled_feeds, update

N_IMAGES = 10_000
SEED = 20261124
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
LEFT_OUT = ("pip", "setuptools")  # their advisories arrive with the timed update
PIP_RELEASES = ["21.3.1", "22.0.4", "22.3.1", "23.0.1", "23.1.2", "23.2.1", "23.3.1", "24.0"]
SETUPTOOLS_RELEASES = ["58.1.0", "59.6.0", "65.5.0", "65.5.1", "68.0.0", "69.0.3"]
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BOOKWORM = Distro(id="debian", version_id="12", version_codename="bookworm")


def _layer(n: int) -> str:
    return f"sha256:{n:064x}"


def _osv_pool(eco: str, limit: int) -> list[tuple[str, list[str]]]:
    """(name, real versions) from the real OSV archive: the versions its advisories
    list, else those their ranges name (introduced, fixed)."""
    src = bundled_path(f"osv/{eco}")
    assert src is not None, f"no bundled osv/{eco}"
    versions: dict[str, list[str]] = {}
    with zipfile.ZipFile(src) as z:
        for name in sorted(z.namelist()):
            for a in json.loads(z.read(name)).get("affected", []):
                pkg = a["package"]["name"]
                if pkg in LEFT_OUT:
                    continue
                vs = list(a.get("versions") or [])[-6:]
                for r in a.get("ranges", []):
                    if r.get("type") in ("ECOSYSTEM", "SEMVER"):
                        vs += [v for e in r.get("events", []) for v in e.values() if v != "0"]
                if vs:
                    have = versions.setdefault(pkg, [])
                    have += [v for v in vs if v not in have]
    return sorted(versions.items())[:limit]


def _debs() -> list[tuple[str, str, str | None, str | None]]:
    status = Path("/var/lib/dpkg/status").read_text()
    out = []
    for stanza in status.split("\n\n"):
        name = re.search(r"^Package: (\S+)", stanza, re.M)
        ver = re.search(r"^Version: (\S+)", stanza, re.M)
        src = re.search(r"^Source: (\S+)(?: \((\S+)\))?", stanza, re.M)
        if name and ver:
            out.append((name[1], ver[1], src[1] if src else None, src[2] if src else None))
    return out


@dataclass
class Pools:
    debs: list[tuple[str, str, str | None, str | None]]
    pypi: list[tuple[str, list[str]]]
    go: list[tuple[str, list[str]]]


def make_sboms(n: int) -> list[Sbom]:
    """`n` image SBOMs. Like real fleets: 12 base images (110 Debian packages each) plus
    40 packages an image adds; 40 application stacks of 25 pinned PyPI packages plus 8
    more an image adds; every name used at one of at most 3 versions."""
    rng = random.Random(SEED)
    pools = Pools(_debs(), _osv_pool("PyPI", 1500), _osv_pool("Go", 800))
    py_versions = [(name, rng.sample(vs, min(3, len(vs)))) for name, vs in pools.pypi]
    go_versions = [(name, rng.sample(vs, min(3, len(vs)))) for name, vs in pools.go]
    bases = [rng.sample(range(len(pools.debs)), 110) for _ in range(12)]
    stacks = [
        [(py_versions[j][0], rng.choice(py_versions[j][1])) for j in rng.sample(range(len(py_versions)), 25)]
        for _ in range(40)
    ]  # fmt: skip
    out = []
    for i in range(n):
        base_no = rng.randrange(len(bases))
        base_layer, app_layer = _layer(base_no + 1), _layer(1_000_000 + i)
        dpkg = (Location("/var/lib/dpkg/status", base_layer),)
        base = set(bases[base_no])
        pkgs: list[Package] = []
        for j in sorted(base | set(rng.sample(range(len(pools.debs)), 40))):
            name, ver, src, src_ver = pools.debs[j]
            pkgs.append(
                Package(name, ver, PackageType.DEB, "os/dpkg", dpkg, arch="amd64",
                        source_name=src, source_version=src_ver,
                        layer=base_layer if j in base else app_layer, distro=BOOKWORM)
            )  # fmt: skip
        site = (Location("/usr/local/lib/python3.11/site-packages", app_layer),)
        py = {"pip": rng.choice(PIP_RELEASES), "setuptools": rng.choice(SETUPTOOLS_RELEASES)}
        py.update(stacks[rng.randrange(len(stacks))])
        for j in rng.sample(range(len(py_versions)), 8):
            name, versions = py_versions[j]
            py.setdefault(name, rng.choice(versions))
        pkgs += [
            Package(k, v, PackageType.PYTHON, "python", site, layer=app_layer)
            for k, v in py.items()
        ]
        if rng.random() < 0.3:
            gobin = (Location("/usr/local/bin/app", app_layer),)
            for j in rng.sample(range(len(go_versions)), 15):
                name, versions = go_versions[j]
                version = "v" + rng.choice(versions).removeprefix("v")
                pkgs.append(Package(name, version, PackageType.GO, "go", gobin, layer=app_layer))
        digest = f"sha256:{i + 1:064x}"
        info = ImageInfo(
            reference=f"bench.local/app-{i % 250}@{digest}",
            manifest_digest=digest,
            config_digest=None,
            platform=Platform("linux", "amd64"),
            layers=(LayerInfo(base_layer, base_layer, "application/vnd.oci.image.layer.v1.tar+gzip", 1),
                    LayerInfo(app_layer, app_layer, "application/vnd.oci.image.layer.v1.tar+gzip", 1)),
        )  # fmt: skip
        out.append(Sbom(info, BOOKWORM, tuple(pkgs)))
    return out


def _pypi_without(dest: Path) -> Path:
    """The real PyPI archive without the advisories of LEFT_OUT packages."""
    src = bundled_path("osv/PyPI")
    assert src is not None
    out = dest / "osv" / "PyPI-all.zip"
    out.parent.mkdir(parents=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            raw = zin.read(name)
            doc = json.loads(raw)
            if not any(a["package"]["name"] in LEFT_OUT for a in doc.get("affected", [])):
                zout.writestr(name, raw)
    return out


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stats = RematchStats()
        self.feeds: dict[str, Any] = {}
        self.feeds_at = 0.0  # time.time() when the feed-update job logged its end

    def emit(self, record: logging.LogRecord) -> None:
        d = record.__dict__
        if record.getMessage() == "rematch done":
            for k in ("images", "rematched", "unchanged", "opened", "resolved"):
                setattr(self.stats, k, getattr(self.stats, k) + int(d[k]))
            for k in ("decode_s", "match_s", "write_s"):
                setattr(self.stats, k, getattr(self.stats, k) + float(d[k]))
        elif record.getMessage() == "feeds updated":
            self.feeds = {k: d[k] for k in ("changed_keys", "images_queued", "data_version")}
            self.feeds_at = record.created


@dataclass
class Result:
    backend: str
    images: int
    packages: float
    setup_s: float
    update_s: float
    total_s: float
    rematched: int
    unchanged: int
    opened: int
    decode_s: float
    match_s: float
    write_s: float
    findings: int


def run(backend: str, url: str, n: int, work: Path) -> Result:
    migrate(url)
    vuln = work / f"vuln-{backend}.db"
    before = work / f"before-{backend}"
    _pypi_without(before)
    feeds = bundled_feeds()
    update(vuln, [f for f in feeds if f.name != "osv/PyPI"])
    update(
        vuln, [f for f in feeds if f.name == "osv/PyPI"], from_path=before / "osv" / "PyPI-all.zip"
    )
    settings = Settings.model_validate(
        {
            "vulndb": {"path": str(vuln)},
            "cache": {"dir": str(work / "cache")},
            "service": {"data_dir": str(work / f"service-{backend}"), "workers": 2},
        }
    )
    clock = ManualClock(START)
    ctx = ServiceContext.create(settings, database_url=url, clock=clock)
    ctx.queue = InProcessQueue(ctx, 2)
    try:
        t0 = time.perf_counter()
        with ctx.write() as s:
            sub = create_subscription(s, "bench", now=START)
            reg = create_registry(s, sub.id, "bench", "http://127.0.0.1:9", RegistryKind.DISTRIBUTION,
                                  cipher=_cipher(), now=START).registry  # fmt: skip
            repos = [
                ensure_repository(s, reg.id, f"bench/app-{r}", now=START).id for r in range(250)
            ]
        ids: list[int] = []
        kv = keys_version()
        sboms = make_sboms(n)
        packages = sum(len(s.packages) for s in sboms) / len(sboms)
        for k in range(0, len(sboms), 500):
            with ctx.write() as s:
                for i, sbom in enumerate(sboms[k : k + 500], start=k):
                    digest = sbom.image.manifest_digest
                    assert digest
                    img = record_push(s, repos[i % 250], digest, platform="linux/amd64", at=START)
                    store_sbom(s, sbom, ctx.analyser_version, now=START, match_keys=match_keys(sbom), keys_version=kv)  # fmt: skip
                    ids.append(img.id)
        for k in range(0, len(ids), 250):  # the first assessment of every image
            rematch_images(ctx, ids[k : k + 250], trigger="reassess")
        setup = time.perf_counter() - t0
        # the service process does not hold the SBOMs it stored: neither does this one
        del sboms
        gc.collect()
        print(f"{backend}: {len(ids)} images stored and assessed in {setup:.0f} s", flush=True)

        clock.advance(timedelta(hours=2))
        full = bundled_path("osv/PyPI")
        collect = _Collect()
        for name in ("shoal.service.rematch", "shoal.service.feeds"):
            logging.getLogger(name).addHandler(collect)
            logging.getLogger(name).setLevel(logging.INFO)
        t0, wall0 = time.perf_counter(), time.time()
        with ctx.write() as s:
            submit_feed_update(s, ctx, sources=["osv/PyPI"], from_path=full)
        ctx.queue.start()
        _wait_idle(ctx)
        total = time.perf_counter() - t0
        ctx.queue.stop()
        for name in ("shoal.service.rematch", "shoal.service.feeds"):
            logging.getLogger(name).removeHandler(collect)
        with ctx.read() as s:
            update_job = s.scalars(select(Job).where(Job.kind == JobKind.UPDATE_FEEDS)).one()
            assert update_job.state is JobState.DONE, update_job.last_error
            assert update_job.started_at and update_job.finished_at
            failed = s.scalar(
                select(func.count()).select_from(Job).where(Job.state != JobState.DONE)
            )
            assert failed == 0, f"{failed} jobs not done"
            findings = int(
                s.scalar(
                    select(func.count())
                    .select_from(Finding)
                    .where(Finding.state == FindingState.OPEN)
                )
                or 0
            )
            rescanned = s.scalar(select(func.count()).select_from(Event).where(Event.type == EventType.IMAGE_SCANNED, Event.payload["trigger"].as_string() == "rematch"))  # fmt: skip
        st = collect.stats
        print(f"{backend}: feed update {collect.feeds}, rematch events {rescanned}", flush=True)
        return Result(
            backend, len(ids), packages, setup,
            collect.feeds_at - wall0, total, st.rematched, st.unchanged, st.opened,
            st.decode_s, st.match_s, st.write_s, findings,
        )  # fmt: skip
    finally:
        ctx.close()


def _cipher() -> Any:
    from shoal.db.crypto import CredentialCipher

    return CredentialCipher(CredentialCipher.generate_key())


def _wait_idle(ctx: ServiceContext, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.read() as s:
            busy = s.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
            )
        if not busy:
            return
        time.sleep(0.2)  # this poll shares the process (and its GIL) with the workers
    raise SystemExit("re-match did not finish in time")


def section(n: int = N_IMAGES) -> list[str]:
    """The re-match part of bench/RESULTS.md."""
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-rematch-"))
    pg_name = f"shoal_bench_{secrets.token_hex(4)}"
    results = []
    try:
        results.append(run("SQLite", f"sqlite:///{work / 'service.db'}", n, work))
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"'.encode())
        try:
            results.append(run("PostgreSQL", PG_URL.format(name=pg_name), n, work))
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'.encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r0 = results[0]
    lines = [
        "",
        "## Re-match after a feed update",
        "",
        f"{r0.images:,} stored image SBOMs, {r0.packages:.0f} packages each on average, built "
        "from real package lists (this machine's Debian 12 dpkg status; names and versions "
        "from the real PyPI and Go OSV archives), sampled per image with a fixed seed so "
        "images share base layers and application stacks. Stored through the service's code "
        "(`record_push`, `store_sbom` with lookup keys) and assessed once. The timed feed "
        "update imports the real PyPI archive into a DB that lacked its pip and setuptools "
        "advisories; every image has both, so every image is re-matched (the worst case) "
        "and most open new findings. Timed end to end: the feed-update job (DB update, "
        "selection through `sbom_keys`, queueing), then the re-match jobs on the in-process "
        f"queue with 2 worker threads until it is empty. {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}; load average at the "
        f"end {os.getloadavg()[0]:.1f}.",
        "",
        "| database | images re-matched | of them unchanged | findings opened | "
        "end to end | of it: feed update job | decode | match | write | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.rematched:,} | {r.unchanged:,} | {r.opened:,} | "
            f"{r.total_s:.1f} s | {r.update_s:.1f} s | {r.decode_s:.1f} s | {r.match_s:.1f} s | {r.write_s:.1f} s | "
            "<= 60 s |"
        )
    lines += [
        "",
        "decode, match and write are summed over the jobs (two worker threads, so they can "
        "add up to more than the wall time); decode: the stored match rows (zstd, compact "
        "JSON) to package identities; match: "
        "`MemoMatcher` (each distinct package matched once per DB version) and conversion "
        "to rows; write: finding sync, image stamps, events, SBOM keys. Setup (storing and "
        f"first assessment) took {r0.setup_s:.0f} s on SQLite.",
    ]
    return lines


HEADING = "## Re-match after a feed update"


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else N_IMAGES
    out = section(n)
    print("\n".join(out))
    if n == N_IMAGES:
        replace_section(HEADING, out)
