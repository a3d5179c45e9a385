"""parse_manifest / parse_config against real documents (trimmed) and hostile input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.errors import LimitExceeded, UnsupportedManifest
from shoal.model import Platform, sha256_digest
from shoal.oci.manifest import DOCKER_LAYER, parse_config, parse_descriptor, parse_manifest
from shoal.oci.types import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_LAYER_ND_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Index,
    Manifest,
)

DATA = Path(__file__).parent / "testdata" / "manifests"
WHERE = "registry.example/app:1"
H = "sha256:" + "ab" * 32


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse(data: bytes, media_type: str | None = None) -> Index | Manifest:
    return parse_manifest(data, sha256_digest(data), media_type, where=WHERE)


def desc(media: str = OCI_MANIFEST, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media, "digest": H, "size": 10, **extra}


def manifest_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json"),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip")],
    }
    doc.update(overrides)
    return doc


def reason(data: bytes, media_type: str | None = None) -> str:
    with pytest.raises(UnsupportedManifest) as exc:
        parse(data, media_type)
    msg = str(exc.value)
    assert msg.startswith(WHERE + ": ")
    assert "\n" not in msg
    return msg


# -- real documents -----------------------------------------------------------------------


def test_docker_manifest_list_keeps_every_platform_in_order() -> None:
    idx = parse(load("alpine-docker-list.json"), DOCKER_LIST)
    assert isinstance(idx, Index)
    assert idx.media_type == DOCKER_LIST
    assert [str(d.platform) for d in idx.manifests] == [
        "linux/amd64",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm64/v8",
        "linux/386",
        "linux/s390x",
    ]
    assert all(d.media_type == DOCKER_MANIFEST and d.size == 528 for d in idx.manifests)


def test_docker_schema2_manifest() -> None:
    data = load("alpine-docker-v2s2.json")
    m = parse(data, DOCKER_MANIFEST + "; charset=utf-8")
    assert isinstance(m, Manifest)
    assert m.media_type == DOCKER_MANIFEST
    assert m.digest == sha256_digest(data)
    assert m.raw == data
    assert m.config.digest.endswith(
        "05455a08881ea9cf0e752bc48e61bbd71a34c029bb13df01e40e3e70e0d007bd"
    )
    assert m.config.size == 1471
    assert [(x.size, x.media_type) for x in m.layers] == [
        (3408729, "application/vnd.docker.image.rootfs.diff.tar.gzip")
    ]


def test_buildkit_index_keeps_attestation_annotations() -> None:
    idx = parse(load("buildkit-oci-index-attestations.json"))
    assert isinstance(idx, Index)
    assert idx.media_type == OCI_INDEX
    assert len(idx.manifests) == 6
    assert str(idx.manifests[1].platform) == "linux/arm/v7"
    att = dict(idx.manifests[3].annotations)
    assert att["vnd.docker.reference.type"] == "attestation-manifest"
    assert att["vnd.docker.reference.digest"] == idx.manifests[0].digest
    assert idx.manifests[3].platform == Platform("unknown", "unknown")


def test_buildkit_manifest_keeps_layer_order_and_sizes() -> None:
    m = parse(load("buildkit-oci-manifest-amd64.json"), OCI_MANIFEST)
    assert isinstance(m, Manifest)
    assert m.config.size == 2842
    assert len(m.layers) == 11
    assert m.layers[9].size == 36529876
    # BuildKit's well-known empty layer (a gzip of an empty tar) closes the list
    assert m.layers[-1].digest == (
        "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1"
    )


def test_oci_manifest_with_zstd_nondistributable_layers_and_urls() -> None:
    m = parse(load("oci-manifest-zstd-annotated.json"))
    assert isinstance(m, Manifest)
    assert m.layers[0].media_type == OCI_LAYER_ZSTD
    foreign = m.layers[2]
    assert foreign.media_type == OCI_LAYER_ND_GZIP
    assert foreign.urls[0].startswith("https://mcr.microsoft.com/")


def test_schema1_is_refused_with_advice() -> None:
    msg = reason(load("schema1-signed.json"))
    assert "schema 1 manifests are unsupported; re-push the image with a current client" in msg


def test_schema1_content_type_is_refused_even_when_body_looks_modern() -> None:
    body = json.dumps(manifest_doc()).encode()
    assert "schema 1" in reason(body, "application/vnd.docker.distribution.manifest.v1+prettyjws")


def test_helm_chart_is_refused_naming_its_config_type() -> None:
    msg = reason(load("helm-chart.json"))
    assert "application/vnd.cncf.helm.config.v1+json" in msg


def test_cosign_signature_is_refused_naming_its_layer_type() -> None:
    msg = reason(load("cosign-signature.json"))
    assert "layers[0]" in msg
    assert "application/vnd.dev.cosign.simplesigning.v1+json" in msg


def test_oci_artifact_is_refused_naming_its_artifact_type() -> None:
    assert "application/spdx+json" in reason(load("oci-artifact-sbom.json"))


# -- media type resolution ----------------------------------------------------------------


def test_shape_infers_index_without_media_type() -> None:
    body = json.dumps({"schemaVersion": 2, "manifests": [desc()]}).encode()
    idx = parse(body, "application/octet-stream")
    assert isinstance(idx, Index)
    assert idx.media_type == OCI_INDEX


def test_shape_infers_manifest_without_media_type() -> None:
    doc = manifest_doc()
    del doc["mediaType"]
    m = parse(json.dumps(doc).encode())
    assert isinstance(m, Manifest)
    assert m.media_type == OCI_MANIFEST


def test_content_type_used_when_document_has_none() -> None:
    doc = manifest_doc(config=desc("application/vnd.docker.container.image.v1+json"))
    del doc["mediaType"]
    m = parse(json.dumps(doc).encode(), DOCKER_MANIFEST)
    assert m.media_type == DOCKER_MANIFEST


def test_content_type_disagreeing_with_document_is_refused() -> None:
    body = json.dumps(manifest_doc()).encode()
    assert "disagrees" in reason(body, DOCKER_LIST)


def test_index_with_layers_is_ambiguous() -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [], "layers": []})
    assert "must not contain" in reason(body.encode())


def test_manifest_with_manifests_is_ambiguous() -> None:
    body = json.dumps(manifest_doc(manifests=[]))
    assert "must not contain 'manifests'" in reason(body.encode())


def test_shape_with_both_is_refused() -> None:
    doc = manifest_doc(manifests=[])
    del doc["mediaType"]
    assert "refusing to guess" in reason(json.dumps(doc).encode())


def test_unknown_media_type_is_named() -> None:
    body = json.dumps(manifest_doc(mediaType="application/vnd.acme.thing+json")).encode()
    assert "'application/vnd.acme.thing+json'" in reason(body)


def test_uncompressed_docker_layers_are_images() -> None:
    doc = manifest_doc(mediaType=DOCKER_MANIFEST, layers=[desc(DOCKER_LAYER)])
    m = parse(json.dumps(doc).encode())
    assert isinstance(m, Manifest)
    assert m.layers[0].media_type == DOCKER_LAYER


def test_manifest_without_layers_is_valid() -> None:
    m = parse(json.dumps(manifest_doc(layers=[])).encode())
    assert isinstance(m, Manifest)
    assert m.layers == ()


# -- malformed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (manifest_doc(schemaVersion=3), "schemaVersion 3"),
        (manifest_doc(schemaVersion=True), "schemaVersion True"),
        (manifest_doc(layers={}), "'layers' must be an array, got object"),
        (manifest_doc(config="x"), "config must be an object, got string"),
        (
            manifest_doc(layers=[desc(OCI_LAYER_ZSTD, size=-1)]),
            "layers[0].size must not be negative",
        ),
        (
            manifest_doc(layers=[desc(OCI_LAYER_ZSTD, size=1.5)]),
            "layers[0].size must be an integer",
        ),
        (
            manifest_doc(layers=[desc(OCI_LAYER_ZSTD, size="1")]),
            "layers[0].size must be an integer",
        ),
        (manifest_doc(layers=[desc(OCI_LAYER_ZSTD, digest="md5:00")]), "layers[0].digest"),
        (
            manifest_doc(layers=[desc(OCI_LAYER_ZSTD, digest="sha256:" + "A" * 64)]),
            "lower-case hex",
        ),
        (manifest_doc(layers=[desc(OCI_LAYER_ZSTD, urls="x")]), "urls must be an array"),
        (manifest_doc(layers=[desc(OCI_LAYER_ZSTD, annotations={"a": 1})]), "annotations"),
        (manifest_doc(mediaType=7), "'mediaType' must be a string"),
        (
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc(platform=[])]},
            "platform",
        ),
        ({"schemaVersion": 2, "mediaType": OCI_INDEX}, "'manifests' must be an array, got null"),
    ],
)
def test_malformed_documents_get_one_line_reasons(doc: dict[str, Any], expected: str) -> None:
    assert expected in reason(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "malformed JSON at line 1 column 1"),
        (b"[]", "expected a JSON object, got array"),
        (b"\xff\xfe{}", "not UTF-8 at byte 0"),
        (b'{"schemaVersion": 2, "schemaVersion": 2}', "duplicate JSON key 'schemaVersion'"),
        (b'{"schemaVersion": Infinity}', "non-standard constant Infinity"),
        (b'{"a":' * 100_000, "nested deeper than 64"),
        (b"[" * 10_000_000, "nested deeper than 64"),
        # unterminated string full of escaped quotes: must stay a linear scan
        (b'"' + b'\\"' * 1_000_000, "malformed JSON"),
    ],
)
def test_malformed_json(data: bytes, expected: str) -> None:
    with pytest.raises((UnsupportedManifest, LimitExceeded)) as exc:
        parse_manifest(data, H, None, where=WHERE, max_bytes=16 * 1024 * 1024)
    assert expected in str(exc.value)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    doc = manifest_doc(annotations={"x": "[" * 1000 + '\\"{' * 100})
    assert isinstance(parse(json.dumps(doc).encode()), Manifest)


def test_size_limit() -> None:
    body = json.dumps(manifest_doc()).encode()
    with pytest.raises(LimitExceeded) as exc:
        parse_manifest(body, H, None, where=WHERE, max_bytes=len(body) - 1)
    assert exc.value.limit == "limits.manifest_bytes"
    assert str(exc.value).startswith(WHERE)


def test_invalid_caller_digest_is_refused() -> None:
    with pytest.raises(UnsupportedManifest, match="manifest digest"):
        parse_manifest(json.dumps(manifest_doc()).encode(), "latest", None, where=WHERE)


def test_parse_descriptor_names_its_field() -> None:
    with pytest.raises(UnsupportedManifest, match=r"^w: subject.size must be an integer"):
        parse_descriptor({"mediaType": "x", "digest": H}, "w", "subject")


# -- configs ------------------------------------------------------------------------------


def test_config_platform_history_and_diff_ids() -> None:
    data = load("debian-config.json")
    cfg = parse_config(data, sha256_digest(data), where=WHERE)
    assert cfg.platform == Platform("linux", "arm64", "v8")
    assert cfg.diff_ids == (
        "sha256:38bbd8f2b0f1a3fbd9e9c5f43ab7e3a9c6c0c0c42af42a6e8f5cb0b1a9c5b0e8",
    )
    assert cfg.created == "2024-06-13T00:00:00Z"
    assert cfg.created_by()[0] == "# debian.sh --arch 'arm64' out/ 'bookworm' '@1718236800'"
    assert cfg.raw == data


def test_config_empty_layers_are_skipped_in_created_by() -> None:
    data = load("alpine-config-with-empty-layers.json")
    cfg = parse_config(data, sha256_digest(data), where=WHERE)
    assert len(cfg.history) == 2
    assert cfg.created_by() == (
        "/bin/sh -c #(nop) ADD file:"
        "37a76ec18f9887751cd8473744917d08b7431fc4085097bb6a09d81b41775473 in / ",
    )


def test_windows_config_os_version_and_null_history() -> None:
    data = load("windows-config.json")
    cfg = parse_config(data, sha256_digest(data), where=WHERE)
    assert cfg.platform == Platform("windows", "amd64", None, "10.0.20348.2340")
    assert cfg.history == ()


def config_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "os": "linux",
        "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [H]},
        "history": [{"created_by": "x"}],
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (config_doc(rootfs=None), "'rootfs' must be an object, got null"),
        (config_doc(rootfs={"type": "squashfs", "diff_ids": []}), "rootfs.type 'squashfs'"),
        (config_doc(rootfs={"type": "layers", "diff_ids": H}), "must be an array, got string"),
        (config_doc(rootfs={"type": "layers", "diff_ids": [H, "sha256:1"]}), "diff_ids[1]"),
        (config_doc(history=[1]), "history[0] must be an object, got number"),
        (config_doc(history=[{"created_by": ["a"]}]), "history[0].created_by must be a string"),
        (config_doc(history=[{"empty_layer": "yes"}]), "history[0].empty_layer must be a boolean"),
        (config_doc(os=3), "'os' and 'architecture'"),
        (config_doc(variant=8), "config.variant must be a string"),
        (config_doc(created=1), "'created' must be a string"),
    ],
)
def test_malformed_configs(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(UnsupportedManifest) as exc:
        parse_config(json.dumps(doc).encode(), H, where=WHERE)
    assert str(exc.value).startswith(WHERE + ": ")
    assert expected in str(exc.value)


def test_config_with_null_diff_ids_has_no_layers() -> None:
    doc = config_doc(rootfs={"type": "layers", "diff_ids": None}, history=None)
    cfg = parse_config(json.dumps(doc).encode(), H, where=WHERE)
    assert cfg.diff_ids == ()
    assert cfg.created_by() == ()


def test_config_without_platform_is_allowed() -> None:
    doc = config_doc()
    del doc["os"], doc["architecture"]
    assert parse_config(json.dumps(doc).encode(), H, where=WHERE).platform is None


# -- fuzzing ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "mediaType",
                    "digest",
                    "size",
                    "schemaVersion",
                    "manifests",
                    "config",
                    "layers",
                    "platform",
                    "os",
                    "architecture",
                    "rootfs",
                    "diff_ids",
                    "type",
                    "history",
                    "urls",
                    "annotations",
                    "variant",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def mutate(doc: dict[str, Any]) -> st.SearchStrategy[bytes]:
    base = json.dumps(doc).encode()
    return st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.tuples(st.integers(0, len(base)), st.binary(max_size=8)).map(
            lambda t: base[: t[0]] + t[1] + base[t[0] + len(t[1]) :]
        ),
    )


@settings(max_examples=400)
@given(
    data=mutate(manifest_doc()) | mutate({"schemaVersion": 2, "manifests": [desc()]}),
    media_type=st.none() | st.sampled_from([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, "text/plain"]),
)
def test_fuzz_parse_manifest_never_crashes(data: bytes, media_type: str | None) -> None:
    try:
        result = parse_manifest(data, H, media_type, where=WHERE)
    except UnsupportedManifest as e:
        assert str(e).startswith(WHERE + ": ")
        assert "\n" not in str(e)
    else:
        assert isinstance(result, Index | Manifest)


@settings(max_examples=400)
@given(data=mutate(config_doc()))
def test_fuzz_parse_config_never_crashes(data: bytes) -> None:
    try:
        cfg = parse_config(data, H, where=WHERE)
    except UnsupportedManifest as e:
        assert str(e).startswith(WHERE + ": ")
        assert "\n" not in str(e)
    else:
        assert all(d.startswith("sha") for d in cfg.diff_ids)
        cfg.created_by()
