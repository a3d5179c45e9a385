from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.feeds.alpine_secdb import AlpineSecdbFeed, parse_ids
from shoal.feeds.base import FeedError, RecordError
from shoal.model.advisory import Advisory, AffectedPackage, AffectedRange, FeedProblem, FixState
from tests.unit.feeds.paths import BUNDLED, TESTDATA

SECDB = BUNDLED / "alpine-secdb"


def _split(items: list[Advisory | FeedProblem]) -> tuple[dict[str, Advisory], list[FeedProblem]]:
    return (
        {a.id: a for a in items if isinstance(a, Advisory)},
        [p for p in items if isinstance(p, FeedProblem)],
    )


@pytest.fixture(scope="module")
def bundled() -> tuple[dict[str, Advisory], list[FeedProblem]]:
    return _split(list(AlpineSecdbFeed().parse(SECDB)))


def _fixed(branch: str, origin: str, version: str) -> AffectedPackage:
    return AffectedPackage(
        ecosystem="Alpine",
        name=origin,
        release=branch,
        ranges=(AffectedRange("ECOSYSTEM", (("introduced", "0"), ("fixed", version))),),
        fix_state=FixState.FIXED,
    )


def test_bundled_yaml_imports(bundled: tuple[dict[str, Advisory], list[FeedProblem]]) -> None:
    advs, problems = bundled
    assert len(advs) == 2469
    assert sum(len(a.affected) for a in advs.values()) == 11873
    assert all(a.source == "alpine/secdb" for a in advs.values())
    # 24 typos in fixed versions (kept and reported) and one version listing no ids
    assert len(problems) == 25
    assert sum("kept as written" in p.reason for p in problems) == 24
    assert all("\n" not in p.reason for p in problems)


def test_openssl_secfix_across_branches(
    bundled: tuple[dict[str, Advisory], list[FeedProblem]],
) -> None:
    a = bundled[0]["CVE-2019-1547"]
    assert a.references == ("https://security.alpinelinux.org/vuln/CVE-2019-1547",)
    assert a.affected == (
        _fixed("v3.10", "openssl", "1.1.1d-r0"),
        _fixed("v3.11", "openssl", "1.1.1d-r1"),
        _fixed("v3.7", "openssl", "1.0.2t-r0"),
        _fixed("v3.8", "openssl", "1.0.2t-r0"),
        _fixed("v3.9", "openssl", "1.1.1d-r0"),
    )


def test_fixed_version_zero_means_never_affected(
    bundled: tuple[dict[str, Advisory], list[FeedProblem]],
) -> None:
    # v3.8 main.yaml lists Oracle Berkeley DB ids under "0" for `db`
    a = bundled[0].get("CVE-2016-0682")
    assert a is None or all(x.name != "db" for x in a.affected)


def test_notes_after_ids_become_aliases(
    bundled: tuple[dict[str, Advisory], list[FeedProblem]],
) -> None:
    advs = bundled[0]
    xen = [a for a in advs.values() if "XSA-237" in a.aliases]
    assert xen and all(a.id.startswith("CVE-") for a in xen)
    assert any(x.name == "xen" for a in xen for x in a.affected)


def test_typo_in_fixed_version_is_kept_and_reported(
    bundled: tuple[dict[str, Advisory], list[FeedProblem]],
) -> None:
    advs, problems = bundled
    assert any(
        p.record == "v3.11/main.yaml.zst:python2@2.7.16-33" and "kept as written" in p.reason
        for p in problems
    )
    kept = [x for a in advs.values() for x in a.affected if x.fixed_versions() == ("2.7.16-33",)]
    assert kept and all(x.name == "python2" and x.release == "v3.11" for x in kept)


def test_secdb_json_form(tmp_path: Path) -> None:
    advs, problems = _split(list(AlpineSecdbFeed().parse(TESTDATA / "alpine_secdb")))
    assert problems == []
    assert len(advs) == 14
    # busybox lists CVE-2019-5747 under 1.29.3-r10 and again under 1.30.1-r2: the later fix wins
    assert advs["CVE-2019-5747"].affected == (_fixed("v3.11", "busybox", "1.30.1-r2"),)
    assert advs["CVE-2019-1547"].affected == (_fixed("v3.11", "openssl", "1.1.1d-r1"),)


