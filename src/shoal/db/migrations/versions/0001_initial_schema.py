"""Initial schema: subscriptions, registries, repositories, images and tags, SBOMs,
findings, events, jobs and daily counts.

Written out in full (no imports from shoal.db.models): a migration is a frozen record
of the schema at its revision, and must not change when the models do.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "type",
            sa.Enum(
                "image_scanned",
                "finding_opened",
                "finding_resolved",
                "assessment_changed",
                name="event_type",
                native_enum=False,
                create_constraint=True,
                length=26,
            ),
            nullable=False,
        ),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("registry_id", sa.Integer(), nullable=True),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("finding_id", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_table(
        "jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "scan_image",
                "rematch_image",
                "discover_registry",
                "update_feeds",
                name="job_kind",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=500), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="job_state",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
    )
    op.create_index("ix_jobs_state_id", "jobs", ["state", "id"], unique=False)

    op.create_table(
        "sboms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manifest_digest", sa.String(length=150), nullable=False),
        sa.Column("platform", sa.String(length=100), nullable=False),
        sa.Column("analyser_version", sa.String(length=100), nullable=False),
        sa.Column("encoding", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sboms")),
        sa.UniqueConstraint(
            "manifest_digest", "platform", name=op.f("uq_sboms_manifest_digest_platform")
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan_enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("name", name=op.f("uq_subscriptions_name")),
    )
    op.create_table(
        "registries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "distribution",
                "harbor",
                "acr",
                "ecr",
                "gar",
                "quay",
                "ghcr",
                "dockerhub",
                name="registry_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_secret_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_registries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registries")),
        sa.UniqueConstraint(
            "subscription_id", "name", name=op.f("uq_registries_subscription_id_name")
        ),
    )
    op.create_index(
        op.f("ix_registries_subscription_id"), "registries", ["subscription_id"], unique=False
    )

    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "critical",
                "high",
                "medium",
                "low",
                "negligible",
                "unknown",
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("fixable", sa.Boolean(), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["registries.id"],
            name=op.f("fk_daily_counts_registry_id_registries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_daily_counts_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "day",
            "subscription_id",
            "registry_id",
            "severity",
            "fixable",
            name=op.f("pk_daily_counts"),
        ),
    )
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["registries.id"],
            name=op.f("fk_repositories_registry_id_registries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repositories")),
        sa.UniqueConstraint("registry_id", "name", name=op.f("uq_repositories_registry_id_name")),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=150), nullable=False),
        sa.Column("platform", sa.String(length=100), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("analyser_version", sa.String(length=100), nullable=True),
        sa.Column("db_version", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_images_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint(
            "repository_id",
            "digest",
            "platform",
            name=op.f("uq_images_repository_id_digest_platform"),
        ),
    )
    op.create_index("ix_images_digest", "images", ["digest"], unique=False)
    op.create_index("ix_images_last_pulled_at", "images", ["last_pulled_at"], unique=False)
    op.create_index("ix_images_pushed_at", "images", ["pushed_at"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("package_purl", sa.String(length=2048), nullable=False),
        sa.Column("package_name", sa.String(length=500), nullable=False),
        sa.Column("package_version", sa.String(length=200), nullable=False),
        sa.Column("vulnerability_id", sa.String(length=100), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "critical",
                "high",
                "medium",
                "low",
                "negligible",
                "unknown",
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("fixable", sa.Boolean(), nullable=False),
        sa.Column("fixed_versions", sa.JSON(), nullable=False),
        sa.Column("layer_diff_id", sa.String(length=150), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "fixed",
                "exempted",
                name="finding_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_findings_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index("ix_findings_first_seen_id", "findings", ["first_seen", "id"], unique=False)
    op.create_index("ix_findings_image_id", "findings", ["image_id"], unique=False)
    op.create_index("ix_findings_state_severity", "findings", ["state", "severity"], unique=False)
    op.create_index("ix_findings_vulnerability_id", "findings", ["vulnerability_id"], unique=False)

    op.create_table(
        "image_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_image_tags_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_image_tags_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_tags")),
        sa.UniqueConstraint("repository_id", "tag", name=op.f("uq_image_tags_repository_id_tag")),
    )
    op.create_index(op.f("ix_image_tags_image_id"), "image_tags", ["image_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_image_tags_image_id"), table_name="image_tags")

    op.drop_table("image_tags")
    op.drop_index("ix_findings_vulnerability_id", table_name="findings")
    op.drop_index("ix_findings_state_severity", table_name="findings")
    op.drop_index("ix_findings_image_id", table_name="findings")
    op.drop_index("ix_findings_first_seen_id", table_name="findings")

    op.drop_table("findings")
    op.drop_index("ix_images_pushed_at", table_name="images")
    op.drop_index("ix_images_last_pulled_at", table_name="images")
    op.drop_index("ix_images_digest", table_name="images")

    op.drop_table("images")
    op.drop_table("repositories")
    op.drop_table("daily_counts")
    op.drop_index(op.f("ix_registries_subscription_id"), table_name="registries")

    op.drop_table("registries")
    op.drop_table("subscriptions")
    op.drop_table("sboms")
    op.drop_index("ix_jobs_state_id", table_name="jobs")

    op.drop_table("jobs")
    op.drop_table("events")
