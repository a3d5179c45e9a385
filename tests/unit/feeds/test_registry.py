from __future__ import annotations

import hashlib
import re

import pytest

from shoal.feeds import ALL, FeedError, get_feed
from shoal.feeds.base import Feed
from tests.unit.feeds.paths import BUNDLED

SPDX_OR_REF = re.compile(r"(CC-BY-4\.0|CC0-1\.0|LicenseRef-[A-Za-z0-9.-]+)")


def test_all_lists_the_feeds_the_matcher_expects() -> None:
    names = [f.name for f in ALL]
    assert len(names) == len(set(names))
    for required in (
        "osv/PyPI",
        "osv/Go",
        "alpine/secdb",
        "debian/tracker",
        "debian/dsa",
        "debian/dla",
        "nvd",
        "epss",
        "kev",
    ):
        assert required in names


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_feed_metadata(cls: type[Feed[object]]) -> None:  # type: ignore[type-var]
    assert cls.version >= 1
    assert SPDX_OR_REF.fullmatch(cls.license)
    assert cls.default_url.startswith("https://")
    assert cls.kind == ("enrichment" if cls.name in ("nvd", "epss", "kev") else "advisories")
    assert cls.id() == f"{cls.name}@{cls.version}"


def test_get_feed() -> None:
    feed = get_feed("alpine/secdb", branches=("v3.20",))
    assert feed.name == "alpine/secdb"
    with pytest.raises(FeedError, match=r"unknown feed 'osv/Nope'; known: osv/PyPI, osv/Go"):
        get_feed("osv/Nope")


def test_bundled_snapshots_match_their_manifest() -> None:
    readme = (BUNDLED / "README.md").read_text()
    manifest = re.findall(r"^([0-9a-f]{64})  (\S+)", readme, re.M)
    files = sorted(
        str(p.relative_to(BUNDLED))
        for p in BUNDLED.rglob("*")
        if p.is_file() and p.name != "README.md"
    )
    assert sorted(name for _, name in manifest) == files
    for digest, name in manifest:
        assert hashlib.sha256((BUNDLED / name).read_bytes()).hexdigest() == digest, name
