"""Paths to the feed fixtures: small real records in testdata/, full snapshots bundled in
src/shoal/data/feeds (see its README for provenance)."""

from __future__ import annotations

from pathlib import Path

import shoal

TESTDATA = Path(__file__).parent / "testdata"
BUNDLED = Path(shoal.__file__).parent / "data" / "feeds"
