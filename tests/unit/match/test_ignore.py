"""Ignore lists: both formats, expiry, package scoping, one-line errors, fuzzing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.match.ignore import (
    IgnoreFileError,
    IgnoreRule,
    load_ignore_file,
    parse_ignore,
    parse_ignore_text,
    parse_ignore_yaml,
)

TEXT = """\
# accepted risks
CVE-2021-33203
CVE-2022-28346 exp:2025-06-30 reason: only used offline
GHSA-2gwj-7jmv-h26r pkg:pypi/django exp:2025-01-01   # django admin is not exposed

"""

YAML = """\
ignore:
  - id: CVE-2022-28346
    package: pkg:pypi/django
    expires: 2025-06-30
    reason: only used offline
  - CVE-2021-33203
  - id: CVE-2020-14343
    expires: "2030-01-01"
"""


def test_text_format() -> None:
    rules = parse_ignore_text(TEXT, ".shoalignore")
    assert rules == [
        IgnoreRule("CVE-2021-33203", None, None, "", ".shoalignore:2"),
        IgnoreRule(
            "CVE-2022-28346", None, dt.date(2025, 6, 30), "only used offline", ".shoalignore:3"
        ),
        IgnoreRule(
            "GHSA-2gwj-7jmv-h26r",
            "pkg:pypi/django",
            dt.date(2025, 1, 1),
            "django admin is not exposed",
            ".shoalignore:4",
        ),
    ]


def test_yaml_format() -> None:
    rules = parse_ignore_yaml(YAML, "ignore.yaml")
    assert [(r.id, r.package, r.expires, r.reason) for r in rules] == [
        ("CVE-2022-28346", "pkg:pypi/django", dt.date(2025, 6, 30), "only used offline"),
        ("CVE-2021-33203", None, None, ""),
        ("CVE-2020-14343", None, dt.date(2030, 1, 1), ""),
    ]
    assert parse_ignore(YAML) == parse_ignore_yaml(YAML)
    assert parse_ignore(TEXT) == parse_ignore_text(TEXT)


def test_trivyignore_files_are_read() -> None:
    # .trivyignore: one id per line, optional exp:, comments
    rules = parse_ignore("CVE-2018-14618\n\n# comment\nCVE-2019-1543 exp:2023-02-01\n")
    assert [(r.id, r.expires) for r in rules] == [
        ("CVE-2018-14618", None),
        ("CVE-2019-1543", dt.date(2023, 2, 1)),
    ]


def test_expiry_is_the_first_day_the_rule_no_longer_applies() -> None:
    r = IgnoreRule("CVE-1", expires=dt.date(2025, 1, 1))
    assert not r.expired(dt.date(2024, 12, 31))
    assert r.expired(dt.date(2025, 1, 1))
    assert not IgnoreRule("CVE-1").expired(dt.date(9999, 1, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CVE-1 exp:2025-13-01", "x:1: expiry '2025-13-01': month must be in 1..12"),
        ("CVE-1 exp:tomorrow", "x:1: expiry 'tomorrow' is not YYYY-MM-DD"),
        (
            "CVE-1 whatever",
            "x:1: unexpected 'whatever' (expected exp:YYYY-MM-DD, pkg:..., reason:)",
        ),
        ("ok-1\n$(rm -rf)", "x:2: '$(rm' is not a vulnerability id"),
        ("ignore: 3", "x: expected a mapping with an 'ignore' list"),
        ("ignore:\n  - id: [1]", "x: ignore[0]: 'id' must be a string"),
        ("ignore:\n  - {id: CVE-1, colour: red}", "x: ignore[0]: unknown key 'colour'"),
        (
            "ignore:\n  - {id: CVE-1, package: django}",
            "x: ignore[0]: 'package' must be a purl (pkg:...)",
        ),
        (
            "ignore:\n  - {id: CVE-1, expires: 12}",
            "x: ignore[0]: 'expires' must be a YYYY-MM-DD date",
        ),
        ("ignore: [\n", "x:2: expected the node content, but found '<stream end>'"),
        ("ignore:\n  - &a {id: CVE-1}\n  - *a", "x:3: YAML aliases are not allowed"),
    ],
)
def test_errors_are_one_line_and_name_the_place(text: str, message: str) -> None:
    with pytest.raises(IgnoreFileError) as e:
        parse_ignore(text, "x")
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_load_ignore_file(tmp_path: Path) -> None:
    p = tmp_path / ".shoalignore"
    p.write_text(TEXT)
    assert len(load_ignore_file(p)) == 3
    with pytest.raises(IgnoreFileError, match=r"^ignore file '.*nope': No such file or directory$"):
        load_ignore_file(tmp_path / "nope")
    p.write_bytes(b"CVE-1 \xff\n")
    with pytest.raises(IgnoreFileError, match=r"not UTF-8 \(byte 6\)$"):
        load_ignore_file(p)


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_fuzz_text_never_crashes(text: str) -> None:
    try:
        rules = parse_ignore(text, "fuzz")
    except IgnoreFileError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz")
    else:
        assert all(isinstance(r, IgnoreRule) for r in rules)


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.dates(),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(
                st.sampled_from(["id", "package", "expires", "reason", "x"]), c, max_size=4
            )
        ),
        max_leaves=12,
    )
)
def test_fuzz_yaml_structures_never_crash(item: object) -> None:
    import yaml

    text = yaml.safe_dump({"ignore": [item]})
    try:
        parse_ignore_yaml(text, "fuzz")
    except IgnoreFileError as e:
        assert "\n" not in str(e)
