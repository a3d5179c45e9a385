"""Alembic environment: runs on the connection `shoal.db.migrate` hands it.

There is no alembic.ini: the script location and the connection come from code, so the
migrations ship inside the wheel and run wherever shoal runs.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from shoal.db.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("shoal migrations run through shoal.db.migrate(url), not the alembic CLI")
_run(connection)
