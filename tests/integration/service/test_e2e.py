"""The assessment service end to end, every part real: `shoal serve` as a subprocess (on
SQLite and on PostgreSQL), a CNCF Distribution registry whose `notifications` section is
the one shoal's create-registry answer gave (its receiver URL, the secret in the
`Authorization` header), images of real package data pushed and pulled with skopeo, and
the vulnerability data of the real bundled feeds.

The service starts with those feeds minus one real advisory (PYSEC-2023-192: urllib3
< 1.26.17, CVE-2023-43804); the feed update puts it back, so the update brings a new
finding to the image that has urllib3 1.26.4, and the test sees it arrive through the
API with no blob read from the registry. The update is queued as the service's scheduler
queues one (`submit_feed_update`, in the service's database: the API has no route for it)
and run by the running service's workers.

Everything is observed through the REST API (and the registry's access log); no fixed
sleeps, every wait polls with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shoal.cli.main import app as cli_app
from shoal.config import Settings
from shoal.service.clock import ManualClock
from shoal.service.context import ServiceContext
from shoal.service.feeds import run_feed_update, submit_feed_update
from shoal.service.queue import InProcessQueue, drain
from shoal.service.rematch import enqueue_due
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
from tests.support.registry import free_port, start_registry
from tests.support.serve import ServeProcess, start_serve, start_worker

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
BROKER = "redis://127.0.0.1:6379/11"


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


def skopeo(args: list[str]) -> None:
    res = subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr


def skopeo_pull(ref: str, dest: Path) -> None:
    skopeo(["copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}"])


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
        # `shoal scan` of the same image gives the same findings the same ids
        res = CliRunner().invoke(
            cli_app, ["scan", f"{reg.host}/team/app:v1", "--db", str(vulndb), "-o", "json"]
        )
        assert res.exit_code in (0, 1), res.output
        cli_ids = {(f["vulnerability"], f["id"]) for f in json.loads(res.stdout)["findings"]}
        assert cli_ids == {(f["vulnerability_id"], f["id"]) for f in findings}
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

        # the manifest deleted in the registry -> the image and its findings leave the API
        skopeo(["delete", "--tls-verify=false", f"docker://{reg.host}/team/app@{digest}"])
        wait_for(
            lambda: not api.images(registry_id=link.registry_id, digest=digest),
            "the image removed by the delete notification",
        )
        assert api.findings(registry_id=link.registry_id) == []
        assert api.get(f"/assessments/registries/{link.registry_id}")["images"]["total"] == 0


def test_pulling_a_multi_platform_image_is_a_pull_of_its_platform_row(
    tmp_path: Path,
    database_url: str | None,
    vulndb: Path,
    service_port: int,
    linked: list[LinkedRegistry],
    request: pytest.FixtureRequest,
) -> None:
    """A client pulling an index fetches the index, then its platform's manifest, and the
    registry notifies both pulls: the platform's is that row's pull, not an image of its
    own (which would be scanned and counted twice)."""
    from tests.unit.service.test_scanning import build_app_image as build_index

    with serve(tmp_path, database_url, vulndb, service_port) as svc:
        api = ShoalApi(svc.client)
        sub = api.create_subscription("platform-team")
        link = connect_registry(api, sub["id"], tmp_path / "registry")
        linked.append(link)
        reg = link.registry
        built = build_index(tmp_path / "multi", multi=True, marker=request.node.nodeid)
        push(built.layout, built.tag, f"{reg.host}/team/multi:v1", all_platforms=True)
        image = api.wait_image(link.registry_id, "team/multi", built.digest)
        api.wait_scanned(image["id"])
        wait_for(
            lambda: len(api.images(registry_id=link.registry_id)) == 2,
            "one row per platform",
            state=lambda: api.images(registry_id=link.registry_id),
        )

        skopeo_pull(f"{reg.host}/team/multi:v1", tmp_path / "pulled")  # this machine's platform
        # a push after the pull: the registry notifies in order, so once this image is in,
        # the pulls before it were ingested too
        marker = tmp_path / "marker"
        marker_digest = build_app_image(marker, "v1", marker=f"{request.node.nodeid}/marker")
        push(marker, "v1", f"{reg.host}/team/marker:v1")
        api.wait_image(link.registry_id, "team/marker", marker_digest)

        rows = [i for i in api.images(registry_id=link.registry_id) if i["digest"] != marker_digest]
        assert sorted((i["digest"], i["platform"]) for i in rows) == [
            (built.digest, "linux/amd64"),
            (built.digest, "linux/arm64/v8"),
        ]
        assert all(i["last_pulled_at"] for i in rows if i["platform"] == "linux/amd64")


def test_a_registry_without_notifications_is_scanned_on_request(
    tmp_path: Path,
    database_url: str | None,
    vulndb: Path,
    service_port: int,
    request: pytest.FixtureRequest,
) -> None:
    """No webhooks: `POST /api/v1/scans` for the registry polls it (catalog, tags) and
    scans what it finds; for a reference, resolves and scans that image."""
    reg = start_registry(tmp_path / "registry")
    try:
        digests = {}
        for name in ("a", "b"):
            layout = tmp_path / f"layout-{name}"
            digests[name] = build_app_image(layout, "1", marker=f"{request.node.nodeid}/{name}")
            push(layout, "1", f"{reg.host}/team/{name}:1")
        with serve(tmp_path, database_url, vulndb, service_port) as svc:
            api = ShoalApi(svc.client)
            sub = api.create_subscription("team")
            created = api.create_registry(sub["id"], "quiet", reg.url)
            r = svc.client.post("/api/v1/scans", json={"registry_id": created["id"]})
            assert r.status_code == 202, r.text
            (job,) = r.json()["jobs"]
            assert job["kind"] == "discover_registry"
            wait_for(
                lambda: api.get(f"/scans/{job['id']}")["state"] == "done",
                "the discovery job done",
                state=lambda: api.get(f"/scans/{job['id']}"),
            )
            for name, digest in digests.items():
                image = api.wait_image(created["id"], f"team/{name}", digest)
                assert image["tags"] == ["1"]
                assert image["pushed_at"] is None  # found by a poll: pushed at an unknown time
                api.wait_scanned(image["id"])
                assert vulns(api.findings(image_id=image["id"])) >= SOME_EXPECTED

            # a reference: resolved in the registry, the known image, no second scan
            r = svc.client.post(
                "/api/v1/scans",
                json={"registry_id": created["id"], "repository": "team/a", "reference": "1"},
            )
            assert r.status_code == 202, r.text
            accepted = r.json()
            assert accepted["digest"] == digests["a"]
            # the job of the scan already done (same image, analyser and data): none queued
            assert [(j["kind"], j["state"]) for j in accepted["jobs"]] == [("scan_image", "done")]
            assert len(api.scanned_events(accepted["image_id"])) == 1
    finally:
        reg.stop()


def metric(svc: ServeProcess, name: str, **labels: str) -> float | None:
    """One sample of the service's /metrics (None when absent)."""
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in svc.client.get("/metrics").text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return None


