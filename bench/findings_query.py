"""Benchmark: the findings query (filtered, paged) at 1,000,000 findings on PostgreSQL.

    .venv/bin/python -m bench.findings_query [N_FINDINGS] [--no-compare] [--keep]
    (`make bench` runs it as `bench.findings_query.section()`: 1,000,000, side by side)

A scratch database (`shoal_bench_findings_<random>`, on the server at 127.0.0.1:5432) is
created, migrated with the service's own migrations, filled and dropped at the end.

The data set has the shape of a real fleet, from a fixed seed: 5 subscriptions, 20
registries, 2,000 repositories, 10,000 images; findings per image log-normally spread
(a few images carry thousands, many a handful); 3,000 package names and 30,000
vulnerability ids, both drawn with Zipf popularity (openssl-like packages and the
famous CVEs are in many images); each vulnerability has one severity (critical 5 %,
high 20 %, medium 40 %, low 25 %, negligible 5 %, unknown 5 %); 55 % fixable; 80 % open,
17 % fixed, 3 % exempted; first seen over the last 180 days, most findings at their
image's first scan (ties in first_seen, as real scans make). Loaded with COPY.

Timed: `shoal.service.views.findings.list_findings` in a read session, as the API route
calls it (open a read transaction, query a page of 100, fetch the page's image context),
for a set of typical filter mixes, first pages and deep pages (cursors at row 100,000
and 500,000 of the default order, and deep in the severity order). Each mix runs 30
times after 3 warm-ups; p50/p95 per mix and over all queries.

Side by side (the default): the loaded database is copied (CREATE DATABASE ... TEMPLATE)
and the copy's findings indexes are put back to what migration 0002 left (the indexes
migration 0003 added dropped, the ones it dropped recreated; the set is read from a
scratch database migrated to 0002, so it follows the migrations). Both copies are
queried in turn, run by run, so that "before 0003" and "schema now" see the same
machine load. `--no-compare` measures the schema as migrated only.

Then the same through the HTTP route once per mix (FastAPI TestClient: routing,
validation, JSON), for the API's overhead. `--keep` leaves the databases in place (their
names are printed) for EXPLAIN; drop them by hand afterwards.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.results import replace_section
from shoal.config import Settings
from shoal.db import migrate
from shoal.db.crypto import hash_webhook_secret
from shoal.db.types import FindingState
from shoal.model.advisory import Rating
from shoal.service.context import ServiceContext
from shoal.service.views import cursor as cur
from shoal.service.views.findings import FindingQuery, FindingSort, list_findings

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
N_FINDINGS = 1_000_000
SUBS, REGS_PER_SUB, REPOS_PER_REG, IMAGES_PER_REPO = 5, 4, 100, 5
N_PACKAGES, N_VULNS = 3_000, 30_000
RUNS, WARMUP, PAGE = 30, 3, 100
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TARGET_MS = 50.0

SEVERITY_MIX = [
    (Rating.CRITICAL, 5),
    (Rating.HIGH, 20),
    (Rating.MEDIUM, 40),
    (Rating.LOW, 25),
    (Rating.NEGLIGIBLE, 5),
    (Rating.UNKNOWN, 5),
]
BEFORE = "0002"  # the revision "before 0003" puts the findings indexes back to


@dataclass
class Fleet:
    subs: list[int]
    regs: list[int]
    repos: list[int]
    images: list[int]
    image_findings: dict[int, int]
    popular_package: str
    rare_package: str
    popular_purl: str
    rare_purl: str
    popular_vuln: str
    rare_vuln: str


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.encode())


def _copy(conn: psycopg.Connection[Any], table: str, cols: str, lines: list[str]) -> None:
    with conn.cursor() as c, c.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for i in range(0, len(lines), 50_000):
            cp.write("".join(lines[i : i + 50_000]))


def _ts(t: datetime) -> str:
    return t.isoformat()


def load(dsn: str, n_findings: int, rnd: random.Random) -> Fleet:
    """Fill the (migrated, empty) database; returns what the query mixes need."""
    secret = hash_webhook_secret("bench")
    created = _ts(NOW - timedelta(days=200))
    with psycopg.connect(dsn) as conn:
        _copy(
            conn,
            "subscriptions",
            "id, name, plan_enabled, settings, created_at",
            [f"{s + 1}\tbench-{s}\tt\t{{}}\t{created}\n" for s in range(SUBS)],
        )
        regs: list[str] = []
        for s in range(SUBS):
            for _ in range(REGS_PER_SUB):
                rid = len(regs) + 1
                regs.append(
                    f"{rid}\t{s + 1}\treg-{rid}\thttps://reg{rid}.example\tdistribution\t\\N"
                    f"\t{secret}\t{created}\n"
                )
        _copy(
            conn,
            "registries",
            "id, subscription_id, name, url, kind, credentials, webhook_secret_hash, created_at",
            regs,
        )
        repos: list[str] = []
        for reg in range(1, len(regs) + 1):
            for k in range(REPOS_PER_REG):
                repos.append(f"{len(repos) + 1}\t{reg}\tteam-{k % 7}/service-{k}\t{created}\n")
        _copy(conn, "repositories", "id, registry_id, name, created_at", repos)
        images: list[str] = []
        first_scan: dict[int, datetime] = {}
        for repo in range(1, len(repos) + 1):
            for _ in range(IMAGES_PER_REPO):
                iid = len(images) + 1
                digest = "sha256:" + hashlib.sha256(str(iid).encode()).hexdigest()
                t = NOW - timedelta(seconds=rnd.uniform(0, 180 * 86400))
                first_scan[iid] = t
                images.append(
                    f"{iid}\t{repo}\t{digest}\tlinux/amd64\t{_ts(t)}\t\\N\t{_ts(NOW)}\tbench\tdb1"
                    f"\t{_ts(t)}\n"
                )
        _copy(
            conn,
            "images",
            "id, repository_id, digest, platform, pushed_at, last_pulled_at, last_scanned_at,"
            " analyser_version, db_version, created_at",
            images,
        )
        for tbl in ("subscriptions", "registries", "repositories", "images"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{tbl}', 'id'), (SELECT max(id) FROM {tbl}))"
            )
        conn.commit()

        n_images = len(images)
        weights = [rnd.lognormvariate(0, 1.2) for _ in range(n_images)]
        total = sum(weights)
        counts = [int(n_findings * w / total) for w in weights]
        counts[0] += n_findings - sum(counts)
        pkg_names = [f"lib{k:04d}" for k in range(N_PACKAGES)]
        pkg_names[0], pkg_names[1] = "openssl", "zlib1g"
        pkg_w = [1 / (k + 1) ** 0.9 for k in range(N_PACKAGES)]
        pkg_types = [
            "deb" if k % 5 < 3 else ("pypi", "npm", "golang", "maven")[k % 4]
            for k in range(N_PACKAGES)
        ]
        vulns = [f"CVE-{2014 + k % 12}-{10000 + k}" for k in range(N_VULNS)]
        vuln_w = [1 / (k + 1) ** 1.0 for k in range(N_VULNS)]
        sev_of = rnd.choices([s for s, _ in SEVERITY_MIX], [w for _, w in SEVERITY_MIX], k=N_VULNS)
        lines: list[str] = []
        fid = 0
        by_image: dict[int, int] = {}
        for iid, n in enumerate(counts, 1):
            if n <= 0:
                continue
            by_image[iid] = n
            t0 = first_scan[iid]
            pk = rnd.choices(range(N_PACKAGES), pkg_w, k=n)
            vs = rnd.choices(range(N_VULNS), vuln_w, k=n)
            layers = [hashlib.sha256(f"{iid}-{j}".encode()).hexdigest() for j in range(5)]
            for j in range(n):
                fid += 1
                name = pkg_names[pk[j]]
                ptype = pkg_types[pk[j]]
                purl = (
                    f"pkg:deb/debian/{name}@1.{pk[j] % 9}-1?arch=amd64&distro=debian-12"
                    if ptype == "deb"
                    else f"pkg:{ptype}/{name}@1.{pk[j] % 9}.0"
                )
                seen = t0 if rnd.random() < 0.7 else t0 + (NOW - t0) * rnd.random()
                r = rnd.random()
                state = (
                    FindingState.OPEN
                    if r < 0.80
                    else (FindingState.FIXED if r < 0.97 else FindingState.EXEMPTED)
                )
                resolved = reason = exempted = "\\N"
                last = NOW
                if state is FindingState.FIXED:
                    rt = min(NOW, seen + timedelta(seconds=rnd.uniform(3600, 60 * 86400)))
                    resolved, last = _ts(rt), rt
                elif state is FindingState.EXEMPTED:
                    reason = "not reachable: the service never parses untrusted input"
                    exempted = _ts(min(NOW, seen + timedelta(days=3)))
                fixable = rnd.random() < 0.55
                fixed_json = '["1.99"]' if fixable else "[]"
                lines.append(
                    f"{hashlib.md5(str(fid).encode()).hexdigest()}\t{iid}\t{purl}\t{name}"
                    f"\t1.{pk[j] % 9}\t{vulns[vs[j]]}\t{sev_of[vs[j]].value}"
                    f"\t{'t' if fixable else 'f'}\t{fixed_json}"
                    f"\tsha256:{layers[j % 5]}\t{state.value}\t{_ts(seen)}\t{_ts(last)}\t{resolved}"
                    f"\t{reason}\t{exempted}\n"
                )
            if len(lines) >= 200_000:
                _copy(conn, "findings", _FINDING_COLS, lines)
                lines = []
        _copy(conn, "findings", _FINDING_COLS, lines)
        conn.commit()
        conn.commit()
    # the steady state autovacuum keeps: statistics and the visibility map (which lets
    # an index answer a query without visiting the table)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    rare_pkg = pkg_names[N_PACKAGES - 7]
    return Fleet(
        subs=list(range(1, SUBS + 1)),
        regs=list(range(1, len(regs) + 1)),
        repos=list(range(1, len(repos) + 1)),
        images=sorted(by_image, key=lambda i: -by_image[i]),
        image_findings=by_image,
        popular_package="openssl",
        rare_package=rare_pkg,
        popular_purl="pkg:deb/debian/openssl@1.0-1?arch=amd64&distro=debian-12",
        rare_purl=f"pkg:{pkg_types[N_PACKAGES - 7]}/{rare_pkg}@1.{(N_PACKAGES - 7) % 9}.0",
        popular_vuln=vulns[0],
        rare_vuln=vulns[N_VULNS // 2],
    )


_FINDING_COLS = (
    "id, image_id, package_purl, package_name, package_version, vulnerability_id, severity,"
    " fixable, fixed_versions, layer_diff_id, state, first_seen, last_seen, resolved_at,"
    " exemption_reason, exempted_at"
)


@dataclass
class Mix:
    name: str
    query: FindingQuery
    cursor: str | None = None
    http: dict[str, Any] | None = None  # query string for the HTTP run, when timed there


def _deep_cursor(dsn: str, offset: int, sort: FindingSort) -> str:
    """A cursor pointing `offset` rows into the open findings (setup, untimed)."""
    with psycopg.connect(dsn) as conn:
        if sort is FindingSort.FIRST_SEEN:
            row = conn.execute(
                "SELECT first_seen, id FROM findings WHERE state = 'open' "
                "ORDER BY first_seen DESC, id DESC OFFSET %s LIMIT 1",
                (offset,),
            ).fetchone()
            assert row is not None
            return cur.encode("findings/first_seen", cur.encode_time(row[0]), row[1])
        row = conn.execute(
            "SELECT severity, first_seen, id FROM findings WHERE state = 'open' "
            "AND severity = 'low' ORDER BY first_seen DESC, id DESC OFFSET %s LIMIT 1",
            (offset,),
        ).fetchone()
        assert row is not None
        return cur.encode("findings/severity", row[0], cur.encode_time(row[1]), row[2])


def mixes(f: Fleet, dsn: str, n: int) -> list[Mix]:
    month = NOW - timedelta(days=30)
    big_image = f.images[0]
    typical_image = f.images[len(f.images) // 2]
    return [
        Mix("open, newest first (default)", FindingQuery(), http={}),
        Mix(
            "severity critical+high",
            FindingQuery(severities=(Rating.CRITICAL, Rating.HIGH)),
            http={"severity": ["critical", "high"]},
        ),
        Mix(
            "critical + fixable",
            FindingQuery(severities=(Rating.CRITICAL,), fixable=True),
            http={"severity": "critical", "fixable": "true"},
        ),
        Mix("one subscription", FindingQuery(subscription_id=f.subs[2])),
        Mix(
            "one registry",
            FindingQuery(registry_id=f.regs[7]),
            http={"registry_id": f.regs[7]},
        ),
        Mix("one repository", FindingQuery(repository_id=f.repos[1234])),
        Mix(
            f"one image ({f.image_findings[big_image]} findings)", FindingQuery(image_id=big_image)
        ),
        Mix(
            f"one image ({f.image_findings[typical_image]} findings)",
            FindingQuery(image_id=typical_image),
        ),
        Mix("popular vulnerability id", FindingQuery(vulnerability_id=f.popular_vuln)),
        Mix("rare vulnerability id", FindingQuery(vulnerability_id=f.rare_vuln)),
        Mix(
            "package name (openssl)",
            FindingQuery(package=f.popular_package),
            http={"package": f.popular_package},
        ),
        Mix("package name (rare)", FindingQuery(package=f.rare_package)),
        Mix("package purl (openssl)", FindingQuery(package=f.popular_purl)),
        Mix("package purl (rare)", FindingQuery(package=f.rare_purl)),
        Mix("first seen in the last 30 days", FindingQuery(since=month)),
        Mix("state fixed", FindingQuery(states=(FindingState.FIXED,))),
        Mix(
            "registry + critical/high + fixable",
            FindingQuery(
                registry_id=f.regs[3], severities=(Rating.CRITICAL, Rating.HIGH), fixable=True
            ),
        ),
        Mix(
            "sort by severity",
            FindingQuery(sort=FindingSort.SEVERITY),
            http={"sort": "severity"},
        ),
        Mix(
            "sort by severity, one registry",
            FindingQuery(sort=FindingSort.SEVERITY, registry_id=f.regs[11]),
        ),
        Mix(
            f"deep page: row {n // 10:,}",
            FindingQuery(),
            _deep_cursor(dsn, n // 10, FindingSort.FIRST_SEEN),
        ),
        Mix(
            f"deep page: row {n // 2:,}",
            FindingQuery(),
            _deep_cursor(dsn, n // 2, FindingSort.FIRST_SEEN),
            http={},
        ),
        Mix(
            f"deep page, severity sort (low, row {n // 10:,} of them)",
            FindingQuery(sort=FindingSort.SEVERITY),
            _deep_cursor(dsn, n // 10, FindingSort.SEVERITY),
        ),
    ]


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def time_view(ctx: ServiceContext, m: Mix) -> tuple[list[float], int]:
    out: list[float] = []
    n = 0
    for i in range(WARMUP + RUNS):
        t = time.perf_counter()
        with ctx.read() as s:
            page = list_findings(s, m.query, cursor=m.cursor, limit=PAGE)
        dt = (time.perf_counter() - t) * 1000
        n = len(page.items)
        if i >= WARMUP:
            out.append(dt)
    return out, n


def time_pair(ctx: ServiceContext, client: Any, m: Mix) -> tuple[list[float], list[float]]:
    """The view and the HTTP route, interleaved so that both see the same machine load."""
    params = dict(m.http or {})
    params["limit"] = PAGE
    if m.cursor:
        params["cursor"] = m.cursor
    view: list[float] = []
    http: list[float] = []
    for i in range(WARMUP + RUNS):
        t = time.perf_counter()
        with ctx.read() as s:
            list_findings(s, m.query, cursor=m.cursor, limit=PAGE)
        v = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        r = client.get("/api/v1/findings", params=params)
        h = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise SystemExit(f"HTTP {r.status_code}: {r.text[:300]}")
        if i >= WARMUP:
            view.append(v)
            http.append(h)
    return view, http


@dataclass
class Result:
    label: str
    rows: list[tuple[str, int, float, float]]  # mix, page rows, p50, p95
    all_p50: float
    all_p95: float


def run_mixes(ctx: ServiceContext, ms: list[Mix], label: str) -> Result:
    rows = []
    everything: list[float] = []
    for m in ms:
        xs, n = time_view(ctx, m)
        everything += xs
        rows.append((m.name, n, _pct(xs, 50), _pct(xs, 95)))
        print(
            f"  {label}: {m.name}: {n} rows p50 {rows[-1][2]:.1f} ms p95 {rows[-1][3]:.1f} ms",
            flush=True,
        )
    return Result(label, rows, _pct(everything, 50), _pct(everything, 95))


def run_ab(before: ServiceContext, now: ServiceContext, ms: list[Mix]) -> tuple[Result, Result]:
    """Each mix on both databases, run by run in turn, so both see the same load; the
    two must return the same page (same data, other indexes)."""
    rows_a, rows_b, all_a, all_b = [], [], [], []
    for m in ms:
        xa: list[float] = []
        xb: list[float] = []
        n = 0
        for i in range(WARMUP + RUNS):
            pages = []
            for c, xs in ((before, xa), (now, xb)):
                t = time.perf_counter()
                with c.read() as s:
                    page = list_findings(s, m.query, cursor=m.cursor, limit=PAGE)
                if i >= WARMUP:
                    xs.append((time.perf_counter() - t) * 1000)
                pages.append(([r.id for r in page.items], page.next_cursor))
            if pages[0] != pages[1]:
                raise SystemExit(f"{m.name}: the two databases returned different pages")
            n = len(pages[1][0])
        all_a += xa
        all_b += xb
        rows_a.append((m.name, n, _pct(xa, 50), _pct(xa, 95)))
        rows_b.append((m.name, n, _pct(xb, 50), _pct(xb, 95)))
        print(
            f"  {m.name}: {n} rows p95 before 0003 {rows_a[-1][3]:.1f} ms, "
            f"schema now {rows_b[-1][3]:.1f} ms",
            flush=True,
        )
    return (
        Result("before 0003", rows_a, _pct(all_a, 50), _pct(all_a, 95)),
        Result("schema now", rows_b, _pct(all_b, 50), _pct(all_b, 95)),
    )


def _findings_indexes(dsn: str) -> dict[str, str]:
    """name -> definition of the findings table's indexes (the primary key aside)."""
    with psycopg.connect(dsn) as conn:
        return {
            name: ddl
            for name, ddl in conn.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'findings'::regclass AND NOT i.indisprimary"
            )
        }


