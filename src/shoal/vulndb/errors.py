"""Errors of the local vulnerability database.

    ShoalError
    └── VulnDbError              the DB file is missing, unreadable, locked or not shoal's
        ├── SchemaMismatchError  the DB was written by another schema version
        └── BundleError          an export bundle is corrupt, tampered with or incompatible

Every message is one line naming the file and what to do about it.
"""

from __future__ import annotations

from shoal.errors import ShoalError


class VulnDbError(ShoalError):
    pass


class SchemaMismatchError(VulnDbError):
    pass


class BundleError(VulnDbError):
    pass
