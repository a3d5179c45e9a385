"""SPDX 2.3 JSON: valid for the official schema and for spdx-tools, faithful and stable."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from shoal.export import SpdxJsonFormatter
from shoal.model import Package, PackageType, Sbom

from .conftest import check_golden, load_case
from .strategies import sboms


@cache
def official_schema() -> dict[str, Any]:
    # The official SPDX 2.3 JSON schema (spdx/spdx-spec schemas/spdx-schema.json) as the
    # lib4sbom package ships it; spdx-tools does not ship the schema itself.
    text = files("lib4sbom").joinpath("schemas/spdx/2.3-schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    assert schema["$id"] == "http://spdx.org/rdf/terms/2.3"
    return schema


def render(sbom: Sbom) -> str:
    buf = io.BytesIO()
    SpdxJsonFormatter().write(sbom, buf)
    return buf.getvalue().decode("utf-8")


def assert_valid(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    jsonschema.validate(doc, official_schema())
    parsed = JsonLikeDictParser().parse(doc)  # type: ignore[no-untyped-call]
    messages = validate_full_spdx_document(parsed)
    assert messages == [], [m.validation_message for m in messages]
    return doc


def pkg_named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["packages"] if p["name"] == name)


def test_every_case_is_valid_spdx(case: tuple[str, Sbom]) -> None:
    assert_valid(render(case[1]))


def test_golden(case: tuple[str, Sbom]) -> None:
    name, sbom = case
    check_golden("spdx-json", name, render(sbom))


def test_document_describes_the_image_which_contains_everything() -> None:
    doc = assert_valid(render(load_case("debian-bookworm-app")))
    image = doc["packages"][0]
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert image["name"] == "127.0.0.1:5000/team/web"
    assert image["externalRefs"][0]["referenceLocator"].startswith("pkg:oci/web@sha256:")
    rels = doc["relationships"]
    assert rels[0] == {
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": image["SPDXID"],
    }
    contained = {r["relatedSpdxElement"] for r in rels[1:]}
    assert all(r["spdxElementId"] == image["SPDXID"] for r in rels[1:])
    assert all(r["relationshipType"] == "CONTAINS" for r in rels[1:])
    assert contained == {p["SPDXID"] for p in doc["packages"][1:]}
    os_ = doc["packages"][1]
    assert (os_["name"], os_["versionInfo"], os_["primaryPackagePurpose"]) == (
        "debian",
        "12",
        "OPERATING_SYSTEM",
    )


def test_creation_info_and_namespace() -> None:
    a = json.loads(render(load_case("alpine-3.14")))
    b = json.loads(render(load_case("alpine-3.14")))
    assert a["creationInfo"]["creators"] == ["Organization: shoal", "Tool: shoal-0.1.0"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["creationInfo"]["created"])
    assert a["documentNamespace"].startswith("https://shoal.dev/spdxdocs/docker.io-library-alpine-")
    assert a["documentNamespace"] != b["documentNamespace"]


def test_package_fields() -> None:
    sbom = load_case("debian-bookworm-app")
    doc = json.loads(render(sbom))
    bash = pkg_named(doc, "bash")
    src = next(p for p in sbom.packages if p.name == "bash")
    assert re.fullmatch(r"SPDXRef-Package-deb-bash-[0-9a-f]{16}", bash["SPDXID"])
    assert bash["versionInfo"] == src.version
    assert bash["primaryPackagePurpose"] == "LIBRARY"
    assert bash["externalRefs"] == [
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": src.purl,
        }
    ]
    for field in ("supplier", "downloadLocation", "licenseConcluded", "copyrightText"):
        assert bash[field] == "NOASSERTION"
    assert bash["filesAnalyzed"] is False
    assert bash["comment"] == f"introduced in layer {src.layer} by: {src.layer_created_by}"
    facts = bash["annotations"][0]["comment"].splitlines()
    assert f"shoal:layer:diffID={src.layer}" in facts
    assert "shoal:location:1:path=/usr/share/doc/bash/copyright" in facts
    assert "shoal:source:version=5.2.15-2" in facts


def test_licences_become_one_expression_with_licence_refs_for_free_text() -> None:
    doc = assert_valid(render(load_case("debian-bookworm-app")))
    refs = {e["licenseId"]: e["extractedText"] for e in doc["hasExtractedLicensingInfos"]}
    bash = pkg_named(doc, "bash")["licenseDeclared"]
    # bash's copyright file: Debian short names (GPL-3+), SPDX ids in other case
    # (BSD-4-clause-UC) and prose ("BSD-4-clause-UC and MIT-like")
    terms = bash.split(" AND ")
    assert "BSD-4-Clause-UC" in terms and "Latex2e" in terms
    free = {refs[t] for t in terms if t.startswith("LicenseRef-")}
    assert {"GPL-3+", "GPL-2+", "BSD-4-clause-UC and MIT-like", "permissive"} <= free
    assert pkg_named(doc, "zlib1g")["licenseDeclared"] == "Zlib"
    assert pkg_named(doc, "is-number")["licenseDeclared"] == "NOASSERTION"


def test_alpine_expressions_are_kept_and_normalised() -> None:
    doc = assert_valid(render(load_case("alpine-3.14")))
    assert pkg_named(doc, "libretls")["licenseDeclared"] == "ISC AND (BSD-3-Clause OR MIT)"
    assert pkg_named(doc, "ca-certificates-bundle")["licenseDeclared"] == "MPL-2.0 AND MIT"
    assert pkg_named(doc, "musl-utils")["licenseDeclared"] == "LicenseRef-MIT-BSD-GPL2"


def test_free_texts_that_sanitise_alike_get_distinct_refs() -> None:
    pkgs = tuple(
        Package(
            name=f"p{i}",
            version="1",
            type=PackageType.GEM,
            cataloger="ruby/gemspec",
            licenses=(lic,),
        )
        for i, lic in enumerate(["GPL v2", "GPL/v2", "GPL v2"])
    )
    sbom = dataclasses.replace(load_case("oci-layout-static"), packages=pkgs)
    doc = assert_valid(render(sbom))
    extracted = {e["extractedText"]: e["licenseId"] for e in doc["hasExtractedLicensingInfos"]}
    assert "GPL v2" in extracted and "GPL/v2" in extracted
    assert extracted["GPL v2"] != extracted["GPL/v2"]
    assert pkg_named(doc, "p0")["licenseDeclared"] == pkg_named(doc, "p2")["licenseDeclared"]


def test_unknowns_are_document_annotations() -> None:
    doc = json.loads(render(load_case("oci-layout-static")))
    (note,) = doc["annotations"]
    assert note["comment"].splitlines() == [
        "shoal:unknown:path=/usr/local/bin/stripped",
        "shoal:unknown:cataloger=go/binary",
        "shoal:unknown:reason=no Go build information in ELF sections",
    ]


def test_output_is_stable_apart_from_namespace_and_times() -> None:
    sbom = load_case("debian-bookworm-app")

    def strip(text: str) -> str:
        text = re.sub(r"-[0-9a-f-]{36}\"", '"', text)
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "T", text)

    a = strip(render(sbom))
    b = strip(render(dataclasses.replace(sbom, packages=tuple(reversed(sbom.packages)))))
    assert a == b


def test_ten_thousand_packages() -> None:
    base = load_case("alpine-3.14")
    pkgs = tuple(
        dataclasses.replace(base.packages[0], name=f"lib{i}", licenses=(f"custom {i % 100}", "MIT"))
        for i in range(10_000)
    )
    doc = json.loads(render(dataclasses.replace(base, packages=pkgs)))
    assert len(doc["packages"]) == 10_002
    assert len({p["SPDXID"] for p in doc["packages"]}) == 10_002
    assert len(doc["hasExtractedLicensingInfos"]) == 100


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sboms)
def test_any_sbom_gives_a_valid_document(sbom: Sbom) -> None:
    doc = assert_valid(render(sbom))
    ids = [p["SPDXID"] for p in doc["packages"]]
    assert len(ids) == len(set(ids)) == 1 + (sbom.distro is not None) + len(sbom.packages)
