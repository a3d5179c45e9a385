"""CISA Known Exploited Vulnerabilities catalog (https://www.cisa.gov/known-exploited-vulnerabilities-catalog).

The JSON feed is ``{"catalogVersion", "dateReleased", "count", "vulnerabilities":
[{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
"shortDescription", "requiredAction", "dueDate", "knownRansomwareCampaignUse",
"notes", "cwes"}]}``. Each entry becomes `CveEnrichment(cve, kev=True,
kev_date_added, kev_due_date, kev_ransomware)` with its CWEs; the description stays
NVD's. An entry without a valid ``cveID`` or ``dateAdded`` is a FeedProblem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from shoal.feeds.base import (
    CVE_RE,
    Feed,
    FeedError,
    Fields,
    RecordError,
    iter_files,
    load_json,
    problem,
    read_file,
)
from shoal.model.advisory import CveEnrichment, FeedProblem

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class KevFeed(Feed[CveEnrichment]):
    name = "kev"
    version = 1
    license = "CC0-1.0"
    default_url = (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
    )
    kind = "enrichment"

    def parse(self, path: Path) -> Iterator[CveEnrichment | FeedProblem]:
        for f in iter_files(path, (".json",)):
            try:
                doc = Fields.of(load_json(read_file(f, self.limits.file_bytes), f.name), f.name)
                items = doc.items("vulnerabilities")
            except RecordError as e:
                raise FeedError(str(e)) from None
            for i, item in enumerate(items):
                record = f"{f.name}:vulnerabilities[{i}]"
                try:
                    yield parse_entry(item, record)
                except RecordError as e:
                    yield problem(self.name, record, str(e))


def parse_entry(obj: object, where: str) -> CveEnrichment:
    e = Fields.of(obj, where)
    cve = (e.text("cveID", required=True) or "").strip()
    if not CVE_RE.fullmatch(cve):
        raise RecordError(f"{where}: invalid cveID {cve[:60]!r}")
    added = e.text("dateAdded", required=True) or ""
    if not _DATE.fullmatch(added):
        raise RecordError(f"{where}: dateAdded {added[:40]!r} is not YYYY-MM-DD")
    due = e.text("dueDate")
    return CveEnrichment(
        cve=cve,
        cwes=tuple(c for c in e.strings("cwes") if c.startswith("CWE-")),
        kev=True,
        kev_date_added=added,
        kev_due_date=due if due and _DATE.fullmatch(due) else None,
        kev_ransomware=e.text("knownRansomwareCampaignUse"),
    )
