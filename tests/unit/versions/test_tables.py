"""Every scheme against its comparison tables: hand-written ones (from specs and the
reference implementations' own tests, checked with the native tools) and the generated
ones produced by the ecosystems' tools themselves (tools/gen_version_fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.versions import InvalidVersion, scheme_for
from tests.unit.versions.tables import read_table, scheme_of, table_files

TABLES = table_files()


def test_every_scheme_has_hand_and_generated_tables() -> None:
    names = {p.name for p in TABLES}
    for scheme in ("deb", "apk", "rpm", "pep440", "npm", "semver", "go", "maven", "gem",
                   "nuget", "composer"):  # fmt: skip
        assert f"{scheme}-versions.txt" in names
    for scheme in ("deb", "rpm", "pep440", "npm", "semver", "go", "maven", "gem", "composer"):
        assert f"{scheme}-versions-generated.txt" in names


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_table(path: Path) -> None:
    scheme = scheme_for(scheme_of(path))
    rows = read_table(path)
    assert len(rows) >= 20
    wrong = []
    for r in rows:
        got, back = scheme.compare(r.a, r.b), scheme.compare(r.b, r.a)
        if (got, back) != (r.want, -r.want):
            wrong.append(f"{r.where}: {r.a!r} vs {r.b!r}: want {r.want}, got {got}/{-back}")
    assert not wrong, "\n".join(wrong[:30])


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_parsed_versions_order_like_compare(path: Path) -> None:
    scheme = scheme_for(scheme_of(path))
    checked = 0
    for r in read_table(path):
        try:
            va, vb = scheme.parse(r.a), scheme.parse(r.b)
        except InvalidVersion:
            continue
        checked += 1
        assert (va < vb, va > vb) == (r.want < 0, r.want > 0), r.where
        if scheme.name != "maven":  # Maven's equality is structural, as in Maven
            assert (va == vb) == (r.want == 0), r.where
            assert (hash(va) == hash(vb)) or r.want != 0, r.where
    assert checked > 0


def test_generated_tables_are_large() -> None:
    generated = [p for p in TABLES if p.name.endswith("-generated.txt")]
    assert sum(len(read_table(p)) for p in generated) > 5000
    for p in generated:
        assert len(read_table(p)) >= 500, p.name
