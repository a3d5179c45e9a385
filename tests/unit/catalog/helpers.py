"""What the cataloger tests share: fixture loading, the npm fixture app, checks on a result's
packages and unknowns, and a Hypothesis strategy for arbitrary JSON values."""

from __future__ import annotations

import functools
import lzma
from pathlib import Path

from hypothesis import strategies as st

from shoal.model import CatalogResult, Package, Unknown

TESTDATA = Path(__file__).parent / "testdata"


@functools.cache
def xz_fixture(folder: str, name: str) -> bytes:
    """A compressed binary fixture, `testdata/<folder>/<name>`, decompressed (once)."""
    return lzma.decompress((TESTDATA / folder / name).read_bytes())


# What the fixture app (debug, react, react-dom, @types/node; is-number as a devDependency)
# resolves to, the same in every npm, yarn and pnpm lockfile under testdata.
NPM_APP = [
    ("@types/node", "20.11.0"),
    ("debug", "4.3.4"),
    ("is-number", "7.0.0"),
    ("js-tokens", "4.0.0"),
    ("loose-envify", "1.4.0"),
    ("ms", "2.1.2"),
    ("react", "18.2.0"),
    ("react-dom", "18.2.0"),
    ("scheduler", "0.23.2"),
    ("undici-types", "5.26.5"),
]


def by_name(result: CatalogResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def packages_and_reasons(
    res: CatalogResult, path: str
) -> tuple[dict[tuple[str, str], dict[str, str]], list[str]]:
    """A result's packages as (name, version) -> metadata, each reported once and located at
    `path`, and its unknowns' reasons."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for p in res.packages:
        assert (p.name, p.version) not in found
        assert p.locations[0].path == path
        found[(p.name, p.version)] = dict(p.metadata)
    return found, [u.reason for u in res.unknowns]


def one_unknown(res: CatalogResult, cataloger: str | None = None) -> Unknown:
    """The one `Unknown` of a result without packages (a file that cannot be read at all);
    its reason is one line and, when `cataloger` is given, it names that cataloger."""
    assert res.packages == ()
    (u,) = res.unknowns
    assert "\n" not in u.reason
    if cataloger is not None:
        assert u.cataloger == cataloger
    return u


def assert_one_line_reasons(res: CatalogResult) -> None:
    """Every unknown's reason is a single line."""
    for u in res.unknowns:
        assert "\n" not in u.reason


def json_values(
    keys: st.SearchStrategy[str] | None = None,
    *,
    text_size: int = 10,
    list_size: int = 3,
    dict_size: int = 3,
    max_leaves: int = 10,
) -> st.SearchStrategy[object]:
    """Any JSON value: null, booleans, integers and strings, nested in lists and objects
    (whose keys are drawn from `keys`, by default any short text)."""
    key_strategy = st.text(max_size=8) if keys is None else keys
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=text_size),
        lambda inner: (
            st.lists(inner, max_size=list_size)
            | st.dictionaries(key_strategy, inner, max_size=dict_size)
        ),
        max_leaves=max_leaves,
    )
