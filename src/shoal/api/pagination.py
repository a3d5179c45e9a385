"""Cursor pagination for list routes: opaque cursors, bounded page sizes.

A cursor is the keyset position after the last item of a page (for example
``[id]`` or ``[first_seen, id]``), JSON-encoded and url-safe base64'd, with a short
tag naming the list it belongs to, so a cursor of one list handed to another is a 400
instead of a silently wrong page. Clients treat it as opaque.

    page = Page[Item](items=[...], next_cursor=encode_cursor("images", [last.id]))
    after = decode_cursor("images", cursor, (int,))   # None, or the decoded position

`Limit` and `CursorParam` are the query parameters every list route shares.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from shoal.api.problems import bad_request

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 500

T = TypeVar("T")

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"page size, 1 to {MAX_LIMIT}"),
]
CursorParam = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        description="`next_cursor` of the previous page; omit for the first page",
    ),
]


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(
        None, description="pass as `cursor` to get the next page; null when there is none"
    )


def encode_cursor(tag: str, position: Sequence[Any]) -> str:
    raw = json.dumps([tag, *position], separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(tag: str, cursor: str | None, types: Sequence[type]) -> list[Any] | None:
    """The position in `cursor` (one value per entry of `types`), None when there is no
    cursor. A cursor this code did not hand out for list `tag` is a 400 problem."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad_request(f"cursor: longer than {MAX_CURSOR_CHARS} characters")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise bad_request("cursor: not a cursor this service handed out") from e
    if not isinstance(doc, list) or len(doc) != len(types) + 1 or doc[0] != tag:
        raise bad_request(f"cursor: not a cursor of this list ({tag})")
    out: list[Any] = []
    for value, want in zip(doc[1:], types, strict=True):
        # bool is an int in Python; a cursor never holds one where an int belongs
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise bad_request(f"cursor: not a cursor of this list ({tag})")
        # nothing a database column would refuse (an error there would be a 500)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise bad_request(f"cursor: not a cursor of this list ({tag})")
        if isinstance(value, str) and "\x00" in value:
            raise bad_request(f"cursor: not a cursor of this list ({tag})")
        out.append(value)
    return out


def next_cursor(
    tag: str, rows: Sequence[T], limit: int, position: Callable[[T], Sequence[Any]]
) -> str | None:
    """The cursor after `rows` when a further page may exist. Routes fetch ``limit + 1``
    rows; `position(row)` gives a row's keyset values."""
    if len(rows) <= limit:
        return None
    return encode_cursor(tag, position(rows[limit - 1]))
