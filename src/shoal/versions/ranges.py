"""Whether a version falls in an OSV affected range.

OSV ranges (https://ossf.github.io/osv-schema/#affectedranges-field) are lists of
events: ``introduced`` (``"0"`` meaning "since forever"), ``fixed``, ``last_affected``
and ``limit``. Following the schema's reference algorithm, the events are sorted by
version and walked in order: an ``introduced`` at or below the version turns
"affected" on, a ``fixed`` at or below it or a ``last_affected`` below it turns it off;
a version at or above a ``limit`` is outside the range. ``ECOSYSTEM`` ranges use the
ecosystem's own order, ``SEMVER`` ranges SemVer 2.0.0 precedence (a leading ``v`` is
tolerated, as Go versions carry one); ``GIT`` ranges name commits, not versions, and are
not evaluated here.

The answer is three-valued: None means "unknown", for a version (or event) that the
scheme cannot place in its order. A version that does not parse is never reported as
not affected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any, Literal

from shoal.versions import scheme_for
from shoal.versions.base import VersionScheme
from shoal.versions.semver import SEMVER

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
_KINDS: tuple[EventKind, ...] = ("introduced", "last_affected", "fixed", "limit")


@dataclass(frozen=True, slots=True)
class Event:
    """One OSV range event."""

    kind: EventKind
    version: str


def parse_events(events: Iterable[Mapping[str, Any] | Event]) -> tuple[Event, ...]:
    """OSV event objects (``{"introduced": "1.0"}``) as `Event`s.

    Raises ValueError, naming the event, for an object that is not exactly one known
    event with a string version.
    """
    out: list[Event] = []
    for i, ev in enumerate(events):
        if isinstance(ev, Event):
            out.append(ev)
            continue
        if not isinstance(ev, Mapping) or len(ev) != 1:
            raise ValueError(f"event {i}: expected one of {', '.join(_KINDS)}, got {ev!r:.100}")
        ((kind, version),) = ev.items()
        if kind not in _KINDS or not isinstance(version, str):
            raise ValueError(f"event {i}: unknown event or non-string version {ev!r:.100}")
        out.append(Event(kind, version))
    return tuple(out)


def _scheme(ecosystem: str, range_type: str) -> VersionScheme:
    if range_type == "SEMVER":
        return SEMVER
    if range_type == "ECOSYSTEM":
        return scheme_for(ecosystem)
    raise ValueError(f"range type {range_type!r} cannot be evaluated against a version")


def _strip_v(version: str, range_type: str) -> str:
    return version[1:] if range_type == "SEMVER" and version[:1] == "v" else version


def affected(
    ecosystem: str,
    version: str,
    events: Iterable[Mapping[str, Any] | Event],
    *,
    range_type: str = "ECOSYSTEM",
) -> bool | None:
    """Whether `version` is in the range the `events` describe; None if unknown.

    Raises ValueError for an unknown ecosystem, range type or malformed event.
    """
    scheme = _scheme(ecosystem, range_type)
    evs = parse_events(events)
    version = _strip_v(version, range_type)
    if not scheme.comparable(version):
        return None
    points: list[tuple[Event, str]] = []
    for ev in evs:
        v = _strip_v(ev.version, range_type)
        if ev.kind == "introduced" and v == "0":
            continue
        if not scheme.comparable(v):
            return None
        points.append((ev, v))

    cmp = scheme.compare
    for ev, v in points:
        if ev.kind == "limit" and cmp(version, v) >= 0:
            return False

    # Walk the events in version order. An "introduced: 0" sorts first; at equal
    # versions "introduced" goes before the events that close a range.
    is_affected = any(ev.kind == "introduced" and ev.version == "0" for ev in evs)

    def order(x: tuple[Event, str], y: tuple[Event, str]) -> int:
        return cmp(x[1], y[1]) or _KINDS.index(x[0].kind) - _KINDS.index(y[0].kind)

    ordered = sorted(points, key=cmp_to_key(order))
    for ev, v in ordered:
        c = cmp(version, v)
        if ev.kind == "introduced" and c >= 0:
            is_affected = True
        elif (ev.kind == "fixed" and c >= 0) or (ev.kind == "last_affected" and c > 0):
            is_affected = False
    return is_affected


def affected_by_ranges(
    ecosystem: str, version: str, ranges: Sequence[Mapping[str, Any]]
) -> bool | None:
    """Evaluate an OSV ``affected[].ranges`` list (and nothing else of the entry).

    True if any evaluable range contains the version; None if none does but at least
    one could not be decided; False otherwise. ``GIT`` ranges are skipped.
    """
    unknown = False
    for i, r in enumerate(ranges):
        range_type = r.get("type")
        if range_type == "GIT":
            continue
        if range_type not in ("ECOSYSTEM", "SEMVER"):
            raise ValueError(f"range {i}: unknown range type {range_type!r:.60}")
        events = r.get("events")
        if not isinstance(events, list):
            raise ValueError(f"range {i}: 'events' is not a list")
        result = affected(ecosystem, version, events, range_type=range_type)
        if result:
            return True
        unknown = unknown or result is None
    return None if unknown else False
