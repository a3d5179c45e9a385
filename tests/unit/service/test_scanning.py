"""The scan job without a registry: queueing rules, the rows-and-platforms rule, and SBOM
reuse (an SBOM already stored for the digest is matched again, nothing is pulled).

The SBOMs are real analyses of images built from real package data (trimmed METADATA of
old Django / urllib3 / PyYAML wheels and Debian 12 dpkg stanzas, as `test_scan_e2e`
uses), read from an OCI layout; the registry URL of these tests points at a closed port,
so any registry access would fail the scan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shoal.config import OciSettings
from shoal.db.crypto import RegistryCredentials
from shoal.db.events import events_after
from shoal.db.inventory import (
    create_registry,
    create_subscription,
    ensure_repository,
    image_tags,
    record_push,
)
from shoal.db.models import Finding, Image, Job, Registry
from shoal.db.sboms import sbom_key, store_sbom
from shoal.db.types import EventType, FindingState, JobState, RegistryKind
from shoal.image.analyze import Analyzer
from shoal.image.sources import OciLayoutSource
from shoal.model import Sbom
from shoal.service.context import ServiceContext
from shoal.service.queue import drain
from shoal.service.registry_access import RegistryAccessError, registry_endpoint
from shoal.service.scanning import digest_tags, handle_scan, submit_scan
from tests.support.images import OciLayoutBuilder
from tests.unit.scan.conftest import TESTDATA

IMAGE_FILES = TESTDATA / "image"  # trimmed real METADATA files and dpkg stanzas
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens there

# PyPI advisories of the real feed for these versions (as tests/integration/test_scan_e2e)
SOME_DJANGO = {"CVE-2021-33203", "CVE-2022-28346", "CVE-2024-27351"}
URLLIB3 = {"CVE-2021-33503", "CVE-2023-43804", "CVE-2023-45803"}
PYYAML = {"CVE-2020-14343"}


def app_files(*, with_pyyaml: bool = True, marker: str = "") -> list[dict[str, bytes]]:
    """Two layers: Debian 12 base (os-release, dpkg status), then the Python packages.
    `marker` makes the image's content (and digests) unique to a test."""
    files = {
        "/" + str(p.relative_to(IMAGE_FILES)): p.read_bytes()
        for p in IMAGE_FILES.rglob("*")
        if p.is_file() and (with_pyyaml or "PyYAML" not in str(p))
    }
    base = {k: v for k, v in files.items() if not k.startswith("/usr/local")}
    site = {k: v for k, v in files.items() if k.startswith("/usr/local")}
    if marker:
        base["/etc/shoal-test-marker"] = marker.encode()
    return [base, site]


@dataclass
class Built:
    layout: Path
    tag: str
    digest: str  # what the tag points at: a manifest, or an index


def build_app_image(path: Path, *, multi: bool = False, marker: str = "") -> Built:
    """The app image; `multi`: an index of linux/amd64 (all three packages) and
    linux/arm64/v8 (no PyYAML)."""
    b = OciLayoutBuilder(path)
    history = ["FROM debian:bookworm", "RUN pip install -r requirements.txt"]
    if not multi:
        img = b.add_image(app_files(marker=marker), tag="v1", history=history)
        return Built(path, "v1", img.manifest_digest)
    amd = b.build_image(app_files(marker=marker), history=history)
    arm = b.build_image(
        app_files(with_pyyaml=False, marker=marker),
        architecture="arm64",
        variant="v8",
        history=history,
    )
    return Built(path, "v1", b.add_index([amd, arm], tag="v1"))


def analyse_layout(ctx: ServiceContext, built: Built) -> list[Sbom]:
    src = OciLayoutSource.from_dir(built.layout, built.tag, ctx.settings)
    try:
        return Analyzer(ctx.settings).analyze(src, "all")
    finally:
        src.close()


@dataclass
class Seeded:
    registry_id: int
    repository_id: int
    image_id: int