def indexes_at(revision: str) -> dict[str, str]:
    """The findings indexes a database migrated to `revision` has (a scratch database)."""
    name = f"shoal_bench_findings_{secrets.token_hex(4)}_rev"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        migrate(PG_URL.format(name=name), revision)
        return _findings_indexes(f"host=127.0.0.1 port=5432 user=postgres dbname={name}")
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_indexes(dsn: str, wanted: dict[str, str]) -> tuple[list[str], list[str]]:
    """Make the findings indexes of the database at `dsn` those of `wanted`, then
    VACUUM ANALYZE; returns the names dropped and created."""
    have = _findings_indexes(dsn)
    drop = sorted(n for n in have if n not in wanted)
    create = sorted(n for n in wanted if n not in have)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for ix in drop:
            conn.execute(f'DROP INDEX "{ix}"'.encode())
        for ix in create:
            conn.execute(wanted[ix].encode())
        conn.execute(b"VACUUM ANALYZE findings")
    return drop, create


def _context(url: str) -> ServiceContext:
    tmp = Path(tempfile.mkdtemp(prefix="shoal-bench-fq-"))
    settings = Settings.model_validate(
        {"vulndb": {"path": str(tmp / "none.db")}, "service": {"data_dir": str(tmp)}}
    )
    return ServiceContext.create(settings, database_url=url)


