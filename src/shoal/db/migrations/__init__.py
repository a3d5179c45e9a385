"""Alembic migrations of the service database, run by `shoal.db.migrate`."""
