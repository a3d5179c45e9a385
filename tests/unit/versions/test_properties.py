"""Fuzzing every scheme: `compare` is a total order that never raises, `parse` either
parses or raises a one-line `InvalidVersion`, and parsed versions agree with `compare`."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion as PackagingInvalid
from packaging.version import Version as PackagingVersion

from shoal.versions import ALL, InvalidVersion, VersionScheme
from shoal.versions.pep440 import SCHEME as PEP440
from tests.unit.versions.tables import read_table, scheme_of, table_files

TOKENS = [
    "0", "1", "2", "9", "10", "01", "00", "007", "20240101", "a", "b", "c", "p", "r", "z",
    "rc", "alpha", "beta", "pre", "dev", "post", "git", "hg", "final", "ga", "sp",
    "snapshot", "SNAPSHOT", "RC", "patch", "pl", "stable", "x", "X", "*",
    ".", ".", ".", "-", "-", "_", "+", "~", "^", ":", "!", "@", "v", " ", "\t", "\u2003",
]  # fmt: skip

versionish = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10).map("".join)
text = st.one_of(versionish, versionish, st.text(max_size=20))
# Maven's own order is only transitive for versions that start with a digit (see
# test_maven.py for the cycle ComparableVersion has otherwise).
maven_text = st.tuples(st.sampled_from(["0", "1", "2", "10"]), versionish).map("".join)


def valid_pool(scheme: VersionScheme) -> list[str]:
    """Every version in the scheme's tables that the scheme parses strictly."""
    pool: set[str] = set()
    for path in table_files():
        if scheme_of(path) == scheme.name:
            for row in read_table(path):
                pool.update(v for v in (row.a, row.b) if scheme.is_valid(v))
    return sorted(pool)


VALID = {s.name: valid_pool(s) for s in ALL}

SCHEMES = pytest.mark.parametrize("scheme", ALL, ids=lambda s: s.name)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SCHEMES
@FUZZ
@given(a=text, b=text)
def test_compare_is_antisymmetric_and_reflexive(scheme: VersionScheme, a: str, b: str) -> None:
    assert scheme.compare(a, a) == 0
    assert scheme.compare(a, b) == -scheme.compare(b, a)


@SCHEMES
@FUZZ
@given(data=st.data())
def test_compare_is_transitive(scheme: VersionScheme, data: st.DataObject) -> None:
    strategy = maven_text if scheme.name == "maven" else text
    a, b, c = (data.draw(strategy) for _ in range(3))
    ab, bc, ac = scheme.compare(a, b), scheme.compare(b, c), scheme.compare(a, c)
    if ab <= 0 and bc <= 0:
        assert ac <= 0
    if ab == 0 and bc == 0:
        assert ac == 0


@SCHEMES
@FUZZ
@given(raw=text)
def test_parse_returns_a_version_or_a_one_line_error(scheme: VersionScheme, raw: str) -> None:
    try:
        v = scheme.parse(raw)
    except InvalidVersion as e:
        assert "\n" not in str(e)
        assert str(e).startswith(f"invalid {scheme.name} version ")
        assert not scheme.is_valid(raw)
        return
    assert v.raw == raw
    assert v == scheme.parse(raw)
    assert scheme.is_valid(raw)
    assert scheme.comparable(raw)


@SCHEMES
@FUZZ
@given(data=st.data())
def test_parsed_versions_agree_with_compare(scheme: VersionScheme, data: st.DataObject) -> None:
    pool = st.sampled_from(VALID[scheme.name])
    a, b = data.draw(pool), data.draw(pool)
    va, vb = scheme.parse(a), scheme.parse(b)
    c = scheme.compare(a, b)
    assert (va < vb, va <= vb, va > vb, va >= vb) == (c < 0, c <= 0, c > 0, c >= 0)


pep440_text = st.from_regex(
    r"\A[vV]?([0-9]{1,3}!)?[0-9]{1,4}(\.[0-9]{1,3}){0,3}"
    r"([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]{0,2})?"
    r"((-[0-9]{1,2})|([-_.]?(post|rev|r)[-_.]?[0-9]{0,2}))?"
    r"([-_.]?dev[-_.]?[0-9]{0,2})?(\+[a-z0-9]{1,3}([-_.][a-z0-9]{1,3}){0,2})?\Z",
    fullmatch=True,
)


@FUZZ
@given(a=pep440_text, b=pep440_text)
def test_pep440_matches_packaging(a: str, b: str) -> None:
    try:
        pa, pb = PackagingVersion(a), PackagingVersion(b)
    except PackagingInvalid:
        assert not PEP440.is_valid(a) or not PEP440.is_valid(b)
        return
    assert PEP440.compare(a, b) == (pa > pb) - (pa < pb)
    assert PEP440.normalize(a) == str(pa)


@FUZZ
@given(raw=text)
def test_pep440_validity_matches_packaging(raw: str) -> None:
    try:
        PackagingVersion(raw)
        valid = True
    except PackagingInvalid:
        valid = False
    assert PEP440.is_valid(raw) == valid
