"""Any advisory or enrichment record survives the DB unchanged (hypothesis), whatever
characters its strings hold: separators, newlines, a leading "[", empty strings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.model.advisory import (
    Advisory,
    AffectedPackage,
    AffectedRange,
    CveEnrichment,
    FeedProblem,
    FixState,
    Rating,
    Severity,
)
from shoal.vulndb import codec
from shoal.vulndb.resolve import FeedInput
from shoal.vulndb.store import VulnDB
from shoal.vulndb.update import update

text = st.text(max_size=20)
tricky = st.one_of(
    text,
    st.sampled_from(["", "[", "[1]", "a\nb", "\x1e", "\x1f", "1.0\r", " 2.0 ", "ß", "\x00"]),
)
opt_text = st.none() | tricky
severities = st.builds(
    Severity,
    source=tricky,
    rating=st.sampled_from(Rating),
    type=tricky,
    vector=opt_text,
    score=st.none() | st.floats(min_value=0, max_value=10),
)
ranges = st.builds(
    AffectedRange,
    type=tricky,
    events=st.lists(
        st.tuples(st.sampled_from(["introduced", "fixed", "last_affected", "limit"]), tricky),
        max_size=4,
    ).map(tuple),
)
affected = st.builds(
    AffectedPackage,
    ecosystem=tricky,
    name=tricky,
    release=tricky,
    ranges=st.lists(ranges, max_size=3).map(tuple),
    versions=st.lists(tricky, max_size=5).map(tuple),
    fix_state=st.sampled_from(FixState),
    severity=st.none() | st.sampled_from(Rating),
    purl=opt_text,
)


def advisory(source: str) -> st.SearchStrategy[Advisory]:
    return st.builds(
        Advisory,
        id=tricky,
        source=st.just(source),
        aliases=st.lists(tricky, max_size=3).map(tuple),
        related=st.lists(tricky, max_size=2).map(tuple),
        summary=tricky,
        details=tricky,
        published=opt_text,
        modified=opt_text,
        withdrawn=opt_text,
        references=st.lists(tricky, max_size=3).map(tuple),
        severities=st.lists(severities, max_size=3).map(tuple),
        affected=st.lists(affected, max_size=3).map(tuple),
        cwes=st.lists(tricky, max_size=2).map(tuple),
    )


@dataclass
class _Given:
    name: str
    items: list[Advisory]
    version: int = 1
    license: str = "CC0-1.0"

    def parse(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        yield from self.items


@given(st.lists(advisory("test/feed"), max_size=6, unique_by=lambda a: a.id))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_advisory_round_trips_through_the_db(advs: list[Advisory]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "vuln.db"
        r = update(
            db,
            [_Given("test/feed", advs)],
            resolver=lambda feed, prior: FeedInput(Path(d), "path", d),
        )
        if not r.replaced:  # an empty feed leaves no DB behind
            assert advs == []
            return
        with VulnDB.open(db) as vdb:
            got = vdb.advisories((a.source, a.id) for a in advs)
            assert [got[(a.source, a.id)] for a in advs] == advs
            for a in advs:
                for aff in a.affected:
                    rows = vdb.affected(aff.ecosystem, aff.name)
                    assert aff in [r.affected for r in rows if r.advisory_id == a.id]


@given(st.lists(affected, max_size=4))
def test_affected_rows_decode_to_what_was_encoded(affs: list[AffectedPackage]) -> None:
    adv = Advisory(id="X-1", source="s", affected=tuple(affs))
    _, rows = codec.encode_advisory(adv)
    assert [codec.decode_affected(r) for r in rows] == affs


@given(tricky, tricky)
def test_digest_changes_with_content(a: str, b: str) -> None:
    one = codec.encode_advisory(Advisory(id="X", source="s", details=a))[0][2]
    two = codec.encode_advisory(Advisory(id="X", source="s", details=b))[0][2]
    assert (one == two) == (a == b)


enrichment = st.builds(
    CveEnrichment,
    cve=tricky,
    nvd_severities=st.lists(severities, max_size=2).map(tuple),
    cwes=st.lists(tricky, max_size=2).map(tuple),
    description=tricky,
    published=opt_text,
    references=st.lists(tricky, max_size=2).map(tuple),
)


@given(enrichment)
def test_nvd_enrichment_round_trips(e: CveEnrichment) -> None:
    row = codec.encode_enrichment(e, "nvd")
    full = (*row, None, None, None, None, None, None, None)
    assert codec.decode_enrichment(full) == e


@given(
    st.tuples(
        tricky,
        tricky,
        tricky,
        tricky,
        st.integers(),
        tricky,
        tricky,
        st.none() | tricky,
        st.none() | tricky,
        tricky,
        st.none() | tricky,
        st.none() | tricky,
    )
)
def test_a_tampered_affected_row_decodes_or_fails_cleanly(row: tuple[object, ...]) -> None:
    from shoal.vulndb.errors import VulnDbError

    try:
        codec.decode_affected(row)
    except VulnDbError as e:
        assert "\n" not in str(e)
