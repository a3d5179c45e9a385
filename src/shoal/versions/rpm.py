"""RPM package versions (Red Hat, Rocky, AlmaLinux, SUSE, openSUSE, Mageia, ...).

An EVR is ``[epoch:]version[-release]``, split the way rpm's `parseEVR` splits it: the
epoch is a run of digits before the first ``:``, the release follows the last ``-``.
Each part is compared with rpm's `rpmvercmp` (rpm 4.18): separators (anything not an
ASCII letter or digit, except ``~`` and ``^``) only split segments; digit segments
compare numerically and are newer than letter segments; letter segments compare as
strings; ``~`` sorts before everything, the end of the string included; ``^`` sorts
after the end of the string but before anything else; when one side runs out of
segments, the one with segments left is newer.

Two documented departures from rpm, both to keep the order total:
- rpm skips the release comparison when either side has none (so ``1.0`` equals both
  ``1.0-1`` and ``1.0-2``); we compare a missing release as the empty string, so
  ``1.0 < 1.0-1``. Advisories always name a release, so matching is unaffected.
- A missing epoch is 0, as `rpm -q --qf` and `rpmdev-vercmp` treat it.

Fallback: rpmvercmp accepts any string, so `compare` never needs one. `parse` rejects
strings rpm would refuse in a spec file: empty version or release, whitespace, and
characters outside ``[A-Za-z0-9._+%{}~^]``.
"""

from __future__ import annotations

import re

from shoal.versions.base import MAX_LENGTH, InvalidVersion, SortKey, VersionScheme, check_length

# Segment kinds in the order rpmvercmp ranks them where two versions first differ.
TILDE, END, CARET, ALPHA, NUM = range(5)

_SEGMENT = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")
_ALLOWED = re.compile(r"[A-Za-z0-9._+%{}~^]+")
_EPOCH = re.compile(r"([0-9]*):")


def segments(s: str) -> tuple[tuple[int, object], ...]:
    """Sort key of one part under rpmvercmp, ending with an END segment."""
    out: list[tuple[int, object]] = []
    for m in _SEGMENT.finditer(s):
        seg = m.group()
        if seg == "~":
            out.append((TILDE, 0))
        elif seg == "^":
            out.append((CARET, 0))
        elif seg[0].isdigit():
            out.append((NUM, int(seg)))
        else:
            out.append((ALPHA, seg))
    out.append((END, 0))
    return tuple(out)


def split(raw: str) -> tuple[int, str, str | None]:
    """``(epoch, version, release)`` as rpm's parseEVR splits them (release may be None)."""
    s = raw
    epoch = 0
    m = _EPOCH.match(s)
    if m:
        epoch = int(m.group(1) or "0")
        s = s[m.end() :]
    version, release = s, None
    if "-" in s:
        version, release = s.rsplit("-", 1)
    return epoch, version, release


class RpmScheme(VersionScheme):
    """rpm EVR order."""

    name = "rpm"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        if ":" in raw and not _EPOCH.match(raw):
            raise InvalidVersion(self.name, raw, "epoch is not a number")
        epoch, version, release = split(raw)
        if not version:
            raise InvalidVersion(self.name, raw, "version is empty")
        if release == "":
            raise InvalidVersion(self.name, raw, "release is empty")
        for what, part in (("version", version), ("release", release)):
            if part is not None and not _ALLOWED.fullmatch(part):
                raise InvalidVersion(self.name, raw, f"invalid character in {what}")
        return self._key(epoch, version, release)

    def lenient_key(self, raw: str) -> SortKey:
        if len(raw) > MAX_LENGTH:  # sorts before everything; keeps int() bounded
            return (-1, raw)
        return self._key(*split(raw))

    def comparable(self, raw: str) -> bool:
        return 0 < len(raw) <= MAX_LENGTH and bool(split(raw)[1])

    @staticmethod
    def _key(epoch: int, version: str, release: str | None) -> SortKey:
        return (epoch, segments(version), segments(release or ""))


SCHEME = RpmScheme()
parse = SCHEME.parse
compare = SCHEME.compare
