"""Every router, registered here and nowhere else."""

from __future__ import annotations

from fastapi import APIRouter

from shoal.api.routes import (
    assessments,
    events,
    findings,
    health,
    history,
    images,
    registries,
    repositories,
    scans,
    subassessments,
    subscriptions,
    vulndb,
    vulnerabilities,
    webhooks,
)

API_ROUTERS: list[APIRouter] = [
    webhooks.router,
    subscriptions.router,
    registries.router,
    repositories.router,
    images.router,
    scans.router,
    findings.router,
    vulnerabilities.router,
    assessments.router,
    events.router,
    subassessments.router,
    history.router,
    vulndb.router,
]
ROOT_ROUTERS: list[APIRouter] = [
    health.router,
]
