"""Licence strings sorted into SPDX ids, SPDX expressions and free text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from shoal.export.licenses import (
    MAX_EXPRESSION_LEN,
    LicenseTerm,
    conjoin,
    license_terms,
    parse_license,
)

from .strategies import license_, weird


@pytest.mark.parametrize(
    ("text", "spdx", "compound"),
    [
        ("MIT", "MIT", False),
        ("mit", "MIT", False),  # case is normalised
        ("GPL-2.0+", "GPL-2.0-or-later", False),  # deprecated id, normalised
        ("BSD-4-clause-UC", "BSD-4-Clause-UC", False),
        ("MPL-2.0 AND MIT", "MPL-2.0 AND MIT", True),
        ("ISC AND (BSD-3-Clause OR MIT)", "ISC AND (BSD-3-Clause OR MIT)", True),
        ("mit or apache-2.0", "MIT OR Apache-2.0", True),
        ("GPL-2.0 WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0", True),
        ("(MIT)", "MIT", False),
        # free text: Debian short names, Alpine's pre-SPDX lists, classifiers, broken syntax
        ("GPL-3+", None, False),
        ("MIT BSD GPL2+", None, False),
        ("Apache Software License", None, False),
        ("MIT AND", None, False),
        ("(((", None, False),
        ("LicenseRef-custom", None, False),
        ("", None, False),
    ],
)
def test_classification(text: str, spdx: str | None, compound: bool) -> None:
    assert parse_license(text) == LicenseTerm(text=text.strip(), spdx=spdx, compound=compound)


def test_very_long_strings_are_free_text_without_parsing() -> None:
    text = " OR ".join(["MIT"] * (MAX_EXPRESSION_LEN // 4))
    assert parse_license(text).spdx is None


def test_terms_drop_blanks_and_duplicates_by_meaning() -> None:
    terms = license_terms(("MIT", " ", "mit", "GPL-3+", "GPL-3+", "Apache-2.0"))
    assert [t.text for t in terms] == ["MIT", "GPL-3+", "Apache-2.0"]


def test_conjoin_parenthesises_compound_expressions() -> None:
    assert conjoin(["MIT"]) == "MIT"
    assert conjoin(["MIT OR Apache-2.0", "ISC"]) == "(MIT OR Apache-2.0) AND ISC"


@settings(max_examples=300, deadline=None)
@given(license_ | weird)
def test_any_string_classifies_without_raising(text: str) -> None:
    term = parse_license(text)
    if term.spdx is not None:
        # a normalised expression parses again to itself
        assert parse_license(term.spdx).spdx == term.spdx
