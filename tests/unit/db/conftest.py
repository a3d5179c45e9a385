"""Every db test runs against SQLite (a temp file) and PostgreSQL (the real server at
127.0.0.1:5432, trust auth). The PostgreSQL database `shoal_test_<random>` is created
for the test session, migrated once, emptied before each test and dropped at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from shoal.db import make_engine, migrate, session_factory
from shoal.db.models import Base

BACKENDS = ["sqlite", "postgresql"]


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
