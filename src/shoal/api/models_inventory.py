"""Request and response bodies of the inventory API (subscriptions, registries,
repositories, images, scans) and the webhook receivers.

Responses never carry registry credentials or webhook secrets, with one exception:
the secret is in the answer that creates (or rotates) it, once; only its hash is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shoal.api.views_models import SeverityCounts
from shoal.db.types import JobKind, JobState, RegistryKind

_EXAMPLE_DIGEST = "sha256:bd35deb41376e513cfe2b307f6b7992147ac07f7eeb68ecb40e2e11e436be9d7"


MAX_ID = 2**31 - 1
MAX_JOB_ID = 2**63 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="the resource's id")]
JobId = Annotated[int, Path(ge=1, le=MAX_JOB_ID, description="the job's id")]


# what a name or URL may hold: no control characters (PostgreSQL refuses NUL outright)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
DIGEST_PATTERN = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- subscriptions ---------------------------------------------------------------------------


class SubscriptionSettingsModel(BaseModel):
    unhealthy_severity: str = Field(
        "medium",
        description="an open finding at or above this severity makes an image unhealthy "
        "(critical, high, medium, low, negligible)",
        examples=["medium"],
    )
    in_use_window_days: int = Field(
        30,
        description="images pulled or pushed this recently are re-assessed daily (1 to 3650)",
        examples=[30],
    )


class SubscriptionCreate(_In):
    name: str = Field(
        min_length=1, max_length=200, pattern=TEXT_PATTERN, examples=["platform-team"]
    )
    plan_enabled: bool = Field(True, description="assessment on or off for the whole scope")
    settings: dict[str, object] | None = Field(
        None,
        description="unhealthy_severity and in_use_window_days; defaults when omitted",
        examples=[{"unhealthy_severity": "high", "in_use_window_days": 30}],
    )


class SubscriptionPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200, pattern=TEXT_PATTERN)
    plan_enabled: bool | None = None
    settings: dict[str, object] | None = Field(
        None, description="replaces the settings; keys left out take their defaults"
    )


class SubscriptionOut(BaseModel):
    id: int = Field(examples=[1])
    name: str = Field(examples=["platform-team"])
    plan_enabled: bool
    settings: SubscriptionSettingsModel
    created_at: datetime
    registries: int = Field(description="registries in this subscription")


# -- registries ------------------------------------------------------------------------------


class CredentialsIn(_In):
    username: str = Field(
        min_length=1, max_length=256, pattern=TEXT_PATTERN, examples=["robot$scanner"]
    )
    password: SecretStr = Field(
        min_length=1, max_length=4096, description="password or token; stored encrypted"
    )


class RegistryCreate(_In):
    subscription_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(
        min_length=1, max_length=200, pattern=TEXT_PATTERN, examples=["prod-registry"]
    )
    url: str = Field(
        min_length=1,
        max_length=500,
        pattern=TEXT_PATTERN,
        description="https://host[:port]; http only for loopback or oci.insecure_registries",
        examples=["https://registry.example.com"],
    )
    kind: RegistryKind = Field(
        RegistryKind.DISTRIBUTION,
        description="decides the webhook dialect (distribution, harbor, acr) and discovery",
    )
    credentials: CredentialsIn | None = Field(
        None, description="what shoal logs in with; omit for anonymous pulls"
    )


class RegistryPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200, pattern=TEXT_PATTERN)
    url: str | None = Field(None, min_length=1, max_length=500, pattern=TEXT_PATTERN)
    credentials: CredentialsIn | None = Field(
        None, description="new credentials; null removes the stored ones"
    )


class RegistryOut(BaseModel):
    id: int = Field(examples=[3])
    subscription_id: int
    name: str
    url: str = Field(examples=["https://registry.example.com"])
    kind: RegistryKind
    has_credentials: bool = Field(description="credentials are stored (never returned)")
    receiver_url: str = Field(
        description="where the registry sends its webhooks",
        examples=["https://shoal.example.com/api/v1/webhooks/3"],
    )
    created_at: datetime


class WebhookSetup(BaseModel):
    """How to point the registry's notifications at shoal."""

    receiver_url: str
    authorization_header: str = Field(
        description="the header value the registry must send (Authorization)",
        examples=["Bearer 3q2-7w...<secret>"],
    )
    distribution_config: str | None = Field(
        None,
        description="a ready-to-paste `notifications` section for a CNCF Distribution "
        "registry's config.yml (Distribution registries only)",
    )


