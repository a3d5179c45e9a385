"""Errors of the local vulnerability database.

    ShoalError
    └── VulnDbError              the DB file is missing, locked or not shoal's
        ├── CorruptDbError       the DB file is not readable as SQLite (an update rebuilds it)
        ├── SchemaMismatchError  the DB was written by another schema version (likewise)
        └── BundleError          an export bundle is corrupt, tampered with or incompatible

Every message is one line naming the file and what to do about it.
"""

from __future__ import annotations

from shoal.errors import ShoalError


class VulnDbError(ShoalError):
    pass


class CorruptDbError(VulnDbError):
    pass


class SchemaMismatchError(VulnDbError):
    pass


class BundleError(VulnDbError):
    pass
