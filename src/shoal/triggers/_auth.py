"""Shared-secret checks for webhook deliveries.

All three dialects authenticate the same way: the registry is configured to send a fixed
header (usually `Authorization`) and shoal compares it with the registry's secret. The
comparison uses `hmac.compare_digest`, and both accepted forms are always compared, so
the time taken says nothing about how much of a guess was right.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from shoal.triggers.base import TriggerAuthError


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name`, looked up case-insensitively (HTTP field names are)."""
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for k, v in headers.items():
        if k.lower() == lower:
            return v
    return None


def check_secret(
    headers: Mapping[str, str], secret: SecretStr, *, who: str, name: str = "Authorization"
) -> None:
    """Accept header `name` if it is exactly `secret` or `Bearer <secret>`.

    Both forms exist in practice: Distribution's own docs configure ``Bearer <token>``,
    Harbor sends its policy's auth header verbatim, whatever the administrator typed.
    """
    expected = secret.get_secret_value()
    if not expected:
        raise TriggerAuthError(f"{who} webhook: no secret configured for this receiver")
    got = header(headers, name)
    if got is None:
        raise TriggerAuthError(f"{who} webhook: missing {name} header")
    got_b = got.encode("utf-8", "surrogatepass")
    exact = hmac.compare_digest(got_b, expected.encode("utf-8", "surrogatepass"))
    bearer = hmac.compare_digest(got_b, f"Bearer {expected}".encode("utf-8", "surrogatepass"))
    if not (exact | bearer):
        raise TriggerAuthError(f"{who} webhook: wrong secret in {name} header")
