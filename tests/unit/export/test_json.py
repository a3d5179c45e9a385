"""shoal's native JSON: matches its published schema, round-trips, and rejects bad input
with one clear line."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.export import NativeJsonFormatter, SbomFormatError, from_native_json, to_native
from shoal.export.base import clean_sbom, sorted_packages, sorted_unknowns
from shoal.export.json import SCHEMA_ID, native_schema
from shoal.model import Sbom

from .conftest import CASES, TESTDATA, check_golden, load_case, updating_golden
from .strategies import sboms


def render(sbom: Sbom) -> bytes:
    buf = io.BytesIO()
    NativeJsonFormatter().write(sbom, buf)
    return buf.getvalue()


def canonical(sbom: Sbom) -> Sbom:
    """What a round trip gives back: clean text, packages and unknowns in output order."""
    sbom = clean_sbom(sbom)
    return dataclasses.replace(
        sbom,
        packages=tuple(sorted_packages(sbom.packages)),
        unknowns=tuple(sorted_unknowns(sbom.unknowns)),
    )


def test_schema_is_valid_draft_2020_12_and_names_itself() -> None:
    schema = native_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_ID
    assert schema["properties"]["schema"]["const"] == SCHEMA_ID


def test_every_case_validates_against_the_schema(case: tuple[str, Sbom]) -> None:
    doc = json.loads(render(case[1]))
    jsonschema.Draft202012Validator(native_schema()).validate(doc)
    assert doc["schema"] == SCHEMA_ID


def test_golden(case: tuple[str, Sbom]) -> None:
    name, sbom = case
    check_golden("json", name, render(sbom).decode("utf-8"), redacted=False)


@pytest.mark.parametrize("name", CASES)
def test_fixtures_are_already_canonical(name: str) -> None:
    # The fixtures are native documents: writing what was read gives the same bytes.
    # Purls and ids in them are derived; when the model's rules change, regenerate them.
    path = TESTDATA / f"{name}.json"
    raw = path.read_bytes()
    out = render(from_native_json(raw))
    if updating_golden():
        path.write_bytes(out)
        return
    assert out == raw, f"{path} is stale: regenerate with SHOAL_UPDATE_GOLDEN=1"


def test_round_trip_keeps_every_field() -> None:
    sbom = load_case("debian-bookworm-app")
    back = from_native_json(render(sbom))
    assert back == canonical(sbom)
    bash = next(p for p in back.packages if p.name == "bash")
    assert bash.distro == sbom.distro  # not part of Package equality, so checked apart
    assert bash.purl == next(p for p in sbom.packages if p.name == "bash").purl


def test_reads_already_parsed_json_too() -> None:
    sbom = load_case("alpine-3.14")
    assert from_native_json(to_native(sbom)) == from_native_json(render(sbom))
    assert from_native_json(render(sbom).decode("utf-8")) == canonical(sbom)


def test_output_is_byte_for_byte_deterministic() -> None:
    sbom = load_case("debian-bookworm-app")
    shuffled = dataclasses.replace(
        sbom,
        packages=tuple(reversed(sbom.packages)),
        unknowns=tuple(reversed(sbom.unknowns)),
    )
    assert render(sbom) == render(shuffled)


def test_package_fields_are_written() -> None:
    doc = json.loads(render(load_case("oci-layout-static")))
    log4j = next(p for p in doc["packages"] if p["name"] == "log4j-core")
    assert log4j["namespace"] == "org.apache.logging.log4j"
    assert log4j["purl"] == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    assert log4j["licenses"] == ["Apache-2.0", "The Apache Software License, Version 2.0"]
    logrus = next(p for p in doc["packages"] if p["name"] == "github.com/sirupsen/logrus")
    assert logrus["metadata"] == [
        {"key": "go.toolchain", "value": "go1.22.4"},
        {"key": "go.main", "value": "example.com/agent"},
    ]
    assert doc["distro"] is None
    assert doc["image"]["manifestDigest"] is None


def _good() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(load_case("alpine-3.14")))
    return doc


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = _good()
    target = doc
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "native SBOM: invalid JSON at line 1 column 1: Expecting value"),
        (b"{", "native SBOM: invalid JSON at line 1 column 2"),
        (b"\xff\xfe{}", "native SBOM: "),
        (b"[1, 2]", "native SBOM: expected a JSON object, got list"),
        (b"[" * 100_000 + b"]" * 100_000, "native SBOM: "),
        (
            json.dumps({"schema": "https://shoal.dev/schema/sbom/2"}).encode(),
            "native SBOM: schema is 'https://shoal.dev/schema/sbom/2', this reader knows",
        ),
        (
            json.dumps(_mutate(["packages", 3, "type"], "nuget")).encode(),
            "native SBOM: packages[3].type: 'nuget' is not one of",
        ),
        (
            json.dumps(_mutate(["packages", 0, "name"], KeyError)).encode(),
            "native SBOM: packages[0]: 'name' is a required property",
        ),
        (
            json.dumps(_mutate(["image", "layers", 0, "size"], -1)).encode(),
            "native SBOM: image.layers[0].size: -1 is less than the minimum of 0",
        ),
        (
            json.dumps(_mutate(["image", "layers", 0, "size"], "12")).encode(),
            "native SBOM: image.layers[0].size: '12' is not of type 'integer'",
        ),
        (
            json.dumps(_mutate(["distro", "idLike"], "debian")).encode(),
            "native SBOM: distro.idLike: 'debian' is not of type 'array'",
        ),
        (
            json.dumps(_mutate(["packages", 1, "locations", 0, "extra"], 1)).encode(),
            "native SBOM: packages[1].locations[0]: Additional properties are not allowed",
        ),
        (
            json.dumps(_mutate(["packages", 1, "metadata"], [{"key": "a"}])).encode(),
            "native SBOM: packages[1].metadata[0]: 'value' is a required property",
        ),
        (
            json.dumps(_mutate(["tool"], None)).encode(),
            "native SBOM: tool: None is not of type 'object'",
        ),
    ],
)
def test_malformed_documents_fail_with_one_line(data: bytes, message: str) -> None:
    with pytest.raises(SbomFormatError) as exc:
        from_native_json(data)
    text = str(exc.value)
    assert text.startswith(message)
    assert "\n" not in text and len(text) < 400


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(SbomFormatError, match=r"over the limit of 100 \(metadata_bytes\)"):
        from_native_json(b" " * 101, max_bytes=100)


def test_long_values_are_shortened_in_messages() -> None:
    doc = _mutate(["packages", 0, "type"], "y" * 100_000)
    with pytest.raises(SbomFormatError) as exc:
        from_native_json(json.dumps(doc))
    assert len(str(exc.value)) < 400


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sboms)
def test_any_sbom_round_trips_and_validates(sbom: Sbom) -> None:
    data = render(sbom)
    jsonschema.Draft202012Validator(native_schema()).validate(json.loads(data))
    assert from_native_json(data) == canonical(sbom)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_garbage_never_crashes(data: bytes) -> None:
    with pytest.raises(SbomFormatError):
        from_native_json(data)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_valid_document_with_one_value_replaced_fails_cleanly(data: st.DataObject) -> None:
    doc = _good()
    target: Any = doc
    # walk down to a random container, then replace one of its values with junk
    while True:
        keys = list(target.keys()) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        child = target[key]
        if isinstance(child, dict | list) and child and data.draw(st.booleans()):
            target = child
            continue
        target[key] = data.draw(json_values)
        break
    try:
        back = from_native_json(json.dumps(doc))
    except SbomFormatError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(back, Sbom)


def test_ten_thousand_packages_round_trip() -> None:
    base = load_case("debian-bookworm-app")
    pkgs = tuple(
        dataclasses.replace(base.packages[0], name=f"lib{i}", version=f"1.{i}")
        for i in range(10_000)
    )
    sbom = dataclasses.replace(base, packages=pkgs)
    back = from_native_json(render(sbom))
    assert len(back.packages) == 10_000
    assert back == canonical(sbom)
