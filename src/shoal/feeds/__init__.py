"""Vulnerability feeds: importers that turn upstream data into `Advisory` and `CveEnrichment`.

`ALL` lists every feed class explicitly (nothing registers itself at import time);
`get_feed(name)` returns one with default settings. See `base` for the `Feed` contract
and each module's docstring for how its source maps to shoal's model.
"""

from __future__ import annotations

from typing import Any

from shoal.feeds.alpine_secdb import AlpineSecdbFeed
from shoal.feeds.base import (
    DEFAULT_LIMITS,
    Feed,
    FeedError,
    FeedHttpError,
    FeedLimits,
    Fetched,
    Fingerprint,
    Unchanged,
    Validator,
)
from shoal.feeds.debian_dsa import DebianDlaFeed, DebianDsaFeed
from shoal.feeds.debian_tracker import DebianTrackerFeed
from shoal.feeds.epss import EpssFeed
from shoal.feeds.kev import KevFeed
from shoal.feeds.nvd import NvdFeed
from shoal.feeds.osv import (
    OsvCratesIoFeed,
    OsvFeed,
    OsvGoFeed,
    OsvMavenFeed,
    OsvNpmFeed,
    OsvNuGetFeed,
    OsvPackagistFeed,
    OsvPyPIFeed,
    OsvRubyGemsFeed,
)

ALL: tuple[type[Feed[Any]], ...] = (
    OsvPyPIFeed,
    OsvGoFeed,
    OsvNpmFeed,
    OsvCratesIoFeed,
    OsvMavenFeed,
    OsvRubyGemsFeed,
    OsvNuGetFeed,
    OsvPackagistFeed,
    AlpineSecdbFeed,
    DebianTrackerFeed,
    DebianDsaFeed,
    DebianDlaFeed,
    NvdFeed,
    EpssFeed,
    KevFeed,
)
"""Every feed, advisory feeds first, then enrichment (NVD, EPSS, KEV)."""

_BY_NAME = {f.name: f for f in ALL}


def get_feed(name: str, **options: Any) -> Feed[Any]:
    """The feed called `name` ("osv/PyPI", "alpine/secdb", "nvd", ...), built with `options`.

    Raises FeedError naming the known feeds for an unknown name.
    """
    cls = _BY_NAME.get(name)
    if cls is None:
        raise FeedError(f"unknown feed {name[:80]!r}; known: {', '.join(_BY_NAME)}")
    return cls(**options)


__all__ = [
    "ALL",
    "DEFAULT_LIMITS",
    "AlpineSecdbFeed",
    "DebianDlaFeed",
    "DebianDsaFeed",
    "DebianTrackerFeed",
    "EpssFeed",
    "Feed",
    "FeedError",
    "FeedHttpError",
    "FeedLimits",
    "Fetched",
    "Fingerprint",
    "KevFeed",
    "NvdFeed",
    "OsvFeed",
    "OsvGoFeed",
    "OsvPyPIFeed",
    "Unchanged",
    "Validator",
    "get_feed",
]
