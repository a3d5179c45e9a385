from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shoal.triggers import TriggerFormatError
from shoal.triggers._payload import Fields

F = Fields("test")


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("registry.example", "registry.example"),
        ("Registry.Example:5000", "registry.example:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("[::1]:5000", "[::1]:5000"),
        ("localhost", "localhost"),
    ],
)
def test_hosts(raw: str, want: str) -> None:
    assert F.host(raw, "h") == want


@pytest.mark.parametrize(
    "raw", ["", "a b", "-bad.example", "host:", "host:123456", "a/b", "x" * 300]
)
def test_bad_hosts(raw: str) -> None:
    with pytest.raises(TriggerFormatError, match=r"^test webhook: h: invalid registry host"):
        F.host(raw, "h")


def test_iso_times() -> None:
    assert F.iso_time("2026-11-24T02:26:21.758002142Z", "t") == datetime(
        2026, 11, 24, 2, 26, 21, 758002, tzinfo=UTC
    )
    assert F.iso_time("2016-03-09T14:44:26-08:00", "t") == datetime(
        2016, 3, 9, 14, 44, 26, tzinfo=timezone(-timedelta(hours=8))
    )
    # A time without a zone is read as UTC, never as the receiver's local time.
    assert F.iso_time("2023-04-03T06:12:52", "t") == datetime(2023, 4, 3, 6, 12, 52, tzinfo=UTC)
    assert F.iso_time(None, "t") is None
    with pytest.raises(TriggerFormatError, match="t: invalid timestamp"):
        F.iso_time("2023-04-03T06:12:52Z" + "0" * 60, "t")


def test_unix_times() -> None:
    assert F.unix_time({"at": 0}, "at", "") == datetime(1970, 1, 1, tzinfo=UTC)
    assert F.unix_time({}, "at", "") is None
    with pytest.raises(
        TriggerFormatError, match=r"^test webhook: x\.at: expected Unix seconds, got a number$"
    ):
        F.unix_time({"at": 1.5}, "at", "x")


def test_strings_read_go_omitempty_as_absent() -> None:
    assert F.opt_str({"a": ""}, "a", "") is None
    assert F.opt_str({"a": None}, "a", "") is None
    with pytest.raises(TriggerFormatError, match=r"^test webhook: o\.a: missing$"):
        F.req_str({"a": ""}, "a", "o")


def test_body_type_is_checked() -> None:
    with pytest.raises(TriggerFormatError, match="body: expected bytes, got str"):
        F.load("{}")  # type: ignore[arg-type]
    assert F.load(bytearray(b"{}")) == {}
