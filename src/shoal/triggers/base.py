"""The trigger extension point: what a registry webhook dialect must provide.

A `TriggerSource` turns one HTTP delivery from a registry (headers and raw body) into
events shoal acts on. It does two separate things, both pure:

- `verify` checks the shared secret the registry was configured to send, in constant
  time, and raises `TriggerAuthError` when it is missing or wrong;
- `parse` reads the body into a list of `TriggerEvent`s, and raises `TriggerFormatError`
  with a one-line message naming the offending field when the body is not what the
  dialect sends. Deliveries that carry nothing shoal cares about (blob uploads, scan
  reports, pings) parse to an empty list.

Events are keyed by what they are about, not by the delivery: registries retry and batch,
so the same push can arrive several times and `key` lets the receiver collapse them.

    ShoalError
    ├── TriggerAuthError     secret missing or wrong (HTTP 401)
    └── TriggerFormatError   body not in the dialect's format (HTTP 400)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from pydantic import SecretStr

from shoal.errors import ShoalError


class TriggerAuthError(ShoalError):
    """A webhook delivery did not carry the configured secret."""


class TriggerFormatError(ShoalError):
    """A webhook body is not in the format its dialect sends; the message names the field."""


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """A manifest or index was pushed: scan `registry_host/repository@digest`.

    `tag` is the tag it was pushed under, if the registry said; `media_type` is the
    manifest's media type when the dialect reports it (Harbor does not).
    """

    registry_host: str
    repository: str
    digest: str
    tag: str | None
    media_type: str | None
    pushed_at: datetime | None
    source: str

    @property
    def key(self) -> str:
        """The image this is about; repeated deliveries of one push share it."""
        return f"scan {self.registry_host}/{self.repository}@{self.digest}"


@dataclass(frozen=True, slots=True)
class PullEvent:
    """An image was pulled (its manifest fetched); it counts as in use at `pulled_at`."""

    registry_host: str
    repository: str
    digest: str
    tag: str | None
    pulled_at: datetime | None
    source: str

    @property
    def key(self) -> str:
        return f"pull {self.registry_host}/{self.repository}@{self.digest}"


@dataclass(frozen=True, slots=True)
class Deleted:
    """Something was deleted from a repository.

    With a `digest`: that manifest (for Distribution possibly a blob, as its delete events
    do not say which; a blob digest simply matches no image). With only a `tag`: the tag
    was removed, the manifest it named stays. With neither: the whole repository is gone.
    """

    registry_host: str
    repository: str
    digest: str | None
    tag: str | None
    deleted_at: datetime | None
    source: str

    @property
    def key(self) -> str:
        what = f"@{self.digest}" if self.digest else (f":{self.tag}" if self.tag else "")
        return f"delete {self.registry_host}/{self.repository}{what}"


TriggerEvent = ScanRequest | PullEvent | Deleted


class TriggerSource(Protocol):
    """One registry webhook dialect (`distribution`, `harbor`, `acr`)."""

    name: ClassVar[str]
    """Stable id, persisted with each registry's receiver configuration; never renamed."""
    version: ClassVar[int]
    """Bumped when the same body would parse to different events."""

    def verify(self, headers: Mapping[str, str], body: bytes, secret: SecretStr) -> None:
        """Raise `TriggerAuthError` unless the delivery carries `secret` (constant time)."""
        ...

    def presented_secrets(self, headers: Mapping[str, str]) -> tuple[str, ...]:
        """The values the delivery presents as its secret, for receivers that store only
        a hash of it: the delivery is authentic if any one of them is the secret. Raises
        `TriggerAuthError` when the header carrying it is missing."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TriggerEvent]:
        """The events in one delivery, in delivery order; raises `TriggerFormatError`."""
        ...


def dedupe(events: list[TriggerEvent]) -> list[TriggerEvent]:
    """`events` with later repeats of a `key` dropped (first occurrence kept, order kept)."""
    seen: set[str] = set()
    out: list[TriggerEvent] = []
    for e in events:
        if e.key not in seen:
            seen.add(e.key)
            out.append(e)
    return out
