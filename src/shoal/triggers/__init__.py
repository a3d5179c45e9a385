"""Trigger sources: registry webhook dialects that turn deliveries into scan requests.

`ALL` lists every dialect explicitly (nothing registers itself at import time);
`get_trigger(name)` returns one with default settings. See `base` for the contract.
`poll.discover` is the fallback for registries that cannot send webhooks.
"""

from __future__ import annotations

from shoal.errors import ConfigError
from shoal.triggers.acr import AcrTrigger
from shoal.triggers.base import (
    Deleted,
    PullEvent,
    ScanRequest,
    TriggerAuthError,
    TriggerEvent,
    TriggerFormatError,
    TriggerSource,
    dedupe,
)
from shoal.triggers.distribution import DistributionTrigger
from shoal.triggers.harbor import HarborTrigger
from shoal.triggers.poll import DiscoveryResult, PollError, discover

ALL: tuple[type[TriggerSource], ...] = (DistributionTrigger, HarborTrigger, AcrTrigger)


def get_trigger(name: str) -> TriggerSource:
    """A new trigger source for `name` (``distribution``, ``harbor``, ``acr``).

    Raises `ConfigError` naming the known dialects when `name` is none of them.
    """
    for cls in ALL:
        if cls.name == name:
            return cls()
    known = ", ".join(cls.name for cls in ALL)
    raise ConfigError(f"unknown webhook dialect {name!r}: expected one of {known}")


__all__ = [
    "ALL",
    "AcrTrigger",
    "Deleted",
    "DiscoveryResult",
    "DistributionTrigger",
    "HarborTrigger",
    "PollError",
    "PullEvent",
    "ScanRequest",
    "TriggerAuthError",
    "TriggerEvent",
    "TriggerFormatError",
    "TriggerSource",
    "dedupe",
    "discover",
    "get_trigger",
]