def test_a_restart_between_webhook_receipt_and_scan_still_scans_once(
    tmp_path: Path,
    database_url: str | None,
    vulndb: Path,
    service_port: int,
    linked: list[LinkedRegistry],
    request: pytest.FixtureRequest,
) -> None:
    layout = tmp_path / "layout"
    digest = build_app_image(layout, "v1", marker=request.node.nodeid)

    # 1. no workers: the webhook is received and persisted, nothing is scanned
    with serve(tmp_path, database_url, vulndb, service_port, workers=0) as svc:
        api = ShoalApi(svc.client)
        sub = api.create_subscription("team")
        link = connect_registry(api, sub["id"], tmp_path / "registry")
        linked.append(link)
        reg = link.registry
        # the same digest pushed under two tags: two push deliveries, one scan job
        push(layout, "v1", f"{reg.host}/team/app:v1")
        push(layout, "v1", f"{reg.host}/team/app:stable")
        image = wait_for(
            lambda: [
                img
                for img in api.images(registry_id=link.registry_id, digest=digest)
                if sorted(img["tags"]) == ["stable", "v1"]
            ],
            "both push deliveries recorded",
            state=lambda: api.images(registry_id=link.registry_id),
        )[0]
        assert image["last_scanned_at"] is None
        assert api.findings(image_id=image["id"]) == []
        assert wait_for(
            lambda: metric(svc, "shoal_queue_depth", kind="scan_image") == 1.0,
            "one scan job queued",
            state=lambda: metric(svc, "shoal_queue_depth", kind="scan_image"),
        )
        reads_before_restart = registry_reads(reg)
    assert svc.proc.returncode == 0
    # stopped before any scan: shoal never read the image from the registry
    assert blob_gets(reg) == 0

    # 2. the service comes back with workers: the persisted job runs, once
    with serve(tmp_path, database_url, vulndb, service_port) as svc:
        api = ShoalApi(svc.client)
        scanned = api.wait_scanned(image["id"])
        assert scanned["digest"] == digest and sorted(scanned["tags"]) == ["stable", "v1"]
        assert vulns(api.findings(image_id=image["id"])) >= SOME_EXPECTED
        assert wait_for(
            lambda: metric(svc, "shoal_queue_depth", kind="scan_image") == 0.0,
            "the scan queue empty",
        )
        assert metric(svc, "shoal_jobs_total", kind="scan_image", outcome="done") == 1.0
        events = api.scanned_events(image["id"])
        assert [(e["payload"]["digest"], e["payload"]["trigger"]) for e in events] == [
            (digest, "push")
        ]
        # one scan's worth of registry reads: each layer blob fetched once
        assert blob_gets(reg) == 3  # config + two layers
        assert registry_reads(reg) > reads_before_restart
    assert svc.proc.returncode == 0


