from __future__ import annotations

import hashlib
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import inspect, text

from shoal.db import current_revision, downgrade, make_engine, migrate, schema_diff
from shoal.db.errors import DbError, MigrationError
from shoal.db.models import Base
from shoal.model.finding import ImageLocation, image_finding_id

TABLES = {t.name for t in Base.metadata.sorted_tables}
HEAD = "0005"  # the newest migration


def _tables(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        return set(inspect(eng).get_table_names()) - {"alembic_version"}
    finally:
        eng.dispose()


def test_upgrade_head_creates_every_table_and_agrees_with_models(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    migrate(empty_url)
    assert current_revision(empty_url) == HEAD
    assert _tables(empty_url) == TABLES
    # what `alembic check` does: autogenerate finds nothing to change
    assert schema_diff(empty_url) == []


def test_migrate_twice_is_a_no_op(empty_url: str) -> None:
    migrate(empty_url)
    migrate(empty_url)
    assert current_revision(empty_url) == HEAD


def test_downgrade_base_drops_everything_and_upgrade_again_works(empty_url: str) -> None:
    migrate(empty_url)
    downgrade(empty_url)
    assert current_revision(empty_url) is None
    assert _tables(empty_url) == set()
    migrate(empty_url)
    assert schema_diff(empty_url) == []


def test_unmigrated_database_differs_from_models(empty_url: str) -> None:
    diff = schema_diff(empty_url)
    added = {d[1].name for d in diff if d[0] == "add_table"}
    assert added == TABLES


def test_unknown_revision_is_one_line_error(empty_url: str) -> None:
    with pytest.raises(MigrationError) as e:
        migrate(empty_url, "9999")
    assert "9999" in str(e.value)
    assert "\n" not in str(e.value)


def test_unreachable_postgres_is_one_line_error_without_password() -> None:
    with pytest.raises(MigrationError) as e:
        migrate("postgresql://postgres:hunter2@127.0.0.1:1/nope?connect_timeout=2")
    assert "\n" not in str(e.value)
    assert "hunter2" not in str(e.value)


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(DbError, match="only sqlite and postgresql"):
        migrate("mysql://root@localhost/shoal")


def test_processes_starting_at_once_migrate_one_at_a_time(empty_url: str) -> None:
    start = threading.Barrier(4, timeout=60)
    errors: list[BaseException] = []

    def boot() -> None:
        start.wait()
        try:
            migrate(empty_url)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=boot) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert current_revision(empty_url) == HEAD
    assert schema_diff(empty_url) == []


def test_separate_processes_migrating_at_once(empty_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(3, mp_context=ctx) as pool:
        for f in [pool.submit(migrate, empty_url) for _ in range(3)]:
            f.result()
    assert current_revision(empty_url) == HEAD
    assert schema_diff(empty_url) == []


def test_0004_rekeys_findings_and_their_events_by_location(empty_url: str) -> None:
    """Findings stored under 0003's ids (qualified by repository row id) get the ids
    `shoal scan` computes too; the events naming them follow; downgrade restores."""
    migrate(empty_url, "0003")
    digest = "sha256:" + "ab" * 32
    purl, vuln = "pkg:pypi/urllib3@1.26.4", "CVE-2023-43804"
    hashed = f"{digest}\n{purl}\n{vuln}\nrepository=1;platform=linux/amd64"
    old = hashlib.sha256(hashed.encode()).hexdigest()[:32]
    at = "2026-11-02 09:30:00+00:00"
    eng = make_engine(empty_url)
    try:
        with eng.begin() as c:
            for sql in (
                "INSERT INTO subscriptions (id, name, plan_enabled, settings, created_at)"
                " VALUES (1, 'team', true, '{}', :at)",
                "INSERT INTO registries (id, subscription_id, name, url, kind,"
                " webhook_secret_hash, created_at)"
                " VALUES (1, 1, 'hub', 'https://registry-1.docker.io:443', 'distribution', 'x', :at)",
                "INSERT INTO repositories (id, registry_id, name, created_at)"
                " VALUES (1, 1, 'library/app', :at)",
                "INSERT INTO images (id, repository_id, digest, platform, pushed_at, created_at)"
                " VALUES (1, 1, :digest, 'linux/amd64', :at, :at)",
                "INSERT INTO findings (id, image_id, package_purl, package_name, package_version,"
                " vulnerability_id, severity, fixable, fixed_versions, state, first_seen,"
                " last_seen) VALUES (:old, 1, :purl, 'urllib3', '1.26.4', :vuln, 'high', true,"
                " '[]', 'exempted', :at, :at)",
                "INSERT INTO events (type, image_id, finding_id, payload, created_at)"
                " VALUES ('finding_opened', 1, :old, '{}', :at)",
            ):
                c.execute(
                    text(sql), {"at": at, "digest": digest, "old": old, "purl": purl, "vuln": vuln}
                )
        migrate(empty_url)
        new = image_finding_id(
            ImageLocation("docker.io", "library/app", digest, "linux/amd64"), purl, vuln
        )
        with eng.connect() as c:
            assert c.execute(text("SELECT id, state FROM findings")).all() == [(new, "exempted")]
            assert c.execute(text("SELECT finding_id FROM events")).scalars().all() == [new]
        downgrade(empty_url, "0003")
        with eng.connect() as c:
            assert c.execute(text("SELECT id FROM findings")).scalars().all() == [old]
            assert c.execute(text("SELECT finding_id FROM events")).scalars().all() == [old]
    finally:
        eng.dispose()


def test_0004_refuses_two_registries_at_one_place(empty_url: str) -> None:
    migrate(empty_url, "0003")
    eng = make_engine(empty_url)
    try:
        with eng.begin() as c:
            c.execute(
                text(
                    "INSERT INTO subscriptions (id, name, plan_enabled, settings, created_at)"
                    " VALUES (1, 'team', true, '{}', '2026-11-02 09:30:00+00:00')"
                )
            )
            for rid, url in ((1, "http://127.0.0.1:5000"), (2, "http://127.0.0.1:5000/")):
                c.execute(
                    text(
                        "INSERT INTO registries (id, subscription_id, name, url, kind,"
                        " webhook_secret_hash, created_at) VALUES (:id, 1, :name, :url,"
                        " 'distribution', 'x', '2026-11-02 09:30:00+00:00')"
                    ),
                    {"id": rid, "name": f"r{rid}", "url": url},
                )
    finally:
        eng.dispose()
    with pytest.raises(MigrationError) as e:
        migrate(empty_url)
    assert "registries 1 and 2 are both 127.0.0.1:5000" in str(e.value)
    assert "\n" not in str(e.value)
