"""Benchmark: the findings query (filtered, paged) at 1,000,000 findings on PostgreSQL.

    .venv/bin/python -m bench.findings_query [N_FINDINGS] [--try-indexes]   (also `make bench`)

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
times after 3 warm-ups; p50/p95 per mix and over all queries. Then the same through the
HTTP route once per mix (FastAPI TestClient: routing, validation, JSON), for the API's
overhead. `--try-indexes` (what `make bench` runs) also copies the loaded database
(CREATE DATABASE ... TEMPLATE), creates the candidate indexes in the copy by hand (the
schema is not changed here) and queries both copies in turn, run by run, so that the
comparison sees the same machine load; then each candidate alone on the copy.
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
# name, columns: the indexes `--try-indexes` measures (none is in the schema)
CANDIDATE_INDEXES = [
    ("ix_findings_package_name_first_seen", "(package_name, first_seen, id)"),
    ("ix_findings_package_purl", "(package_purl)"),
    ("ix_findings_state_severity_first_seen", "(state, severity, first_seen, id)"),
    ("ix_findings_image_state_severity", "(image_id, state, severity, fixable, first_seen, id)"),
]


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
        regs = []
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
        repos = []
        for reg in range(1, len(regs) + 1):
            for k in range(REPOS_PER_REG):
                repos.append(f"{len(repos) + 1}\t{reg}\tteam-{k % 7}/service-{k}\t{created}\n")
        _copy(conn, "repositories", "id, registry_id, name, created_at", repos)
        images = []
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
                resolved = "\\N"
                last = NOW
                if state is FindingState.FIXED:
                    rt = min(NOW, seen + timedelta(seconds=rnd.uniform(3600, 60 * 86400)))
                    resolved, last = _ts(rt), rt
                fixable = rnd.random() < 0.55
                fixed_json = '["1.99"]' if fixable else "[]"
                lines.append(
                    f"{hashlib.md5(str(fid).encode()).hexdigest()}\t{iid}\t{purl}\t{name}"
                    f"\t1.{pk[j] % 9}\t{vulns[vs[j]]}\t{sev_of[vs[j]].value}"
                    f"\t{'t' if fixable else 'f'}\t{fixed_json}"
                    f"\tsha256:{layers[j % 5]}\t{state.value}\t{_ts(seen)}\t{_ts(last)}\t{resolved}\n"
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
    " fixable, fixed_versions, layer_diff_id, state, first_seen, last_seen, resolved_at"
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


def run_ab(ctx: ServiceContext, ctx_ix: ServiceContext, ms: list[Mix]) -> tuple[Result, Result]:
    """Each mix on both databases, run by run in turn, so both see the same load."""
    rows_a, rows_b, all_a, all_b = [], [], [], []
    for m in ms:
        xa: list[float] = []
        xb: list[float] = []
        n = 0
        for i in range(WARMUP + RUNS):
            for c, xs in ((ctx, xa), (ctx_ix, xb)):
                t = time.perf_counter()
                with c.read() as s:
                    page = list_findings(s, m.query, cursor=m.cursor, limit=PAGE)
                if i >= WARMUP:
                    xs.append((time.perf_counter() - t) * 1000)
                n = len(page.items)
        all_a += xa
        all_b += xb
        rows_a.append((m.name, n, _pct(xa, 50), _pct(xa, 95)))
        rows_b.append((m.name, n, _pct(xb, 50), _pct(xb, 95)))
        print(
            f"  {m.name}: {n} rows p95 {rows_a[-1][3]:.1f} ms, with the indexes "
            f"{rows_b[-1][3]:.1f} ms",
            flush=True,
        )
    return (
        Result("schema as is", rows_a, _pct(all_a, 50), _pct(all_a, 95)),
        Result("with the candidate indexes", rows_b, _pct(all_b, 50), _pct(all_b, 95)),
    )


def _context(url: str) -> ServiceContext:
    tmp = Path(tempfile.mkdtemp(prefix="shoal-bench-fq-"))
    settings = Settings.model_validate(
        {"vulndb": {"path": str(tmp / "none.db")}, "service": {"data_dir": str(tmp)}}
    )
    return ServiceContext.create(settings, database_url=url)


def measure(n_findings: int, try_indexes: bool) -> list[str]:
    name = f"shoal_bench_findings_{secrets.token_hex(4)}"
    ix_name = f"{name}_ix"
    _admin(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    ix_dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={ix_name}"
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
        if try_indexes:  # the same data with the candidate indexes, side by side
            _admin(f'CREATE DATABASE "{ix_name}" TEMPLATE "{name}"')
            _indexes(ix_dsn, CANDIDATE_INDEXES, create=True)
        ms = mixes(fleet, dsn, n_findings)
        ctx = _context(url)
        ctx_ix = _context(PG_URL.format(name=ix_name)) if try_indexes else None
        try:
            with_ix: Result | None = None
            if ctx_ix is not None:
                base, with_ix = run_ab(ctx, ctx_ix, ms)
            else:
                base = run_mixes(ctx, ms, "schema as is")
            from fastapi.testclient import TestClient

            from shoal.api.app import create_app

            client = TestClient(create_app(ctx))
            http_rows = []
            for m in ms:
                if m.http is None:
                    continue
                vx, hx = time_pair(ctx, client, m)
                http_rows.append((m.name, _pct(vx, 50), _pct(hx, 50), _pct(hx, 95)))
                print(
                    f"  HTTP: {m.name}: p50 {http_rows[-1][2]:.1f} ms p95 {http_rows[-1][3]:.1f} ms"
                )
            alone: list[tuple[str, str, Result]] = []
            if ctx_ix is not None:
                _indexes(ix_dsn, CANDIDATE_INDEXES, create=False)
                for ix, cols in CANDIDATE_INDEXES:
                    _indexes(ix_dsn, [(ix, cols)], create=True)
                    alone.append((ix, cols, run_mixes(ctx_ix, ms, ix)))
                    _indexes(ix_dsn, [(ix, cols)], create=False)
        finally:
            ctx.close()
            if ctx_ix is not None:
                ctx_ix.close()
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'DROP DATABASE IF EXISTS "{ix_name}" WITH (FORCE)')
    return _section(count[0], load_s, size[0], base, with_ix, http_rows, alone)


def _indexes(dsn: str, ixs: list[tuple[str, str]], *, create: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for ix, cols in ixs:
            sql = f"CREATE INDEX {ix} ON findings {cols}" if create else f"DROP INDEX {ix}"
            conn.execute(sql.encode())
        conn.execute(b"VACUUM ANALYZE findings")


def _section(
    count: int,
    load_s: float,
    size: int,
    base: Result,
    with_ix: Result | None,
    http_rows: list[tuple[str, float, float, float]],
    alone: list[tuple[str, str, Result]],
) -> list[str]:
    def verdict(r: Result) -> str:
        return "yes" if r.all_p95 <= TARGET_MS else "**no**"

    lines = [
        "",
        "## Findings query",
        "",
        f"`python -m bench.findings_query` on PostgreSQL 127.0.0.1 ({os.cpu_count()} cores): "
        f"{count:,} findings in 10,000 images, 2,000 repositories, 20 registries, 5 "
        f"subscriptions (seeded, realistic spread; see the module docstring), loaded with COPY "
        f"in {load_s:.0f} s ({size / 1e6:.0f} MB table + indexes). A page of {PAGE} through "
        f"`list_findings` in a read transaction (as the route runs it), {RUNS} runs per mix "
        f"after {WARMUP} warm-ups; load average at the end {os.getloadavg()[0]:.1f} (the "
        "machine was shared with other work: absolute times are inflated, compare columns).",
        "",
    ]
    if with_ix is None:
        lines += ["| filter mix | rows | p50 | p95 | target p95 |", "|---|---|---|---|---|"]
        for name, n, p50, p95 in base.rows:
            lines.append(f"| {name} | {n} | {p50:.1f} ms | {p95:.1f} ms | <= {TARGET_MS:.0f} ms |")
        lines.append(
            f"| **all {len(base.rows) * RUNS} queries** | | **{base.all_p50:.1f} ms** | "
            f"**{base.all_p95:.1f} ms** | <= {TARGET_MS:.0f} ms ({verdict(base)}) |"
        )
    else:
        names = ", ".join(f"`{ix} {cols}`" for ix, cols in CANDIDATE_INDEXES)
        lines += [
            f"Two copies of the same database, queried in turn run by run (same load): the "
            f"schema as it is, and with the candidate indexes {names} (created by hand in "
            "the copy; not in the schema).",
            "",
            "| filter mix | rows | as is p50 | as is p95 | indexed p50 | indexed p95 | "
            "target p95 |",
            "|---|---|---|---|---|---|---|",
        ]
        for (name, n, p50, p95), (_, _, q50, q95) in zip(base.rows, with_ix.rows, strict=True):
            lines.append(
                f"| {name} | {n} | {p50:.1f} ms | {p95:.1f} ms | {q50:.1f} ms | {q95:.1f} ms "
                f"| <= {TARGET_MS:.0f} ms |"
            )
        lines.append(
            f"| **all {len(base.rows) * RUNS} queries** | | **{base.all_p50:.1f} ms** | "
            f"**{base.all_p95:.1f} ms** ({verdict(base)}) | **{with_ix.all_p50:.1f} ms** | "
            f"**{with_ix.all_p95:.1f} ms** ({verdict(with_ix)}) | <= {TARGET_MS:.0f} ms |"
        )
    lines += [
        "",
        "Through the HTTP route (`GET /api/v1/findings`, FastAPI TestClient in process: "
        "routing, validation, the same query, JSON; timed in turn with the view):",
        "",
        "| filter mix | view p50 | HTTP p50 | HTTP p95 | API overhead (p50) |",
        "|---|---|---|---|---|",
    ]
    for name, vp50, hp50, hp95 in http_rows:
        lines.append(
            f"| {name} | {vp50:.1f} ms | {hp50:.1f} ms | {hp95:.1f} ms | {hp50 - vp50:.1f} ms |"
        )
    if alone:
        lines += [
            "",
            "Each candidate index alone (one at a time on the copy, measured one after the "
            "other, so under varying load): the mixes whose p95 it moved by more than half "
            "against the as-is column above.",
            "",
            "| index | columns | all p95 | mixes it moved (as is -> with it, p95) |",
            "|---|---|---|---|",
        ]
        before = {r[0]: r[3] for r in base.rows}
        for ix, cols, res in alone:
            changed = [
                f"{n}: {before[n]:.1f} -> {p95:.1f} ms"
                for n, _, _, p95 in res.rows
                if (p95 > 1.5 * before[n] or p95 < before[n] / 1.5) and abs(p95 - before[n]) > 5
            ]
            lines.append(
                f"| `{ix}` | `{cols}` | {res.all_p95:.1f} ms | {'; '.join(changed) or '-'} |"
            )
    return lines


def section() -> list[str]:
    """The findings-query part of bench/RESULTS.md (what `bench/run.py` appends)."""
    return measure(N_FINDINGS, try_indexes=True)


def write_section(lines: list[str], results: Path) -> None:
    """Replace (or add) the `## Findings query` section of RESULTS.md, keeping the rest."""
    text = results.read_text() if results.exists() else "# Benchmarks\n"
    head, sep, rest = text.partition("\n## Findings query\n")
    tail = ""
    if sep:
        nxt = rest.find("\n## ")
        tail = rest[nxt:] if nxt >= 0 else ""
    results.write_text(head.rstrip("\n") + "\n" + "\n".join(lines) + "\n" + tail)


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), N_FINDINGS))
    lines = measure(n, try_indexes="--try-indexes" in argv)
    print("\n".join(lines))
    if n == N_FINDINGS:
        write_section(lines, Path(__file__).resolve().parent / "RESULTS.md")


if __name__ == "__main__":
    main(sys.argv[1:])
