"""OSV range evaluation, compiled once per range and answered by binary search.

`shoal.versions.ranges.affected` re-validates and re-sorts a range's events on every
call. Matching asks the same few thousand ranges about many versions, so here each
(scheme, range type, events) is compiled once into its events' sort keys, sorted, and
each question costs one key lookup and two bisections.

The answer is exactly `ranges.affected`'s (a differential test holds it to that): the
events are walked in version order, ``introduced``/``fixed`` at or below the version
and ``last_affected`` strictly below it fire, the last one to fire decides (nothing
fired: affected only after ``introduced: 0``), and a version at or above a ``limit`` is
outside. Schemes whose order is not a plain key order (Maven overrides `compare`) and
anything unusual fall back to `ranges.affected` itself.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shoal.versions import ranges, scheme_for
from shoal.versions.base import VersionScheme
from shoal.versions.semver import SEMVER

_KIND_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}
_CACHE = 1 << 15


def _strip_v(version: str, range_type: str) -> str:
    return version[1:] if range_type == "SEMVER" and version[:1] == "v" else version


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: Callable[[str], Any]  # the scheme's (cached) lenient sort key
    comparable: Callable[[str], bool]
    unknown: bool  # an event cannot be placed in the order: every answer is None
    keys: tuple[Any, ...]  # sort keys of the walked events, ascending
    kinds: tuple[str, ...]  # their kinds, aligned (ties: introduced, last_affected, fixed)
    limits: tuple[Any, ...]  # keys of `limit` events
    start: bool  # affected before any event fires ("introduced: 0")


_FALLBACK = None  # `_compile` answers None when `ranges.affected` must answer instead


class RangeEvaluator:
    """`affected(ecosystem, range_type, events, version)`, compiled and cached."""

    def __init__(self) -> None:
        self._compile = lru_cache(maxsize=_CACHE)(self._compile_uncached)
        self._keys: dict[str, Callable[[str], Any]] = {}

    def _key_fn(self, scheme: VersionScheme) -> Callable[[str], Any]:
        fn = self._keys.get(scheme.name)
        if fn is None:
            fn = self._keys[scheme.name] = lru_cache(maxsize=_CACHE)(scheme.lenient_key)
        return fn

    def _compile_uncached(
        self, ecosystem: str, range_type: str, events: tuple[tuple[str, str], ...]
    ) -> _Compiled | None:
        if range_type not in ("ECOSYSTEM", "SEMVER") or not all(
            k in _KINDS and isinstance(v, str) for k, v in events
        ):
            return _FALLBACK  # the reference raises the right ValueError
        scheme = SEMVER if range_type == "SEMVER" else scheme_for(ecosystem)  # may raise
        # Only schemes whose compare is "compare the lenient keys" can be bisected.
        if type(scheme).compare is not VersionScheme.compare:
            return _FALLBACK
        key = self._key_fn(scheme)
        walked: list[tuple[Any, int, str]] = []
        limits: list[Any] = []
        start = unknown = False
        for kind, raw in events:
            v = _strip_v(raw, range_type)
            if kind == "introduced" and v == "0":
                start = True
                continue
            if not scheme.comparable(v):
                unknown = True
                break
            if kind == "limit":
                limits.append(key(v))
            else:
                walked.append((key(v), _KIND_ORDER[kind], kind))
        walked.sort(key=lambda x: (x[0], x[1]))
        return _Compiled(
            key=key,
            comparable=scheme.comparable,
            unknown=unknown,
            keys=tuple(w[0] for w in walked),
            kinds=tuple(w[2] for w in walked),
            limits=tuple(limits),
            start=start,
        )

    def affected(
        self, ecosystem: str, range_type: str, events: tuple[tuple[str, str], ...], version: str
    ) -> bool | None:
        """Like `ranges.affected`; raises ValueError for what it raises on."""
        c = self._compile(ecosystem, range_type, events)
        if c is _FALLBACK:
            evs = [{k: v} for k, v in events]
            return ranges.affected(ecosystem, version, evs, range_type=range_type)
        v = version[1:] if range_type == "SEMVER" and version[:1] == "v" else version
        if not c.comparable(v) or c.unknown:
            return None
        k = c.key(v)
        for lim in c.limits:
            if k >= lim:
                return False
        keys = c.keys
        lo = bisect_left(keys, k)  # events strictly below the version all fire
        hi = bisect_right(keys, k, lo)
        kinds = c.kinds
        for i in range(hi - 1, lo - 1, -1):  # at the version, last_affected does not fire
            if kinds[i] != "last_affected":
                return kinds[i] == "introduced"
        if lo:
            return kinds[lo - 1] == "introduced"
        return c.start


_KINDS = frozenset({"introduced", "fixed", "last_affected", "limit"})
