"""The compiled range evaluator answers exactly what `shoal.versions.ranges` answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.match.compiled import RangeEvaluator
from shoal.versions import ranges

EVAL = RangeEvaluator()

_VERSIONS = {
    "PyPI": [
        "0",
        "1.0",
        "1.0.0",
        "1.0a1",
        "1.0.post1",
        "2.0",
        "2.0.dev1",
        "1!0.5",
        "legacy-x",
        "3.2",
        "3.2.4",
    ],
    "Go": [
        "0",
        "1.21.9",
        "1.22.0-0",
        "1.22.2",
        "v1.2.3",
        "0.0.0-20240101000000-abcdefabcdef",
        "(devel)",
    ],
    "npm": ["0", "1.0.0", "1.0.0-rc.1", "2.0.0", "1.2", "x"],
    "Debian": ["0", "1.0-1", "1:1.0-1", "1.0~rc1-1", "1.0-1+deb11u1", "2.38.4-1~deb11u1", "a:b"],
    "Alpine": ["0", "1.1.1d-r0", "1.1.1d-r3", "1.1.1_pre1-r0", "1.1.1a-r0", "9999", "garbage!"],
    "Red Hat": ["0", "1:3.0.7-24.el9", "3.0.7-27.el9", "3.0.7~beta-1", "3.0.7^git-1"],
    "Maven": ["0", "1.0", "1.0-SNAPSHOT", "1.0-alpha-1", "1.0.RELEASE", "2"],
    "RubyGems": ["0", "1.0", "1.0.a", "2.0.0.rc1", "x y"],
    "NuGet": ["0", "1.0.0", "1.0.0.1", "1.0.0-beta", "2.0"],
    "Packagist": ["0", "1.0.0", "v1.0.0", "1.0.0-RC1", "dev-main"],
    "crates.io": ["0", "1.5.4", "1.5.5-alpha", "2.0.0"],
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, tuple[tuple[str, str], ...], str]:
    eco = draw(st.sampled_from(sorted(_VERSIONS)))
    vs = st.sampled_from(_VERSIONS[eco]) | st.text(max_size=8)
    events = draw(
        st.lists(
            st.tuples(st.sampled_from(["introduced", "fixed", "last_affected", "limit"]), vs),
            max_size=6,
        )
    )
    rtype = draw(st.sampled_from(["ECOSYSTEM", "SEMVER"]))
    return eco, rtype, tuple(events), draw(vs)


def reference(eco: str, rtype: str, events: tuple[tuple[str, str], ...], version: str) -> object:
    try:
        return ranges.affected(eco, version, [{k: v} for k, v in events], range_type=rtype)
    except ValueError as e:
        return type(e)


def compiled(eco: str, rtype: str, events: tuple[tuple[str, str], ...], version: str) -> object:
    try:
        return EVAL.affected(eco, rtype, events, version)
    except ValueError as e:
        return type(e)


@settings(max_examples=3000, deadline=None)
@given(cases())
def test_same_answer_as_the_reference_walk(
    case: tuple[str, str, tuple[tuple[str, str], ...], str],
) -> None:
    assert compiled(*case) == reference(*case)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("3.1.11", True),
        ("3.1.12", False),
        ("3.2", True),
        ("3.2.4", False),
        ("2.2.23", True),
        ("4.0", False),
    ],
)
def test_real_django_range(version: str, expected: bool) -> None:
    # PYSEC-2021-98
    events = (
        ("introduced", "0"), ("fixed", "2.2.24"), ("introduced", "3.0"),
        ("fixed", "3.1.12"), ("introduced", "3.2"), ("fixed", "3.2.4"),
    )  # fmt: skip
    assert EVAL.affected("PyPI", "ECOSYSTEM", events, version) is expected


def test_last_affected_and_limit() -> None:
    ev = (("introduced", "1.0"), ("last_affected", "1.5"))
    assert [EVAL.affected("PyPI", "ECOSYSTEM", ev, v) for v in ("0.9", "1.0", "1.5", "1.5.1")] == [
        False, True, True, False,
    ]  # fmt: skip
    lim = (("introduced", "0"), ("limit", "2.0.0"))
    assert [EVAL.affected("npm", "ECOSYSTEM", lim, v) for v in ("1.9.9", "2.0.0")] == [True, False]
