"""The assessment service's database: tables, migrations and small repository functions.

SQLite (the default, one file) and PostgreSQL (``SHOAL_DATABASE_URL=postgresql://...``)
behave the same through this package. Start with `make_engine(url)` and `migrate(url)`.
"""

from __future__ import annotations

from shoal.db.migrate import current_revision, downgrade, migrate, schema_diff
from shoal.db.session import default_database_url, make_engine, session_factory

__all__ = [
    "current_revision",
    "default_database_url",
    "downgrade",
    "make_engine",
    "migrate",
    "schema_diff",
    "session_factory",
]