def seed(
    ctx: ServiceContext,
    url: str,
    digest: str,
    *,
    repository: str = "app",
    tags: Sequence[str] = ("v1",),
    credentials: RegistryCredentials | None = None,
    subscription: str = "team",
    registry_name: str = "main",
) -> Seeded:
    """Subscription, registry, repository and the pushed image row (platform "")."""
    assert ctx.cipher is not None
    with ctx.write() as s:
        sub = create_subscription(s, subscription, now=ctx.clock.now())
        reg = create_registry(
            s,
            sub.id,
            registry_name,
            url,
            RegistryKind.DISTRIBUTION,
            cipher=ctx.cipher,
            credentials=credentials,
            now=ctx.clock.now(),
        ).registry
        repo = ensure_repository(s, reg.id, repository, now=ctx.clock.now())
        image = record_push(s, repo.id, digest, tags=tags, at=ctx.clock.now())
        return Seeded(reg.id, repo.id, image.id)


def push_again(ctx: ServiceContext, repository_id: int, digest: str, tags: Sequence[str]) -> int:
    """What a webhook's push does: record the push (platform "") and submit its scan."""
    with ctx.write() as s:
        image = record_push(s, repository_id, digest, tags=tags, at=ctx.clock.now())
        submit_scan(s, ctx, image, "push")
        return image.id


def submit(ctx: ServiceContext, image_id: int, trigger: str = "push") -> int:
    with ctx.write() as s:
        image = s.get(Image, image_id)
        assert image is not None
        return submit_scan(s, ctx, image, trigger).job_id


def rows(ctx: ServiceContext, repository_id: int) -> list[tuple[int, str, str]]:
    with ctx.read() as s:
        return [
            (i.id, i.digest, i.platform)
            for i in s.scalars(
                select(Image).where(Image.repository_id == repository_id).order_by(Image.id)
            )
        ]


def open_vulns(ctx: ServiceContext, image_id: int) -> set[str]:
    with ctx.read() as s:
        return set(
            s.scalars(
                select(Finding.vulnerability_id).where(
                    Finding.image_id == image_id, Finding.state == FindingState.OPEN
                )
            )
        )


def event_types(ctx: ServiceContext, cursor: int = 0) -> list[tuple[EventType, int | None]]:
    with ctx.read() as s:
        return [(e.type, e.image_id) for e in events_after(s, cursor, 1000)]


def job(ctx: ServiceContext, job_id: int) -> Job:
    with ctx.read() as s:
        got = s.get(Job, job_id)
        assert got is not None
        return got


def store(ctx: ServiceContext, sboms: Sequence[Sbom]) -> None:
    with ctx.write() as s:
        for sbom in sboms:
            store_sbom(s, sbom, ctx.analyser_version, now=ctx.clock.now())


# -- registry endpoints ------------------------------------------------------------------


def reg_row(url: str) -> Registry:
    return Registry(id=7, name="r", url=url)


@pytest.mark.parametrize(
    ("url", "host", "insecure"),
    [
        ("https://ghcr.io", "ghcr.io", False),
        ("ghcr.io", "ghcr.io", False),
        ("https://registry.example.com:5443/", "registry.example.com:5443", False),
        ("http://127.0.0.1:5000", "127.0.0.1:5000", True),
        ("http://localhost:5000/v2/", "localhost:5000", True),
        ("http://[::1]:5000", "[::1]:5000", True),
        ("http://lab.internal:5000", "lab.internal:5000", True),  # listed insecure below
    ],
)
def test_registry_endpoint_from_the_row_url(url: str, host: str, insecure: bool) -> None:
    oci = OciSettings(insecure_registries=["lab.internal:5000"])
    got = registry_endpoint(reg_row(url), oci)
    assert (got.host, got.insecure) == (host, insecure)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://registry.example.com", "plain http to 'registry.example.com' is refused"),
        ("ftp://registry.example.com", "scheme 'ftp' is not http or https"),
        ("https://registry.example.com/some/path", "has a path"),
        ("https://user:pw@registry.example.com", "credentials are stored separately"),
        ("https://registry.example.com:99999", "invalid URL"),
        ("", "no URL"),
    ],
)
def test_unusable_registry_urls_are_refused_in_one_line(url: str, says: str) -> None:
    with pytest.raises(RegistryAccessError) as e:
        registry_endpoint(reg_row(url), OciSettings())
    msg = str(e.value)
    assert says in msg and "registry 7 ('r')" in msg and "\n" not in msg
    assert "pw" not in msg.replace("path", "")


