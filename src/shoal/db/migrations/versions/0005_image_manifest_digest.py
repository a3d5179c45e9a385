"""Images: the platform's own manifest digest, so that a client's fetch of one platform of
an index (a pull event naming the child manifest) counts as a pull of that platform's
row instead of being recorded as an image of its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("manifest_digest", sa.String(length=150), nullable=True))
    op.create_index(
        "ix_images_repository_manifest_digest", "images", ["repository_id", "manifest_digest"]
    )


def downgrade() -> None:
    op.drop_index("ix_images_repository_manifest_digest", table_name="images")
    op.drop_column("images", "manifest_digest")
