from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shoal.db.errors import CursorError
from shoal.db.findings import (
    FindingChanges,
    FindingFilter,
    ObservedFinding,
    decode_cursor,
    effective_last_seen,
    encode_cursor,
    from_scan_finding,
    image_location,
    list_findings,
    set_exempted,
    sync_findings,
)
from shoal.db.inventory import record_push
from shoal.db.models import Finding, Image, Repository
from shoal.db.types import FindingState
from shoal.model.advisory import FixState, Rating
from shoal.model.finding import Finding as ModelFinding
from shoal.model.finding import ImageLocation, SeverityProvenance, image_finding_id, package_ref
from shoal.model.package import Package, PackageType
from tests.unit.db.factories import DIGEST_A, DIGEST_B, tree

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# real findings of the Alpine 3.14 image in the export fixtures (alpine/secdb v3.14)
OPENSSL = ObservedFinding(
    purl="pkg:apk/alpine/libcrypto1.1@1.1.1k-r0?arch=armv7&distro=alpine-3.14.0",
    package_name="libcrypto1.1",
    package_version="1.1.1k-r0",
    vulnerability_id="CVE-2021-3711",
    severity=Rating.CRITICAL,
    fixable=True,
    fixed_versions=("1.1.1l-r0",),
    layer_diff_id="sha256:" + "a" * 64,
)
BUSYBOX = ObservedFinding(
    purl="pkg:apk/alpine/busybox@1.33.1-r2?arch=armv7&distro=alpine-3.14.0",
    package_name="busybox",
    package_version="1.33.1-r2",
    vulnerability_id="CVE-2021-42374",
    severity=Rating.MEDIUM,
    fixable=True,
    fixed_versions=("1.33.1-r6",),
)
ZLIB = ObservedFinding(
    purl="pkg:apk/alpine/zlib@1.2.11-r3?arch=armv7&distro=alpine-3.14.0",
    package_name="zlib",
    package_version="1.2.11-r3",
    vulnerability_id="CVE-2018-25032",
    severity=Rating.HIGH,
    fixable=False,
)


def _image(session: Session, digest: str = DIGEST_A) -> Image:
    _, _, repo = tree(session)
    return record_push(session, repo.id, digest, platform="linux/arm/v7", at=T0)


def test_observed_from_a_scan_finding() -> None:
    pkg = Package(
        name="libcrypto1.1",
        version="1.1.1k-r0",
        type=PackageType.APK,
        cataloger="os/apk",
        arch="armv7",
        source_name="openssl",
        layer="sha256:" + "a" * 64,
    )
    rating = Rating.CRITICAL
    f = ModelFinding(
        id="x",
        vulnerability="CVE-2021-3711",
        ids=("CVE-2021-3711",),
        package=pkg,
        fix_state=FixState.FIXED,
        fixed_versions=("1.1.1l-r0",),
        severity=SeverityProvenance(effective=rating, effective_source="alpine"),
        matched_by=(),
    )
    o = from_scan_finding(f)
    assert (o.purl, o.package_name, o.vulnerability_id) == (
        package_ref(pkg),
        "libcrypto1.1",
        "CVE-2021-3711",
    )
    assert o.purl.startswith("pkg:apk/")
    assert (o.severity, o.fixable, o.fixed_versions, o.layer_diff_id) == (
        rating,
        True,
        ("1.1.1l-r0",),
        pkg.layer,
    )
    unfixed = from_scan_finding(
        dataclasses.replace(f, fix_state=FixState.NOT_FIXED, fixed_versions=())
    )
    assert not unfixed.fixable


def test_finding_id_is_documented_hash() -> None:
    where = ImageLocation("127.0.0.1:5000", "library/alpine", DIGEST_A, "linux/arm/v7")
    text = (
        f"{DIGEST_A}\n{OPENSSL.purl}\n{OPENSSL.vulnerability_id}\n"
        "repository=127.0.0.1:5000/library/alpine;platform=linux/arm/v7"
    )
    want = hashlib.sha256(text.encode()).hexdigest()[:32]
    assert image_finding_id(where, OPENSSL.purl, OPENSSL.vulnerability_id) == want
    for other in (
        dataclasses.replace(where, digest=DIGEST_B),
        dataclasses.replace(where, repository="library/alpine2"),
        dataclasses.replace(where, registry="127.0.0.1:5001"),
        dataclasses.replace(where, platform="linux/amd64"),
    ):
        assert image_finding_id(other, OPENSSL.purl, OPENSSL.vulnerability_id) != want


