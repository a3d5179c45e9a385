"""FastAPI dependencies: the service context and database sessions per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from shoal.service.context import ServiceContext


def get_ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def read_session(request: Request) -> Iterator[Session]:
    """A read-only session (never blocks a writer on SQLite)."""
    with get_ctx(request).read() as s:
        yield s


def write_session(request: Request) -> Iterator[Session]:
    """A read-write transaction committed when the route returns without error."""
    with get_ctx(request).write() as s:
        yield s


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
# scope="function": the transaction ends before the response is sent, so a 2xx means
# committed (and a failed commit is a problem response, not a lost write)
ReadDb = Annotated[Session, Depends(read_session, scope="function")]
WriteDb = Annotated[Session, Depends(write_session, scope="function")]
