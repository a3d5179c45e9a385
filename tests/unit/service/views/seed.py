"""A small, fixed resource tree with findings at known times, for the view tests.

    alpha (threshold medium)                      beta (threshold high)
    ├── reg1  http://reg1.example:5000            └── reg3  https://reg3.example
    │   ├── app   i1 D1 [latest, v1]   scanned          └── tools  i4 D3   scanned
    │   │         i5 D4 []             never scanned
    │   └── web   i2 D2 [1.0]          scanned
    └── reg2  https://reg2.example
        └── app   i3 D1 [v1]           scanned (same digest as i1)

Findings (opened at START + the hours shown, through `record_assessment`, the path a
real scan takes, so events and last_scanned_at are real too):

    i1 +0h  openssl CVE-2024-3400 critical fixable | openssl CVE-2025-0108 medium
            zlib CVE-2023-45853 low fixable
    i2 +1h  requests GHSA-9wx4-h78v-vm56 high fixable | openssl CVE-2024-3400 critical fixable
    i3 +2h  the same three as i1
    i4 +3h  busybox CVE-1999-0005 unknown | zlib CVE-2023-45853 low fixable
    +24h    i1 rescanned without zlib: its CVE-2023-45853 is fixed (resolved at +24h)

The CVEs are real ones the enrichment test feeds carry (NVD CVSS for CVE-2024-3400,
EPSS for CVE-1999-0005, KEV for CVE-2025-0108; the Debian tracker's CVE-2023-45853).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoal.api.app import create_app
from shoal.db.findings import ObservedFinding
from shoal.db.inventory import (
    SubscriptionSettings,
    create_registry,
    create_subscription,
    ensure_repository,
    record_push,
)
from shoal.db.models import Image
from shoal.db.types import RegistryKind
from shoal.model.advisory import Rating
from shoal.model.finding import ImageLocation, image_finding_id
from shoal.service.assess import record_assessment
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from tests.support.service import START

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
D4 = "sha256:" + "4" * 64

ENRICHMENT_FEEDS = Path(__file__).parents[2] / "vulndb" / "testdata" / "feeds"

OPENSSL = "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
ZLIB = "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
REQUESTS = "pkg:pypi/requests@2.25.0"
BUSYBOX = "pkg:apk/alpine/busybox@1.36.1-r2?arch=x86_64&distro=alpine-3.19.1"


def obs(
    purl: str,
    name: str,
    version: str,
    vuln: str,
    sev: Rating,
    fixable: bool,
    fixed: tuple[str, ...] = (),
    layer: str | None = "sha256:" + "a" * 64,
) -> ObservedFinding:
    return ObservedFinding(purl, name, version, vuln, sev, fixable, fixed, layer)


OPENSSL_3400 = obs(
    OPENSSL, "openssl", "3.0.11-1~deb12u2", "CVE-2024-3400", Rating.CRITICAL, True, ("3.0.13-1",)
)
OPENSSL_0108 = obs(OPENSSL, "openssl", "3.0.11-1~deb12u2", "CVE-2025-0108", Rating.MEDIUM, False)
ZLIB_45853 = obs(
    ZLIB, "zlib1g", "1:1.2.13.dfsg-1", "CVE-2023-45853", Rating.LOW, True, ("1:1.3.dfsg-3.1",)
)
REQUESTS_GHSA = obs(
    REQUESTS, "requests", "2.25.0", "GHSA-9wx4-h78v-vm56", Rating.HIGH, True, ("2.32.0",), None
)
BUSYBOX_0005 = obs(BUSYBOX, "busybox", "1.36.1-r2", "CVE-1999-0005", Rating.UNKNOWN, False)


@dataclass
class World:
    subs: dict[str, int] = field(default_factory=dict)
    regs: dict[str, int] = field(default_factory=dict)
    repos: dict[str, int] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    image_repo: dict[str, int] = field(default_factory=dict)

    where: dict[str, ImageLocation] = field(default_factory=dict)

    def fid(self, image: str, o: ObservedFinding) -> str:
        """The finding's stable id (digest, purl, vulnerability, and where the image is:
        the registry as references name it, repository and platform), as `shoal scan`
        computes it too."""
        return image_finding_id(self.where[image], o.purl, o.vulnerability_id)


def clock(ctx: ServiceContext) -> ManualClock:
    assert isinstance(ctx.clock, ManualClock)
    return ctx.clock


def seed(ctx: ServiceContext) -> World:
    w = World()
    cipher = ctx.cipher
    assert cipher is not None
    with ctx.write() as s:
        a = create_subscription(s, "alpha", now=START)
        b = create_subscription(
            s, "beta", settings=SubscriptionSettings(unhealthy_severity=Rating.HIGH), now=START
        )
        w.subs = {"alpha": a.id, "beta": b.id}
        for name, sub, url in (
            ("reg1", a.id, "http://reg1.example:5000"),
            ("reg2", a.id, "https://reg2.example"),
            ("reg3", b.id, "https://reg3.example"),
        ):
            reg = create_registry(
                s, sub, name, url, RegistryKind.DISTRIBUTION, cipher=cipher, now=START
            ).registry
            w.regs[name] = reg.id
        for key, reg, name in (
            ("reg1/app", "reg1", "app"),
            ("reg1/web", "reg1", "web"),
            ("reg2/app", "reg2", "app"),
            ("reg3/tools", "reg3", "tools"),
        ):
            w.repos[key] = ensure_repository(s, w.regs[reg], name, now=START).id
        for key, repo, digest, tags in (
            ("i1", "reg1/app", D1, ("latest", "v1")),
            ("i2", "reg1/web", D2, ("1.0",)),
            ("i3", "reg2/app", D1, ("v1",)),
            ("i4", "reg3/tools", D3, ()),
            ("i5", "reg1/app", D4, ()),
        ):
            img = record_push(s, w.repos[repo], digest, platform="linux/amd64", tags=tags, at=START)
            w.images[key] = img.id
            w.digests[key] = digest
            w.image_repo[key] = img.repository_id
            host = {"reg1": "reg1.example:5000", "reg2": "reg2.example", "reg3": "reg3.example"}
            registry, _, repo_name = repo.partition("/")
            w.where[key] = ImageLocation(host[registry], repo_name, digest, "linux/amd64")
    plan = (
        ("i1", [OPENSSL_3400, OPENSSL_0108, ZLIB_45853]),
        ("i2", [REQUESTS_GHSA, OPENSSL_3400]),
        ("i3", [OPENSSL_3400, OPENSSL_0108, ZLIB_45853]),
        ("i4", [BUSYBOX_0005, ZLIB_45853]),
    )
    for hour, (key, observed) in enumerate(plan):
        assess(ctx, w.images[key], observed, START + timedelta(hours=hour))
    assess(ctx, w.images["i1"], [OPENSSL_3400, OPENSSL_0108], START + timedelta(hours=24))
    return w


def assess(
    ctx: ServiceContext, image_id: int, observed: list[ObservedFinding], at: datetime
) -> None:
    clock(ctx).set(at)
    with ctx.write() as s:
        image = s.get(Image, image_id)
        assert image is not None
        record_assessment(s, ctx, image, observed, db_version="test", trigger="push")


def client(ctx: ServiceContext) -> TestClient:
    return TestClient(create_app(ctx))


@pytest.fixture(scope="session")
def enriched_vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vulnerability DB from the real (trimmed) Debian tracker, NVD, EPSS and KEV
    records the vulndb tests use: CVSS, EPSS and KEV facts for the seeded CVEs."""
    from shoal.feeds import get_feed
    from shoal.vulndb.update import update

    db = tmp_path_factory.mktemp("enriched") / "vuln.db"
    feeds = [get_feed(n) for n in ("debian/tracker", "nvd", "epss", "kev")]
    update(db, feeds, from_path=ENRICHMENT_FEEDS)
    return db


@pytest.fixture
def vctx(make_ctx: Callable[..., ServiceContext], enriched_vulndb: Path) -> ServiceContext:
    """A service context (SQLite and PostgreSQL) matching against the enriched DB."""
    return make_ctx(vulndb=enriched_vulndb)


@pytest.fixture
def world(vctx: ServiceContext) -> World:
    return seed(vctx)


@pytest.fixture
def api(vctx: ServiceContext) -> TestClient:
    return client(vctx)