# -- queueing ------------------------------------------------------------------------------


def test_duplicate_submissions_make_one_job(ctx: ServiceContext) -> None:
    ids = seed(ctx, CLOSED_PORT_URL, "sha256:" + "a" * 64)
    with ctx.write() as s:
        image = s.get(Image, ids.image_id)
        assert image is not None
        first = submit_scan(s, ctx, image, "push")
        again = submit_scan(s, ctx, image, "push")
    assert first.created and not again.created and first.job_id == again.job_id
    assert submit(ctx, ids.image_id, "manual") == first.job_id
    with ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_a_scan_that_failed_for_good_is_tried_again_on_the_next_request(
    ctx: ServiceContext,
) -> None:
    ids = seed(ctx, CLOSED_PORT_URL, "sha256:" + "b" * 64)
    ctx.settings.oci.retries = 0  # the closed port fails at once
    first = submit(ctx, ids.image_id)
    assert drain(ctx) == 3  # three attempts
    failed = job(ctx, first)
    assert failed.state is JobState.FAILED and failed.attempts == 3
    assert failed.last_error is not None
    assert failed.last_error.startswith(
        f"ScanError: scan of image {ids.image_id}: 127.0.0.1:9/app@sha256:bbbb"
    )
    assert "cannot reach 127.0.0.1" in failed.last_error and "\n" not in failed.last_error

    second = submit(ctx, ids.image_id, "manual")
    assert second != first
    assert job(ctx, second).state is JobState.QUEUED
    retired = job(ctx, first)
    assert retired.state is JobState.FAILED and retired.idempotency_key.endswith(f"#failed-{first}")
    assert submit(ctx, ids.image_id, "push") == second  # queued: that job stands
    with ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(Finding)) == 0


def test_an_image_deleted_before_its_scan_is_skipped_quietly(ctx: ServiceContext) -> None:
    ids = seed(ctx, CLOSED_PORT_URL, "sha256:" + "c" * 64)
    job_id = submit(ctx, ids.image_id)
    with ctx.write() as s:
        s.delete(s.get(Image, ids.image_id))
    assert drain(ctx) == 1
    assert job(ctx, job_id).state is JobState.DONE
    assert event_types(ctx) == []


def test_a_malformed_payload_is_an_error_not_a_crash(ctx: ServiceContext) -> None:
    with pytest.raises(Exception, match="payload image_id 'x' is not an image id"):
        handle_scan(ctx, {"image_id": "x", "trigger": "push"})


# -- SBOM reuse and the platform rule ------------------------------------------------------


def test_a_stored_sbom_is_matched_without_the_registry(ctx: ServiceContext, tmp_path: Path) -> None:
    built = build_app_image(tmp_path / "single")
    sboms = analyse_layout(ctx, built)
    assert [sbom_key(s) for s in sboms] == [(built.digest, "linux/amd64")]
    store(ctx, sboms)
    ids = seed(ctx, CLOSED_PORT_URL, built.digest)
    submit(ctx, ids.image_id)
    assert drain(ctx) == 1

    # one row, now with its real platform
    assert rows(ctx, ids.repository_id) == [(ids.image_id, built.digest, "linux/amd64")]
    vulns = open_vulns(ctx, ids.image_id)
    assert vulns >= SOME_DJANGO | URLLIB3 | PYYAML
    with ctx.read() as s:
        image = s.get(Image, ids.image_id)
        assert image is not None
        assert image.last_scanned_at == ctx.clock.now()
        assert image.analyser_version == ctx.analyser_version
        assert image.db_version == ctx.vulndb.version()
    events = event_types(ctx)
    assert events.count((EventType.FINDING_OPENED, ids.image_id)) == len(vulns)
    assert events[-2:] == [
        (EventType.IMAGE_SCANNED, ids.image_id),
        (EventType.ASSESSMENT_CHANGED, ids.image_id),
    ]

    # pushed again (a new "" row), then asked again: no new rows, jobs or events
    cursor = len(events)
    again = push_again(ctx, ids.repository_id, built.digest, ["v1", "stable"])
    assert again != ids.image_id
    drain(ctx)
    assert rows(ctx, ids.repository_id) == [(ids.image_id, built.digest, "linux/amd64")]
    with ctx.read() as s:
        assert image_tags(s, ids.image_id) == ["stable", "v1"]
    submit(ctx, ids.image_id, "manual")
    drain(ctx)
    assert event_types(ctx)[cursor:] == []


