from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from shoal.db.errors import DbError
from shoal.db.inventory import create_subscription
from shoal.db.models import Subscription
from shoal.db.session import default_database_url, make_engine, parse_url, session_factory


def test_postgres_urls_use_psycopg() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_other_databases_and_garbage_are_refused_in_one_line() -> None:
    with pytest.raises(DbError, match="only sqlite and postgresql"):
        parse_url("mysql+pymysql://root:pw@db/shoal")
    for bad in ["not a url", "postgresql://u:pw@h:abc/db", "postgresql://u:p@[::1/db"]:
        with pytest.raises(DbError, match="does not parse") as e:
            parse_url(bad)
        assert "pw@" not in str(e.value)
    with pytest.raises(DbError) as e:
        parse_url("oracle://scott:tiger@db/x")
    assert "tiger" not in str(e.value)


def test_default_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_DATABASE_URL", "postgresql://shoal@db/shoal")
    assert default_database_url() == "postgresql://shoal@db/shoal"
    monkeypatch.delenv("SHOAL_DATABASE_URL")
    assert default_database_url().startswith("sqlite:///")


def test_sqlite_file_directory_is_created_and_foreign_keys_enforced(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 's.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert (tmp_path / "a" / "b" / "s.db").exists()
    eng.dispose()


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        create_subscription(session, "team", now=datetime(2026, 1, 1))


def test_timestamps_come_back_aware_utc(engine: Engine, session: Session) -> None:
    from datetime import UTC, timedelta, timezone

    at = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    sub = create_subscription(session, "team", now=at)
    session.commit()
    session.expire_all()
    assert sub.created_at == at
    assert sub.created_at.tzinfo == UTC


@given(st.text(max_size=200))
def test_fuzz_parse_url_is_url_or_clean_error(text_: str) -> None:
    try:
        u = parse_url(text_)
    except DbError as e:
        assert "\n" not in str(e)
    else:
        assert u.get_backend_name() in ("sqlite", "postgresql")


def test_read_only_sessions_do_not_block_writers(engine: Engine) -> None:
    writer = session_factory(engine)
    reader = session_factory(engine, read_only=True)
    with reader() as r, writer() as w:
        assert r.scalar(select(func.count()).select_from(Subscription)) == 0  # open snapshot
        create_subscription(w, "team")  # would wait for r on SQLite without read_only
        w.commit()
        # SQLite: the reader keeps its snapshot; PostgreSQL (read committed): sees the commit
        snapshot = 0 if engine.dialect.name == "sqlite" else 1
        assert r.scalar(select(func.count()).select_from(Subscription)) == snapshot
    with reader() as r:
        assert r.scalar(select(func.count()).select_from(Subscription)) == 1


def test_postgresql_plans_every_run_for_its_values(engine: Engine) -> None:
    """A generic plan for a prepared statement ignores skewed values (measured 20x slower
    on the findings view); shoal's PostgreSQL connections always plan for the values."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    with engine.connect() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
