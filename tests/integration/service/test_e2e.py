"""The assessment service end to end, every part real: `shoal serve` as a subprocess (on
SQLite and on PostgreSQL), a CNCF Distribution registry whose `notifications` section is
the one shoal's create-registry answer gave (its receiver URL, the secret in the
`Authorization` header), images of real package data pushed and pulled with skopeo, and
the vulnerability data of the real bundled feeds.

The service starts with those feeds minus one real advisory (PYSEC-2023-192: urllib3
< 1.26.17, CVE-2023-43804); the feed update puts it back, so the update brings a new
finding to the image that has urllib3 1.26.4, and the test sees it arrive through the
API with no blob read from the registry.

Everything is observed through the REST API (and the registry's access log); no fixed
sleeps, every wait polls with a deadline.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shoal.config import Settings
from shoal.service.context import ServiceContext
from shoal.service.feeds import submit_feed_update
from shoal.service.queue import InProcessQueue
from shoal.vulndb.resolve import bundled_path
from tests.integration.service.e2e_support import (
    LinkedRegistry,
    ShoalApi,
    blob_gets,
    build_app_image,
    connect_registry,
    registry_reads,
    wait_for,
)
from tests.support.images import push
from tests.support.registry import free_port
from tests.support.serve import ServeProcess, start_serve

pytestmark = pytest.mark.integration

ADVISORY = "PYSEC-2023-192.json"  # urllib3 < 1.26.17
NEW_CVE = "CVE-2023-43804"
# what the bundled feeds say about the image's packages (Django 3.2, urllib3 1.26.4,
# PyYAML 5.3.1): a few of each, not all 29
SOME_EXPECTED = {
    "CVE-2021-33203",  # Django
    "CVE-2022-28346",  # Django
    "CVE-2021-33503",  # urllib3
    "CVE-2023-45803",  # urllib3
    "CVE-2020-14343",  # PyYAML
}
BACKENDS = ["sqlite", "postgresql"]


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def full_pypi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real bundled PyPI archive (a copy, as an operator's download would be)."""
    src = bundled_path("osv/PyPI")
    assert src is not None
    dst = tmp_path_factory.mktemp("pypi-full") / "PyPI-all.zip"
    shutil.copy2(src, dst)
    return dst


@pytest.fixture(scope="session")
def pypi_without_advisory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real bundled PyPI archive without PYSEC-2023-192."""
    src = bundled_path("osv/PyPI")
    assert src is not None
    out = tmp_path_factory.mktemp("pypi-without") / "PyPI-all.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        assert ADVISORY in zin.namelist()
        for name in zin.namelist():
            if name != ADVISORY:
                zout.writestr(name, zin.read(name))
    return out


@pytest.fixture(scope="session")
def older_vulndb(
    bundled_vulndb: Path, pypi_without_advisory: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The bundled-feeds DB as it was before PYSEC-2023-192 was published."""
    from shoal.feeds.osv import OsvPyPIFeed
    from shoal.vulndb.update import update

    path = tmp_path_factory.mktemp("older-vulndb") / "vuln.db"
    shutil.copy2(bundled_vulndb, path)
    report = update(path, [OsvPyPIFeed()], from_path=pypi_without_advisory)
    assert report.replaced and not report.failed, report.to_json()
    return path


@pytest.fixture
def vulndb(older_vulndb: Path, tmp_path: Path) -> Path:
    """This test's copy of the older DB (the service updates it in place)."""
    dst = tmp_path / "vulndb" / "vuln.db"
    dst.parent.mkdir()
    shutil.copy2(older_vulndb, dst)
    return dst


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None: the embedded default (SQLite under the data dir); else a fresh, empty
    PostgreSQL database the service migrates itself."""
    if request.param == "sqlite":
        return None
    make: Callable[[], str] = request.getfixturevalue("pg_databases")
    return make()


@pytest.fixture
def service_port() -> int:
    """A fixed port for this test's service: the registry's notifications keep pointing
    at it across a restart (and the receiver URL shoal shows is the real one)."""
    return free_port()


def serve(
    tmp_path: Path, database_url: str | None, vulndb: Path, port: int, workers: int | None = None
) -> ServeProcess:
    svc = start_serve(
        tmp_path / "svc",
        database_url=database_url,
        vulndb=vulndb,
        port=port,
        workers=workers,
        args=["--no-scheduler"],  # nothing periodic: every registry read is the test's doing
    )
    try:
        svc.wait_ready()
    except BaseException:
        svc.kill()
        raise
    return svc


@pytest.fixture
def linked() -> Iterator[list[LinkedRegistry]]:
    """Registries a test started (stopped at the end, whatever happens)."""
    made: list[LinkedRegistry] = []
    yield made
    for reg in made:
        reg.stop()


def submit_update(tmp_path: Path, database_url: str | None, vulndb: Path, from_path: Path) -> None:
    """Queue a feed update the way the service's API/scheduler does
    (`shoal.service.feeds.submit_feed_update`), in the service's database: the running
    service's workers pick the job up from the table."""
    url = database_url or f"sqlite:///{tmp_path / 'svc' / 'shoal.db'}"
    settings = Settings.model_validate(
        {"vulndb": {"path": str(vulndb)}, "service": {"data_dir": str(tmp_path / "svc")}}
    )
    ctx = ServiceContext.create(settings, database_url=url)
    ctx.queue = InProcessQueue(ctx, 0)  # only to submit: this process runs no job
    try:
        with ctx.write() as s:
            queued = submit_feed_update(s, ctx, sources=["osv/PyPI"], from_path=from_path)
        assert queued.created
    finally:
        ctx.close()


