"""Matching installed packages against vulnerability advisories.

`MatchEngine(source).match(packages)` runs every matcher in `ALL`; see `base` for the
`Matcher` protocol and verdicts, `distro` and `language` for the lookup rules.
"""

from __future__ import annotations

from shoal.match.base import Matcher
from shoal.match.distro import ApkMatcher, DpkgMatcher, RpmMatcher
from shoal.match.engine import MatchEngine, MatchResult, RawMatch
from shoal.match.language import LanguageMatcher

ALL: tuple[type[Matcher], ...] = (DpkgMatcher, ApkMatcher, RpmMatcher, LanguageMatcher)
"""Every matcher, explicitly; each package is handled by the first that applies."""

__all__ = ["ALL", "MatchEngine", "MatchResult", "Matcher", "RawMatch"]
