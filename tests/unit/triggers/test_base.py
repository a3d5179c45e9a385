from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shoal.errors import ConfigError, ShoalError
from shoal.triggers import (
    ALL,
    AcrTrigger,
    Deleted,
    DistributionTrigger,
    HarborTrigger,
    PullEvent,
    ScanRequest,
    TriggerAuthError,
    TriggerFormatError,
    dedupe,
    get_trigger,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_all_lists_each_dialect_once_by_stable_name() -> None:
    assert [cls.name for cls in ALL] == ["distribution", "harbor", "acr"]
    assert all(cls.version >= 1 for cls in ALL)


@pytest.mark.parametrize(
    ("name", "cls"),
    [("distribution", DistributionTrigger), ("harbor", HarborTrigger), ("acr", AcrTrigger)],
)
def test_get_trigger_returns_a_new_instance(name: str, cls: type) -> None:
    a, b = get_trigger(name), get_trigger(name)
    assert isinstance(a, cls)
    assert a is not b


def test_get_trigger_unknown_names_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown webhook dialect 'quay'.*distribution, harbor, acr"
    ):
        get_trigger("quay")


def test_errors_are_shoal_errors() -> None:
    assert issubclass(TriggerAuthError, ShoalError)
    assert issubclass(TriggerFormatError, ShoalError)
    assert not issubclass(TriggerAuthError, TriggerFormatError)


def test_scan_request_key_ignores_delivery_details() -> None:
    a = ScanRequest("reg.example", "team/app", D1, "v1", None, T0, "distribution")
    b = ScanRequest("reg.example", "team/app", D1, "latest", "x", None, "distribution")
    assert a.key == b.key == f"scan reg.example/team/app@{D1}"


def test_keys_differ_by_kind_repository_and_digest() -> None:
    keys = {
        ScanRequest("r", "a", D1, None, None, None, "acr").key,
        ScanRequest("r", "a", D2, None, None, None, "acr").key,
        ScanRequest("r", "b", D1, None, None, None, "acr").key,
        PullEvent("r", "a", D1, None, None, "acr").key,
        Deleted("r", "a", D1, None, None, "acr").key,
        Deleted("r", "a", None, "v1", None, "acr").key,
        Deleted("r", "a", None, None, None, "acr").key,
    }
    assert len(keys) == 7


def test_deleted_key_names_what_went() -> None:
    assert Deleted("r", "a", D1, "v1", None, "harbor").key == f"delete r/a@{D1}"
    assert Deleted("r", "a", None, "v1", None, "distribution").key == "delete r/a:v1"
    assert Deleted("r", "a", None, None, None, "acr").key == "delete r/a"


def test_dedupe_keeps_first_of_each_key_in_order() -> None:
    first = ScanRequest("r", "a", D1, "v1", None, T0, "distribution")
    again = ScanRequest("r", "a", D1, "v2", None, T0, "distribution")
    pull = PullEvent("r", "a", D1, "v1", T0, "distribution")
    other = ScanRequest("r", "a", D2, None, None, T0, "distribution")
    assert dedupe([first, pull, again, other, pull]) == [first, pull, other]


def test_events_are_frozen() -> None:
    e = ScanRequest("r", "a", D1, None, None, None, "acr")
    with pytest.raises(AttributeError):
        e.digest = D2  # type: ignore[misc]
