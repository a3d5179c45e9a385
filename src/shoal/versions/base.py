"""What every version scheme provides: a strict `parse`, and a `compare` that never raises.

A scheme turns a version string into a sort key (a tuple that Python compares
element-wise). Keys are built so that tuple order *is* the ecosystem's order, which makes
comparisons fast (C-level tuple compares on cached keys) and gives equality and hashing
that agree with the order. A scheme whose reference order is not a total order (Maven's
ComparableVersion) overrides `compare` instead, and its `Version` compares pairwise.

`parse` is strict: anything the ecosystem's own tool would reject raises `InvalidVersion`
with a one-line message. `compare` is for matching advisories and must never raise: each
scheme documents how it orders strings it cannot parse, following its reference tool.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Any, ClassVar

from shoal.errors import ShoalError

MAX_LENGTH = 1024
"""Longest version string any scheme parses. Real versions are far shorter; the bound
keeps hostile input from costing unbounded time (digit runs become Python ints)."""

SortKey = tuple[Any, ...]

_CACHE_SIZE = 1 << 16


class InvalidVersion(ShoalError, ValueError):
    """A version string that its scheme cannot interpret."""

    def __init__(self, scheme: str, raw: str, reason: str) -> None:
        super().__init__(f"invalid {scheme} version {raw[:100]!r}: {reason}")
        self.scheme = scheme
        self.raw = raw
        self.reason = reason


def check_length(scheme: str, raw: str) -> None:
    if len(raw) > MAX_LENGTH:
        raise InvalidVersion(scheme, raw, f"longer than {MAX_LENGTH} characters")


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


class Version:
    """A parsed version: frozen and ordered against versions of the same scheme.

    Equality and hashing follow the scheme (``1.0`` equals ``1.00`` under dpkg); `raw`
    keeps the text as written.
    """

    __slots__ = ("_key", "raw", "scheme")

    scheme: str
    raw: str
    _key: SortKey

    def __init__(self, scheme: str, raw: str, key: SortKey) -> None:
        object.__setattr__(self, "scheme", scheme)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "_key", key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.scheme!r}, {self.raw!r})"

    def __str__(self) -> str:
        return self.raw

    def _cmp(self, other: Version) -> int:
        a, b = self._key, other._key
        return 0 if a == b else (-1 if a < b else 1)

    def _other(self, other: object) -> Version | None:
        if isinstance(other, Version) and other.scheme == self.scheme:
            return other
        return None

    def __eq__(self, other: object) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self._key == o._key

    def __hash__(self) -> int:
        return hash((self.scheme, self._key))

    def __lt__(self, other: object) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self._cmp(o) < 0

    def __le__(self, other: object) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self._cmp(o) <= 0

    def __gt__(self, other: object) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self._cmp(o) > 0

    def __ge__(self, other: object) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self._cmp(o) >= 0


class VersionScheme(ABC):
    """One ecosystem's version syntax and order.

    Subclasses implement `strict_key` (raise `InvalidVersion` for anything the reference
    tool rejects) and may override `lenient_key`, the key `compare` uses. The default
    lenient key sorts every unparseable string before every valid version, and orders
    unparseable strings among themselves by their text; schemes whose tool defines a
    fallback override it.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        # Per-instance caches: advisories repeat the same few thousand versions endlessly.
        self._strict = lru_cache(maxsize=_CACHE_SIZE)(self._strict_or_error)
        self._lenient = lru_cache(maxsize=_CACHE_SIZE)(self.lenient_key)

    @abstractmethod
    def strict_key(self, raw: str) -> SortKey:
        """The sort key of a valid version; raises `InvalidVersion` otherwise."""

    def lenient_key(self, raw: str) -> SortKey:
        try:
            return (1, self.strict_key(raw))
        except InvalidVersion:
            return (0, raw)

    def _strict_or_error(self, raw: str) -> SortKey | InvalidVersion:
        try:
            return self.strict_key(raw)
        except InvalidVersion as e:
            return e

    def parse(self, raw: str) -> Version:
        """Parse strictly; raises `InvalidVersion` with a one-line reason."""
        key = self._strict(raw)
        if isinstance(key, InvalidVersion):
            raise InvalidVersion(key.scheme, key.raw, key.reason)
        return Version(self.name, raw, key)

    def is_valid(self, raw: str) -> bool:
        return not isinstance(self._strict(raw), InvalidVersion)

    def comparable(self, raw: str) -> bool:
        """Whether the reference tool gives `raw` a place in its order at all.

        Strict schemes only order valid versions; schemes whose tool orders anything
        (apk, rpm, Maven, PyPI legacy versions) say so by overriding this. Range matching
        answers "unknown" for versions that are not comparable.
        """
        return self.is_valid(raw)

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1; never raises (see the scheme's documented fallback)."""
        ka, kb = self._lenient(a), self._lenient(b)
        return 0 if ka == kb else (-1 if ka < kb else 1)
