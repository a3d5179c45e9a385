"""The FastAPI application: API v1, webhook receivers, health and metrics.

`create_app(ctx)` only wires routes to a `ServiceContext`; it starts nothing. The
runtime (`shoal.service.runtime`) owns workers and the scheduler, so tests can drive an
app with or without them.
"""

from __future__ import annotations

from fastapi import FastAPI

from shoal.api import problems
from shoal.api.routes import API_ROUTERS, ROOT_ROUTERS
from shoal.api.security import Authorizer, allow_all
from shoal.service.context import ServiceContext

API_PREFIX = "/api/v1"


def create_app(ctx: ServiceContext, *, authorizer: Authorizer = allow_all) -> FastAPI:
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("shoal")
    except PackageNotFoundError:  # pragma: no cover
        v = "dev"
    app = FastAPI(
        title="shoal",
        version=v,
        summary="Vulnerability assessment for container registries",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.authorizer = authorizer
    problems.install(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    return app
