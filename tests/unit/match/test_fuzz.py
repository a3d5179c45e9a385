"""Fuzzing: any version against any range, and any package against real advisories,
gives a verdict (affected, not affected, or undecided) and never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.match.base import Affected, Undecided, evaluate
from shoal.match.engine import MatchEngine
from shoal.model.advisory import AffectedPackage, AffectedRange
from shoal.model.package import Distro, Package, PackageType
from shoal.vulndb.protocol import MemoryVulnSource
from tests.unit.match.mini_db import advisories, all_osv

ECOSYSTEMS = ["PyPI", "Go", "npm", "Debian", "Alpine", "Red Hat", "Maven", "RubyGems", "NuGet",
              "Packagist", "crates.io", "Nonsense"]  # fmt: skip
_version = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}([-~+_.][a-z0-9]{0,5}){0,2}", fullmatch=True),
    st.sampled_from(["0", "", "v1.2.3", "1:2.0-1", "1.0-r0", "go1.22.1", "1.0~rc1", "(devel)"]),
)
_event = st.tuples(
    st.sampled_from(["introduced", "fixed", "last_affected", "limit", "bogus"]), _version
)
_range = st.builds(
    AffectedRange,
    type=st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT", "WEIRD"]),
    events=st.lists(_event, max_size=5).map(tuple),
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(ECOSYSTEMS),
    _version,
    st.lists(_range, max_size=3).map(tuple),
    st.lists(_version, max_size=3).map(tuple),
)
def test_evaluate_never_raises(
    eco: str, version: str, ranges: tuple[AffectedRange, ...], versions: tuple[str, ...]
) -> None:
    aff = AffectedPackage(ecosystem=eco, name="x", ranges=ranges, versions=versions)
    v = evaluate(aff, version)
    assert v is None or isinstance(v, Affected | Undecided)
    if isinstance(v, Undecided):
        assert v.reason and "\n" not in v.reason and len(v.reason) <= 300


_DB = MemoryVulnSource(
    all_osv("osv-pypi")
    + all_osv("osv-go")
    + advisories(["alpine-secdb/v3.11-main", "debian-dsa/DSA-5169-1", "debian-dsa/DSA-5342-1"])
)
_distro = st.builds(
    Distro,
    id=st.sampled_from(["debian", "alpine", "ubuntu", "rhel", "weird", ""]),
    version_id=st.none()
    | st.sampled_from(["11", "3.11.2", "12", "9.3", "x.y", ""])
    | st.text(max_size=8),
    version_codename=st.none() | st.sampled_from(["bullseye", "bookworm"]),
)
_package = st.builds(
    Package,
    name=st.sampled_from(
        ["openssl", "django", "pyyaml", "urllib3", "stdlib", "golang.org/x/net", "xorg-server"]
    )
    | st.text(max_size=15),
    version=_version,
    type=st.sampled_from(list(PackageType)),
    cataloger=st.just("fuzz"),
    source_name=st.none() | st.sampled_from(["openssl", "xorg-server"]),
    source_version=st.none() | _version,
    namespace=st.none() | st.text(max_size=8),
    distro=st.none() | _distro,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_package, max_size=8))
def test_engine_never_raises(pkgs: list[Package]) -> None:
    res = MatchEngine(_DB).match(pkgs)
    for m in res.matches:
        assert m.package in pkgs
        # a distro package is only ever matched in its distro's ecosystem, and vice versa
        assert (m.detail.ecosystem in ("Debian", "Alpine")) == m.package.type.is_os
    for u in res.unknowns:
        assert u.reason and "\n" not in u.reason
