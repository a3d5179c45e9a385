"""Errors of the service database (`shoal.db`).

    ShoalError
    └── DbError                  the service database is unreachable, unmigrated or refused a write
        ├── MigrationError       Alembic could not bring the schema to the wanted revision
        ├── CursorError          a pagination cursor that this code did not hand out
        ├── CredentialError      registry credentials cannot be encrypted or decrypted (key)
        └── StoredSbomError      a stored SBOM blob does not decode (corruption, not user input)

Every message is one line naming what failed and where; causes are chained.
"""

from __future__ import annotations

from shoal.errors import ShoalError


class DbError(ShoalError):
    pass


class MigrationError(DbError):
    pass


class CursorError(DbError):
    pass


class CredentialError(DbError):
    pass


class StoredSbomError(DbError):
    pass
