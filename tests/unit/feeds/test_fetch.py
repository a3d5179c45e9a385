"""`fetch`: conditional downloads, tested against httpx.MockTransport (never the network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shoal.feeds import ALL, AlpineSecdbFeed, KevFeed, NvdFeed, OsvPyPIFeed
from shoal.feeds.base import FeedError, FeedLimits, Fetched, Fingerprint, Unchanged
from shoal.model.advisory import CveEnrichment
from tests.unit.feeds.paths import BUNDLED, TESTDATA

KEV_BYTES = (TESTDATA / "kev" / "known_exploited_vulnerabilities.json").read_bytes()


class Upstream:
    """A fake upstream server that honours If-None-Match and records requests."""

    def __init__(self, body: bytes, etag: str = '"v1"') -> None:
        self.body = body
        self.etag = etag
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("If-None-Match") == self.etag:
            return httpx.Response(304)
        return httpx.Response(
            200,
            content=self.body,
            headers={"ETag": self.etag, "Last-Modified": "Wed, 19 Feb 2025 14:08:44 GMT"},
        )


def test_fetch_then_parse_then_not_modified(tmp_path: Path) -> None:
    server = Upstream(KEV_BYTES)
    http = httpx.Client(transport=httpx.MockTransport(server))
    feed = KevFeed()
    first = feed.fetch(http, tmp_path)
    assert isinstance(first, Fetched)
    (v,) = first.fingerprint.files
    assert v.url == KevFeed.default_url
    assert (v.etag, v.last_modified) == ('"v1"', "Wed, 19 Feb 2025 14:08:44 GMT")
    assert (tmp_path / v.file).read_bytes() == KEV_BYTES
    assert len([e for e in feed.parse(first.path) if isinstance(e, CveEnrichment)]) == 3

    second = feed.fetch(http, tmp_path, first.fingerprint)
    assert isinstance(second, Unchanged)
    assert server.requests[1].headers["If-None-Match"] == '"v1"'
    assert server.requests[1].headers["If-Modified-Since"] == "Wed, 19 Feb 2025 14:08:44 GMT"

    server.body, server.etag = KEV_BYTES.replace(b"2025.02.19", b"2025.02.20"), '"v2"'
    third = feed.fetch(http, tmp_path, first.fingerprint)
    assert isinstance(third, Fetched)
    assert third.fingerprint.files[0].sha256 != v.sha256


def test_same_bytes_without_validators_is_unchanged(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=KEV_BYTES)  # no ETag, no Last-Modified

    http = httpx.Client(transport=httpx.MockTransport(handler))
    first = KevFeed().fetch(http, tmp_path)
    assert isinstance(KevFeed().fetch(http, tmp_path, first.fingerprint), Unchanged)


def test_missing_local_copy_is_downloaded_again(tmp_path: Path) -> None:
    server = Upstream(KEV_BYTES)
    http = httpx.Client(transport=httpx.MockTransport(server))
    first = KevFeed().fetch(http, tmp_path / "a")
    again = KevFeed().fetch(http, tmp_path / "b", first.fingerprint)
    assert "If-None-Match" not in server.requests[1].headers
    assert isinstance(again, Unchanged)  # same content, and now present in b/
    assert (tmp_path / "b" / first.fingerprint.files[0].file).exists()


def test_osv_fetch_writes_all_zip(tmp_path: Path) -> None:
    data = (BUNDLED / "osv" / "PyPI-all.zip").read_bytes()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=data)

    got = OsvPyPIFeed().fetch(httpx.Client(transport=httpx.MockTransport(handler)), tmp_path)
    assert seen == ["https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"]
    assert (tmp_path / "all.zip").read_bytes() == data
    assert isinstance(got, Fetched)


def test_alpine_fetch_asks_for_each_branch_and_repository(tmp_path: Path) -> None:
    body = (TESTDATA / "alpine_secdb" / "v3.11-main.json").read_bytes()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=body)

    feed = AlpineSecdbFeed(branches=("v3.19", "edge"))
    got = feed.fetch(httpx.Client(transport=httpx.MockTransport(handler)), tmp_path)
    assert seen == [
        "https://secdb.alpinelinux.org/v3.19/main.json",
        "https://secdb.alpinelinux.org/v3.19/community.json",
        "https://secdb.alpinelinux.org/edge/main.json",
        "https://secdb.alpinelinux.org/edge/community.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "edge-community.json",
        "edge-main.json",
        "v3.19-community.json",
        "v3.19-main.json",
    ]
    assert isinstance(got, Fetched)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (lambda r: httpx.Response(503), "HTTP 503"),
        (lambda r: httpx.Response(404), "HTTP 404"),
    ],
)
def test_http_errors_are_one_line_feed_errors(
    tmp_path: Path, handler: object, message: str
) -> None:
    http = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    with pytest.raises(FeedError, match=message) as e:
        KevFeed().fetch(http, tmp_path)
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_network_failure_and_size_limit(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(FeedError, match="ConnectError: connection refused"):
        KevFeed().fetch(httpx.Client(transport=httpx.MockTransport(refuse)), tmp_path)

    big = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 5000))
    )
    with pytest.raises(FeedError, match="download limit"):
        KevFeed(limits=FeedLimits(download_bytes=1000)).fetch(big, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == []  # no partial file left behind


def _nvd_page(start: int, total: int, ids: list[str]) -> bytes:
    page = json.loads((TESTDATA / "nvd" / "nvdcve-2.0-page-0.json").read_text())
    template = page["vulnerabilities"][0]
    vulns = []
    for cid in ids:
        v = json.loads(json.dumps(template))
        v["cve"]["id"] = cid
        vulns.append(v)
    page.update(
        startIndex=start, totalResults=total, resultsPerPage=len(ids), vulnerabilities=vulns
    )
    return json.dumps(page).encode()


def test_nvd_pages_through_the_api_politely(tmp_path: Path) -> None:
    requests: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        assert request.headers["apiKey"] == "k"
        start = int(request.url.params["startIndex"])
        ids = ["CVE-2024-0001", "CVE-2024-0002"] if start == 0 else ["CVE-2024-0003"]
        return httpx.Response(200, content=_nvd_page(start, 3, ids))

    sleeps: list[float] = []
    now = datetime(2026, 11, 1, tzinfo=UTC)
    feed = NvdFeed(api_key="k", sleep=sleeps.append, now=lambda: now)
    got = feed.fetch(httpx.Client(transport=httpx.MockTransport(handler)), tmp_path)
    assert isinstance(got, Fetched)
    assert [u.params["startIndex"] for u in requests] == ["0", "2"]
    assert sleeps == [0.6]
    assert got.fingerprint.cursor == now.isoformat()
    assert [e.cve for e in feed.parse(tmp_path) if isinstance(e, CveEnrichment)] == [
        "CVE-2024-0001",
        "CVE-2024-0002",
        "CVE-2024-0003",
    ]


def test_nvd_incremental_window_and_unchanged(tmp_path: Path) -> None:
    requests: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        return httpx.Response(200, content=_nvd_page(0, 0, []))

    now = datetime(2026, 11, 1, tzinfo=UTC)
    prior = Fingerprint(cursor=(now - timedelta(days=3)).isoformat())
    feed = NvdFeed(sleep=lambda s: None, now=lambda: now)
    got = feed.fetch(httpx.Client(transport=httpx.MockTransport(handler)), tmp_path, prior)
    assert isinstance(got, Unchanged)
    params = requests[0].params
    assert params["lastModStartDate"] == "2026-10-29T00:00:00.000+00:00"
    assert params["lastModEndDate"] == "2026-11-01T00:00:00.000+00:00"
    # a cursor older than the API's 120-day window means a full download
    old = Fingerprint(cursor=(now - timedelta(days=200)).isoformat())
    feed.fetch(httpx.Client(transport=httpx.MockTransport(handler)), tmp_path, old)
    assert "lastModStartDate" not in requests[1].params


def test_nvd_non_page_response_is_a_feed_error(tmp_path: Path) -> None:
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"<html>"))
    )
    with pytest.raises(FeedError, match="NVD API page"):
        NvdFeed(sleep=lambda s: None).fetch(http, tmp_path)


def test_every_feed_downloads_from_https() -> None:
    for cls in ALL:
        if cls is NvdFeed:
            continue
        for url, name in cls().downloads():
            assert url.startswith("https://") and name and "/" not in name


def test_nvd_backs_off_when_rate_limited(tmp_path: Path) -> None:
    answers = iter([429, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status != 200:
            return httpx.Response(status)
        return httpx.Response(200, content=_nvd_page(0, 1, ["CVE-2024-0001"]))

    sleeps: list[float] = []
    feed = NvdFeed(sleep=sleeps.append)
    got = feed.fetch(httpx.Client(transport=httpx.MockTransport(handler)), tmp_path)
    assert isinstance(got, Fetched)
    assert sleeps == [6.0, 12.0]

    always = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(403)))
    with pytest.raises(FeedError, match="HTTP 403"):
        NvdFeed(sleep=lambda s: None).fetch(always, tmp_path)


def test_nvd_unreadable_cursor_means_full_download(tmp_path: Path) -> None:
    requests: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        return httpx.Response(200, content=_nvd_page(0, 1, ["CVE-2024-0001"]))

    feed = NvdFeed(sleep=lambda s: None)
    got = feed.fetch(
        httpx.Client(transport=httpx.MockTransport(handler)),
        tmp_path,
        Fingerprint(cursor="yesterday"),
    )
    assert isinstance(got, Fetched)
    assert "lastModStartDate" not in requests[0].params
