"""Errors of the read views (`shoal.service.views`); the API maps each to one status.

    ShoalError
    └── ViewError
        ├── InvalidQuery     a filter, sort, limit or cursor the caller got wrong (400)
        ├── NotFound         the finding, vulnerability or scope asked for does not exist (404)
        └── Conflict         the change asked for does not fit the row's state (409)

Messages are one line and name the parameter or row at fault.
"""

from __future__ import annotations

from shoal.errors import ShoalError


class ViewError(ShoalError):
    pass


class InvalidQuery(ViewError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class NotFound(ViewError):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {str(ident)[:200]!r} does not exist")
        self.what = what


class Conflict(ViewError):
    pass