class RegistryCreated(RegistryOut):
    webhook_secret: str = Field(
        description="shown in this answer only; shoal keeps a hash (rotate it if lost)"
    )
    webhook: WebhookSetup


class SecretRotated(BaseModel):
    webhook_secret: str = Field(description="shown in this answer only; the old one stops working")
    webhook: WebhookSetup


class ConnectionTestOut(BaseModel):
    ok: bool
    status: int | None = Field(description="HTTP status of the registry's last answer, if any")
    message: str


# -- repositories and images -----------------------------------------------------------------


class RepositoryOut(BaseModel):
    id: int
    registry_id: int
    name: str = Field(examples=["team/api"])
    created_at: datetime
    images: int = Field(description="image rows (one per digest and platform)")


class OsOut(BaseModel):
    id: str = Field(examples=["debian"])
    version_id: str | None = Field(None, examples=["12"])
    pretty_name: str | None = Field(None, examples=["Debian GNU/Linux 12 (bookworm)"])


class ImageOut(BaseModel):
    id: int
    registry_id: int
    repository_id: int
    repository: str = Field(examples=["team/api"])
    digest: str = Field(examples=[_EXAMPLE_DIGEST])
    platform: str = Field(description='"os/arch[/variant]"; "" until analysed')
    tags: list[str] = Field(examples=[["1.4.2", "latest"]])
    pushed_at: datetime | None = Field(description="null: pushed at an unknown time")
    last_pulled_at: datetime | None
    last_scanned_at: datetime | None
    analyser_version: str | None
    db_version: str | None = Field(description="vulnerability DB version of the last assessment")


class ImageDetail(ImageOut):
    os: OsOut | None = Field(description="from the stored SBOM; null if none or not known")
    health: Literal["healthy", "unhealthy", "not_applicable"]
    open_findings: SeverityCounts
    fixable: int = Field(description="open findings with a fixed version available")


# -- scans -----------------------------------------------------------------------------------


class ScanCreate(_In):
    registry_id: int = Field(ge=1, le=MAX_ID)
    repository: str | None = Field(
        None, min_length=1, max_length=255, description="omit to scan the whole registry"
    )
    reference: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="a tag or digest in `repository`; omit to scan the whole repository",
        examples=["1.4.2", _EXAMPLE_DIGEST],
    )


class JobOut(BaseModel):
    id: int
    kind: JobKind
    state: JobState
    attempts: int
    error: str | None = Field(description="the last failure's one-line message")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    image_id: int | None = Field(None, description="the image a scan job is about")
    registry_id: int | None = Field(None, description="the registry a discovery job polls")
    status_url: str = Field(examples=["/api/v1/scans/42"])


class ScanAccepted(BaseModel):
    jobs: list[JobOut]
    image_id: int | None = Field(None, description="the image a reference resolved to")
    digest: str | None = Field(None, description="the digest a reference resolved to")
    status_url: str


# -- webhooks --------------------------------------------------------------------------------


class WebhookAccepted(BaseModel):
    events: int = Field(description="events in the delivery shoal acted on")
    pushes: int
    pulls: int
    deletions: int
    scans_queued: int = Field(description="new scan jobs (a repeated delivery queues none)")


# -- OpenAPI: problem responses ---------------------------------------------------------------

_PROBLEM_TEXT = {
    400: "Bad request (problem details name what and where)",
    401: "Not authenticated",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    422: "Invalid request (problem details name the field)",
    502: "The registry could not be reached or refused",
}


def problems(*codes: int) -> dict[int | str, dict[str, object]]:
    """`responses=` entries for the problem+json errors a route answers with."""
    return {
        code: {
            "description": _PROBLEM_TEXT.get(code, "Error"),
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }
