"""Registry secrets at rest: credentials encrypted with Fernet, webhook secrets hashed.

Credentials must be read back (to log in to the registry), so they are encrypted:
Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with the key(s) in
``SHOAL_CREDENTIALS_KEY``. Several comma-separated keys rotate: the first encrypts,
all decrypt (`MultiFernet`). The database holds ciphertext only.

Webhook secrets only need checking, so only a salted SHA-256 is stored. A slow password
hash (scrypt, bcrypt) would make every webhook call cost tens of milliseconds and
memory, a denial-of-service lever on an unauthenticated endpoint; the secrets shoal
generates carry 256 random bits, which no offline guessing reaches. Comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shoal.db.errors import CredentialError

KEY_ENV_VAR = "SHOAL_CREDENTIALS_KEY"
_HASH_SCHEME = "sha256"
MAX_SECRET_BYTES = 1024  # a webhook secret (header value) longer than this is refused unread


@dataclass(frozen=True, slots=True)
class RegistryCredentials:
    """What logs in to a registry. `repr` never shows the secret."""

    username: str
    password: str = field(repr=False)


class CredentialCipher:
    """Encrypts and decrypts `RegistryCredentials` with one or more Fernet keys."""

    def __init__(self, keys: str | bytes) -> None:
        raw = keys.decode("ascii", "replace") if isinstance(keys, bytes) else keys
        parts = [k.strip() for k in raw.split(",") if k.strip()]
        if not parts:
            raise CredentialError(f"no credentials key: set {KEY_ENV_VAR} (Fernet.generate_key())")
        fernets = []
        for i, k in enumerate(parts):
            try:
                fernets.append(Fernet(k))
            except (ValueError, TypeError) as e:
                # never echo the key itself, not even a prefix
                raise CredentialError(
                    f"credentials key #{i + 1} in {KEY_ENV_VAR} is not a Fernet key "
                    "(32 url-safe base64 bytes)"
                ) from e
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_env(cls) -> CredentialCipher:
        return cls(os.environ.get(KEY_ENV_VAR, ""))

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, creds: RegistryCredentials) -> bytes:
        doc = json.dumps({"username": creds.username, "password": creds.password})
        return self._fernet.encrypt(doc.encode())

    def decrypt(self, token: bytes) -> RegistryCredentials:
        """Raises `CredentialError` when the token was made with another key or is damaged."""
        try:
            doc = json.loads(self._fernet.decrypt(token))
        except InvalidToken as e:
            raise CredentialError(
                f"stored credentials do not decrypt with the key(s) in {KEY_ENV_VAR}"
            ) from e
        except (ValueError, TypeError) as e:  # genuine token, but not our JSON
            raise CredentialError("stored credentials decrypt to something unreadable") from e
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("username"), str)
            or not isinstance(doc.get("password"), str)
        ):
            raise CredentialError("stored credentials decrypt to something unreadable")
        return RegistryCredentials(doc["username"], doc["password"])

    def rotate(self, token: bytes) -> bytes:
        """The token re-encrypted with the first (newest) key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as e:
            raise CredentialError(
                f"stored credentials do not decrypt with the key(s) in {KEY_ENV_VAR}"
            ) from e


def new_webhook_secret() -> str:
    """A fresh random webhook secret (256 bits, url-safe): shown once, stored hashed."""
    return secrets.token_urlsafe(32)


def hash_webhook_secret(secret: str) -> str:
    """``sha256$<salt hex>$<digest hex>`` of a secret, for storage."""
    if not secret:
        raise ValueError("webhook secret is empty")
    salt = secrets.token_bytes(16)
    return f"{_HASH_SCHEME}${salt.hex()}${_digest(salt, secret.encode())}"


def verify_webhook_secret(stored: str, presented: str | bytes) -> bool:
    """Whether `presented` is the secret `stored` was made from. Constant-time in the
    presented value; a malformed stored value or an oversized one is simply False."""
    raw = presented.encode("utf-8", "replace") if isinstance(presented, str) else presented
    if not raw or len(raw) > MAX_SECRET_BYTES:
        return False
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != _HASH_SCHEME:
        return False
    try:
        salt = bytes.fromhex(parts[1])
    except ValueError:
        return False
    return hmac.compare_digest(_digest(salt, raw), parts[2])


def _digest(salt: bytes, secret: bytes) -> str:
    return hashlib.sha256(salt + secret).hexdigest()