# --- the in-use window, with the clock injected -----------------------------------------
#
# A subprocess cannot take a clock, so this one serves `create_app(ctx)` from a thread of
# the test (uvicorn on a loopback socket, the real Distribution registry notifying it) with
# the `ctx` of `tests.support.service` and its `ManualClock`; the queue has no workers and
# the test runs the queued work itself (`drain`). Everything else is the same real parts.


@contextlib.contextmanager
def serving(ctx: ServiceContext) -> Iterator[str]:
    """`create_app(ctx)` under uvicorn in a thread; yields its URL (also set as the
    service's public URL, so receiver URLs name it)."""
    import uvicorn

    from shoal.api import create_app
    from shoal.service.runtime import bind_socket, listen_url

    sock = bind_socket("127.0.0.1", 0)
    url = listen_url(sock)
    ctx.settings.service.public_url = url
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), log_config=None, access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn started", timeout=30)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_an_image_not_pulled_for_31_days_is_left_out_of_reassessment_and_rematch(
    make_ctx: Callable[..., ServiceContext],
    vulndb: Path,
    full_pypi: Path,
    tmp_path: Path,
    linked: list[LinkedRegistry],
    request: pytest.FixtureRequest,
) -> None:
    # the registry stamps events with the real time; the service clamps them to its clock,
    # so everything before the clock moves happens "31 days and an hour ago"
    real_start = datetime.now(UTC)
    clock = ManualClock(real_start - timedelta(days=31, hours=1))
    ctx = make_ctx(vulndb=vulndb, clock=clock)
    with serving(ctx) as url, httpx.Client(base_url=url, timeout=30) as client:
        api = ShoalApi(client)
        sub = api.create_subscription("team", in_use_window_days=30)
        link = connect_registry(api, sub["id"], tmp_path / "registry")
        linked.append(link)
        reg = link.registry
        layouts = {name: tmp_path / f"layout-{name}" for name in ("a", "b")}
        digests = {
            name: build_app_image(layout, name, marker=f"{request.node.nodeid}/{name}")
            for name, layout in layouts.items()
        }
        for name, layout in layouts.items():
            push(layout, name, f"{reg.host}/team/{name}:1")
        ids = {
            name: api.wait_image(link.registry_id, f"team/{name}", d)["id"]
            for name, d in digests.items()
        }
        assert drain(ctx) == 2  # both scans
        # a marker push after the scans: the registry delivers one endpoint's events in
        # order, so once it is recorded every notification the scans caused is too
        push(layouts["a"], "a", f"{reg.host}/team/a:marker")
        wait_for(
            lambda: "marker" in api.image(ids["a"])["tags"],
            "the marker push recorded",
        )
        assert drain(ctx) == 0  # the same digest again: no second scan
        for image_id in ids.values():
            img = api.image(image_id)
            assert img["last_scanned_at"] is not None
            # the scans' own manifest reads were reported as pulls too (they came before
            # the marker): they are not use of the image
            assert img["last_pulled_at"] is None
            assert NEW_CVE not in vulns(api.findings(image_id=image_id))

        # 31 days and an hour later, only `a` is pulled
        now = clock.advance(datetime.now(UTC) - real_start + timedelta(days=31, hours=1))
        skopeo_pull(f"{reg.host}/team/a:1", tmp_path / "pulled")
        wait_for(
            lambda: (
                (at := api.image(ids["a"])["last_pulled_at"])
                and datetime.fromisoformat(at) > now - timedelta(hours=1)
            ),
            "the pull of a recorded",
            state=lambda: api.image(ids["a"]),
        )
        assert api.image(ids["b"])["last_pulled_at"] is None
        blobs = blob_gets(reg)

        # the daily re-assessment: `a` is due; `b` is as old, but out of the window
        assert enqueue_due(ctx) == 1
        assert drain(ctx) == 1
        # the feed update: both have urllib3 1.26.4, only `a` is re-matched
        report, queued = run_feed_update(ctx, sources=["osv/PyPI"], from_path=full_pypi)
        assert report.replaced and ("pypi", "urllib3") in report.changed_keys
        assert queued == 1
        assert drain(ctx) == 1

        assert [e["payload"]["trigger"] for e in api.scanned_events(ids["a"])] == [
            "push",
            "reassess",
            "rematch",
        ]
        assert [e["payload"]["trigger"] for e in api.scanned_events(ids["b"])] == ["push"]
        assert [
            f["package"]["name"] for f in api.findings(image_id=ids["a"], vulnerability_id=NEW_CVE)
        ] == ["urllib3"]
        assert api.findings(image_id=ids["b"], vulnerability_id=NEW_CVE) == []
        assert api.image(ids["b"])["last_scanned_at"] == iso(
            real_start - timedelta(days=31, hours=1)
        )
        assert blob_gets(reg) == blobs  # re-assessment and re-match read no blob


