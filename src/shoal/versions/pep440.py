"""Python package versions (PyPI), ordered per PEP 440.

``[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`` with every spelling PEP 440 allows and
normalises: any case, a leading ``v``, surrounding (Unicode) whitespace, ``alpha``/
``beta``/``c``/``pre``/``preview`` for ``a``/``b``/``rc``, ``rev``/``r``/``-N`` for
``.postN``, ``-``/``_``/``.`` separators and implicit numbers. Order: epoch, release
(trailing zeros ignored), then ``.devN`` of a plain release < pre-releases < the release
< post-releases, a pre-release's or post-release's own ``.devN`` sorting before it; a
local label sorts after the same version without one, numeric local segments after
alphanumeric ones.

Fallback: strings that are not PEP 440 are "legacy" versions, ordered the way OSV does
for PyPI: before every valid version, and among themselves as setuptools' old
``parse_version`` (packaging's ``LegacyVersion``) ordered them.
"""

from __future__ import annotations

import re

from shoal.versions.base import MAX_LENGTH, InvalidVersion, SortKey, VersionScheme, check_length

_PATTERN = re.compile(
    r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))
        |(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)

_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}

# Infinities of packaging's key, as ints that sit below/above every real value.
_LOW, _HIGH = 0, 2


def _key_of(m: re.Match[str]) -> SortKey:
    epoch = int(m.group("epoch") or 0)
    release = [int(p) for p in m.group("release").split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    if release == [0]:
        release = []
    pre_l, post = m.group("pre_l"), m.group("post")
    dev = m.group("dev")
    pre: tuple[int, ...]
    if pre_l:
        pre = (1, _PRE_RANK[pre_l.lower()], int(m.group("pre_n") or 0))
    elif dev and not post:
        pre = (_LOW,)  # 1.0.dev0 sorts before 1.0a0
    else:
        pre = (_HIGH,)
    post_n = m.group("post_n1") or m.group("post_n2") or 0
    post_key: tuple[int, ...] = (1, int(post_n)) if post else (_LOW,)
    dev_key = (0, int(m.group("dev_n") or 0)) if dev else (1,)
    local = m.group("local")
    local_key: tuple[object, ...] = (0,)
    if local:
        parts = re.split(r"[-_.]", local.lower())
        local_key = (1, *((1, int(p)) if p.isdigit() else (0, p) for p in parts))
    return (epoch, tuple(release), pre, post_key, dev_key, local_key)


_LEGACY_SPLIT = re.compile(r"(\d+|[a-z]+|\.|-)", re.ASCII)
_LEGACY_REPLACE = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}


def legacy_key(raw: str) -> tuple[str, ...]:
    """setuptools' pre-PEP 440 ordering (packaging's former `LegacyVersion`)."""
    parts: list[str] = []
    for token in _LEGACY_SPLIT.split(raw.lower()):
        piece = _LEGACY_REPLACE.get(token, token)
        if not piece or piece == ".":
            continue
        part = piece.zfill(8) if piece[:1] in "0123456789" else "*" + piece
        if part.startswith("*"):
            # Pre-release tags drop a preceding "final-" and trailing zeros.
            if part < "*final":
                while parts and parts[-1] == "*final-":
                    parts.pop()
            while parts and parts[-1] == "00000000":
                parts.pop()
        parts.append(part)
    # The final "*final" marker goes through the same trimming as any other tag.
    while parts and parts[-1] == "00000000":
        parts.pop()
    parts.append("*final")
    return tuple(parts)


class Pep440Scheme(VersionScheme):
    """PEP 440 order, with legacy fallback."""

    name = "pep440"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        m = _PATTERN.fullmatch(raw.strip())
        if not m:
            raise InvalidVersion(self.name, raw, "not a PEP 440 version")
        return _key_of(m)

    def lenient_key(self, raw: str) -> SortKey:
        if len(raw) <= MAX_LENGTH:
            m = _PATTERN.fullmatch(raw.strip())
            if m:
                return (1, _key_of(m))
        return (0, legacy_key(raw[: MAX_LENGTH * 4]))

    def comparable(self, raw: str) -> bool:
        # Legacy versions have an order too (OSV's), but an empty string has no meaning.
        return bool(raw.strip()) and len(raw) <= MAX_LENGTH

    def normalize(self, raw: str) -> str:
        """The canonical form PEP 440 prescribes (``1.0-Alpha.1`` -> ``1.0a1``)."""
        check_length(self.name, raw)
        m = _PATTERN.fullmatch(raw.strip())
        if not m:
            raise InvalidVersion(self.name, raw, "not a PEP 440 version")
        epoch = int(m.group("epoch") or 0)
        out = f"{epoch}!" if epoch else ""
        out += ".".join(str(int(p)) for p in m.group("release").split("."))
        if m.group("pre_l"):
            label = {0: "a", 1: "b", 2: "rc"}[_PRE_RANK[m.group("pre_l").lower()]]
            out += f"{label}{int(m.group('pre_n') or 0)}"
        if m.group("post"):
            out += f".post{int(m.group('post_n1') or m.group('post_n2') or 0)}"
        if m.group("dev"):
            out += f".dev{int(m.group('dev_n') or 0)}"
        if m.group("local"):
            parts = re.split(r"[-_.]", m.group("local").lower())
            out += "+" + ".".join(str(int(p)) if p.isdigit() else p for p in parts)
        return out


SCHEME = Pep440Scheme()
parse = SCHEME.parse
compare = SCHEME.compare