def test_an_index_becomes_one_row_per_platform_and_rescans_add_nothing(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    built = build_app_image(tmp_path / "multi", multi=True)
    sboms = analyse_layout(ctx, built)
    assert [sbom_key(s) for s in sboms] == [
        (built.digest, "linux/amd64"),
        (built.digest, "linux/arm64/v8"),
    ]
    store(ctx, sboms)
    ids = seed(ctx, CLOSED_PORT_URL, built.digest, tags=["v1", "latest"])
    submit(ctx, ids.image_id)
    assert drain(ctx) == 1

    got = rows(ctx, ids.repository_id)
    assert [(d, p) for _, d, p in got] == [
        (built.digest, "linux/amd64"),
        (built.digest, "linux/arm64/v8"),
    ]
    amd, arm = got[0][0], got[1][0]
    assert amd == ids.image_id  # the pushed row became the first platform
    assert open_vulns(ctx, amd) >= SOME_DJANGO | URLLIB3 | PYYAML
    arm_vulns = open_vulns(ctx, arm)
    assert arm_vulns >= SOME_DJANGO | URLLIB3 and not arm_vulns & PYYAML
    events = event_types(ctx)
    for row in (amd, arm):
        assert (EventType.IMAGE_SCANNED, row) in events
        assert (EventType.ASSESSMENT_CHANGED, row) in events
    with ctx.read() as s:
        assert image_tags(s, amd) == ["latest", "v1"]
        assert digest_tags(s, ids.repository_id, built.digest) == ["latest", "v1"]
        pushed = {i.pushed_at for i in s.scalars(select(Image))}
        assert pushed == {ctx.clock.now()}

    # a job for the second platform row, a re-push of the index: nothing changes
    cursor = len(events)
    submit(ctx, arm, "manual")
    placeholder = push_again(ctx, ids.repository_id, built.digest, ["v2"])
    assert placeholder not in (amd, arm)
    drain(ctx)
    assert rows(ctx, ids.repository_id) == got
    with ctx.read() as s:
        assert digest_tags(s, ids.repository_id, built.digest) == ["latest", "v1", "v2"]
    assert event_types(ctx)[cursor:] == []


def test_the_same_digest_in_a_second_repository_reuses_the_sboms(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    built = build_app_image(tmp_path / "multi", multi=True)
    store(ctx, analyse_layout(ctx, built))
    first = seed(ctx, CLOSED_PORT_URL, built.digest)
    with ctx.write() as s:
        repo = ensure_repository(s, first.registry_id, "mirror/app")
        second = record_push(s, repo.id, built.digest, tags=["v1"], at=ctx.clock.now())
        submit_scan(s, ctx, second, "push")
        second_repo = repo.id
    submit(ctx, first.image_id)
    assert drain(ctx) == 2
    assert [p for _, _, p in rows(ctx, first.repository_id)] == ["linux/amd64", "linux/arm64/v8"]
    assert [p for _, _, p in rows(ctx, second_repo)] == ["linux/amd64", "linux/arm64/v8"]


# -- pulls of one platform of an index ---------------------------------------------------


def _pull(ctx: ServiceContext, registry_id: int, digest: str, tag: str | None = None) -> None:
    """What a pull notification does: `ingest_events` with one `PullEvent`."""
    from shoal.service.ingest import ingest_events
    from shoal.triggers.base import PullEvent

    with ctx.write() as s:
        reg = s.get(Registry, registry_id)
        assert reg is not None
        ev = PullEvent("127.0.0.1:9", "app", digest, tag, ctx.clock.now(), "distribution")
        ingest_events(s, ctx, reg, [ev])


def _pulled_at(ctx: ServiceContext, repository_id: int) -> dict[tuple[str, str], object]:
    with ctx.read() as s:
        return {
            (i.digest, i.platform): i.last_pulled_at
            for i in s.scalars(select(Image).where(Image.repository_id == repository_id))
        }


def _scanned_index(
    ctx: ServiceContext, tmp_path: Path, *, scan: bool = True
) -> tuple[Built, list[str], Seeded]:
    """The multi-platform app image pushed (its SBOMs stored: no registry needed) and,
    with `scan`, scanned; with the platforms' own manifest digests (amd64, arm64)."""
    built = build_app_image(tmp_path / "multi", multi=True)
    sboms = analyse_layout(ctx, built)
    children = [str(sbom.image.manifest_digest) for sbom in sboms]
    assert len(set(children)) == 2 and built.digest not in children
    store(ctx, sboms)
    ids = seed(ctx, CLOSED_PORT_URL, built.digest)
    if scan:
        submit(ctx, ids.image_id)
        assert drain(ctx) == 1
    return built, children, ids


def test_a_pull_of_one_platform_of_an_index_is_a_pull_of_its_row(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """A client pulling a multi-platform image fetches the index, then its platform's
    manifest; Distribution notifies both. The second is the platform row's pull, not a
    new image."""
    built, (amd_child, arm_child), ids = _scanned_index(ctx, tmp_path)
    with ctx.read() as s:
        got = [i.manifest_digest for i in s.scalars(select(Image).order_by(Image.id))]
        assert got == [amd_child, arm_child]

    ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    _pull(ctx, ids.registry_id, amd_child)
    assert _pulled_at(ctx, ids.repository_id) == {
        (built.digest, "linux/amd64"): ctx.clock.now(),
        (built.digest, "linux/arm64/v8"): None,
    }
    assert drain(ctx) == 0  # nothing new to scan


def test_a_platform_pull_before_the_index_is_analysed_is_merged_into_its_row(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """The push's scan still queued (or running) when the platform's pull arrives: the
    pull makes a row of its own; the index's scan merges it into the platform's row."""
    built, (_, arm_child), ids = _scanned_index(ctx, tmp_path, scan=False)
    submit(ctx, ids.image_id)  # queued, not run yet
    ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    _pull(ctx, ids.registry_id, arm_child)
    assert (arm_child, "") in _pulled_at(ctx, ids.repository_id)  # a row of its own, for now
    assert drain(ctx) == 2  # the index's scan, then the pulled row's (which finds it merged)
    assert _pulled_at(ctx, ids.repository_id) == {
        (built.digest, "linux/amd64"): None,
        (built.digest, "linux/arm64/v8"): ctx.clock.now(),
    }
    with ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(Finding).where(
            Finding.image_id.not_in(select(Image.id)))) == 0  # fmt: skip


def test_a_pulled_platform_row_left_after_the_index_scan_is_merged_by_its_own_scan(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    built, (amd_child, _), ids = _scanned_index(ctx, tmp_path)
    with ctx.write() as s:  # as if recorded between the index's analysis and its record
        stray = record_push(s, ids.repository_id, amd_child, at=ctx.clock.now())
        stray.pushed_at = None
        stray.last_pulled_at = ctx.clock.now()
        stray_id = stray.id
    submit(ctx, stray_id, "pull")
    assert drain(ctx) == 1  # no registry contacted (its URL is a closed port)
    assert _pulled_at(ctx, ids.repository_id) == {
        (built.digest, "linux/amd64"): ctx.clock.now(),
        (built.digest, "linux/arm64/v8"): None,
    }


def test_a_platform_manifest_tagged_by_itself_stays_an_image(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    built, (amd_child, arm_child), ids = _scanned_index(ctx, tmp_path, scan=False)
    with ctx.write() as s:
        # pushed under a tag of its own: an image of its own
        record_push(s, ids.repository_id, amd_child, tags=["v1-amd64"], at=ctx.clock.now())
        # pushed untagged, by digest, before the index (what `skopeo copy --all` and
        # `docker buildx --push` do): part of the index
        record_push(s, ids.repository_id, arm_child, at=ctx.clock.now())
    submit(ctx, ids.image_id)
    assert drain(ctx) == 1
    assert set(_pulled_at(ctx, ids.repository_id)) == {
        (amd_child, ""),
        (built.digest, "linux/amd64"),
        (built.digest, "linux/arm64/v8"),
    }