def skopeo_pull(ref: str, dest: Path) -> None:
    res = subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def vulns(findings: list[dict[str, object]]) -> set[str]:
    return {str(f["vulnerability_id"]) for f in findings}


# --- tests -------------------------------------------------------------------------------


def test_push_pull_and_feed_update_through_the_running_service(
    tmp_path: Path,
    database_url: str | None,
    vulndb: Path,
    service_port: int,
    full_pypi: Path,
    linked: list[LinkedRegistry],
    request: pytest.FixtureRequest,
) -> None:
    with serve(tmp_path, database_url, vulndb, service_port) as svc:
        api = ShoalApi(svc.client)
        sub = api.create_subscription("platform-team")
        link = connect_registry(api, sub["id"], tmp_path / "registry")
        linked.append(link)
        reg = link.registry
        # the receiver URL shoal shows is where it really listens
        assert link.created["receiver_url"] == f"{svc.url}/api/v1/webhooks/{link.registry_id}"

        # push -> the webhook records the image, the scan runs, findings are in the API
        layout = tmp_path / "layout"
        digest = build_app_image(layout, "v1", marker=request.node.nodeid)
        before_push = blob_gets(reg)
        push(layout, "v1", f"{reg.host}/team/app:v1")
        image = api.wait_image(link.registry_id, "team/app", digest)
        assert image["tags"] == ["v1"] and image["pushed_at"] is not None
        scanned = api.wait_scanned(image["id"])
        assert scanned["platform"] == "linux/amd64"
        assert scanned["health"] == "unhealthy"  # urllib3/Django findings of high severity
        assert blob_gets(reg) > before_push  # the scan read the layers from the registry
        findings = api.findings(image_id=image["id"])
        assert vulns(findings) >= SOME_EXPECTED
        assert NEW_CVE not in vulns(findings)  # not published yet in this DB
        assert {f["image"]["digest"] for f in findings} == {digest}
        assert {f["image"]["registry_id"] for f in findings} == {link.registry_id}
        assert len(api.scanned_events(image["id"])) == 1
        # the same findings through the other filters
        assert vulns(api.findings(registry_id=link.registry_id)) == vulns(findings)
        assert vulns(api.findings(package="urllib3")) >= {"CVE-2021-33503", "CVE-2023-45803"}

        # pull -> last_pulled_at moves to the pull; a pull of a scanned image queues no scan
        before_pull = datetime.now(UTC)
        skopeo_pull(f"{reg.host}/team/app:v1", tmp_path / "pulled")

        def pulled_since() -> dict[str, Any] | None:
            img = api.image(image["id"])
            at = img["last_pulled_at"]
            return img if at and datetime.fromisoformat(at) >= before_pull else None

        pulled = wait_for(
            pulled_since,
            "last_pulled_at moved by the pull notification",
            state=lambda: api.image(image["id"]),
        )
        assert pulled["last_scanned_at"] == scanned["last_scanned_at"]
        assert len(api.scanned_events(image["id"])) == 1

        # feed update -> re-match from the stored SBOM: the new advisory's finding opens,
        # and the registry is not asked for a single blob (or manifest)
        blobs, reads = blob_gets(reg), registry_reads(reg)
        submit_update(tmp_path, database_url, vulndb, full_pypi)
        new = wait_for(
            lambda: api.findings(image_id=image["id"], vulnerability_id=NEW_CVE),
            f"{NEW_CVE} found after the feed update",
            timeout=90,
        )
        assert [(f["package"]["name"], f["severity"], f["state"]) for f in new] == [
            ("urllib3", "high", "open")
        ]
        assert blob_gets(reg) == blobs
        assert registry_reads(reg) == reads
        events = api.scanned_events(image["id"])
        assert [e["payload"]["trigger"] for e in events] == ["push", "rematch"]
        opened = [
            e
            for e in api.events(type="finding_opened")
            if e["image_id"] == image["id"] and e["payload"].get("vulnerability_id") == NEW_CVE
        ]
        assert len(opened) == 1 and opened[0]["finding_id"] == new[0]["id"]
        # the findings that were there keep their ids and first_seen
        after = {f["id"]: f for f in api.findings(image_id=image["id"])}
        for f in findings:
            assert after[f["id"]]["first_seen"] == f["first_seen"]
        assert set(after) == {f["id"] for f in findings} | {new[0]["id"]}
