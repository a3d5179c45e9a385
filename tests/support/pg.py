"""Real PostgreSQL databases for tests: the server at 127.0.0.1:5432 (trust auth), which
`make test` starts when it is not running. Each test session creates its own
databases `shoal_test_<random>` and drops them at the end."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest

from shoal.db import migrate

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


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
