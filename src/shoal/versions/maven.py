"""Maven versions, ordered as Maven 3.8's `ComparableVersion`.

The version is lower-cased and read into a tree of items: numbers, qualifier strings and
sub-lists. ``.`` separates items; ``-`` also starts a sub-list, and so does a switch
between digits and letters; a qualifier after a dot that is followed by a digit or ends
the version opens a sub-list too (``1.0alpha1`` and ``1.0.RC1`` read as ``1-alpha-1`` and
``1-rc-1``). An empty component is ``0``. ``a``, ``b`` and ``m`` directly followed by a
digit mean ``alpha``, ``beta`` and ``milestone``; ``ga``, ``final`` and ``release`` mean
the empty qualifier and ``cr`` means ``rc``. Each list then drops its trailing "null"
items (``0``, the empty qualifier, empty lists), back to the last non-null item that is
not a sub-list.

Items compare: numbers numerically; known qualifiers ``alpha < beta < milestone < rc <
snapshot < "" < sp``, then unknown qualifiers alphabetically; a number is newer than a
list, and a list newer than a qualifier. A missing item counts as ``0`` against a
number, as ``""`` against a qualifier, and against a list item by item (MNG-6964).

This scheme compares item trees pairwise, exactly as Maven does, rather than through
flat sort keys; as in Maven, `Version` equality means the same normalised item tree
(``1.0 == 1.0.0 == 1-ga``), and hashing follows it. The order is transitive for versions
that start with a digit (every real release); for others Maven's own order has cycles
(``:`` < ``0rc`` < ``0`` < ``:``, as ComparableVersion itself answers), and so does this.

Fallback: none needed; ComparableVersion accepts any string.
"""

from __future__ import annotations

from functools import lru_cache

from shoal.versions.base import (
    MAX_LENGTH,
    InvalidVersion,
    SortKey,
    Version,
    VersionScheme,
    check_length,
    sign,
)

Item = int | str | tuple["Item", ...]

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}
_RELEASE = str(_QUALIFIERS.index(""))


def _comparable_qualifier(q: str) -> str:
    # Maven compares these strings, so unknown qualifiers ("7-foo") sort after "sp" ("6").
    return str(_QUALIFIERS.index(q)) if q in _QUALIFIERS else f"{len(_QUALIFIERS)}-{q}"


def _string_item(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and len(value) == 1:
        value = _SHORT.get(value, value)
    return _ALIASES.get(value, value)


def _is_null(item: Item) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, str):
        return _comparable_qualifier(item) == _RELEASE
    return len(item) == 0


def _digit(c: str) -> bool:
    return c.isdecimal()  # Java's Character.isDigit: any Unicode decimal digit


def _number(buf: str) -> int:
    return int(buf)  # int() accepts every Unicode decimal digit, as Java does


class _List:
    """A mutable list while parsing; frozen into a tuple once normalised."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Item | _List] = []


def _freeze(lst: _List) -> tuple[Item, ...]:
    items: list[Item] = [_freeze(i) if isinstance(i, _List) else i for i in lst.items]
    # normalize(): drop null items from the end, stopping at the first non-null
    # non-list item (null sub-lists in between are dropped too).
    i = len(items) - 1
    while i >= 0:
        if _is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], tuple):
            break
        i -= 1
    return tuple(items)


def parse_items(version: str) -> tuple[Item, ...]:
    """ComparableVersion's item tree of `version`."""
    version = version.lower()
    root = _List()
    lst = root
    is_digit = False
    start = 0

    def parse_item(digit: bool, buf: str) -> Item:
        return _number(buf) if digit else _string_item(buf, False)

    def push() -> None:
        nonlocal lst
        new = _List()
        lst.items.append(new)
        lst = new

    for i, c in enumerate(version):
        if c == ".":
            lst.items.append(0 if i == start else parse_item(is_digit, version[start:i]))
            is_digit = False
            start = i + 1
        elif c == "-":
            lst.items.append(0 if i == start else parse_item(is_digit, version[start:i]))
            start = i + 1
            push()
            is_digit = False
        elif _digit(c):
            if not is_digit and i > start:
                # "1.0.0.X1 < 1.0.0-X2": a qualifier after a dot opens a sub-list too.
                if lst.items:
                    push()
                lst.items.append(_string_item(version[start:i], True))
                start = i
                push()
            is_digit = True
        else:
            if is_digit and i > start:
                lst.items.append(_number(version[start:i]))
                start = i
                push()
            is_digit = False
    if len(version) > start:
        if not is_digit and lst.items:
            push()
        lst.items.append(parse_item(is_digit, version[start:]))
    return _freeze(root)


def compare_items(a: Item | None, b: Item | None) -> int:
    """`Item.compareTo`: `a` is never None; `b` None stands for a missing item."""
    assert a is not None
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return sign(a - b)
        return 1  # number > qualifier, number > list
    if isinstance(a, str):
        if b is None:
            return sign_str(_comparable_qualifier(a), _RELEASE)
        if isinstance(b, str):
            return sign_str(_comparable_qualifier(a), _comparable_qualifier(b))
        return -1  # qualifier < number, qualifier < list
    if b is None:
        # MNG-6964 (Maven 3.8): every item of the list is compared with "missing".
        for item in a:
            r = compare_items(item, None)
            if r:
                return r
        return 0
    if isinstance(b, int):
        return -1
    if isinstance(b, str):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left is None:
            r = 0 if right is None else -compare_items(right, left)
        else:
            r = compare_items(left, right)
        if r:
            return r
    return 0


def sign_str(a: str, b: str) -> int:
    return (a > b) - (a < b)


def canonical(items: tuple[Item, ...]) -> str:
    """ComparableVersion.getCanonical()."""
    out = ""
    for item in items:
        if isinstance(item, tuple):
            out += "-" + canonical(item)
        else:
            if out:
                out += "."
            out += str(item)
    return out


class MavenVersion(Version):
    """Ordered pairwise by ComparableVersion; equal when the item trees are equal."""

    __slots__ = ()

    def _cmp(self, other: Version) -> int:
        return compare_items(self._key, other._key)


class MavenScheme(VersionScheme):
    """Maven ComparableVersion order."""

    name = "maven"

    def __init__(self) -> None:
        super().__init__()
        self._items = lru_cache(maxsize=1 << 16)(self._items_of)

    @staticmethod
    def _items_of(raw: str) -> tuple[Item, ...]:
        return parse_items(raw[:MAX_LENGTH])

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        if not raw.strip():
            raise InvalidVersion(self.name, raw, "version is empty")
        return self._items(raw)

    def lenient_key(self, raw: str) -> SortKey:
        return self._items(raw)

    def comparable(self, raw: str) -> bool:
        return bool(raw.strip()) and len(raw) <= MAX_LENGTH

    def parse(self, raw: str) -> Version:
        return MavenVersion(self.name, raw, super().parse(raw)._key)

    def compare(self, a: str, b: str) -> int:
        return compare_items(self._items(a), self._items(b))


SCHEME = MavenScheme()
parse = SCHEME.parse
compare = SCHEME.compare
