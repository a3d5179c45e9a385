"""Alpine (and Wolfi, Chainguard) package versions, ordered as apk-tools orders them.

Syntax: ``digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}``. The order follows
apk-tools' `version.c` (2.14/3.x): versions are read as a sequence of tokens, each of
which may only follow certain others; tokens of the same type compare by value
(numbers numerically, except that a dotted component with a leading zero on either
side compares as a string, the Gentoo rule; letters by character; suffixes
``_alpha < _beta < _pre < _rc`` < none < ``_cvs < _svn < _git < _hg < _p``; commit
hashes as strings). Where the token types first differ, a pre-release suffix is older,
and otherwise the version whose next token comes *earlier* in the grammar is newer:
``1.0a`` has a letter where ``1.0_p1`` has a suffix, and letters come earlier, so
``1.0_p1 < 1.0a``; a version that ends is older than one that goes on with a revision
(``1.0 < 1.0-r1``).

Fallback: apk-tools compares invalid versions too. Reading stops at the first token
that breaks the grammar, which then acts as a token that sorts before all others (after
any pre-release suffix), and two versions that turn invalid at the same place compare
equal. `compare` does exactly that; `parse` rejects what `apk version --check` rejects.
"""

from __future__ import annotations

import re

from shoal.versions.base import MAX_LENGTH, InvalidVersion, SortKey, VersionScheme, check_length

# Token types, in grammar order (apk-tools' enum PARTS).
INITIAL, DIGIT, LETTER, SUFFIX, SUFFIX_NO, HASH, REVISION, END, INVALID = range(9)

_PRE = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4}
_NONE = 5
_POST = {"cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
_SUFFIXES = _PRE | _POST

_DIGITS = re.compile(r"[0-9]*")
_LOWER = re.compile(r"[a-z]*")
_HEX = re.compile(r"[0-9a-f]*")  # APK_CTYPE_HEXDIGIT: lower case only


def _token_key(token: int, value: object) -> tuple[int, object]:
    # Where two versions' token types differ, apk-tools decides by the token alone: a
    # pre-release suffix is oldest, then later grammar positions are older. Ranking by
    # -type (pre-release suffixes below everything) reproduces that as a plain tuple
    # order, and same-type tokens then fall through to their values.
    if token == SUFFIX and isinstance(value, int) and value < _NONE:
        return (-100, value)
    return (-token, value)


def tokens(raw: str) -> tuple[tuple[int, object], ...]:
    """The token keys of `raw`, ending with one END or INVALID token."""
    out: list[tuple[int, object]] = []
    s = raw
    m = _DIGITS.match(s)
    assert m is not None
    if not m.group():
        return ((-INVALID, 0),)
    out.append(_token_key(INITIAL, int(m.group())))
    pos, tok = m.end(), INITIAL
    n = len(s)
    while True:
        if pos >= n:
            out.append((-END, 0))
            return tuple(out)
        c = s[pos]
        value: object
        if "a" <= c <= "z":
            if tok > DIGIT:
                break
            tok, value, pos = LETTER, ord(c), pos + 1
        elif c == "." or "0" <= c <= "9":
            if c == ".":
                if tok > DIGIT:
                    break
                pos += 1
            if tok in (INITIAL, DIGIT):
                tok = DIGIT
            elif tok == SUFFIX:
                tok = SUFFIX_NO
            else:
                break
            m = _DIGITS.match(s, pos)
            assert m is not None
            digits = m.group()
            if not digits:
                break
            pos = m.end()
            if tok == DIGIT:
                # Gentoo rule: a leading zero means a string comparison. Every string
                # with a leading zero sorts before every one without (by its first
                # character), so the two groups can share one key.
                value = (0, digits) if digits[0] == "0" else (1, int(digits))
            else:
                value = int(digits)
        elif c == "_":
            if tok > SUFFIX_NO:
                break
            m = _LOWER.match(s, pos + 1)
            assert m is not None
            suffix = _SUFFIXES.get(m.group())
            if suffix is None:
                break
            tok, value, pos = SUFFIX, suffix, m.end()
        elif c == "~":
            if tok >= HASH:
                break
            m = _HEX.match(s, pos + 1)
            assert m is not None
            if not m.group():
                break
            tok, value, pos = HASH, m.group(), m.end()
        elif c == "-":
            if tok >= REVISION or not s.startswith("-r", pos):
                break
            m = _DIGITS.match(s, pos + 2)
            assert m is not None
            if not m.group():
                break
            tok, value, pos = REVISION, int(m.group()), m.end()
        else:
            break
        out.append(_token_key(tok, value))
    out.append((-INVALID, 0))
    return tuple(out)


class ApkScheme(VersionScheme):
    """apk-tools version order (Alpine, Wolfi, Chainguard)."""

    name = "apk"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        key = tokens(raw)
        if key[-1][0] != -END:
            where = "at the start" if len(key) == 1 else f"after token {len(key) - 1}"
            raise InvalidVersion(self.name, raw, f"does not follow the apk grammar {where}")
        return key

    def lenient_key(self, raw: str) -> SortKey:
        # apk-tools' own fallback (see the module docstring); only the length is bounded.
        if len(raw) > MAX_LENGTH:  # older than anything apk could read; ints stay bounded
            return ((-INVALID - 1, raw),)
        return tokens(raw)

    def comparable(self, raw: str) -> bool:
        # apk-tools orders anything that starts with a digit (see the fallback above).
        return len(raw) <= MAX_LENGTH and raw[:1].isascii() and raw[:1].isdigit()


SCHEME = ApkScheme()
parse = SCHEME.parse
compare = SCHEME.compare
