from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import inspect

from shoal.db import current_revision, downgrade, make_engine, migrate, schema_diff
from shoal.db.errors import DbError, MigrationError
from shoal.db.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}
HEAD = "0003"  # the newest migration


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
