"""Re-match of stored SBOMs: after a feed update (only the in-use images whose SBOM has a
changed key), and the daily re-assessment (the in-use window, the clock injected).

The vulnerability data is the real bundled feed data; the "update" takes one real PyPI
advisory (PYSEC-2021-66, jinja2 < 2.11.3, CVE-2020-28493) out of the real PyPI archive
and puts it back, changing nothing else. SBOMs are stored through `store_sbom` with the
keys `match_keys` derives, as the scan job stores them.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shoal.db.events import events_after
from shoal.db.findings import from_scan_finding
from shoal.db.inventory import (
    SubscriptionSettings,
    create_registry,
    create_subscription,
    ensure_repository,
    record_pull,
    record_push,
)
from shoal.db.models import Event, Finding, Image, Job, SbomKey
from shoal.db.models import Sbom as SbomRow
from shoal.db.sboms import match_key_hash, sbom_key, store_sbom
from shoal.db.types import EventType, FindingState, JobKind, JobState, RegistryKind
from shoal.model.package import Distro, Location, Package, PackageType
from shoal.model.sbom import ImageInfo, Platform, Sbom
from shoal.scan.memo import MemoMatcher
from shoal.scan.report import scan_sbom
from shoal.service.assess import record_assessment
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.feeds import run_feed_update
from shoal.service.queue import drain
from shoal.service.rematch import (
    enqueue_due,
    handle_rematch,
    keys_version,
    match_keys,
    rematch_images,
    submit_rematch_for_keys,
)
from shoal.service.views.findings import get_finding
from shoal.vulndb.resolve import bundled_path
from shoal.vulndb.store import VulnDB
from tests.support.service import START

ADVISORY = "PYSEC-2021-66.json"  # jinja2: introduced 0, fixed 2.11.3
CVE = "CVE-2020-28493"
LAYER = "sha256:" + "1" * 64
BOOKWORM = Distro(id="debian", version_id="12", version_codename="bookworm")


def _digest(n: int) -> str:
    return f"sha256:{n:064x}"


def _pkgs(*extra: tuple[str, str]) -> tuple[Package, ...]:
    """A Debian 12 base (real package names and versions) plus PyPI packages."""
    loc = (Location("/var/lib/dpkg/status", LAYER),)
    base = [
        Package("libc6", "2.36-9+deb12u7", PackageType.DEB, "os/dpkg", loc,
                source_name="glibc", layer=LAYER, distro=BOOKWORM),
        Package("libssl3", "3.0.13-1~deb12u1", PackageType.DEB, "os/dpkg", loc,
                source_name="openssl", layer=LAYER, distro=BOOKWORM),
        Package("zlib1g", "1:1.2.13.dfsg-1", PackageType.DEB, "os/dpkg", loc,
                source_name="zlib", source_version="1:1.2.13.dfsg-1", layer=LAYER,
                distro=BOOKWORM),
    ]  # fmt: skip
    site = (Location("/usr/local/lib/python3.11/site-packages", LAYER),)
    py = [Package(n, v, PackageType.PYTHON, "python", site, layer=LAYER) for n, v in extra]
    return (*base, *py)


def _sbom(digest: str, packages: Sequence[Package]) -> Sbom:
    info = ImageInfo(f"reg.example/app@{digest}", digest, None, Platform("linux", "amd64"))
    return Sbom(info, BOOKWORM, tuple(packages))


@dataclass
class World:
    ctx: ServiceContext
    repository_id: int

    def image(
        self,
        n: int,
        packages: Sequence[Package],
        *,
        pushed: datetime | None = None,
        assess: bool = True,
        index: bool = True,
    ) -> int:
        """An image whose SBOM is stored (and, with `assess`, scanned once)."""
        ctx = self.ctx
        sbom = _sbom(_digest(n), packages)
        with ctx.write() as s:
            img = record_push(
                s, self.repository_id, _digest(n), platform="linux/amd64", at=pushed or START
            )
            if index:
                store_sbom(
                    s,
                    sbom,
                    ctx.analyser_version,
                    now=START,
                    match_keys=match_keys(sbom),
                    keys_version=keys_version(),
                )
            else:
                store_sbom(s, sbom, ctx.analyser_version, now=START)
            if assess:
                db = ctx.vulndb.current()
                observed = [from_scan_finding(f) for f in scan_sbom(sbom, db).findings]
                record_assessment(s, ctx, img, observed, db_version=db.version, trigger="push")
            return img.id


def _world(ctx: ServiceContext, window_days: int = 30) -> World:
    with ctx.write() as s:
        sub = create_subscription(
            s, "team", settings=SubscriptionSettings(in_use_window_days=window_days), now=START
        )
        reg = create_registry(
            s, sub.id, "local", "http://127.0.0.1:9", RegistryKind.DISTRIBUTION,
            cipher=ctx.cipher, now=START,
        )  # fmt: skip
        repo = ensure_repository(s, reg.registry.id, "team/app", now=START)
        return World(ctx, repo.id)


def _pypi_without(tmp: Path, *left_out: str) -> Path:
    """The real bundled PyPI archive without the named advisory files."""
    src = bundled_path("osv/PyPI")
    assert src is not None
    out = tmp / f"pypi-without-{len(left_out)}" / "PyPI-all.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        names = zin.namelist()
        assert all(n in names for n in left_out)
        for name in names:
            if name not in left_out:
                zout.writestr(name, zin.read(name))
    return out


def _scanned_events(ctx: ServiceContext, after: int = 0) -> dict[int, list[dict[str, object]]]:
    out: dict[int, list[dict[str, object]]] = {}
    with ctx.read() as s:
        for e in events_after(s, after, 1000, types=[EventType.IMAGE_SCANNED]):
            assert e.image_id is not None
            out.setdefault(e.image_id, []).append(e.payload)
    return out


def _last_event(ctx: ServiceContext) -> int:
    with ctx.read() as s:
        return int(s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0)


def _findings(ctx: ServiceContext, image_id: int) -> dict[tuple[str, str], FindingState]:
    with ctx.read() as s:
        rows = s.execute(
            select(Finding.package_purl, Finding.vulnerability_id, Finding.state).where(
                Finding.image_id == image_id
            )
        )
        return {(p, v): st for p, v, st in rows}


def _jinja(image_findings: dict[tuple[str, str], FindingState]) -> FindingState | None:
    return next((st for (p, v), st in image_findings.items() if v == CVE and "jinja2" in p), None)


def test_feed_update_rematches_exactly_the_in_use_images_with_a_changed_key(
    make_ctx: Callable[..., ServiceContext], vulndb_copy: Path, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    ctx = make_ctx(vulndb=vulndb_copy, clock=clock)
    w = _world(ctx)
    old_jinja = w.image(1, _pkgs(("jinja2", "2.11.2"), ("requests", "2.32.3")))
    new_jinja = w.image(2, _pkgs(("jinja2", "3.1.4")))
    no_jinja = w.image(3, _pkgs(("requests", "2.32.3")))
    stale = w.image(4, _pkgs(("jinja2", "2.11.2")), pushed=START - timedelta(days=40))
    never_scanned = w.image(5, _pkgs(("jinja2", "2.11.2")), assess=False)
    with ctx.write() as s:  # a row pushed but not analysed yet: no SBOM to re-match
        unanalysed = record_push(s, w.repository_id, _digest(6), at=START).id
    assert _jinja(_findings(ctx, old_jinja)) is FindingState.OPEN
    assert _jinja(_findings(ctx, stale)) is FindingState.OPEN
    with ctx.write() as s:  # the stale image was pulled 31 days ago: out of the window
        assert record_pull(s, w.repository_id, _digest(4), at=START - timedelta(days=31)) == 1

    # the advisory disappears from the feed (as a withdrawn record does): it resolves
    clock.advance(timedelta(hours=1))
    mark = _last_event(ctx)
    report, queued = run_feed_update(
        ctx, sources=["osv/PyPI"], from_path=_pypi_without(tmp_path, ADVISORY)
    )
    assert report.replaced and ("pypi", "jinja2") in report.changed_keys
    assert ("pypi", "requests") not in report.changed_keys
    assert ctx.vulndb.current().version == report.data_version
    assert queued == 3  # old_jinja, new_jinja, never_scanned (it has an SBOM)
    drain(ctx)
    scanned = _scanned_events(ctx, mark)
    assert set(scanned) == {old_jinja, new_jinja, never_scanned}
    assert all(p[0]["trigger"] == "rematch" for p in scanned.values())
    assert _jinja(_findings(ctx, old_jinja)) is FindingState.FIXED
    assert _jinja(_findings(ctx, stale)) is FindingState.OPEN  # left alone
    with ctx.read() as s:
        resolved = events_after(s, mark, 1000, types=[EventType.FINDING_RESOLVED])
        assert [e.image_id for e in resolved] == [old_jinja]
        img = s.get(Image, no_jinja)
        assert img is not None and img.last_scanned_at == START  # not touched
        assert s.get(Image, unanalysed).last_scanned_at is None  # type: ignore[union-attr]

    # an image pushed meanwhile, then the advisory comes back: new findings open
    late = w.image(7, _pkgs(("jinja2", "2.11.1")))
    assert _jinja(_findings(ctx, late)) is None
    clock.advance(timedelta(hours=1))
    mark = _last_event(ctx)
    full = tmp_path / "full" / "PyPI-all.zip"
    full.parent.mkdir()
    full.write_bytes(bundled_path("osv/PyPI").read_bytes())  # type: ignore[union-attr]
    report, queued = run_feed_update(ctx, sources=["osv/PyPI"], from_path=full)
    assert report.changed_keys == {("pypi", "jinja2")}
    assert queued == 4
    drain(ctx)
    assert set(_scanned_events(ctx, mark)) == {old_jinja, new_jinja, never_scanned, late}
    assert _jinja(_findings(ctx, old_jinja)) is FindingState.OPEN  # reopened
    assert _jinja(_findings(ctx, late)) is FindingState.OPEN
    assert _jinja(_findings(ctx, new_jinja)) is None  # 3.1.4 is fixed
    with ctx.read() as s:
        opened = events_after(s, mark, 1000, types=[EventType.FINDING_OPENED])
        assert {e.image_id for e in opened} == {old_jinja, late, never_scanned}
        assert {e.payload["vulnerability_id"] for e in opened} == {CVE}
        img = s.get(Image, old_jinja)
        assert img is not None and img.db_version == report.data_version

    # the same update again changes nothing and queues nothing
    report, queued = run_feed_update(ctx, sources=["osv/PyPI"], from_path=full)
    assert not report.replaced and queued == 0


def test_the_same_changed_keys_submitted_twice_queue_one_job_per_batch(
    ctx: ServiceContext,
) -> None:
    w = _world(ctx)
    ids = [w.image(n, _pkgs(("jinja2", "2.11.2"))) for n in (1, 2)]
    with ctx.write() as s:
        first = submit_rematch_for_keys(s, ctx, {("pypi", "jinja2")})
        again = submit_rematch_for_keys(s, ctx, {("PyPI", "jinja2")})
        none = submit_rematch_for_keys(s, ctx, {("pypi", "not-installed-anywhere")})
    assert (first, again, none) == (2, 0, 0)
    assert drain(ctx) == 1
    # assessed against this DB version already: the job skipped both, no events
    assert _scanned_events(ctx, 0).keys() == set(ids)
    assert all(len(v) == 1 for v in _scanned_events(ctx, 0).values())


def test_unindexed_sboms_count_as_touched_and_are_indexed_by_the_rematch(
    ctx: ServiceContext,
) -> None:
    w = _world(ctx)
    plain = w.image(1, _pkgs(("requests", "2.32.3")), index=False)
    with ctx.read() as s:
        row = s.scalars(select(SbomRow)).one()
        assert row.keys_version is None
    with ctx.write() as s:
        assert submit_rematch_for_keys(s, ctx, {("pypi", "jinja2")}) == 1
    # stamp the image as assessed with older data, so the job has work to do
    with ctx.write() as s:
        s.execute(update(Image).where(Image.id == plain).values(db_version="older"))
    drain(ctx)
    with ctx.read() as s:
        row = s.scalars(select(SbomRow)).one()
        assert row.keys_version == keys_version()
        hashes = set(s.scalars(select(SbomKey.key_hash).where(SbomKey.sbom_id == row.id)))
    assert match_key_hash("pypi", "requests") in hashes
    assert match_key_hash("debian", "glibc") in hashes
    with ctx.write() as s:  # indexed now: a key it lacks no longer selects it
        assert submit_rematch_for_keys(s, ctx, {("pypi", "jinja2")}) == 0


def test_daily_reassessment_covers_the_window_and_leaves_out_images_not_used_for_31_days(
    make_ctx: Callable[..., ServiceContext],
) -> None:
    clock = ManualClock(START)
    ctx = make_ctx(clock=clock)
    w = _world(ctx)
    pulled = w.image(1, _pkgs(("jinja2", "2.11.2")))
    idle = w.image(2, _pkgs(("requests", "2.32.3")))
    assert enqueue_due(ctx) == 0  # both assessed just now
    clock.advance(timedelta(hours=25))
    assert enqueue_due(ctx) == 2
    assert enqueue_due(ctx) == 0  # queued already: nothing twice
    drain(ctx)
    scanned = _scanned_events(ctx)
    assert [p["trigger"] for p in scanned[pulled]] == ["push", "reassess"]
    assert [p["trigger"] for p in scanned[idle]] == ["push", "reassess"]
    with ctx.read() as s:
        img = s.get(Image, pulled)
        assert img is not None and img.last_scanned_at == clock.now()
        assert _jinja(_findings(ctx, pulled)) is FindingState.OPEN

    # 31 days on: the idle image (pushed 32 days ago, never pulled) is out of the window
    clock.advance(timedelta(days=30))
    with ctx.write() as s:
        record_pull(s, w.repository_id, _digest(1), at=clock.now() - timedelta(days=2))
    clock.advance(timedelta(days=1))
    assert enqueue_due(ctx) == 1
    drain(ctx)
    scanned = _scanned_events(ctx)
    assert len(scanned[pulled]) == 3 and len(scanned[idle]) == 2


def test_the_window_is_the_subscriptions(make_ctx: Callable[..., ServiceContext]) -> None:
    clock = ManualClock(START)
    ctx = make_ctx(clock=clock)
    w = _world(ctx, window_days=7)
    w.image(1, _pkgs(("jinja2", "2.11.2")))
    clock.advance(timedelta(days=8))
    assert enqueue_due(ctx) == 0
    with ctx.write() as s:
        assert submit_rematch_for_keys(s, ctx, {("pypi", "jinja2")}) == 0


def test_rematch_records_what_a_fresh_scan_records(ctx: ServiceContext) -> None:
    """The same SBOM in two images: one assessed from `scan_sbom`, one re-matched."""
    w = _world(ctx)
    pkgs = _pkgs(("jinja2", "2.11.2"), ("urllib3", "1.26.4"), ("pyyaml", "5.3"))
    scanned = w.image(1, pkgs)
    rematched = w.image(2, pkgs, assess=False)
    stats = rematch_images(ctx, [rematched], trigger="reassess")
    assert stats.rematched == 1 and stats.unchanged == 0 and stats.opened > 3

    def rows(image_id: int) -> list[tuple[object, ...]]:
        with ctx.read() as s:
            return sorted(
                tuple(r)
                for r in s.execute(
                    select(
                        Finding.package_purl,
                        Finding.vulnerability_id,
                        Finding.severity,
                        Finding.fixable,
                        Finding.fixed_versions,
                        Finding.layer_diff_id,
                        Finding.state,
                    ).where(Finding.image_id == image_id)
                )
            )

    assert rows(scanned) == rows(rematched)
    assert len(rows(scanned)) == stats.opened


def test_unchanged_images_get_exactly_what_record_assessment_writes(
    make_ctx: Callable[..., ServiceContext],
) -> None:
    """The batched path for images whose findings did not change, against the per-image
    path on a twin image at the same moment."""
    clock = ManualClock(START)
    ctx = make_ctx(clock=clock)
    w = _world(ctx)
    pkgs = _pkgs(("jinja2", "2.11.2"), ("urllib3", "1.26.4"))
    batched = w.image(1, pkgs)
    single = w.image(2, pkgs)
    with ctx.write() as s:  # one exempted finding on each: stays exempted, last_seen moves
        for image_id in (batched, single):
            f = s.scalars(select(Finding).where(Finding.image_id == image_id).limit(1)).one()
            f.state = FindingState.EXEMPTED
    clock.advance(timedelta(days=1))
    mark = _last_event(ctx)
    stats = rematch_images(ctx, [batched], trigger="reassess")
    assert stats.unchanged == 1
    with ctx.write() as s:
        img = s.get(Image, single)
        assert img is not None
        db = ctx.vulndb.current()
        sbom = _sbom(_digest(2), pkgs)
        observed = [from_scan_finding(f) for f in scan_sbom(sbom, db).findings]
        record_assessment(s, ctx, img, observed, db_version=db.version, trigger="reassess")

    def state(image_id: int) -> tuple[object, ...]:
        with ctx.read() as s:
            img = s.get(Image, image_id)
            assert img is not None
            rows = sorted(
                tuple(r)
                for r in s.execute(
                    select(
                        Finding.package_purl,
                        Finding.vulnerability_id,
                        Finding.state,
                        Finding.first_seen,
                        Finding.last_seen,
                        Finding.resolved_at,
                    ).where(Finding.image_id == image_id)
                )
            )
            events = [
                (e.type, {k: v for k, v in e.payload.items() if k != "digest"}, e.created_at)
                for e in events_after(s, mark, 100)
                if e.image_id == image_id
            ]
            return (img.last_scanned_at, img.db_version, img.analyser_version, rows, events)

    assert state(batched) == state(single)
    assert state(batched)[0] == clock.now()
    with ctx.read() as s:  # the view's last_seen of an open finding: this assessment
        open_ids = s.scalars(
            select(Finding.id).where(
                Finding.image_id == batched, Finding.state == FindingState.OPEN
            )
        ).all()
        assert open_ids
        assert {get_finding(s, fid).last_seen for fid in open_ids} == {clock.now()}


def test_images_without_an_sbom_are_skipped_and_a_corrupt_one_fails_only_itself(
    ctx: ServiceContext,
) -> None:
    w = _world(ctx)
    good = w.image(1, _pkgs(("jinja2", "2.11.2")))
    bad = w.image(2, _pkgs(("jinja2", "2.11.2")))
    legacy = w.image(4, _pkgs(("jinja2", "2.11.2")))  # stored before match rows existed
    with ctx.write() as s:
        missing = record_push(s, w.repository_id, _digest(3), platform="linux/amd64").id
        s.execute(
            update(SbomRow)
            .where(SbomRow.manifest_digest == _digest(2))
            .values(blob=b"garbage", match_rows=b"garbage")
        )
        s.execute(
            update(SbomRow).where(SbomRow.manifest_digest == _digest(4)).values(match_rows=None)
        )
        s.execute(update(Image).values(db_version="older"))
    with pytest.raises(
        Exception, match=rf"1 of 5 images not re-matched; first: image {bad}: stored match rows"
    ):
        handle_rematch(ctx, {"image_ids": [good, bad, missing, legacy, 999_999]})
    with ctx.read() as s:
        for ok in (good, legacy):
            assert s.get(Image, ok).db_version == ctx.vulndb.version()  # type: ignore[union-attr]
        assert s.get(Image, bad).db_version == "older"  # type: ignore[union-attr]
    assert _findings(ctx, legacy).keys() == _findings(ctx, good).keys() != set()


def test_an_sbom_from_another_analyser_is_rematched_and_a_scan_queued(ctx: ServiceContext) -> None:
    w = _world(ctx)
    image_id = w.image(1, _pkgs(("jinja2", "2.11.2")))
    with ctx.write() as s:
        s.execute(update(SbomRow).values(analyser_version="shoal-0.0.1"))
        s.execute(update(Image).values(db_version="older"))
    stats = rematch_images(ctx, [image_id])
    assert stats.rematched == 1 and stats.scans_queued == 1
    with ctx.read() as s:
        job = s.scalars(select(Job).where(Job.kind == JobKind.SCAN_IMAGE)).one()
        assert job.state is JobState.QUEUED and job.payload["image_id"] == image_id


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "image_ids is not a list of integers"),
        ({"image_ids": ["1"]}, "image_ids is not a list of integers"),
        ({"image_ids": list(range(5001))}, "5001 image ids, more than 5000"),
        ({"image_ids": [1], "trigger": "push"}, "trigger 'push' is not one of"),
        ({"image_ids": [1], "due_before": "yesterday"}, "due_before 'yesterday' is not a time"),
        ({"image_ids": [1], "due_before": "2026-11-02T09:00:00"}, "has no zone"),
    ],
)
def test_a_bad_payload_is_a_one_line_error(
    ctx: ServiceContext, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as e:
        handle_rematch(ctx, payload)
    assert "\n" not in str(e.value)


def test_memo_matcher_gives_scan_sbom_findings(bundled_vulndb: Path) -> None:
    """Across SBOMs sharing packages (memo hits), with duplicates of one package (the
    group rule) and packages of other distributions (the distro is part of the key)."""
    trixie = Distro(id="debian", version_id="13", version_codename="trixie")
    jinja_a = _pkgs(("jinja2", "2.11.2"))[-1]
    twin = Package("jinja2", "2.11.2", PackageType.PYTHON, "python",
                   (Location("/opt/venv/lib/site-packages", LAYER),), layer="sha256:" + "2" * 64)  # fmt: skip
    sboms = [
        _sbom(_digest(1), _pkgs(("jinja2", "2.11.2"), ("urllib3", "1.26.4"))),
        _sbom(_digest(2), _pkgs(("jinja2", "2.11.2"), ("pyyaml", "5.3"), ("django", "3.2"))),
        _sbom(_digest(3), (*_pkgs(("urllib3", "1.26.4")), jinja_a, twin)),
        _sbom(
            _digest(4),
            tuple(
                Package(
                    p.name,
                    p.version,
                    p.type,
                    p.cataloger,
                    p.locations,
                    source_name=p.source_name,
                    layer=p.layer,
                    distro=trixie,
                )
                for p in _pkgs()
            ),
        ),
        _sbom(_digest(5), _pkgs(("django", "3.2"), ("urllib3", "1.26.4"))),
    ]
    with VulnDB.open(bundled_vulndb) as db:
        memo = MemoMatcher(db)
        for sbom in sboms * 2:
            assert memo.findings(sbom) == scan_sbom(sbom, db).findings
        assert memo.hits > memo.misses
        assert sum(len(memo.findings(s)) for s in sboms) > 10
    assert sbom_key(sboms[0]) == (_digest(1), "linux/amd64")


def test_the_batched_write_equals_record_assessment_for_every_kind_of_change(
    make_ctx: Callable[..., ServiceContext],
) -> None:
    """Two twin images get the same sequence of results, one through `record_assessment`,
    one through the re-match's batched write: opened, resolved, reopened, re-rated, a
    new fixed version and layer, exempted findings seen and not seen, health flips."""
    from shoal.db.findings import ObservedFinding
    from shoal.model.advisory import Rating
    from shoal.service import rematch as rm

    clock = ManualClock(START)
    ctx = make_ctx(clock=clock)
    w = _world(ctx)
    pkgs = _pkgs(("jinja2", "2.11.2"))
    twins = {"single": w.image(1, pkgs, assess=False), "batched": w.image(2, pkgs, assess=False)}

    def obs(vuln: str, severity: Rating = Rating.HIGH, **kw: object) -> ObservedFinding:
        base: dict[str, object] = {
            "purl": f"pkg:pypi/p-{vuln.lower()}@1.0",
            "package_name": f"p-{vuln.lower()}",
            "package_version": "1.0",
            "vulnerability_id": vuln,
            "severity": severity,
            "fixable": True,
            "fixed_versions": ("1.1",),
            "layer_diff_id": LAYER,
        }
        base.update(kw)
        return ObservedFinding(**base)  # type: ignore[arg-type]

    steps: list[list[ObservedFinding]] = [
        [obs("CVE-1"), obs("CVE-2", Rating.LOW), obs("CVE-3")],  # first: n/a -> unhealthy
        [obs("CVE-1"), obs("CVE-2", Rating.LOW), obs("CVE-3")],  # nothing changes
        [obs("CVE-2", Rating.LOW), obs("CVE-3", Rating.CRITICAL, fixed_versions=("1.2",))],
        [obs("CVE-2", Rating.LOW, layer_diff_id="sha256:" + "9" * 64)],  # -> healthy
        [obs("CVE-1"), obs("CVE-2", Rating.LOW), obs("CVE-4", Rating.UNKNOWN, fixable=False)],
        [],  # everything resolves (the exempted one stays exempted)
    ]
    version = ctx.vulndb.current().version
    for n, observed in enumerate(steps):
        clock.advance(timedelta(hours=1))
        with ctx.write() as s:
            img = s.get(Image, twins["single"])
            assert img is not None
            record_assessment(s, ctx, img, observed, db_version=version, trigger="reassess")
        with ctx.read() as s:
            sbom_row = s.scalars(select(SbomRow).where(SbomRow.manifest_digest == _digest(2))).one()
        loaded = rm._Loaded(twins["batched"], sbom_row.id, b"", "", ctx.analyser_version, 1)
        with ctx.write() as s:
            stats = rm.RematchStats()
            rm._write_chunk(
                s, ctx, {twins["batched"]: rm._Result(loaded, list(observed))}, "reassess",
                version, None, stats,
            )  # fmt: skip
        if n == 1:  # exempt CVE-2 on both (seen again later) and, at step 4, CVE-4
            with ctx.write() as s:
                for f in s.scalars(select(Finding).where(Finding.vulnerability_id == "CVE-2")):
                    f.state = FindingState.EXEMPTED
        if n == 4:
            with ctx.write() as s:
                for f in s.scalars(select(Finding).where(Finding.vulnerability_id == "CVE-4")):
                    f.state = FindingState.EXEMPTED

    def state(image_id: int) -> tuple[object, ...]:
        with ctx.read() as s:
            img = s.get(Image, image_id)
            assert img is not None
            rows = sorted(
                tuple(r)
                for r in s.execute(
                    select(
                        Finding.package_purl, Finding.vulnerability_id, Finding.severity,
                        Finding.fixable, Finding.fixed_versions, Finding.layer_diff_id,
                        Finding.state, Finding.first_seen, Finding.last_seen, Finding.resolved_at,
                    ).where(Finding.image_id == image_id)
                )
            )  # fmt: skip
            # finding ids differ between the twins, and events of one assessment are in
            # finding id order: compare each assessment's events as a set
            events = sorted(
                (
                    (e.created_at, e.type, {k: v for k, v in e.payload.items() if k != "digest"})
                    for e in events_after(s, 0, 1000)
                    if e.image_id == image_id
                ),
                key=lambda x: (x[0], x[1].value, sorted(x[2].items())),
            )
            return (img.last_scanned_at, img.db_version, img.analyser_version, rows, events)

    single, batched = state(twins["single"]), state(twins["batched"])
    assert single == batched
    # last_seen: the last assessment that saw each one (assessment n ran at START + n+1 h)
    h = [START + timedelta(hours=n) for n in range(7)]
    last = {r[1]: (r[6], r[8]) for r in single[3]}  # type: ignore[union-attr]
    assert last == {
        "CVE-1": (FindingState.FIXED, h[5]),  # reopened by assessment 4, gone in 5
        "CVE-2": (FindingState.EXEMPTED, h[5]),  # seen through assessment 4
        "CVE-3": (FindingState.FIXED, h[3]),  # re-rated by assessment 2, gone in 3
        "CVE-4": (FindingState.EXEMPTED, h[5]),
    }
    kinds = {e[1] for e in single[4]}  # type: ignore[union-attr]
    assert kinds == set(EventType)
    changed = [e[2] for e in single[4] if e[1] is EventType.ASSESSMENT_CHANGED]  # type: ignore[union-attr]
    assert [(c["from"], c["to"]) for c in changed] == [
        ("not_applicable", "unhealthy"), ("unhealthy", "healthy"), ("healthy", "unhealthy"),
        ("unhealthy", "healthy"),
    ]  # fmt: skip


def test_memo_matcher_on_stored_identities_gives_the_scan_rows(bundled_vulndb: Path) -> None:
    """What the re-match reads (identities and layers from the stored match rows) gives
    the row data of `scan_sbom`'s findings, the layer each image's own."""
    from shoal.db.sboms import decode_match_identities, encode_match_rows

    sboms = [
        _sbom(_digest(n), tuple(dataclasses.replace(p, layer=f"sha256:{n:064x}") for p in pkgs))
        for n, pkgs in enumerate(
            [
                _pkgs(("jinja2", "2.11.2"), ("urllib3", "1.26.4")),
                _pkgs(("jinja2", "2.11.2"), ("pyyaml", "5.3")),
                _pkgs(("urllib3", "1.26.4"), ("django", "3.2")),
            ]
            * 2,
            start=1,
        )
    ]
    with VulnDB.open(bundled_vulndb) as db:
        memo = MemoMatcher(db, from_scan_finding)
        for sbom in sboms:
            rows = decode_match_identities(encode_match_rows(sbom))
            got = [
                dataclasses.replace(o, layer_diff_id=layer)
                for layer, o in memo.converted_identities(rows)
            ]
            want = [from_scan_finding(f) for f in scan_sbom(sbom, db).findings]
            assert got == want and want
        assert memo.hits > memo.misses