def test_json_and_yaml_and_zstd_forms_agree(tmp_path: Path) -> None:
    doc = json.loads((TESTDATA / "alpine_secdb" / "v3.11-main.json").read_text())
    (tmp_path / "main.json.zst").write_bytes(
        zstandard.ZstdCompressor().compress(json.dumps(doc).encode())
    )
    a = list(AlpineSecdbFeed().parse(tmp_path))
    b = list(AlpineSecdbFeed().parse(TESTDATA / "alpine_secdb"))
    assert a == b


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("CVE-2019-1547", ("CVE-2019-1547", ())),
        ("CVE-2017-15590 XSA-237", ("CVE-2017-15590", ("XSA-237",))),
        ("CVE-2019-17343  XSA-297", ("CVE-2019-17343", ("XSA-297",))),
        ("XSA-207", ("XSA-207", ())),
        ("CVE-2017-2816 TALOS-2017-0499", ("CVE-2017-2816", ("TALOS-2017-0499",))),
        ("CVE-2019-1234 (BGP)", ("CVE-2019-1234", ())),
        ("CVE_2019-2426", ("CVE-2019-2426", ())),
        ("CVE 2018-16859", ("CVE-2018-16859", ())),
        ("ZBX-11023", ("ZBX-11023", ())),
    ],
)
def test_parse_ids(entry: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert parse_ids(entry) == expected


@pytest.mark.parametrize("entry", ["CVE-2", "CVE-????-?????  XSA", "CVE.patch", ""])
def test_entries_without_an_id_are_errors(entry: str) -> None:
    with pytest.raises(RecordError, match="no vulnerability id"):
        parse_ids(entry)


def test_malformed_files_and_entries_are_problems(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("distroversion: v3.19\npackages:\n  - pkg: [not, a, map]\n")
    (tmp_path / "b.yaml").write_text("distroversion: '3.19'\npackages: []\n")
    (tmp_path / "c.yaml").write_text("distroversion: v3.19\npackages: [\n")
    (tmp_path / "d.yaml").write_text(
        "distroversion: v3.19\npackages:\n  - pkg:\n      name: curl\n      secfixes:\n"
        "        8.5.0-r0:\n          - CVE-2023-46218\n          - nonsense\n"
        "        8.4.0-r0: CVE-2023-38545\n"
    )
    (tmp_path / "e.yaml").write_text("a: &x [1]\nb: *x\n")
    advs, problems = _split(list(AlpineSecdbFeed().parse(tmp_path)))
    assert list(advs) == ["CVE-2023-46218"]
    reasons = {p.record.split(":")[0].split("@")[0]: p.reason for p in problems}
    assert "expected an object" in reasons["a.yaml"]
    assert "is not a branch" in reasons["b.yaml"]
    assert "invalid YAML at line" in reasons["c.yaml"]
    assert "aliases are not allowed" in reasons["e.yaml"]
    assert sum(p.record.startswith("d.yaml:curl") for p in problems) == 2


def test_corrupt_compressed_file_raises(tmp_path: Path) -> None:
    (tmp_path / "main.yaml.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
    with pytest.raises(FeedError, match=r"main.yaml.zst: cannot read"):
        list(AlpineSecdbFeed().parse(tmp_path))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_yaml_text_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "main.yaml"
        path.write_text("distroversion: v3.19\npackages:\n" + text, encoding="utf-8")
        for item in AlpineSecdbFeed().parse(path):
            assert isinstance(item, Advisory | FeedProblem)


secfix_docs = st.fixed_dictionaries(
    {
        "distroversion": st.sampled_from(["v3.19", "edge", "3.19", ""]),
        "packages": st.lists(
            st.fixed_dictionaries(
                {
                    "pkg": st.fixed_dictionaries(
                        {
                            "name": st.text(max_size=8),
                            "secfixes": st.dictionaries(
                                st.sampled_from(["0", "1.2.3-r0", "1.2.3.-r1", "x"]),
                                st.lists(
                                    st.sampled_from(["CVE-2024-0001", "XSA-1 note", "junk", ""])
                                )
                                | st.none()
                                | st.text(max_size=5),
                            ),
                        }
                    )
                }
            ),
            max_size=4,
        ),
    }
)


@settings(max_examples=200, deadline=None)
@given(secfix_docs)
def test_fuzz_secdb_documents(doc: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "main.json"
        path.write_text(json.dumps(doc))
        for item in AlpineSecdbFeed().parse(path):
            if isinstance(item, Advisory):
                assert all(x.release == doc["distroversion"] and x.name for x in item.affected)
                assert all(x.fixed_versions() != ("0",) for x in item.affected)
