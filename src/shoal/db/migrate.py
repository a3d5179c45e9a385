"""Running the Alembic migrations from code: `migrate(url)` brings a database to head.

The service calls `migrate` at start-up; it is idempotent. Several processes starting
at once migrate one at a time: on PostgreSQL through an advisory lock, on SQLite through
its single writer (the migration runs in one BEGIN IMMEDIATE transaction). Within one
process a lock serialises callers too, as Alembic keeps its running context in globals.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from shoal.db.errors import MigrationError
from shoal.db.models import Base
from shoal.db.session import make_engine

# any fixed 64-bit number; only other shoal processes take this lock
_PG_MIGRATION_LOCK = 0x5E0A1_0DB
_IN_PROCESS = threading.Lock()


def migrate(url: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (default: the newest)."""
    with _connection(url) as conn:
        _run(conn, "upgrade", revision)


def downgrade(url: str | URL | Engine, revision: str = "base") -> None:
    """Downgrade the database at `url` to `revision` (default: empty)."""
    with _connection(url) as conn:
        _run(conn, "downgrade", revision)


def current_revision(url: str | URL | Engine) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    with _connection(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_diff(url: str | URL | Engine) -> list[Any]:
    """What differs between the models and the migrated database (empty: they agree).
    The same comparison `alembic check` makes."""
    with _connection(url) as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("shoal.db") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def _run(conn: Connection, what: str, revision: str) -> None:
    with _IN_PROCESS:
        _run_locked(conn, what, revision)


def _run_locked(conn: Connection, what: str, revision: str) -> None:
    try:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
        try:
            if what == "upgrade":
                command.upgrade(_config(conn), revision)
            else:
                command.downgrade(_config(conn), revision)
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
    except (CommandError, SQLAlchemyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MigrationError(f"{what} to {revision!r} failed: {first}") from e


@contextmanager
def _connection(url: str | URL | Engine) -> Iterator[Connection]:
    owned = not isinstance(url, Engine)
    engine = make_engine(url) if not isinstance(url, Engine) else url
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as e:
        first = str(e).strip().splitlines()[0]
        raise MigrationError(f"database {engine.url.render_as_string()!r}: {first}") from e
    finally:
        if owned:
            engine.dispose()