def test_image_location_names_the_registry_as_references_do(session: Session) -> None:
    img = _image(session)
    assert image_location(session, img) == ImageLocation(
        "127.0.0.1:5000", "library/alpine", DIGEST_A, "linux/arm/v7"
    )


def _fid(session: Session, img: Image, o: ObservedFinding) -> str:
    return image_finding_id(image_location(session, img), o.purl, o.vulnerability_id)


def test_sync_opens_resolves_and_reopens(session: Session) -> None:
    img = _image(session)
    ch = sync_findings(session, img, [OPENSSL, BUSYBOX, OPENSSL], now=T0)
    assert len(ch.opened) == 2 and ch.resolved == () and ch.still_open == 0
    fid_ssl = _fid(session, img, OPENSSL)
    fid_bb = _fid(session, img, BUSYBOX)
    img.last_scanned_at = T0  # as record_assessment stamps it after the sync
    session.commit()

    # busybox upgraded: resolved; openssl still there; zlib newly matched after a feed update
    t1 = T0 + timedelta(days=1)
    ch = sync_findings(session, img, [OPENSSL, ZLIB], now=t1)
    assert ch.resolved == (fid_bb,) and ch.still_open == 1 and len(ch.opened) == 1
    img.last_scanned_at = t1
    session.commit()
    session.expire_all()
    bb = session.get(Finding, fid_bb)
    assert bb is not None and bb.state is FindingState.FIXED
    assert bb.resolved_at == t1
    assert bb.last_seen == T0  # the last assessment that saw it
    ssl = session.get(Finding, fid_ssl)
    assert ssl is not None
    # seen again, unchanged: the row is not rewritten; its last_seen is the image's
    assert (ssl.first_seen, ssl.last_seen) == (T0, T0)
    assert effective_last_seen(ssl.state, ssl.last_seen, img.last_scanned_at) == t1
    assert ssl.fixed_versions == ["1.1.1l-r0"] and ssl.layer_diff_id == OPENSSL.layer_diff_id

    # busybox back (image rebuilt from an old base): the same finding reopens
    ch = sync_findings(session, img, [OPENSSL, ZLIB, BUSYBOX], now=T0 + timedelta(days=2))
    assert ch.opened == (fid_bb,)
    session.commit()
    session.expire_all()
    bb = session.get(Finding, fid_bb)
    assert bb is not None and bb.state is FindingState.OPEN and bb.resolved_at is None
    assert bb.first_seen == T0


def test_exempted_findings_stay_exempted(session: Session) -> None:
    img = _image(session)
    sync_findings(session, img, [OPENSSL], now=T0)
    fid = _fid(session, img, OPENSSL)
    session.commit()
    img.last_scanned_at = T0 + timedelta(hours=1)  # seen again, row not rewritten
    session.commit()
    assert set_exempted(session, fid, True)
    assert not set_exempted(session, fid, True)
    session.expire_all()
    f = session.get(Finding, fid)
    assert f is not None and f.last_seen == T0 + timedelta(hours=1)  # stored when exempted
    ch = sync_findings(session, img, [OPENSSL], now=T0 + timedelta(days=1))
    assert ch == type(ch)((), (), 0)
    ch = sync_findings(session, img, [], now=T0 + timedelta(days=2))
    assert ch.resolved == ()  # exempted is not "resolved"
    session.flush()
    session.expire_all()
    f = session.get(Finding, fid)
    assert f is not None and f.last_seen == T0 + timedelta(days=1)  # not seen on day 2
    assert set_exempted(session, fid, False)
    f = session.get(Finding, fid)
    assert f is not None and f.state is FindingState.OPEN
    assert not set_exempted(session, "0" * 32, True)