def iso(at: datetime) -> str:
    """A time as the API writes it."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_push_to_findings_with_the_jobs_on_a_celery_worker(
    tmp_path: Path,
    database_url: str | None,
    vulndb: Path,
    service_port: int,
    linked: list[LinkedRegistry],
    request: pytest.FixtureRequest,
) -> None:
    """`shoal serve --queue celery` and a separate `shoal worker` (real Redis): the push
    is received by the service and scanned by the worker; the API shows the findings."""
    queue = f"shoal-e2e-{secrets.token_hex(6)}"
    celery = ["--queue", "celery", "--broker-url", BROKER, "--queue-name", queue]
    data = tmp_path / "svc"
    svc = start_serve(
        data, database_url=database_url, vulndb=vulndb, port=service_port, args=celery
    )
    with svc:
        svc.wait_ready()  # the database is migrated and the credentials key written
        worker = start_worker(
            data, database_url=database_url, vulndb=vulndb, broker_url=BROKER, queue_name=queue
        )
        try:
            api = ShoalApi(svc.client)
            sub = api.create_subscription("team")
            link = connect_registry(api, sub["id"], tmp_path / "registry")
            linked.append(link)
            layout = tmp_path / "layout"
            digest = build_app_image(layout, "v1", marker=request.node.nodeid)
            push(layout, "v1", f"{link.registry.host}/team/app:v1")
            image = api.wait_image(link.registry_id, "team/app", digest)
            api.wait_scanned(image["id"], timeout=90)
            assert vulns(api.findings(image_id=image["id"])) >= SOME_EXPECTED
            assert len(api.scanned_events(image["id"])) == 1
        finally:
            assert worker.stop(signal.SIGTERM) == 0, worker.log_text()[-4000:]
    # the worker ran the scan: the service itself runs no job with --queue celery
    assert "Task shoal.run_job[" in worker.log_text() and "succeeded" in worker.log_text()
    assert blob_gets(link.registry) == 3
