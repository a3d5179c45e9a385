"""Content digests (`algorithm:hex`) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re

from shoal.errors import ShoalError

Digest = str
"""A validated digest string such as ``sha256:9f86d0...``."""

_HEX_LEN = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


class InvalidDigest(ShoalError):
    pass


def parse_digest(value: str) -> tuple[str, str]:
    """Split and validate a digest; returns ``(algorithm, hex)``.

    Only sha256 and sha512 are accepted, as the OCI image spec registers only those.
    """
    m = _DIGEST_RE.match(value)
    if not m:
        raise InvalidDigest(f"invalid digest {value[:100]!r}: expected 'algorithm:hex'")
    algo, hexpart = m.group(1), m.group(2)
    want = _HEX_LEN.get(algo)
    if want is None:
        raise InvalidDigest(f"unsupported digest algorithm {algo!r} in {value[:100]!r}")
    if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise InvalidDigest(f"invalid {algo} digest {value[:100]!r}: need {want} lower-case hex")
    return algo, hexpart


def sha256_digest(data: bytes) -> Digest:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hasher_for(digest: str) -> hashlib._Hash:
    """A fresh hash object of the digest's algorithm (digest must be valid)."""
    algo, _ = parse_digest(digest)
    return hashlib.new(algo)