def test_filters(session: Session) -> None:
    img = _image(session)
    sync_findings(session, img, [OPENSSL, BUSYBOX, ZLIB], now=T0)
    session.commit()

    def vulns(flt: FindingFilter) -> set[str]:
        return {f.vulnerability_id for f in list_findings(session, flt).items}

    assert vulns(FindingFilter()) == {"CVE-2021-3711", "CVE-2021-42374", "CVE-2018-25032"}
    assert vulns(FindingFilter(severities=(Rating.CRITICAL, Rating.HIGH))) == {
        "CVE-2021-3711",
        "CVE-2018-25032",
    }
    assert vulns(FindingFilter(fixable=False)) == {"CVE-2018-25032"}
    assert vulns(FindingFilter(vulnerability_id="CVE-2021-42374")) == {"CVE-2021-42374"}
    assert vulns(FindingFilter(package_name="zlib")) == {"CVE-2018-25032"}
    assert vulns(FindingFilter(image_ids=(img.id + 1,))) == set()
    repo_id = img.repository_id
    assert len(vulns(FindingFilter(repository_id=repo_id))) == 3
    assert vulns(FindingFilter(repository_id=repo_id + 1)) == set()
    reg_id = session.get(Repository, repo_id).registry_id  # type: ignore[union-attr]
    assert len(vulns(FindingFilter(registry_id=reg_id))) == 3
    assert vulns(FindingFilter(registry_id=reg_id + 1)) == set()
    assert vulns(FindingFilter(since=T0 + timedelta(seconds=1))) == set()
    assert vulns(FindingFilter(states=(FindingState.FIXED,))) == set()


def test_keyset_pagination_visits_every_finding_once(session: Session) -> None:
    img = _image(session)
    # 57 findings over 5 distinct first_seen values: pages cut through runs of equal times
    for day in range(5):
        batch = [
            ObservedFinding(
                purl=f"pkg:pypi/pkg{day}-{i}@1.0",
                package_name=f"pkg{day}-{i}",
                package_version="1.0",
                vulnerability_id=f"GHSA-{day}-{i}",
                severity=Rating.LOW,
                fixable=True,
            )
            for i in range(12 if day != 2 else 9)
        ]
        existing = [
            ObservedFinding(
                purl=f.package_purl,
                package_name=f.package_name,
                package_version=f.package_version,
                vulnerability_id=f.vulnerability_id,
                severity=f.severity,
                fixable=f.fixable,
            )
            for f in session.query(Finding).filter(Finding.image_id == img.id)
        ]
        sync_findings(session, img, existing + batch, now=T0 + timedelta(days=day))
    session.commit()
    seen: list[Finding] = []
    cursor = None
    pages = 0
    while True:
        page = list_findings(session, FindingFilter(), cursor=cursor, limit=10)
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 6
    assert len(seen) == len({f.id for f in seen}) == 57
    keys = [(f.first_seen, f.id) for f in seen]
    assert keys == sorted(keys, reverse=True)


def test_page_limit_bounds(session: Session) -> None:
    with pytest.raises(ValueError, match="between 1 and 1000"):
        list_findings(session, limit=0)
    with pytest.raises(ValueError, match="between 1 and 1000"):
        list_findings(session, limit=1001)


def test_cursor_round_trip_and_rejects() -> None:
    fid = "0123456789abcdef" * 2
    assert decode_cursor(encode_cursor(T0, fid)) == (T0, fid)
    for bad in ["", "x" * 300, "bm90IGpzb24", encode_cursor(T0, "zz"), "W10"]:
        with pytest.raises(CursorError):
            decode_cursor(bad)


@given(st.text(max_size=250))
def test_fuzz_cursor_is_clean_error_or_valid(text: str) -> None:
    try:
        seen, fid = decode_cursor(text)
    except CursorError as e:
        assert "\n" not in str(e)
    else:
        assert seen.tzinfo is not None and len(fid) == 32


def test_concurrent_syncs_of_one_image_serialise(
    engine: Engine, sessions: Callable[[], Session]
) -> None:
    with sessions() as s:
        img_id = _image(s).id
        s.commit()
    results: list[FindingChanges] = []
    start = threading.Barrier(4, timeout=60)

    def rematch() -> None:
        start.wait()  # before any statement: on SQLite the first one takes the write lock
        with sessions() as s:
            img = s.get(Image, img_id)
            assert img is not None
            results.append(sync_findings(s, img, [OPENSSL, BUSYBOX, ZLIB], now=T0))
            s.commit()

    threads = [threading.Thread(target=rematch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # exactly one sync opened the three findings; the others saw them as existing
    assert sorted(len(r.opened) for r in results) == [0, 0, 0, 3]
    assert sorted(r.still_open for r in results) == [0, 3, 3, 3]
    with sessions() as s:
        assert len(list_findings(s).items) == 3
