"""Response bodies of the read views: findings, vulnerabilities, assessments, events,
history. The Azure-shaped sub-assessments are documented by their spec, not here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shoal.db.types import EventType, FindingState
from shoal.model.advisory import Rating
from shoal.service.assess import Health

_EXAMPLE_DIGEST = "sha256:bd35deb41376e513cfe2b307f6b7992147ac07f7eeb68ecb40e2e11e436be9d7"


class SeverityCounts(BaseModel):
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    negligible: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, counts: dict[Rating, int]) -> SeverityCounts:
        return cls(**{r.value: n for r, n in counts.items()})


class ImageRef(BaseModel):
    """Where a finding's image sits: registry -> repository -> image."""

    image_id: int
    digest: str = Field(examples=[_EXAMPLE_DIGEST])
    platform: str = Field(examples=["linux/amd64"])
    tags: list[str]
    repository_id: int
    repository: str = Field(examples=["library/alpine"])
    registry_id: int
    registry: str
    registry_host: str = Field(examples=["registry.example.com:5000"])
    subscription_id: int
    last_scanned_at: datetime | None


class PackageRef(BaseModel):
    name: str
    version: str
    purl: str


class FindingOut(BaseModel):
    id: str = Field(
        description="stable across re-scans and feed updates: derived from the image digest, "
        "package purl and vulnerability id, qualified by the image's registry host, "
        "repository and platform; `shoal scan` of the image prints the same id"
    )
    vulnerability_id: str = Field(examples=["CVE-2024-0727"])
    severity: Rating
    fixable: bool
    fixed_versions: list[str]
    package: PackageRef
    layer_diff_id: str | None
    state: FindingState
    first_seen: datetime
    last_seen: datetime = Field(
        description="the last assessment that saw it (for an open finding: the image's last)"
    )
    resolved_at: datetime | None
    image: ImageRef
    exemption_reason: str | None = Field(
        None, description="why the finding was exempted (kept after the exemption is lifted)"
    )
    exempted_at: datetime | None = None


class ExemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000, examples=["not reachable: no TLS in use"])


class ExemptionLift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=1000)


class CvssOut(BaseModel):
    version: str = Field(examples=["3.1"])
    score: float | None
    vector: str | None
    source: str = Field(examples=["nvd"])


class EpssOut(BaseModel):
    score: float
    percentile: float | None


class VulnerabilityOut(BaseModel):
    id: str
    severity: Rating = Field(description="the highest severity among its findings")
    fixable: bool = Field(description="a fixed version exists for at least one finding")
    cvss_score: float | None = Field(description="the newest CVSS version's base score")
    cvss_vector: str | None
    cvss: list[CvssOut]
    epss: EpssOut | None
    kev: bool = Field(description="on CISA's Known Exploited Vulnerabilities list")
    kev_date_added: str | None
    summary: str
    published: str | None
    cves: list[str]
    aliases: list[str]
    findings: int
    images: int
    repositories: int
    registries: int
    first_seen: datetime


class AffectedPackageOut(BaseModel):
    finding_id: str
    package: PackageRef
    severity: Rating
    fixable: bool
    fixed_versions: list[str]
    state: FindingState
    first_seen: datetime


class AffectedImageOut(BaseModel):
    image: ImageRef
    packages: list[AffectedPackageOut]


class VulnerabilityDetailOut(VulnerabilityOut):
    description: str
    modified: str | None
    cwes: list[str]
    references: list[str]
    affected_images: list[AffectedImageOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for more affected images; null when there are none"
    )


class RecommendationRef(BaseModel):
    key: str
    display_name: str


class ScopeRef(BaseModel):
    kind: str = Field(examples=["registry"])
    id: int
    name: str


class ImageHealthCounts(BaseModel):
    total: int
    scanned: int
    healthy: int
    unhealthy: int
    not_applicable: int = Field(description="not scanned yet")


class AssessmentOut(BaseModel):
    recommendation: RecommendationRef
    scope: ScopeRef
    subscription_id: int
    status: Health
    cause: str | None = Field(description="why not applicable: not_scanned, plan_disabled")
    threshold: Rating = Field(description="the subscription's unhealthy severity")
    open_findings: SeverityCounts
    open_total: int
    fixable: int = Field(description="open findings with a fixed version")
    images: ImageHealthCounts
    last_scanned_at: datetime | None


class EventOut(BaseModel):
    id: int
    type: EventType
    subscription_id: int | None
    registry_id: int | None
    image_id: int | None
    finding_id: str | None
    payload: dict[str, Any]
    created_at: datetime


class EventPageOut(BaseModel):
    items: list[EventOut]
    next_cursor: int = Field(
        description="the last id returned (or the cursor given when nothing is new): "
        "pass it as `cursor` to continue or to poll"
    )


class SubAssessmentList(BaseModel):
    """Azure's `SecuritySubAssessmentList`: `value` and `nextLink`."""

    value: list[dict[str, Any]]
    nextLink: str | None  # noqa: N815 - Azure's field name


class TrendDayOut(BaseModel):
    day: date
    total: int
    by_severity: SeverityCounts
    fixable: int


class TrendsOut(BaseModel):
    days: int
    subscription_id: int | None
    registry_id: int | None
    series: list[TrendDayOut]


class AgeRowOut(BaseModel):
    severity: Rating
    total: int
    buckets: dict[str, int]
    oldest_first_seen: datetime | None


class AgeOut(BaseModel):
    now: datetime
    buckets: list[str] = Field(description="age buckets, by whole days since first seen")
    rows: list[AgeRowOut]


class MttrRowOut(BaseModel):
    severity: Rating | None = Field(description="null on the overall row")
    remediated: int
    mean_seconds: float | None
    mean_days: float | None


class MttrOut(BaseModel):
    window_days: int
    since: datetime
    until: datetime
    overall: MttrRowOut
    rows: list[MttrRowOut]
