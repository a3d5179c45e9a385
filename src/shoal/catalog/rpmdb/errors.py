"""What the rpm database readers report when the input is malformed."""

from __future__ import annotations

from dataclasses import dataclass

from shoal.errors import CatalogError


class RpmDbError(CatalogError):
    """The database as a whole cannot be read (bad magic, truncated, broken page chain)."""


class HeaderError(RpmDbError):
    """One rpm header blob is malformed."""


@dataclass(frozen=True, slots=True)
class BadRecord:
    """One record of an otherwise readable database that could not be read."""

    hnum: int
    reason: str
