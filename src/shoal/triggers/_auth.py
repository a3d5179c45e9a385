"""Shared-secret checks for webhook deliveries.

All three dialects authenticate the same way: the registry is configured to send a fixed
header (usually `Authorization`) and shoal compares it with the registry's secret. A
delivery presents the secret either as the whole header value (Harbor sends its policy's
auth header verbatim, whatever the administrator typed) or as a bearer token
(``Bearer <secret>``, as Distribution's docs configure it); both are candidates.

`check_secret` compares every candidate with `hmac.compare_digest`, always all of them,
so the time taken says nothing about how much of a guess was right. Receivers that keep
only a hash of the secret call `presented_secrets` and check each candidate themselves.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from shoal.triggers.base import TriggerAuthError

MAX_HEADER_CHARS = 8192
"""Longer values are refused unread; real secrets are tens of characters."""


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


def presented_secrets(
    headers: Mapping[str, str], *, who: str, name: str = "Authorization"
) -> tuple[str, ...]:
    """The values header `name` may present as the secret: the whole value, and the token
    of a ``Bearer`` value (the scheme is case-insensitive, RFC 9110 11.1).

    Raises `TriggerAuthError` when the header is missing, empty or oversized.
    """
    got = header(headers, name)
    if got is None or got == "":
        raise TriggerAuthError(f"{who} webhook: missing {name} header")
    if len(got) > MAX_HEADER_CHARS:
        raise TriggerAuthError(f"{who} webhook: {name} header longer than {MAX_HEADER_CHARS}")
    scheme, space, token = got.partition(" ")
    if space and token and scheme.lower() == "bearer":
        return (got, token)
    return (got,)


def check_secret(
    headers: Mapping[str, str], secret: SecretStr, *, who: str, name: str = "Authorization"
) -> None:
    """Raise `TriggerAuthError` unless header `name` presents `secret`."""
    expected = secret.get_secret_value().encode("utf-8", "surrogatepass")
    if not expected:
        raise TriggerAuthError(f"{who} webhook: no secret configured for this receiver")
    ok = False
    for candidate in presented_secrets(headers, who=who, name=name):
        # `|=` rather than `or`: every candidate is compared, match or not.
        ok |= hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), expected)
    if not ok:
        raise TriggerAuthError(f"{who} webhook: wrong secret in {name} header")
