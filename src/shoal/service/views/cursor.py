"""Opaque keyset cursors shared by the views.

A cursor is base64url JSON `[kind, *values]`: `kind` names the listing (and its sort)
that issued it, so a cursor handed to another listing is refused instead of silently
paging something else. Values are strings and integers only; each view checks the
shape it expects and turns anything else into `InvalidQuery("cursor", ...)`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from shoal.service.views.errors import InvalidQuery

MAX_CURSOR = 400  # characters; the longest we issue is ~200
MAX_LIMIT = 1000

Value = str | int


def encode(kind: str, *values: Value) -> str:
    doc = json.dumps([kind, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode(
    kind: str, cursor: str, shape: tuple[type, ...], *, parameter: str = "cursor"
) -> list[Value]:
    """The values of a cursor issued for `kind`, checked against `shape` (their types)."""
    bad = InvalidQuery(parameter, f"{cursor[:40]!r} is not a cursor this listing issued")
    if not cursor or len(cursor) > MAX_CURSOR:
        raise bad
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise bad from None
    if not isinstance(doc, list) or len(doc) != len(shape) + 1 or doc[0] != kind:
        raise bad
    values = doc[1:]
    for v, t in zip(values, shape, strict=True):
        # bool is an int to Python; never a cursor value
        if not isinstance(v, t) or isinstance(v, bool):
            raise bad
        if isinstance(v, str) and len(v) > 300:
            raise bad
    return values


def encode_time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def decode_time(text: str, *, parameter: str = "cursor") -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidQuery(parameter, "not a cursor this listing issued") from None
    if t.tzinfo is None:
        raise InvalidQuery(parameter, "not a cursor this listing issued")
    return t.astimezone(UTC)


def check_limit(limit: int, *, parameter: str = "limit", maximum: int = MAX_LIMIT) -> int:
    if isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise InvalidQuery(parameter, f"{limit} is not between 1 and {maximum}")
    return limit
