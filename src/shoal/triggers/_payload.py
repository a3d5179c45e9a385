"""Reading webhook bodies safely: bounded JSON, typed field access, validated names.

Every failure is a `TriggerFormatError` whose one-line message starts with the dialect
and the JSON path of the field (``distribution webhook: events[2].target.digest: ...``),
so a registry administrator can see from a log line what their registry sent wrong.
Values quoted in messages are cut to 100 characters: bodies come from the network.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from shoal.model.digest import InvalidDigest, parse_digest
from shoal.oci.reference import NAME_TOTAL_LENGTH_MAX, PATH_RE, TAG_RE
from shoal.triggers.base import TriggerFormatError

MAX_BODY_BYTES = 1024 * 1024
"""Registries send a few KiB; Distribution batches events but stays far below this."""
MAX_ITEMS = 10_000
"""Events in one envelope / resources in one Harbor event."""

# host[:port] as distribution/reference defines a domain (name, IPv4 or [IPv6]).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]{{1,5}})?"
)
_HOST_LENGTH_MAX = 255


class Fields:
    """Field access for one dialect; `who` prefixes every error message."""

    def __init__(self, who: str) -> None:
        self.who = who

    def fail(self, where: str, problem: str) -> TriggerFormatError:
        prefix = f"{self.who} webhook: {where}: " if where else f"{self.who} webhook: "
        return TriggerFormatError(prefix + problem)

    # --- the body ---------------------------------------------------------------------

    def load(self, body: bytes | bytearray | memoryview) -> dict[str, Any]:
        """The body as a JSON object; size, encoding, syntax and nesting are checked."""
        if not isinstance(body, bytes | bytearray | memoryview):
            raise self.fail("body", f"expected bytes, got {type(body).__name__}")
        if len(body) > MAX_BODY_BYTES:
            raise self.fail("body", f"{len(body)} bytes, more than the {MAX_BODY_BYTES} allowed")
        if not body:
            raise self.fail("body", "empty")
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.fail("body", f"not UTF-8 (byte {e.start})") from e
        try:
            doc = json.loads(text, parse_constant=_reject_constant)
        except RecursionError as e:
            raise self.fail("body", "JSON nested too deeply") from e
        except ValueError as e:  # JSONDecodeError, and the NaN/Infinity rejection
            raise self.fail("body", f"not JSON: {str(e).splitlines()[0][:200]}") from e
        return self.object(doc, "")

    # --- typed access -------------------------------------------------------------------

    def object(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where or "body", f"expected an object, got {_kind(value)}")
        return value

    def opt_object(self, parent: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            return None
        return self.object(value, _join(where, key))

    def array(self, parent: dict[str, Any], key: str, where: str) -> list[Any]:
        path = _join(where, key)
        value = parent.get(key)
        if value is None:
            raise self.fail(path, "missing")
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array, got {_kind(value)}")
        if len(value) > MAX_ITEMS:
            raise self.fail(path, f"{len(value)} entries, more than the {MAX_ITEMS} allowed")
        return value

    def opt_str(self, parent: dict[str, Any], key: str, where: str) -> str | None:
        """A string field; absent, null and "" all read as None (Go's omitempty)."""
        value = parent.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(_join(where, key), f"expected a string, got {_kind(value)}")
        return value

    def req_str(self, parent: dict[str, Any], key: str, where: str) -> str:
        value = self.opt_str(parent, key, where)
        if value is None:
            raise self.fail(_join(where, key), "missing")
        return value

    # --- validated values ---------------------------------------------------------------

    def digest(self, value: str, where: str) -> str:
        try:
            parse_digest(value)
        except InvalidDigest as e:
            raise self.fail(where, str(e)) from e
        return value

    def repository(self, value: str, where: str) -> str:
        if len(value) > NAME_TOTAL_LENGTH_MAX:
            raise self.fail(where, f"repository name longer than {NAME_TOTAL_LENGTH_MAX}")
        if not PATH_RE.fullmatch(value):
            raise self.fail(where, f"invalid repository name {value[:100]!r}")
        return value

    def host(self, value: str, where: str) -> str:
        """A registry host[:port], lower-cased (host names are case-insensitive)."""
        if len(value) > _HOST_LENGTH_MAX or not _HOST_RE.fullmatch(value):
            raise self.fail(where, f"invalid registry host {value[:100]!r}")
        return value.lower()

    def tag(self, value: str | None, where: str) -> str | None:
        if value is None:
            return None
        if not TAG_RE.fullmatch(value):
            raise self.fail(where, f"invalid tag {value[:100]!r}")
        return value

    def iso_time(self, value: str | None, where: str) -> datetime | None:
        """RFC 3339 as Go writes it (nanoseconds, 'Z'); naive times are taken as UTC."""
        if value is None:
            return None
        if len(value) > 64:
            raise self.fail(where, f"invalid timestamp {value[:100]!r}")
        try:
            ts = datetime.fromisoformat(value)
        except ValueError as e:
            raise self.fail(where, f"invalid timestamp {value[:100]!r}") from e
        return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)

    def unix_time(self, parent: dict[str, Any], key: str, where: str) -> datetime | None:
        path = _join(where, key)
        value = parent.get(key)
        if value is None:
            return None
        # bool is an int in Python; a JSON true is no timestamp.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected Unix seconds, got {_kind(value)}")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as e:
            raise self.fail(path, f"timestamp {value} out of range") from e


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)
