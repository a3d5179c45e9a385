"""Schemathesis against the service's own `/openapi.json`: every operation, inputs that fit
the schema and inputs that do not, and no answer is a server error (5xx); on SQLite and on
PostgreSQL.

The app is `create_app(ctx)` called in-process (ASGI). Before the run the database holds
real data, so ids 1 (the ones generated most) name rows that exist: a subscription with a
registry (the real Distribution registry of the session), an image of real package data
pushed there with skopeo, recorded as a webhook records a push, scanned by the scan job
(findings, events, a stored SBOM), one finding exempted and a daily snapshot.

Each operation gets a bounded number of examples per mode (`EXAMPLES`, 8; more with
$SHOAL_SCHEMATHESIS_EXAMPLES for a longer hunt) with a fixed seed, so the run is quick and
repeatable. Every 5xx (and every exception the app lets escape)
is collected with its request and traceback and reported together at the end: one run
shows all of them, not the first.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from shoal.api import create_app
from shoal.db.history import snapshot_daily_counts
from shoal.db.inventory import create_registry, create_subscription
from shoal.db.models import Finding, Registry
from shoal.db.types import RegistryKind
from shoal.service.context import ServiceContext
from shoal.service.ingest import ingest_events
from shoal.service.queue import drain
from shoal.service.views.findings import set_exemption
from shoal.triggers import ScanRequest
from tests.integration.service.e2e_support import build_app_image
from tests.support.images import push
from tests.support.registry import Registry as RunningRegistry

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("SHOAL_SCHEMATHESIS_EXAMPLES", "8"))  # per operation and mode
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class ServerError:
    operation: str
    request: str
    status: int | None  # None: the app raised instead of answering
    detail: str

    def __str__(self) -> str:
        what = f"answered {self.status}" if self.status is not None else "raised"
        return f"{self.operation} {what}\n  request: {self.request}\n  {self.detail}"


def seed(ctx: ServiceContext, registry: RunningRegistry, tmp_path: Path, marker: str) -> None:
    """Real rows under ids 1: subscription, registry, repository, image with findings."""
    layout = tmp_path / "layout"
    digest = build_app_image(layout, "v1", marker=marker)
    push(layout, "v1", f"{registry.host}/schema/app:v1")
    now = ctx.clock.now()
    with ctx.write() as s:
        sub = create_subscription(s, "team", now=now)
        assert ctx.cipher is not None
        reg = create_registry(
            s, sub.id, "local", registry.url, RegistryKind.DISTRIBUTION, cipher=ctx.cipher, now=now
        ).registry
        request = ScanRequest(
            registry.host, "schema/app", digest, "v1", OCI_MANIFEST, now, "distribution"
        )
        assert ingest_events(s, ctx, reg, [request]).new_jobs == 1
    assert drain(ctx) == 1
    with ctx.write() as s:
        finding = s.scalars(select(Finding).order_by(Finding.id).limit(1)).one()
        set_exemption(s, finding.id, exempted=True, reason="not reachable", now=now)
        assert snapshot_daily_counts(s, sub.id, now.date()) > 0
        assert s.scalar(select(Registry.id)) == 1


def describe(case: schemathesis.Case) -> str:
    try:
        return case.as_curl_command()
    except Exception:  # only for the message
        return repr(case)[:2000]


def fuzz(op: schemathesis.APIOperation, mode: GenerationMode) -> list[ServerError]:
    """Send `op` up to EXAMPLES generated requests of `mode`; the server errors."""
    errors: list[ServerError] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call()
        except Exception:  # collected, reported by the test
            errors.append(ServerError(op.label, describe(case), None, traceback.format_exc()))
            return
        if response.status_code >= 500:
            errors.append(
                ServerError(op.label, describe(case), response.status_code, response.text[:2000])
            )

    try:
        run()
    except Unsatisfiable:
        # no input of this mode exists (no parameter to break, or free-form strings
        # only): nothing to send
        assert mode is GenerationMode.NEGATIVE, op.label
    return errors


def test_no_operation_answers_a_server_error(
    ctx: ServiceContext,
    registry: RunningRegistry,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    seed(ctx, registry, tmp_path, request.node.nodeid)
    ctx.settings.oci.timeout = 5.0  # a generated registry URL must not hold a request long
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ctx))
    errors: list[ServerError] = []
    operations = 0

    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        for mode in MODES:
            errors += fuzz(op, mode)

    assert operations >= 40  # every route of issue 4 is in the schema
    assert not errors, f"{len(errors)} server errors:\n\n" + "\n\n".join(
        str(e) for e in errors[:20]
    )
