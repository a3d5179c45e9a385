"""Every db test runs against SQLite (a temp file) and PostgreSQL (the real server at
127.0.0.1:5432, trust auth). The PostgreSQL database `shoal_test_<random>` is created
for the test session, migrated once, emptied before each test and dropped at the end."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from shoal.db import make_engine, migrate, session_factory
from shoal.db.models import Base

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin(sql: str) -> None:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.encode())
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is needed (run 'make test'): {e}")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Callable[[], str]]:
    """Makes fresh, empty PostgreSQL databases; drops them all when the session ends."""
    made: list[str] = []

    def make() -> str:
        name = f"shoal_test_{secrets.token_hex(6)}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        made.append(name)
        return PG_URL.format(name=name)

    yield make
    for name in made:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_migrated(pg_databases: Callable[[], str]) -> str:
    url = pg_databases()
    migrate(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Callable[[], str]
) -> str:
    """The URL of a database with no tables yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return pg_databases()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shoal.db'}"
        migrate(url)
        eng = make_engine(url)
    else:
        eng = make_engine(request.getfixturevalue("pg_migrated"))
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Callable[[], Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: Callable[[], Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s
