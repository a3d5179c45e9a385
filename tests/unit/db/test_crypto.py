from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from shoal.db.crypto import (
    CredentialCipher,
    RegistryCredentials,
    hash_webhook_secret,
    new_webhook_secret,
    verify_webhook_secret,
)
from shoal.db.errors import CredentialError
from shoal.db.inventory import (
    check_webhook_secret,
    create_registry,
    create_subscription,
    registry_credentials,
    rotate_webhook_secret,
)
from shoal.db.models import Registry
from shoal.db.types import RegistryKind

KEY = CredentialCipher.generate_key()
CIPHER = CredentialCipher(KEY)
CREDS = RegistryCredentials("robot$ci", "s3cr3t-Pa55word-xyz")


def test_round_trip_and_repr_hides_password() -> None:
    token = CIPHER.encrypt(CREDS)
    assert CIPHER.decrypt(token) == CREDS
    assert b"s3cr3t" not in token and b"robot" not in token
    assert "s3cr3t" not in repr(CREDS)


def test_column_holds_ciphertext_only(session: Session) -> None:
    sub = create_subscription(session, "team")
    new = create_registry(
        session,
        sub.id,
        "hub",
        "https://registry.example:5000",
        RegistryKind.HARBOR,
        cipher=CIPHER,
        credentials=CREDS,
    )
    session.commit()
    raw = session.execute(
        text("SELECT credentials, webhook_secret_hash FROM registries WHERE id = :i"),
        {"i": new.registry.id},
    ).one()
    stored = bytes(raw[0])
    assert CREDS.password.encode() not in stored
    assert CREDS.username.encode() not in stored
    assert new.webhook_secret not in raw[1]
    assert "s3cr3t" not in repr(new.registry)
    reg = session.get(Registry, new.registry.id)
    assert reg is not None
    assert registry_credentials(reg, cipher=CIPHER) == CREDS
    assert check_webhook_secret(reg, new.webhook_secret)
    assert not check_webhook_secret(reg, new.webhook_secret + "x")
    old = new.webhook_secret
    fresh = rotate_webhook_secret(reg)
    assert check_webhook_secret(reg, fresh) and not check_webhook_secret(reg, old)


def test_wrong_key_is_a_clear_error() -> None:
    token = CIPHER.encrypt(CREDS)
    other = CredentialCipher(CredentialCipher.generate_key())
    with pytest.raises(CredentialError, match="do not decrypt with the key"):
        other.decrypt(token)


def test_key_rotation_first_key_encrypts_all_decrypt() -> None:
    new_key = CredentialCipher.generate_key()
    old_token = CIPHER.encrypt(CREDS)
    both = CredentialCipher(f"{new_key},{KEY}")
    assert both.decrypt(old_token) == CREDS
    rotated = both.rotate(old_token)
    assert CredentialCipher(new_key).decrypt(rotated) == CREDS


def test_bad_or_missing_key_never_echoes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialError, match="not a Fernet key") as e:
        CredentialCipher("my-secret-passphrase")
    assert "passphrase" not in str(e.value)
    monkeypatch.delenv("SHOAL_CREDENTIALS_KEY", raising=False)
    with pytest.raises(CredentialError, match="SHOAL_CREDENTIALS_KEY"):
        CredentialCipher.from_env()
    monkeypatch.setenv("SHOAL_CREDENTIALS_KEY", KEY)
    assert CredentialCipher.from_env().decrypt(CIPHER.encrypt(CREDS)) == CREDS


def test_webhook_secrets_are_salted() -> None:
    secret = new_webhook_secret()
    assert len(secret) >= 43
    a, b = hash_webhook_secret(secret), hash_webhook_secret(secret)
    assert a != b
    assert verify_webhook_secret(a, secret) and verify_webhook_secret(b, secret.encode())
    assert not verify_webhook_secret(a, "")
    assert not verify_webhook_secret(a, "x" * 5000)
    with pytest.raises(ValueError, match="empty"):
        hash_webhook_secret("")


@given(st.binary(max_size=300))
def test_fuzz_decrypt_garbage_is_credential_error(token: bytes) -> None:
    with pytest.raises(CredentialError):
        CIPHER.decrypt(token)


@given(st.text(max_size=200), st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_fuzz_verify_never_crashes(stored: str, presented: str | bytes) -> None:
    assert verify_webhook_secret(stored, presented) is False


@given(st.text(max_size=100))
def test_fuzz_bad_keys_are_credential_errors(key: str) -> None:
    try:
        CredentialCipher(key)
    except CredentialError as e:
        assert "\n" not in str(e)
