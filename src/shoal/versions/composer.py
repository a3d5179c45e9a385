"""Packagist (Composer) versions: Composer's normaliser, then PHP's `version_compare`.

Composer (composer/semver `VersionParser::normalize`) rewrites every version it accepts
into ``N.N.N.N[-stability[N]][-dev]``: an alias ``1.0 as 2.0`` reads as its first
version, an optional ``v`` prefix is dropped, missing parts
become ``0``, build metadata (``+...``) and ``@stability`` flags are stripped, stability
words are expanded (``a`` -> ``alpha``, ``b`` -> ``beta``, ``rc`` -> ``RC``, ``p``/``pl``
-> ``patch``; ``stable`` disappears), date versions (``2010-01-02``) keep all their
numbers, ``1.x-dev`` branches become ``1.9999999.9999999.9999999-dev``, and
``master``/``trunk``/``default`` and every ``dev-*`` name stay named branches.

Normalised versions then compare as `version_compare` does: dot-separated parts, numbers
numerically, words by stability ``dev < alpha < beta < RC < (number) < patch``; where
one version has parts left, a number there makes it newer and a stability word older
or newer by that same rank. Numbers are unbounded here where PHP clamps at 2^63-1.

Fallback: Composer treats named ``dev-*`` branches as incomparable to versions; `compare`
sorts them before every version and among themselves by name. Strings Composer rejects
sort before those, by their text.
"""

from __future__ import annotations

import re

from shoal.versions.base import InvalidVersion, SortKey, VersionScheme, check_length

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_CLASSICAL = re.compile(r"v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER, re.I | re.A)
_DATE = re.compile(r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER, re.I | re.A)
_BRANCH = re.compile(
    r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?", re.I | re.A
)
_STABILITY = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
# version_compare's special forms, by prefix, in the order PHP tries them.
_FORMS: tuple[tuple[str, int], ...] = (
    ("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3),
    ("#", 4), ("pl", 5), ("p", 5),
)  # fmt: skip
_NUMBER_RANK = 4
_END = (_NUMBER_RANK, -1)  # a version that has run out: below any number, as '#' to words


def _expand(stability: str) -> str:
    s = stability.lower()
    return _STABILITY.get(s, s)


_PHP_TRIM = " \t\n\r\0\x0b"


def normalize_branch(name: str) -> str:
    name = name.strip(_PHP_TRIM)
    m = _BRANCH.fullmatch(name)
    if m:
        version = "".join(re.sub(r"[*X]", "x", g) if g else ".x" for g in m.groups())
        return version.replace("x", "9999999") + "-dev"
    return "dev-" + name


def normalize(raw: str) -> str:
    """Composer's normalised form; raises `InvalidVersion` where Composer throws."""
    check_length(SCHEME_NAME, raw)
    version = raw.strip(_PHP_TRIM)
    m = re.fullmatch(r"([^,\s]++) ++as ++[^,\s]++", version)
    if m:  # "1.0 as 2.0" aliases: the real version is the first
        version = m.group(1)
    m = re.search(r"@(?:stable|RC|beta|alpha|dev)$", version, re.I)
    if m:
        version = version[: m.start()]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if version[:4].lower() == "dev-":
        return "dev-" + version[4:]
    m = re.fullmatch(r"([^,\s+]++)\+[^\s]++", version)
    if m:
        version = m.group(1)
    m = _CLASSICAL.fullmatch(version)
    index = 5
    if m:
        version = m.group(1) + "".join(m.group(i) or ".0" for i in (2, 3, 4))
    else:
        m = _DATE.fullmatch(version)
        index = 2
        if m:
            version = re.sub(r"\D", ".", m.group(1))
    if m:
        stability = m.group(index)
        if stability:
            if stability == "stable":
                return version
            number = m.group(index + 1) or ""
            version += "-" + _expand(stability) + number.lstrip(".-")
        if m.group(index + 2):
            version += "-dev"
        return version
    m = re.fullmatch(r"(.*?)[.-]?dev", version, re.I)
    if m:
        branch = normalize_branch(m.group(1))
        if not branch.startswith("dev-"):
            return branch
    raise InvalidVersion(SCHEME_NAME, raw, "not a version Composer can normalise")


def _form_rank(part: str) -> int:
    for prefix, rank in _FORMS:
        if part.startswith(prefix):
            return rank
    return -1


def _canonical_parts(v: str) -> list[str]:
    # php_canonicalize_version: '-', '_', '+' and other non-alphanumerics become '.',
    # and a '.' goes between a digit and a non-digit.
    out: list[str] = []
    cur = ""
    for c in v:
        if not (c.isascii() and c.isalnum()):
            if cur:
                out.append(cur)
            cur = ""
        elif cur and (cur[-1].isdigit() != c.isdigit()):
            out.append(cur)
            cur = c
        else:
            cur += c
    if cur:
        out.append(cur)
    return out


def version_key(normalized: str) -> SortKey:
    """`version_compare` order of a normalised version, as a tuple."""
    parts: list[tuple[int, int]] = []
    for p in _canonical_parts(normalized):
        parts.append((_NUMBER_RANK, int(p)) if p.isdigit() else (_form_rank(p), 0))
    parts.append(_END)
    return tuple(parts)


SCHEME_NAME = "composer"


class ComposerScheme(VersionScheme):
    """Composer's order."""

    name = SCHEME_NAME

    def strict_key(self, raw: str) -> SortKey:
        normalized = normalize(raw)
        if normalized.startswith("dev-"):
            raise InvalidVersion(self.name, raw, "a named dev branch has no version order")
        return version_key(normalized)

    def lenient_key(self, raw: str) -> SortKey:
        try:
            normalized = normalize(raw)
        except InvalidVersion:
            return (0, raw)
        if normalized.startswith("dev-"):
            return (1, normalized)
        return (2, version_key(normalized))


SCHEME = ComposerScheme()
parse = SCHEME.parse
compare = SCHEME.compare
