"""FIRST EPSS scores (https://www.first.org/epss/): the daily CSV, gzipped as served or plain.

The file opens with a comment naming the model and the score date, then a header::

    #model_version:v2025.03.14,score_date:2025-06-01T12:55:00Z
    cve,epss,percentile
    CVE-1999-0001,0.01142,0.77581

Each row becomes `CveEnrichment(cve, epss_score, epss_percentile, epss_date)` with the
date part of ``score_date`` (None when the comment line is missing). A row that is not a
CVE id and two probabilities in [0, 1] is a FeedProblem naming its line; a file without
the ``cve,epss,percentile`` header is not an EPSS file and raises FeedError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

from shoal.feeds.base import CVE_RE, Feed, FeedError, decode_text, iter_files, problem, read_file
from shoal.model.advisory import CveEnrichment, FeedProblem

_SCORE_DATE = re.compile(r"score_date:(\d{4}-\d{2}-\d{2})")


def _probability(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


class EpssFeed(Feed[CveEnrichment]):
    name = "epss"
    version = 1
    license = "LicenseRef-FIRST-EPSS"  # free to use with attribution (first.org/epss)
    default_url = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
    kind = "enrichment"

    def parse(self, path: Path) -> Iterator[CveEnrichment | FeedProblem]:
        for f in iter_files(path, (".csv",)):
            try:
                text = decode_text(read_file(f, self.limits.file_bytes), f.name)
            except ValueError as e:
                raise FeedError(str(e)) from None
            yield from self.parse_text(text, f.name)

    def parse_text(self, text: str, where: str) -> Iterator[CveEnrichment | FeedProblem]:
        """The scores in one CSV's text (pure)."""
        date: str | None = None
        header_seen = False
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                if m := _SCORE_DATE.search(line):
                    date = m.group(1)
                continue
            if not header_seen:
                if line.replace(" ", "").lower() != "cve,epss,percentile":
                    raise FeedError(f"{where}:{n}: expected the header 'cve,epss,percentile'")
                header_seen = True
                continue
            parts = line.split(",")
            record = f"{where}:{n}"
            if len(parts) != 3:
                yield problem(self.name, record, f"expected 3 fields, got {len(parts)}")
                continue
            cve, score, pct = (p.strip() for p in parts)
            s, p = _probability(score), _probability(pct)
            if not CVE_RE.fullmatch(cve) or s is None or p is None:
                yield problem(
                    self.name, record, f"not a CVE id and two probabilities: {line[:80]!r}"
                )
                continue
            yield CveEnrichment(cve=cve, epss_score=s, epss_percentile=p, epss_date=date)
        if not header_seen:
            raise FeedError(f"{where}: no 'cve,epss,percentile' header: not an EPSS file")
