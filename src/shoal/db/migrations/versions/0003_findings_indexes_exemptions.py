"""Findings: indexes for the findings view's filters and sorts (measured at 1,000,000
findings on PostgreSQL, bench/findings_query.py), and the exemption's reason and time.

`ix_findings_image_state_severity` leads with image_id, so it replaces
`ix_findings_image_id`; `ix_findings_state_severity_first_seen` extends
`ix_findings_state_severity`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("findings", sa.Column("exemption_reason", sa.Text(), nullable=True))
    op.add_column("findings", sa.Column("exempted_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_findings_image_id", table_name="findings")
    op.drop_index("ix_findings_state_severity", table_name="findings")
    op.create_index(
        "ix_findings_image_state_severity",
        "findings",
        ["image_id", "state", "severity", "fixable", "first_seen", "id"],
    )
    op.create_index(
        "ix_findings_state_severity_first_seen",
        "findings",
        ["state", "severity", "first_seen", "id"],
    )
    op.create_index(
        "ix_findings_package_name_first_seen", "findings", ["package_name", "first_seen", "id"]
    )
    op.create_index("ix_findings_package_purl", "findings", ["package_purl"])


def downgrade() -> None:
    op.drop_index("ix_findings_package_purl", table_name="findings")
    op.drop_index("ix_findings_package_name_first_seen", table_name="findings")
    op.drop_index("ix_findings_state_severity_first_seen", table_name="findings")
    op.drop_index("ix_findings_image_state_severity", table_name="findings")
    op.create_index("ix_findings_state_severity", "findings", ["state", "severity"])
    op.create_index("ix_findings_image_id", "findings", ["image_id"])
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("exempted_at")
        batch.drop_column("exemption_reason")
