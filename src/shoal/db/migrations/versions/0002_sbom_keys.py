"""SBOM lookup keys: `sbom_keys` (hashed (ecosystem, name) per stored SBOM) and
`sboms.keys_version`, so a feed update finds the images it touches without decoding SBOMs;
`sboms.match_rows`, the compact form of what matching reads, so re-matching decodes less.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sboms", sa.Column("keys_version", sa.Integer(), nullable=True))
    op.add_column("sboms", sa.Column("match_rows", sa.LargeBinary(), nullable=True))
    op.create_table(
        "sbom_keys",
        sa.Column("sbom_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["sbom_id"],
            ["sboms.id"],
            name=op.f("fk_sbom_keys_sbom_id_sboms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sbom_id", "key_hash", name=op.f("pk_sbom_keys")),
    )
    op.create_index("ix_sbom_keys_key_hash", "sbom_keys", ["key_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sbom_keys_key_hash", table_name="sbom_keys")
    op.drop_table("sbom_keys")
    # SQLite cannot drop a column in place: batch mode copies the table
    with op.batch_alter_table("sboms") as batch:
        batch.drop_column("match_rows")
        batch.drop_column("keys_version")
