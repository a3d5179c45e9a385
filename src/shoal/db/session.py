"""Engines and sessions from a database URL (SQLite by default, PostgreSQL by URL).

``SHOAL_DATABASE_URL`` picks the database; without it the service keeps a SQLite file
under the user data dir, so ``shoal serve`` needs no other server. ``postgresql://`` and
``postgres://`` URLs use psycopg 3, the only PostgreSQL driver shoal ships with.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from shoal.db.errors import DbError

ENV_VAR = "SHOAL_DATABASE_URL"
SQLITE_BUSY_MS = 30_000  # how long a writer waits for another one before "database is locked"
_READ_ONLY = "shoal_read_only"  # execution option: a session that never writes


def default_database_url() -> str:
    """``$SHOAL_DATABASE_URL``, else a SQLite file under the user data dir."""
    url = os.environ.get(ENV_VAR)
    if url:
        return url
    path = Path(platformdirs.user_data_dir("shoal")) / "service" / "shoal.db"
    return f"sqlite:///{path}"


def parse_url(url: str | URL) -> URL:
    """The URL with the driver shoal uses; `DbError` for anything but SQLite/PostgreSQL."""
    try:
        u = make_url(url)
    except (ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        raise DbError(f"database URL {_redacted(url)!r} does not parse") from e
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if u.get_driver_name() not in ("pysqlite", ""):
            raise DbError(f"database URL {_redacted(u)!r}: only the sqlite3 driver is supported")
        return u
    raise DbError(f"database URL {_redacted(u)!r}: only sqlite and postgresql are supported")


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for `url`. For a SQLite file the directory is created, foreign keys are
    enforced and transactions start with BEGIN IMMEDIATE (see `_sqlite_setup`)."""
    u = parse_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # psycopg prepares a statement after 5 runs, and PostgreSQL may then switch to a
    # generic plan that ignores the values: for skewed data (a popular vulnerability id,
    # a large registry) that plan was measured 20x slower than the plan for the value
    # (bench/findings_query.py). Plan each run for its values; parsing is still saved.
    connect_args = dict(kwargs.pop("connect_args", {}))
    options = str(connect_args.get("options", ""))
    if "plan_cache_mode" not in options:
        connect_args["options"] = (options + " -c plan_cache_mode=force_custom_plan").strip()
    return create_engine(u, connect_args=connect_args, **kwargs)


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (API handlers return them).

    `read_only` sessions on SQLite start a deferred transaction, so they never wait for
    or block a writer (WAL gives them a snapshot); a write in one fails instead."""
    bind = engine.execution_options(**{_READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling starts a deferred transaction lazily and
    # upgrades it to a write lock on the first write; in WAL mode that upgrade fails at
    # once (SQLITE_BUSY_SNAPSHOT) if another writer committed meanwhile, whatever the
    # busy timeout. Taking the write lock at BEGIN makes concurrent writers queue instead.
    # The price: a transaction holds the write lock from its first statement, so keep
    # them short; sessions that only read use `session_factory(read_only=True)`.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        _enable_wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across app crashes
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def _enable_wal(cur: Any) -> None:
    # WAL is persistent, so this only changes anything on a new file. The switch needs an
    # exclusive lock and SQLite answers "locked" at once, busy timeout or not, when a
    # reader would have to wait for a writer (deadlock avoidance): retry, bounded.
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _redacted(url: str | URL) -> str:
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable>"
