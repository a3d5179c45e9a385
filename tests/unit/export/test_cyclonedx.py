"""CycloneDX 1.6 JSON: schema-valid, faithful to the SBOM, stable, and fast at scale."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model.bom import Bom
from cyclonedx.model.component import ComponentType
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from hypothesis import HealthCheck, given, settings

from shoal.export import CycloneDxJsonFormatter
from shoal.export.base import clean_sbom, safe_purl
from shoal.model import Location, Package, PackageType, Sbom

from .conftest import check_golden, load_case
from .strategies import sboms

VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)


def render(sbom: Sbom, **kw: Any) -> str:
    buf = io.BytesIO()
    CycloneDxJsonFormatter(**kw).write(sbom, buf)
    return buf.getvalue().decode("utf-8")


def assert_valid(text: str) -> None:
    error = VALIDATOR.validate_str(text)
    assert error is None, str(error)


def by_name(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["name"] == name)


def props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def test_every_case_validates_against_the_strict_1_6_schema(case: tuple[str, Sbom]) -> None:
    assert_valid(render(case[1]))


def test_the_library_reads_the_document_back(case: tuple[str, Sbom]) -> None:
    sbom = case[1]
    bom = Bom.from_json(json.loads(render(sbom)))  # type: ignore[attr-defined]
    assert bom.metadata.component is not None
    assert bom.metadata.component.type is ComponentType.CONTAINER
    assert len(bom.components) == len(sbom.packages) + (sbom.distro is not None)
    assert {str(c.purl) for c in bom.components if c.purl} == {p.purl for p in sbom.packages}


def test_golden(case: tuple[str, Sbom]) -> None:
    name, sbom = case
    check_golden("cyclonedx-json", name, render(sbom))


def test_image_is_the_metadata_component_with_an_oci_purl() -> None:
    doc = json.loads(render(load_case("alpine-3.14")))
    image = doc["metadata"]["component"]
    assert image["type"] == "container"
    assert image["name"] == "docker.io/library/alpine"
    assert image["version"].startswith("sha256:")
    assert image["purl"].startswith(f"pkg:oci/alpine@{image['version']}?")
    assert "repository_url=docker.io/library/alpine" in image["purl"]
    assert "arch=arm" in image["purl"] and "tag=3.14" in image["purl"]
    p = props(image)
    assert p["shoal:image:platform"] == ["linux/arm/v7"]
    assert p["shoal:image:layer:0:diffID"][0].startswith("sha256:")
    assert doc["metadata"]["tools"]["components"] == [
        {"name": "shoal", "type": "application", "version": "0.1.0"}
    ]


def test_distro_is_an_operating_system_component() -> None:
    doc = json.loads(render(load_case("debian-bookworm-app")))
    os_ = next(c for c in doc["components"] if c["type"] == "operating-system")
    assert (os_["name"], os_["version"]) == ("debian", "12")
    assert os_["description"] == "Debian GNU/Linux 12 (bookworm)"
    assert props(os_)["shoal:distro:versionCodename"] == ["bookworm"]


def test_packages_carry_purl_layer_location_cataloger_and_source() -> None:
    sbom = load_case("debian-bookworm-app")
    doc = json.loads(render(sbom))
    bash = by_name(doc, "bash")
    pkg = next(p for p in sbom.packages if p.name == "bash")
    assert bash["type"] == "library"
    assert bash["purl"] == pkg.purl
    assert bash["bom-ref"].startswith(pkg.purl + "&package-id=")
    p = props(bash)
    assert p["shoal:layer:diffID"] == [pkg.layer]
    assert p["shoal:layer:createdBy"] == [pkg.layer_created_by]
    assert p["shoal:location:0:path"] == ["/var/lib/dpkg/status"]
    assert p["shoal:location:1:path"] == ["/usr/share/doc/bash/copyright"]
    assert p["shoal:cataloger"] == ["os/dpkg"]
    assert p["shoal:source:name"] == ["bash"]
    assert p["shoal:source:version"] == ["5.2.15-2"]


def test_licences_use_ids_names_and_expressions() -> None:
    doc = json.loads(render(load_case("alpine-3.14")))
    assert by_name(doc, "zlib")["licenses"] == [{"license": {"id": "Zlib"}}]
    assert by_name(doc, "libretls")["licenses"] == [{"expression": "ISC AND (BSD-3-Clause OR MIT)"}]
    # pre-SPDX free text is kept as a name, not guessed at
    assert by_name(doc, "musl-utils")["licenses"] == [{"license": {"name": "MIT BSD GPL2+"}}]


def test_mixed_expression_and_free_text_keeps_every_licence() -> None:
    pkg = Package(
        name="x",
        version="1",
        type=PackageType.NPM,
        cataloger="npm/package-lock",
        licenses=("MIT OR Apache-2.0", "Some Custom Licence", "bsd-3-clause"),
    )
    doc = json.loads(render(dataclasses.replace(load_case("oci-layout-static"), packages=(pkg,))))
    # the library orders licences itself; order carries no meaning in CycloneDX
    got = sorted(by_name(doc, "x")["licenses"], key=lambda x: json.dumps(x, sort_keys=True))
    assert got == [
        {"license": {"id": "BSD-3-Clause"}},
        {"license": {"name": "MIT OR Apache-2.0"}},
        {"license": {"name": "Some Custom Licence"}},
    ]


def test_several_spdx_licences_with_an_expression_are_conjoined() -> None:
    pkg = Package(
        name="x",
        version="1",
        type=PackageType.NPM,
        cataloger="npm/package-lock",
        licenses=("MIT OR Apache-2.0", "ISC"),
    )
    doc = json.loads(render(dataclasses.replace(load_case("oci-layout-static"), packages=(pkg,))))
    assert by_name(doc, "x")["licenses"] == [{"expression": "(MIT OR Apache-2.0) AND ISC"}]


def test_image_depends_on_every_component() -> None:
    doc = json.loads(render(load_case("debian-bookworm-app")))
    refs = sorted(c["bom-ref"] for c in doc["components"])
    assert doc["dependencies"] == [
        {"ref": doc["metadata"]["component"]["bom-ref"], "dependsOn": refs}
    ]
    assert len(set(refs)) == len(refs) == 18  # 17 packages + the distro


def test_unknowns_are_kept_as_metadata_properties() -> None:
    doc = json.loads(render(load_case("debian-bookworm-app")))
    p = props(doc["metadata"])
    assert p["shoal:unknown:0:path"] == ["/srv/web/node_modules/broken/package.json"]
    assert p["shoal:unknown:1:reason"] == ["missing 'Version' header"]


def test_no_manifest_digest_means_no_oci_purl_but_the_config_digest_as_version() -> None:
    sbom = load_case("oci-layout-static")
    doc = json.loads(render(sbom))
    image = doc["metadata"]["component"]
    assert "purl" not in image
    assert image["version"] == sbom.image.config_digest
    assert image["name"] == "/srv/layouts/agent"


def test_serial_and_timestamp_come_from_the_injected_sources() -> None:
    fixed = uuid.UUID("12345678-1234-5678-1234-567812345678")
    when = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    doc = json.loads(render(load_case("alpine-3.14"), clock=lambda: when, new_uuid=lambda: fixed))
    assert doc["serialNumber"] == f"urn:uuid:{fixed}"
    assert doc["metadata"]["timestamp"] == "2026-01-02T03:04:05+00:00"


def test_output_is_stable_apart_from_serial_and_timestamp() -> None:
    sbom = load_case("debian-bookworm-app")
    a, b = json.loads(render(sbom)), json.loads(render(sbom))
    assert a["serialNumber"] != b["serialNumber"]
    for doc in (a, b):
        del doc["serialNumber"], doc["metadata"]["timestamp"]
    assert a == b
    shuffled = dataclasses.replace(sbom, packages=tuple(reversed(sbom.packages)))
    c = json.loads(render(shuffled))
    del c["serialNumber"], c["metadata"]["timestamp"]
    assert c == a


def test_the_same_package_twice_gets_two_distinct_bom_refs() -> None:
    pkg = Package(
        name="ms",
        version="2.1.2",
        type=PackageType.NPM,
        cataloger="npm/package-lock",
        locations=(Location("/srv/package-lock.json"),),
    )
    doc = json.loads(
        render(dataclasses.replace(load_case("oci-layout-static"), packages=(pkg, pkg)))
    )
    refs = [c["bom-ref"] for c in doc["components"]]
    assert len(refs) == 2 and len(set(refs)) == 2
    assert_valid(json.dumps(doc))


def test_ten_thousand_packages_are_written_in_full() -> None:
    base = load_case("debian-bookworm-app")
    template = base.packages[0]
    pkgs = tuple(
        dataclasses.replace(template, name=f"lib{i}", version=f"1.{i}", licenses=("GPL-2+", "MIT"))
        for i in range(10_000)
    )
    doc = json.loads(render(dataclasses.replace(base, packages=pkgs)))
    assert len(doc["components"]) == 10_001
    assert len(doc["dependencies"][0]["dependsOn"]) == 10_001


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sboms)
def test_any_sbom_gives_a_valid_document(sbom: Sbom) -> None:
    text = render(sbom)
    assert_valid(text)
    doc = json.loads(text)
    assert len(doc["components"]) == len(sbom.packages) + (sbom.distro is not None)
    # purls pass through the library's PackageURL unchanged (up to the case of
    # percent-escapes, which RFC 3986 makes equivalent)
    clean = clean_sbom(sbom)
    written = sorted(_escapes_upper(c["purl"]) for c in doc["components"] if "purl" in c)
    assert written == sorted(
        _escapes_upper(p) for p in map(safe_purl, clean.packages) if p is not None
    )


def _escapes_upper(purl: str) -> str:
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), purl)
