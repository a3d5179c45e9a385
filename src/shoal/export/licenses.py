"""Licence strings as packages declare them, sorted into SPDX and everything else.

Catalogers keep licences exactly as the package says them: an SPDX id (``MIT``), an
SPDX expression (``GPL-2.0-or-later WITH Classpath-exception-2.0``), or free text
(``GPLv2+``, ``Artistic``, ``public domain``). Formats treat these differently (CycloneDX
has id / name / expression; SPDX needs a valid expression or a ``LicenseRef-``), so each
string is classified once here with the `license-expression` library and the SPDX
licence list it ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from license_expression import (  # type: ignore[import-untyped]
    LicenseSymbol,
    get_spdx_licensing,
)

# Real licence strings are short; anything longer is free text. This also bounds the
# parser's work on hostile input.
MAX_EXPRESSION_LEN = 512

_LICENSING = get_spdx_licensing()


@dataclass(frozen=True, slots=True)
class LicenseTerm:
    """One declared licence string and what it means in SPDX terms."""

    text: str  # as declared, stripped
    spdx: str | None  # normalised SPDX expression or id; None when it is not SPDX
    compound: bool  # `spdx` is an expression with AND / OR / WITH, not a single id


@lru_cache(maxsize=8192)  # the same few hundred licences repeat across thousands of packages
def parse_license(text: str) -> LicenseTerm:
    """Classify one licence string. Never raises."""
    text = text.strip()
    if not text or len(text) > MAX_EXPRESSION_LEN:
        return LicenseTerm(text=text, spdx=None, compound=False)
    try:
        parsed = _LICENSING.parse(text, validate=True, strict=True)
    except Exception:  # the library raises assorted types (and bugs) on odd input
        return LicenseTerm(text=text, spdx=None, compound=False)
    if parsed is None:
        return LicenseTerm(text=text, spdx=None, compound=False)
    return LicenseTerm(
        text=text,
        spdx=str(parsed.render()),
        compound=not isinstance(parsed, LicenseSymbol),
    )


def license_terms(licenses: tuple[str, ...]) -> list[LicenseTerm]:
    """Classified, de-duplicated (by normalised meaning), non-empty terms, in order."""
    out: list[LicenseTerm] = []
    seen: set[str] = set()
    for raw in licenses:
        term = parse_license(raw)
        if not term.text:
            continue
        key = term.spdx if term.spdx is not None else "\0" + term.text
        if key not in seen:
            seen.add(key)
            out.append(term)
    return out


def conjoin(expressions: list[str]) -> str:
    """``A AND (B OR C)``: all the given SPDX expressions apply together."""
    if len(expressions) == 1:
        return expressions[0]
    return " AND ".join(f"({e})" if " " in e else e for e in expressions)
