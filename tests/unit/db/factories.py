"""Small builders for db tests: a subscription -> registry -> repository chain."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shoal.db.crypto import CredentialCipher
from shoal.db.inventory import create_registry, create_subscription, ensure_repository
from shoal.db.models import Registry, Repository, Subscription
from shoal.db.types import RegistryKind

CIPHER = CredentialCipher(CredentialCipher.generate_key())
DIGEST_A = "sha256:bd35deb41376e513cfe2b307f6b7992147ac07f7eeb68ecb40e2e11e436be9d7"
DIGEST_B = "sha256:533fba266b3bcc837b6acb1d5d8f75cdcf1642b164e163e39d6ff8a8e56a5fcc"


def tree(
    session: Session, repo: str = "library/alpine"
) -> tuple[Subscription, Registry, Repository]:
    sub = create_subscription(session, "platform-team")
    reg = create_registry(
        session, sub.id, "local", "http://127.0.0.1:5000", RegistryKind.DISTRIBUTION, cipher=CIPHER
    ).registry
    return sub, reg, ensure_repository(session, reg.id, repo)
