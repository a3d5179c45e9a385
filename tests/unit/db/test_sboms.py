from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shoal.db.errors import StoredSbomError
from shoal.db.models import Sbom as SbomRow
from shoal.db.sboms import decode_sbom, encode_sbom, load_sbom, sbom_key, sbom_version, store_sbom
from shoal.export.base import clean_sbom
from shoal.export.json import from_native_json
from shoal.model import Sbom

TESTDATA = Path(__file__).parent / "testdata"


def _sbom(name: str) -> Sbom:
    return from_native_json((TESTDATA / name).read_bytes())


@pytest.mark.parametrize("name", ["alpine-3.14.json", "debian-bookworm-app.json"])
def test_store_and_load_round_trip(session: Session, name: str) -> None:
    sbom = _sbom(name)
    assert store_sbom(session, sbom, "0.1.0")
    session.commit()
    digest, platform = sbom_key(sbom)
    loaded = load_sbom(session, digest, platform)
    assert loaded == clean_sbom(sbom)
    assert sbom_version(session, digest, platform) == "0.1.0"
    row = session.scalars(select(SbomRow)).one()
    assert row.size > len(row.blob)  # compressed


def test_stored_once_per_digest_and_platform(session: Session) -> None:
    sbom = _sbom("alpine-3.14.json")
    assert store_sbom(session, sbom, "0.1.0")
    assert not store_sbom(session, sbom, "0.1.0")
    assert store_sbom(session, sbom, "0.2.0")  # another analyser replaces it
    session.commit()
    assert session.scalar(select(func.count()).select_from(SbomRow)) == 1
    digest, platform = sbom_key(sbom)
    assert sbom_version(session, digest, platform) == "0.2.0"
    assert platform == "linux/arm/v7"
    assert load_sbom(session, digest, "linux/amd64") is None
    assert sbom_version(session, "sha256:" + "0" * 64) is None


def test_sbom_without_digest_cannot_be_stored(session: Session) -> None:
    sbom = _sbom("alpine-3.14.json")
    image = dataclasses.replace(sbom.image, manifest_digest=None, index_digest=None)
    bare = dataclasses.replace(sbom, image=image)
    with pytest.raises(ValueError, match="no manifest digest"):
        store_sbom(session, bare, "0.1.0")


def test_corrupt_blob_raises_with_digest(session: Session) -> None:
    sbom = _sbom("alpine-3.14.json")
    store_sbom(session, sbom, "0.1.0")
    row = session.scalars(select(SbomRow)).one()
    row.blob = zstandard.ZstdCompressor().compress(b'{"schema": "nope"}')
    session.commit()
    digest, platform = sbom_key(sbom)
    with pytest.raises(StoredSbomError, match=digest) as e:
        load_sbom(session, digest, platform)
    assert "\n" not in str(e.value)


def test_decompression_bomb_is_bounded() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(b" " * (2 * 1024 * 1024))
    with pytest.raises(StoredSbomError, match="over 1048576 bytes"):
        decode_sbom(bomb, max_bytes=1024 * 1024)


def test_encode_decode_is_exact() -> None:
    sbom = _sbom("debian-bookworm-app.json")
    blob, size = encode_sbom(sbom)
    assert decode_sbom(blob) == clean_sbom(sbom)
    assert size > 0


@given(st.binary(max_size=400))
def test_fuzz_garbage_blob_is_stored_sbom_error(blob: bytes) -> None:
    with pytest.raises(StoredSbomError) as e:
        decode_sbom(blob)
    assert "\n" not in str(e.value)


@given(st.binary(max_size=400))
def test_fuzz_compressed_garbage_is_stored_sbom_error(raw: bytes) -> None:
    with pytest.raises(StoredSbomError):
        decode_sbom(zstandard.ZstdCompressor().compress(raw))


def test_store_sbom_indexes_its_keys_and_a_replacement_without_keys_clears_them(
    session: Session,
) -> None:
    from shoal.db.models import SbomKey
    from shoal.db.sboms import index_sbom_keys, match_key_hash

    sbom = _sbom("alpine-3.14.json")
    keys = {("alpine", "musl"), ("Alpine", "busybox")}
    assert store_sbom(session, sbom, "0.1.0", match_keys=keys, keys_version=7)
    row = session.scalars(select(SbomRow)).one()
    stored = set(session.scalars(select(SbomKey.key_hash).where(SbomKey.sbom_id == row.id)))
    assert stored == {match_key_hash("alpine", "musl"), match_key_hash("alpine", "busybox")}
    assert row.keys_version == 7
    # the same analyser again: a no-op, keys kept
    assert not store_sbom(session, sbom, "0.1.0")
    assert session.scalar(select(func.count()).select_from(SbomKey)) == 2
    # another analyser without keys: the old keys describe the old content, so they go
    assert store_sbom(session, sbom, "0.2.0")
    session.expire_all()
    assert session.scalars(select(SbomRow)).one().keys_version is None
    assert session.scalar(select(func.count()).select_from(SbomKey)) == 0
    index_sbom_keys(session, row.id, [("alpine", "zlib")] * 3, 8)
    session.expire_all()
    assert session.scalars(select(SbomRow.keys_version)).one() == 8
    assert list(session.scalars(select(SbomKey.key_hash))) == [match_key_hash("alpine", "zlib")]
    with pytest.raises(ValueError, match="keys_version"):
        store_sbom(session, sbom, "0.3.0", match_keys=keys)


def test_stored_sbom_decode_skips_the_schema_but_not_the_structure() -> None:
    blob = zstandard.ZstdCompressor().compress(b'{"schema": "https://shoal.dev/schema/sbom/1"}')
    with pytest.raises(StoredSbomError, match="stored SBOM: native SBOM") as e:
        decode_sbom(blob)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name", ["alpine-3.14.json", "debian-bookworm-app.json"])
def test_match_rows_keep_everything_matching_reads(name: str) -> None:
    from shoal.db.sboms import decode_match_rows, encode_match_rows

    sbom = _sbom(name)
    got = decode_match_rows(encode_match_rows(sbom))
    want = [
        dataclasses.replace(p, locations=(), licenses=(), layer_created_by=None)
        for p in sbom.packages
    ]
    assert got == want
    assert [p.distro for p in got] == [p.distro for p in sbom.packages]  # not in Package's ==
    assert [p.purl for p in got] == [p.purl for p in sbom.packages]
    with pytest.raises(StoredSbomError, match="stored match rows") as e:
        decode_match_rows(zstandard.ZstdCompressor().compress(b'{"v": 1, "d": [], "p": [[1]]}'))
    assert "\n" not in str(e.value)
