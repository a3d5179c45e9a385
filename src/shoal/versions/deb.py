"""Debian (and Ubuntu) package versions, ordered as dpkg orders them.

Syntax and order follow Debian Policy 5.6.12 and dpkg's `parseversion`/`verrevcmp`:
``[epoch:]upstream_version[-debian_revision]``. Each part is compared as alternating
runs of non-digits and digits; in the non-digit runs ``~`` sorts before everything, even
the end of the string, then letters, then every other character; digit runs compare
numerically. A missing revision compares like ``0``.

Fallback (what `compare` does with strings dpkg complains about): dpkg only *warns*
about an upstream version that does not start with a digit or contains characters
outside ``[A-Za-z0-9.+~:-]``, and still compares it with the algorithm above, so we do
too. Strings dpkg refuses outright (empty, embedded whitespace, bad epoch, empty
revision) cannot be compared by dpkg at all; they sort before every valid version and
among themselves by their text. `parse` rejects both kinds.
"""

from __future__ import annotations

import re

from shoal.versions.base import InvalidVersion, SortKey, VersionScheme, check_length

_RUN = re.compile(r"([^0-9]*)([0-9]*)")
_UPSTREAM_OK = re.compile(r"[A-Za-z0-9.+~:-]*")
_REVISION_OK = re.compile(r"[A-Za-z0-9.+~]*")
_INT_MAX = 2**31 - 1
_C_SPACE = " \t\n\v\f\r"  # dpkg's c_isspace: ASCII whitespace only
# The pair a string sorts as once it has run out: empty non-digit run, number 0.
_END = ((0,), 0)


def _weight(byte: int) -> int:
    # dpkg's order(): '~' < end-of-part < ASCII letters < every other byte.
    if byte == 0x7E:
        return -1
    if 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A:
        return byte
    return byte + 256


def part_key(s: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    """Sort key of one part (upstream version or revision) in dpkg order.

    A part is a sequence of (non-digit run, number) pairs; a part that has run out
    compares as endless ``("", 0)`` pairs. Trailing ``("", 0)`` pairs are dropped so equal
    parts get equal keys, and one `_END` pair is appended so that a shorter part compares
    against the next pair of a longer one exactly as dpkg does (``1.0 > 1.0~rc1``).
    """
    pairs: list[tuple[tuple[int, ...], int]] = []
    pos = 0
    while pos < len(s):
        m = _RUN.match(s, pos)
        assert m is not None  # the pattern matches the empty string
        letters, digits = m.group(1), m.group(2)
        pos = m.end()
        # dpkg compares bytes; UTF-8 keeps code point order, so non-ASCII text sorts as dpkg.
        weights = tuple(_weight(b) for b in letters.encode("utf-8", "surrogatepass"))
        pairs.append(((*weights, 0), int(digits) if digits else 0))
    # Only the first pair can be ("", 0) in the middle of a part (every later pair has a
    # non-empty non-digit run), so it is kept to keep pairs aligned; later ones go.
    while len(pairs) > 1 and pairs[-1] == _END:
        pairs.pop()
    if not pairs:
        pairs.append(_END)
    pairs.append(_END)
    return tuple(pairs)


def split(raw: str) -> tuple[int, str, str]:
    """``(epoch, upstream, revision)``; raises `InvalidVersion` where dpkg errors out."""
    check_length(DebScheme.name, raw)
    s = raw.strip(_C_SPACE)
    if not s:
        raise InvalidVersion(DebScheme.name, raw, "version string is empty")
    if any(c in _C_SPACE for c in s):
        raise InvalidVersion(DebScheme.name, raw, "version string has embedded spaces")
    epoch = 0
    if ":" in s:
        head, s = s.split(":", 1)
        if not head:
            raise InvalidVersion(DebScheme.name, raw, "epoch in version is empty")
        if not (head.isascii() and head.isdigit()):
            raise InvalidVersion(DebScheme.name, raw, "epoch in version is not number")
        epoch = int(head)
        if epoch > _INT_MAX:
            raise InvalidVersion(DebScheme.name, raw, "epoch in version is too big")
    upstream, revision = s, ""
    if "-" in s:
        upstream, revision = s.rsplit("-", 1)
        if not revision:
            raise InvalidVersion(DebScheme.name, raw, "revision number is empty")
    if not upstream:
        raise InvalidVersion(DebScheme.name, raw, "version number is empty")
    return epoch, upstream, revision


class DebScheme(VersionScheme):
    """dpkg version order (Debian, Ubuntu)."""

    name = "deb"

    def strict_key(self, raw: str) -> SortKey:
        epoch, upstream, revision = split(raw)
        if not ("0" <= upstream[0] <= "9"):
            raise InvalidVersion(self.name, raw, "version number does not start with digit")
        if not _UPSTREAM_OK.fullmatch(upstream):
            raise InvalidVersion(self.name, raw, "invalid character in version number")
        if not _REVISION_OK.fullmatch(revision):
            raise InvalidVersion(self.name, raw, "invalid character in revision number")
        return (epoch, part_key(upstream), part_key(revision))

    def lenient_key(self, raw: str) -> SortKey:
        try:
            epoch, upstream, revision = split(raw)
        except InvalidVersion:
            return (0, raw)
        return (1, (epoch, part_key(upstream), part_key(revision)))

    def comparable(self, raw: str) -> bool:
        try:
            split(raw)
        except InvalidVersion:
            return False
        return True


SCHEME = DebScheme()
parse = SCHEME.parse
compare = SCHEME.compare
