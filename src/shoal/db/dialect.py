"""The one place that knows SQLite and PostgreSQL differ: INSERT ... ON CONFLICT.

Both support the same ON CONFLICT clause, but SQLAlchemy builds it from each dialect's
own `insert`; `insert_for` picks the right one for the session's connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_for(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
