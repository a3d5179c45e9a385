"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

Raise `Problem` (or a subclass helper) from a route; the handlers installed by
`install` turn it, request-validation errors, unknown routes and unexpected exceptions
into problem documents. A 500 never carries the exception text (it may hold a secret);
the log line does, with the request id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("shoal.api")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://shoal.dev/problems/"


class Problem(Exception):
    """An error with an HTTP status; `type_` is a short slug under TYPE_BASE."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type_ = type_
        self.extra = extra or {}
        self.headers = headers


def not_found(what: str, ident: object) -> Problem:
    return Problem(
        404, "Not found", f"{what} {str(ident)[:200]!r} does not exist", type_="not-found"
    )


def bad_request(detail: str, **extra: Any) -> Problem:
    return Problem(400, "Bad request", detail, type_="bad-request", extra=extra)


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail, type_="conflict")


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_ if type_ else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        if exc.status >= 500:
            log.error("request failed", extra={"path": request.url.path, "error": str(exc)})
        return problem_response(
            request,
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type_,
            extra=exc.extra,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": ".".join(str(p) for p in e.get("loc", ())),
                "message": str(e.get("msg", ""))[:300],
            }
            for e in exc.errors()[:20]
        ]
        first = errors[0] if errors else {"location": "request", "message": "invalid"}
        return problem_response(
            request,
            422,
            "Invalid request",
            f"{first['location']}: {first['message']}",
            type_="invalid-request",
            extra={"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            request, exc.status_code, title, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error", extra={"path": request.url.path, "ref": ref})
        return problem_response(
            request,
            500,
            "Internal error",
            f"see the service log, reference {ref}",
            type_="internal",
        )