def measure(n_findings: int, *, compare: bool = True, keep: bool = False) -> list[str]:
    load_start = os.getloadavg()
    name = f"shoal_bench_findings_{secrets.token_hex(4)}"
    before_name = f"{name}_before_0003"
    _admin(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    before_dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={before_name}"
    ctx: ServiceContext | None = None
    ctx_before: ServiceContext | None = None
    try:
        migrate(url)
        t = time.perf_counter()
        fleet = load(dsn, n_findings, random.Random(20261124))
        load_s = time.perf_counter() - t
        with psycopg.connect(dsn) as conn:
            count = conn.execute("SELECT count(*) FROM findings").fetchone()
            size = conn.execute("SELECT pg_total_relation_size('findings')").fetchone()
        assert count is not None and size is not None
        print(f"loaded {count[0]} findings in {load_s:.1f} s ({size[0] / 1e6:.0f} MB with indexes)")
        now_ix = _findings_indexes(dsn)
        delta: tuple[list[str], list[str]] = ([], [])
        if compare:  # the same data with the findings indexes as migration 0002 left them
            _admin(f'CREATE DATABASE "{before_name}" TEMPLATE "{name}"')
            delta = set_indexes(before_dsn, indexes_at(BEFORE))
            print(f"before 0003: dropped {', '.join(delta[0])}; created {', '.join(delta[1])}")
        ms = mixes(fleet, dsn, n_findings)
        ctx = _context(url)
        if compare:
            ctx_before = _context(PG_URL.format(name=before_name))
            before, now = run_ab(ctx_before, ctx, ms)
            results = [before, now]
        else:
            results = [run_mixes(ctx, ms, "schema now")]
        from fastapi.testclient import TestClient

        from shoal.api.app import create_app

        client = TestClient(create_app(ctx))
        http_rows = []
        for m in ms:
            if m.http is None:
                continue
            vx, hx = time_pair(ctx, client, m)
            http_rows.append((m.name, _pct(vx, 50), _pct(hx, 50), _pct(hx, 95)))
            print(f"  HTTP: {m.name}: p50 {http_rows[-1][2]:.1f} ms p95 {http_rows[-1][3]:.1f} ms")
        load_avg = os.getloadavg()
    finally:
        for c in (ctx, ctx_before):
            if c is not None:
                c.close()
        if keep:
            print(f"kept: {name}" + (f", {before_name}" if compare else ""))
        else:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _admin(f'DROP DATABASE IF EXISTS "{before_name}" WITH (FORCE)')
    return _section(
        count[0], load_s, size[0], results, http_rows, now_ix, delta, (load_start, load_avg)
    )


def _section(
    count: int,
    load_s: float,
    size: int,
    results: list[Result],
    http_rows: list[tuple[str, float, float, float]],
    now_ix: dict[str, str],
    delta: tuple[list[str], list[str]],
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> list[str]:
    def verdict(r: Result) -> str:
        return "yes" if r.all_p95 <= TARGET_MS else "**no**"

    def ix_list(names: list[str]) -> str:
        return ", ".join(f"`{n}`" for n in names)

    lines = [
        "",
        "## Findings query",
        "",
        f"`python -m bench.findings_query` on PostgreSQL 127.0.0.1 ({os.cpu_count()} cores): "
        f"{count:,} findings in 10,000 images, 2,000 repositories, 20 registries, 5 "
        f"subscriptions (seeded, realistic spread; see the module docstring), loaded with COPY "
        f"in {load_s:.0f} s ({size / 1e6:.0f} MB table + indexes). A page of {PAGE} through "
        f"`list_findings` in a read transaction (as the route runs it), {RUNS} runs per mix "
        f"after {WARMUP} warm-ups. Load average (1/5/15 min, as `uptime` shows it) at the "
        f"start of the run {'/'.join(f'{x:.1f}' for x in load[0])}, at the end "
        f"{'/'.join(f'{x:.1f}' for x in load[1])}, on {os.cpu_count()} cores "
        "(the bench itself accounts for about 1; more means other work, test runs for "
        "example, shared the cores and inflated the absolute times; the two columns of a row "
        "are measured in turn, so compare them).",
        "",
        f"Findings indexes in the schema now: {ix_list(sorted(now_ix))}.",
    ]
    if len(results) == 1:
        (now,) = results
        lines += [
            "",
            "| filter mix | rows | p50 | p95 | target p95 |",
            "|---|---|---|---|---|",
        ]
        for name, n, p50, p95 in now.rows:
            lines.append(f"| {name} | {n} | {p50:.1f} ms | {p95:.1f} ms | <= {TARGET_MS:.0f} ms |")
        lines.append(
            f"| **all {len(now.rows) * RUNS} queries** | | **{now.all_p50:.1f} ms** | "
            f"**{now.all_p95:.1f} ms** | <= {TARGET_MS:.0f} ms ({verdict(now)}) |"
        )
    else:
        before, now = results
        lines += [
            "",
            "Two copies of the same database, queried in turn run by run (same load; each "
            "page checked equal on both; the same view code on both): the schema now, and a "
            "copy with the findings "
            f'indexes as migration {BEFORE} left them ("before 0003": dropped '
            f"{ix_list(delta[0])}; recreated {ix_list(delta[1])}).",
            "",
            "| filter mix | rows | before 0003 p50 | before 0003 p95 | now p50 | now p95 | "
            "target p95 |",
            "|---|---|---|---|---|---|---|",
        ]
        for (name, n, p50, p95), (_, _, q50, q95) in zip(before.rows, now.rows, strict=True):
            lines.append(
                f"| {name} | {n} | {p50:.1f} ms | {p95:.1f} ms | {q50:.1f} ms | {q95:.1f} ms "
                f"| <= {TARGET_MS:.0f} ms |"
            )
        lines.append(
            f"| **all {len(before.rows) * RUNS} queries** | | **{before.all_p50:.1f} ms** | "
            f"**{before.all_p95:.1f} ms** ({verdict(before)}) | **{now.all_p50:.1f} ms** | "
            f"**{now.all_p95:.1f} ms** ({verdict(now)}) | <= {TARGET_MS:.0f} ms |"
        )
    lines += [
        "",
        "Through the HTTP route (`GET /api/v1/findings`, FastAPI TestClient in process: "
        "routing, validation, the same query, JSON; schema now; timed in turn with the view):",
        "",
        "| filter mix | view p50 | HTTP p50 | HTTP p95 | API overhead (p50) |",
        "|---|---|---|---|---|",
    ]
    for name, vp50, hp50, hp95 in http_rows:
        lines.append(
            f"| {name} | {vp50:.1f} ms | {hp50:.1f} ms | {hp95:.1f} ms | {hp50 - vp50:.1f} ms |"
        )
    lines += [
        "",
        "The query plans, the view's statement old vs new and the `registry_id` schema option, "
        "measured by hand: [findings_query_notes.md](findings_query_notes.md).",
        "",
    ]
    return lines


def section() -> list[str]:
    """The findings-query part of bench/RESULTS.md (what `bench/run.py` appends)."""
    return measure(N_FINDINGS)


def main(argv: list[str]) -> None:
    flags = {"--no-compare", "--keep"}
    bad = [a for a in argv if not a.isdigit() and a not in flags]
    if bad:
        raise SystemExit(
            f"bench.findings_query: unknown argument {bad[0]!r} (N, --no-compare, --keep)"
        )
    n = int(next((a for a in argv if a.isdigit()), N_FINDINGS))
    lines = measure(n, compare="--no-compare" not in argv, keep="--keep" in argv)
    print("\n".join(lines))
    if n == N_FINDINGS:
        replace_section("## Findings query", lines)


if __name__ == "__main__":
    main(sys.argv[1:])
