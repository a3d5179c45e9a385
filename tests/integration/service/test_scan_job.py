"""The scan job against the real Distribution registry, on SQLite and PostgreSQL.

Images are built from real package data (trimmed METADATA of old Django / urllib3 /
PyYAML wheels, Debian 12 dpkg stanzas), pushed with skopeo, recorded the way a push
webhook records them, scanned through the queue (`drain`), and matched against the
vulnerability DB built from the bundled real feeds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shoal.db.crypto import RegistryCredentials
from shoal.db.inventory import ensure_repository, image_tags, record_push
from shoal.db.models import Finding, Image, Registry, Sbom, SbomKey
from shoal.db.sboms import load_sbom, match_key_hash
from shoal.db.types import EventType, JobState
from shoal.match.engine import keys_version, lookup_keys
from shoal.service import scanning
from shoal.service.context import ServiceContext
from shoal.service.queue import drain
from shoal.service.registry_access import test_connection as check_connection
from shoal.service.scanning import submit_scan
from tests.support.images import push
from tests.support.registry import Registry as RunningRegistry
from tests.support.registry import free_port
from tests.unit.service.test_scanning import (
    PYYAML,
    SOME_DJANGO,
    URLLIB3,
    build_app_image,
    event_types,
    job,
    open_vulns,
    rows,
    seed,
    submit,
)

pytestmark = pytest.mark.integration

_BLOB_GET = re.compile(r'"GET /v2/[^ "]+/blobs/sha256:[0-9a-f]{64} ')
_ANY_GET = re.compile(r'"(?:GET|HEAD) /v2/[^ "]+/(?:blobs|manifests)/')


def blob_gets(reg: RunningRegistry) -> int:
    return len(_BLOB_GET.findall(reg.log_text()))


def image_reads(reg: RunningRegistry) -> int:
    return len(_ANY_GET.findall(reg.log_text()))


def test_push_scan_then_the_same_digest_elsewhere_pulls_nothing(
    ctx: ServiceContext, registry: RunningRegistry, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    marker = request.node.nodeid
    built = build_app_image(tmp_path / "layout", marker=marker)
    push(built.layout, built.tag, f"{registry.host}/team/app:v1")
    ids = seed(ctx, registry.url, built.digest, repository="team/app")
    before = blob_gets(registry)
    submit(ctx, ids.image_id, "push")
    assert drain(ctx) == 1

    # three blobs: the config and two layers, each fetched once
    assert blob_gets(registry) - before == 3
    assert rows(ctx, ids.repository_id) == [(ids.image_id, built.digest, "linux/amd64")]
    vulns = open_vulns(ctx, ids.image_id)
    assert vulns >= SOME_DJANGO | URLLIB3 | PYYAML
    with ctx.read() as s:
        image = s.get(Image, ids.image_id)
        assert image is not None
        assert image.last_scanned_at == ctx.clock.now()
        assert image.analyser_version == ctx.analyser_version
        assert image.db_version == ctx.vulndb.version()
        django = s.scalars(
            select(Finding).where(
                Finding.image_id == ids.image_id, Finding.vulnerability_id == "CVE-2021-33203"
            )
        ).one()
        assert django.package_name == "Django" and django.package_version == "3.2"
        assert django.fixable and "3.2.4" in django.fixed_versions
        assert django.layer_diff_id is not None
        # stored once, indexed by the lookup keys a feed update selects re-matches by
        stored = s.scalars(select(Sbom)).one()
        assert stored.keys_version == keys_version()
        sbom = load_sbom(s, built.digest, "linux/amd64")
        assert sbom is not None
        keys = lookup_keys(sbom.packages)
        assert ("pypi", "django") in keys
        indexed = set(s.scalars(select(SbomKey.key_hash).where(SbomKey.sbom_id == stored.id)))
        assert indexed == {match_key_hash(e, n) for e, n in keys}
    events = event_types(ctx)
    assert events.count((EventType.FINDING_OPENED, ids.image_id)) == len(vulns)
    assert events[-2:] == [
        (EventType.IMAGE_SCANNED, ids.image_id),
        (EventType.ASSESSMENT_CHANGED, ids.image_id),
    ]

    # the same digest pushed to a second repository: the stored SBOM is matched again,
    # nothing is read from the registry (no manifest, no blob)
    push(built.layout, built.tag, f"{registry.host}/mirror/app:v1")
    reads = image_reads(registry)
    with ctx.write() as s:
        repo = ensure_repository(s, ids.registry_id, "mirror/app")
        other = record_push(s, repo.id, built.digest, tags=["v1"], at=ctx.clock.now())
        submit_scan(s, ctx, other, "push")
        other_repo, other_id = repo.id, other.id
    assert drain(ctx) == 1
    assert image_reads(registry) == reads
    assert rows(ctx, other_repo) == [(other_id, built.digest, "linux/amd64")]
    assert open_vulns(ctx, other_id) == vulns
    with ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(Sbom)) == 1


def test_a_multi_platform_index_scans_every_platform(
    ctx: ServiceContext,
    registry: RunningRegistry,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = build_app_image(tmp_path / "layout", multi=True, marker=request.node.nodeid)
    push(built.layout, built.tag, f"{registry.host}/team/multi:v1", all_platforms=True)
    ids = seed(ctx, registry.url, built.digest, repository="team/multi", tags=["v1", "latest"])

    # over the platform bound: refused before any child manifest or blob is fetched
    monkeypatch.setattr(scanning, "MAX_PLATFORMS", 1)
    blobs = blob_gets(registry)
    refused = submit(ctx, ids.image_id, "push")
    assert drain(ctx) == 3
    assert job(ctx, refused).last_error == (
        f"ScanError: scan of {registry.host}/team/multi@{built.digest}: index lists 2 image "
        "manifests, over the service's limit of 1 platforms"
    )
    assert blob_gets(registry) == blobs
    monkeypatch.undo()

    # pushed again: the failed job does not block the scan
    assert submit(ctx, ids.image_id, "push") != refused
    assert drain(ctx) == 1

    got = rows(ctx, ids.repository_id)
    assert [(d, p) for _, d, p in got] == [
        (built.digest, "linux/amd64"),
        (built.digest, "linux/arm64/v8"),
    ]
    (amd, _, _), (arm, _, _) = got
    assert amd == ids.image_id
    assert open_vulns(ctx, amd) >= SOME_DJANGO | URLLIB3 | PYYAML
    arm_vulns = open_vulns(ctx, arm)
    assert arm_vulns >= SOME_DJANGO | URLLIB3 and not arm_vulns & PYYAML
    with ctx.read() as s:
        assert image_tags(s, amd) == ["latest", "v1"]
        stored = s.execute(select(Sbom.manifest_digest, Sbom.platform).order_by(Sbom.id)).all()
        assert [tuple(r) for r in stored] == [
            (built.digest, "linux/amd64"),
            (built.digest, "linux/arm64/v8"),
        ]
    events = event_types(ctx)
    assert events.count((EventType.IMAGE_SCANNED, amd)) == 1
    assert events.count((EventType.IMAGE_SCANNED, arm)) == 1


def test_stored_credentials_and_a_wrong_password(
    ctx: ServiceContext,
    auth_registry: RunningRegistry,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    built = build_app_image(tmp_path / "layout", marker=request.node.nodeid)
    push(
        built.layout,
        built.tag,
        f"{auth_registry.host}/team/private:v1",
        creds="alice:wonderland-42",
    )
    good = seed(
        ctx,
        auth_registry.url,
        built.digest,
        repository="team/private",
        credentials=RegistryCredentials("alice", "wonderland-42"),
    )
    bad = seed(
        ctx,
        auth_registry.url,
        built.digest,
        repository="team/private",
        credentials=RegistryCredentials("alice", "not-the-password"),
        subscription="other",
        registry_name="typo",
    )
    with ctx.read() as s:
        good_reg, bad_reg = s.get(Registry, good.registry_id), s.get(Registry, bad.registry_id)
        assert good_reg is not None and bad_reg is not None
        assert good_reg.credentials is not None and b"wonderland" not in good_reg.credentials
    ok = check_connection(ctx, good_reg)
    assert (ok.ok, ok.status) == (True, 200)
    refused = check_connection(ctx, bad_reg)
    assert (refused.ok, refused.status) == (False, 401)
    assert "credentials refused" in refused.message and "not-the-password" not in refused.message

    bad_job = submit(ctx, bad.image_id, "push")
    assert drain(ctx) == 3  # the wrong password fails three times
    failed = job(ctx, bad_job)
    assert failed.state is JobState.FAILED
    assert failed.last_error == (
        f"ScanError: scan of image {bad.image_id}: {auth_registry.host}/team/private"
        f"@{built.digest}: access denied (HTTP 401) (UNAUTHORIZED: authentication required)"
    )
    assert "not-the-password" not in (failed.last_error or "")
    assert open_vulns(ctx, bad.image_id) == set()

    submit(ctx, good.image_id, "push")
    assert drain(ctx) == 1
    assert open_vulns(ctx, good.image_id) >= SOME_DJANGO | URLLIB3 | PYYAML


def test_failures_are_one_line_and_leave_nothing_half_written(
    ctx: ServiceContext, registry: RunningRegistry, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ctx.settings.oci.retries = 0  # a corrupt or missing blob is not worth retrying here
    built = build_app_image(tmp_path / "layout", marker=request.node.nodeid)
    push(built.layout, built.tag, f"{registry.host}/team/broken:v1")
    ids = seed(ctx, registry.url, built.digest, repository="team/broken")
    # a manifest the registry does not have
    missing = "sha256:" + "0" * 64
    with ctx.write() as s:
        gone = record_push(s, ids.repository_id, missing, at=ctx.clock.now())
        missing_job = submit_scan(s, ctx, gone, "manual").job_id
    # a layer blob corrupted in the registry's storage (same size, other bytes)
    layer = built_layer_path(registry, tmp_path / "layout", built.digest)
    layer.write_bytes(bytes(b ^ 0xFF for b in layer.read_bytes()))
    corrupt_job = submit(ctx, ids.image_id, "push")
    # a registry nobody answers at
    dead = seed(
        ctx,
        f"http://127.0.0.1:{free_port()}",
        built.digest,
        subscription="dead",
        registry_name="dead",
    )
    dead_job = submit(ctx, dead.image_id, "push")
    with ctx.read() as s:
        dead_reg = s.get(Registry, dead.registry_id)
        assert dead_reg is not None
    unreachable = check_connection(ctx, dead_reg)
    assert (unreachable.ok, unreachable.status) == (False, None)
    assert "cannot reach 127.0.0.1" in unreachable.message

    assert drain(ctx) == 9
    messages = {}
    for name, job_id in (("missing", missing_job), ("corrupt", corrupt_job), ("dead", dead_job)):
        j = job(ctx, job_id)
        assert j.state is JobState.FAILED and j.attempts == 3, name
        assert j.last_error is not None and "\n" not in j.last_error, name
        messages[name] = j.last_error
    assert messages["missing"].startswith(f"ScanError: scan of image {gone.id}: ")
    assert f"team/broken@{missing}: not found" in messages["missing"]
    assert messages["corrupt"].startswith(f"ScanError: scan of image {ids.image_id}: ")
    assert "content hashes to sha256:" in messages["corrupt"]
    assert messages["dead"].endswith(f"/app@{built.digest}: cannot reach 127.0.0.1: ConnectError")
    with ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(Sbom)) == 0
        assert s.scalar(select(func.count()).select_from(Finding)) == 0
        assert all(i.last_scanned_at is None for i in s.scalars(select(Image)))
    assert event_types(ctx) == []


def built_layer_path(reg: RunningRegistry, layout: Path, manifest_digest: str) -> Path:
    """Where the registry stores the image's first layer blob."""
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest.split(":")[1]).read_text())
    hexd = manifest["layers"][0]["digest"].split(":")[1]
    path = (
        reg.root
        / "data"
        / "docker"
        / "registry"
        / "v2"
        / "blobs"
        / "sha256"
        / hexd[:2]
        / hexd
        / "data"
    )
    assert path.is_file(), path
    return path
