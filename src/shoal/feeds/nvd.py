"""NVD CVE API 2.0 (https://nvd.nist.gov/developers/vulnerabilities): CVSS, CWE, published date.

`parse` reads response pages as the API returns them (``{"vulnerabilities": [{"cve":
{...}}], ...}``), one file or a directory of them, compressed or not, and yields one
`CveEnrichment` per CVE:
- `nvd_severities`: every CVSS metric in ``metrics.cvssMetricV40``, ``V31``, ``V30``
  and ``V2``, newest version first. NVD's own (``type`` "Primary", source
  nvd@nist.gov) has source "nvd"; a CNA's ("Secondary") has source "cna:<source>".
  The published ``baseScore`` is kept; when it is missing it is computed from the
  vector. The rating is ``baseSeverity`` (v3/v4 in ``cvssData``, v2 beside it) or the
  score's band.
- `cwes`: the ``CWE-N`` values of ``weaknesses`` (NVD's "NVD-CWE-Other"/"noinfo"
  placeholders are not CWEs and are dropped), `description`: the English one,
  `published`: RFC 3339 (NVD omits the zone; its times are UTC), `references`: URLs.
- Rejected CVEs are skipped. A malformed CVE object is a FeedProblem.

`fetch` pages through the API (2,000 CVEs a page) with the rate limit NVD asks for
(one request per 6 s without an API key), backing off and retrying when it answers
403, 429 or 503. With a prior fingerprint it asks only for
CVEs modified since the previous fetch (the API allows windows of up to 120 days), so
`parse` then yields just the changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shoal.feeds.base import (
    CVE_RE,
    DEFAULT_LIMITS,
    Feed,
    FeedError,
    FeedHttpError,
    FeedLimits,
    Fetched,
    Fields,
    Fingerprint,
    RecordError,
    Unchanged,
    Validator,
    download,
    iter_files,
    load_json,
    problem,
    read_file,
)
from shoal.feeds.scoring import cvss_type_of, score_vector, v2_rating
from shoal.model.advisory import CveEnrichment, FeedProblem, Rating, Severity

_METRICS = (
    ("cvssMetricV40", "CVSS_V4"),
    ("cvssMetricV31", "CVSS_V3"),
    ("cvssMetricV30", "CVSS_V3"),
    ("cvssMetricV2", "CVSS_V2"),
)
PAGE_SIZE = 2000
RETRIES = 3
_MAX_WINDOW = timedelta(days=120)


def _rfc3339(value: str | None) -> str | None:
    if not value:
        return None
    has_zone = value.endswith("Z") or "+" in value[10:] or "-" in value[10:]
    return value if has_zone else value + "Z"


def parse_cve(obj: Any, where: str) -> CveEnrichment | None:
    """One ``vulnerabilities[]`` item; None for a rejected CVE. RecordError if malformed."""
    item = Fields.of(obj, where)
    cve = Fields.of(item.obj.get("cve"), f"{where}.cve")
    cid = cve.text("id", required=True) or ""
    if not CVE_RE.fullmatch(cid):
        raise RecordError(f"{where}: invalid CVE id {cid[:60]!r}")
    cve.where = cid
    if cve.text("vulnStatus") == "Rejected":
        return None
    severities: list[Severity] = []
    metrics = cve.mapping("metrics")
    for key, kind in _METRICS:
        entries = metrics.get(key) or []
        if not isinstance(entries, list):
            raise RecordError(f"{cid}.metrics.{key}: expected a list")
        for i, m in enumerate(entries):
            severities.append(_metric(Fields.of(m, f"{cid}.metrics.{key}[{i}]"), kind))
    cwes: list[str] = []
    for i, w in enumerate(cve.items("weaknesses")):
        for j, d in enumerate(Fields.of(w, f"{cid}.weaknesses[{i}]").items("description")):
            value = Fields.of(d, f"{cid}.weaknesses[{i}].description[{j}]").text("value")
            if value and value.startswith("CWE-") and value not in cwes:
                cwes.append(value)
    description = ""
    for i, d in enumerate(cve.items("descriptions")):
        desc = Fields.of(d, f"{cid}.descriptions[{i}]")
        if desc.text("lang") == "en":
            description = desc.text("value") or ""
            break
    refs = [
        u
        for i, r in enumerate(cve.items("references"))
        if (u := Fields.of(r, f"{cid}.references[{i}]").text("url"))
    ]
    return CveEnrichment(
        cve=cid,
        nvd_severities=tuple(severities),
        cwes=tuple(cwes),
        description=description,
        published=_rfc3339(cve.text("published")),
        references=tuple(dict.fromkeys(refs)),
    )


def _metric(m: Fields, kind: str) -> Severity:
    data = Fields.of(m.obj.get("cvssData"), f"{m.where}.cvssData")
    vector = data.text("vectorString", required=True) or ""
    if cvss_type_of(vector) != kind:
        raise RecordError(f"{data.where}: vector {vector[:80]!r} is not {kind}")
    score = data.obj.get("baseScore")
    if score is None:
        try:
            value, rating = score_vector(kind, vector)
        except ValueError as e:
            raise RecordError(f"{data.where}: {e}") from None
    elif isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 10:
        value = float(score)
        word = data.text("baseSeverity") or m.text("baseSeverity")
        if word:
            rating = Rating.parse(word)
        else:
            rating = v2_rating(value) if kind == "CVSS_V2" else Rating.from_score(value)
    else:
        raise RecordError(f"{data.where}.baseScore: not a number from 0 to 10")
    source = m.text("source") or ""
    primary = m.text("type") == "Primary" or source == "nvd@nist.gov"
    return Severity("nvd" if primary else f"cna:{source}", rating, kind, vector, value)


class NvdFeed(Feed[CveEnrichment]):
    name = "nvd"
    version = 1
    license = "LicenseRef-NVD-terms-of-use"  # public domain US government data, NVD terms
    default_url = "https://services.nvd.nist.gov/rest/json/cves/2.0"
    kind = "enrichment"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        page_delay: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: FeedLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(limits=limits)
        self.api_key = api_key
        # NVD: 5 requests per 30 s without a key, 50 with one
        self.page_delay = page_delay if page_delay is not None else (0.6 if api_key else 6.0)
        self.sleep = sleep
        self.now = now

    def fetch(
        self, http: httpx.Client, dest: Path, prior: Fingerprint | None = None
    ) -> Fetched | Unchanged:
        dest.mkdir(parents=True, exist_ok=True)
        started = self.now()
        params: dict[str, str] = {"resultsPerPage": str(PAGE_SIZE)}
        since = _cursor_time(prior.cursor if prior else None)
        if since is not None and started - since <= _MAX_WINDOW:
            params["lastModStartDate"] = since.isoformat(timespec="milliseconds")
            params["lastModEndDate"] = started.isoformat(timespec="milliseconds")
        for old in dest.glob("nvd-*.json"):
            old.unlink()  # pages of an earlier run must not be parsed again
        headers = {"apiKey": self.api_key} if self.api_key else {}
        files: list[Validator] = []
        start, total = 0, None
        while total is None or start < total:
            if files:
                self.sleep(self.page_delay)
            url = str(httpx.URL(self.default_url, params={**params, "startIndex": str(start)}))
            target = dest / f"nvd-{len(files):05d}.json"
            files.append(self._download_page(http, url, target, headers))
            page = load_page(target, self.limits.file_bytes)
            total = page[0]
            start += max(page[1], 1)
            if page[1] == 0:
                break
        fp = Fingerprint(tuple(files), cursor=started.isoformat())
        if "lastModStartDate" in params and total == 0:
            return Unchanged(fp)
        return Fetched(dest, fp)

    def _download_page(
        self, http: httpx.Client, url: str, target: Path, headers: dict[str, str]
    ) -> Validator:
        # NVD answers 403/429/503 when a client goes faster than its rate limit or the
        # service is busy; back off and retry a few times before giving up
        for attempt in range(RETRIES + 1):
            try:
                return download(http, url, target, None, self.limits.download_bytes, headers)
            except FeedHttpError as e:
                if e.status not in (403, 429, 503) or attempt == RETRIES:
                    raise
                self.sleep(max(self.page_delay, 1.0) * 2**attempt)
        raise AssertionError("unreachable")

    def parse(self, path: Path) -> Iterator[CveEnrichment | FeedProblem]:
        for f in iter_files(path, (".json",)):
            data = read_file(f, self.limits.file_bytes)
            try:
                doc = Fields.of(load_json(data, f.name), f.name)
                items = doc.items("vulnerabilities")
            except RecordError as e:
                raise FeedError(str(e)) from None
            for i, item in enumerate(items):
                record = f"{f.name}:vulnerabilities[{i}]"
                try:
                    enr = parse_cve(item, record)
                except RecordError as e:
                    yield problem(self.name, record, str(e))
                    continue
                if enr is not None:
                    yield enr


def _cursor_time(cursor: str | None) -> datetime | None:
    """The time a prior fetch started; None (full download) if absent or unreadable."""
    if not cursor:
        return None
    try:
        t = datetime.fromisoformat(cursor)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def load_page(path: Path, limit: int) -> tuple[int, int]:
    """(totalResults, number of CVEs) of one downloaded page; FeedError if it is not one."""
    try:
        doc = Fields.of(load_json(read_file(path, limit), path.name), path.name)
        total = doc.obj.get("totalResults")
        if not isinstance(total, int):
            raise RecordError(f"{path.name}: no totalResults")
        return total, len(doc.items("vulnerabilities"))
    except RecordError as e:
        raise FeedError(f"NVD API page {e}") from None
