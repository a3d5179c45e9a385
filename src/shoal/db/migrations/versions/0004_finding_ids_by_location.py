"""Finding ids: qualified by where the image is, not by database row numbers.

Until 0003 a finding's id hashed the image digest, purl and vulnerability id with
``repository=<repositories.id>;platform=<platform>``; `shoal scan` could not compute
that. Now the qualifier is ``repository=<registry>/<repository name>;platform=<platform>``
with the registry as image references spell it (`shoal.oci.reference.registry_of_url`),
so the CLI gives the same finding of the same image the same id
(`shoal.model.finding.image_finding_id`). This migration re-keys every stored finding
and the events that name one, in one transaction: a mapping table, then one UPDATE
each.

The formula and the URL rule are copied here as they are at this revision, so that the
migration keeps doing what it did when the code it came with changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_BATCH = 5000


def _registry(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (parts.scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return "docker.io" if host in _HUB_ALIASES else host


def _new_id(digest: str, purl: str, vuln: str, registry: str, repo: str, platform: str) -> str:
    text = f"{digest}\n{purl}\n{vuln}\nrepository={registry}/{repo};platform={platform}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _rekey(conn: sa.Connection, new_id: object) -> None:
    """Re-key every finding with `new_id(digest, purl, vuln, registry, repo, platform)`."""
    rows = conn.execute(
        sa.text(
            "SELECT f.id, i.digest, f.package_purl, f.vulnerability_id, g.url, r.name,"
            " i.platform FROM findings f JOIN images i ON i.id = f.image_id"
            " JOIN repositories r ON r.id = i.repository_id"
            " JOIN registries g ON g.id = r.registry_id"
        )
    ).all()
    urls: dict[str, str] = {}
    pairs = []
    for old, digest, purl, vuln, url, repo, platform in rows:
        registry = urls.get(url) or urls.setdefault(url, _registry(url))
        new = new_id(digest, purl, vuln, registry, repo, platform)  # type: ignore[operator]
        if new != old:
            pairs.append({"old_id": old, "new_id": new})
    del rows
    if not pairs:
        return
    conn.execute(
        sa.text(
            "CREATE TEMPORARY TABLE finding_rekey"
            " (old_id VARCHAR(32) PRIMARY KEY, new_id VARCHAR(32) NOT NULL)"
        )
    )
    insert = sa.text("INSERT INTO finding_rekey (old_id, new_id) VALUES (:old_id, :new_id)")
    for i in range(0, len(pairs), _BATCH):
        conn.execute(insert, pairs[i : i + _BATCH])
    conn.execute(
        sa.text(
            "UPDATE findings SET id = m.new_id FROM finding_rekey m WHERE findings.id = m.old_id"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE events SET finding_id = m.new_id FROM finding_rekey m"
            " WHERE events.finding_id = m.old_id"
        )
    )
    conn.execute(sa.text("DROP TABLE finding_rekey"))


def upgrade() -> None:
    conn = op.get_bind()
    seen: dict[str, int] = {}
    for rid, url in conn.execute(sa.text("SELECT id, url FROM registries ORDER BY id")):
        other = seen.setdefault(_registry(url), rid)
        if other != rid:  # their images' findings would get the same ids
            raise CommandError(
                f"registries {other} and {rid} are both {_registry(url)}: delete one, then"
                " upgrade (a registry can be added once)"
            )
    _rekey(conn, _new_id)


def downgrade() -> None:
    conn = op.get_bind()
    ids = {
        (name, url): rid
        for rid, name, url in conn.execute(
            sa.text(
                "SELECT r.id, r.name, g.url FROM repositories r"
                " JOIN registries g ON g.id = r.registry_id"
            )
        )
    }
    by_location = {(_registry(url), name): rid for (name, url), rid in ids.items()}

    def old_id(digest: str, purl: str, vuln: str, registry: str, repo: str, platform: str) -> str:
        qualifier = f"repository={by_location[(registry, repo)]};platform={platform}"
        text = f"{digest}\n{purl}\n{vuln}\n{qualifier}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    _rekey(conn, old_id)
