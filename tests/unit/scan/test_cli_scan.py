"""`shoal scan` through the CLI, against a DB built from the real OSV feeds."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from shoal.cli.main import app
from tests.unit.scan.conftest import SYFT_CDX, SYFT_SPDX
from tests.unit.scan.test_formats import sarif_schema, scan_schema

runner = CliRunner()


def scan(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["scan", *args])
    return res.exit_code, res.stdout, res.stderr


DJANGO_3_2_CVES = 25  # every PYSEC record of the real feed whose ranges hold django 3.2


@pytest.mark.parametrize("sbom", [SYFT_CDX, SYFT_SPDX], ids=["cyclonedx", "spdx"])
def test_scan_syft_sbom_json(real_db: Path, sbom: Path) -> None:
    code, out, _ = scan("--sbom", str(sbom), "--db", str(real_db), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    jsonschema.Draft202012Validator(scan_schema()).validate(doc)
    by_pkg: dict[str, set[str]] = {}
    for f in doc["findings"]:
        by_pkg.setdefault(f["package"]["name"], set()).add(f["vulnerability"])
    assert len(by_pkg["django"]) == DJANGO_3_2_CVES
    assert by_pkg["pyyaml"] == {"CVE-2020-14343"}
    assert by_pkg["urllib3"] == {"CVE-2021-33503", "CVE-2023-43804", "CVE-2023-45803"}
    assert set(by_pkg) == {"django", "pyyaml", "urllib3"}


def test_fail_on_sets_the_exit_code(real_db: Path) -> None:
    code, _, err = scan(
        "--sbom", str(SYFT_CDX), "--db", str(real_db), "--fail-on", "high", "-o", "json"
    )
    assert code == 1
    assert "findings at or above high remain (--fail-on)" in err
    code, _, _ = scan(
        "--sbom", str(SYFT_CDX), "--db", str(real_db), "--fail-on", "critical", "-o", "json"
    )
    assert code == 0


def test_ignore_file_and_expiry_warning(real_db: Path, tmp_path: Path) -> None:
    ignore = tmp_path / "ignore.txt"
    ignore.write_text("CVE-2023-43804 reason: not reachable\nCVE-2020-14343 exp:2020-01-01\n")
    code, out, err = scan(
        "--sbom",
        str(SYFT_CDX),
        "--db",
        str(real_db),
        "--ignore-file",
        str(ignore),
        "-o",
        "json",
        "--fail-on",
        "high",
    )
    assert code == 0  # the only high finding is ignored
    doc = json.loads(out)
    assert [i["vulnerability"] for i in doc["ignored"]] == ["CVE-2023-43804"]
    assert "ignore rule CVE-2020-14343" in err and "expired on 2020-01-01" in err


def test_default_ignore_file_in_cwd(
    real_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".shoalignore").write_text("CVE-2023-43804\n")
    code, out, _ = scan("--sbom", str(SYFT_CDX), "--db", str(real_db), "-o", "json")
    assert code == 0 and len(json.loads(out)["ignored"]) == 1


def test_sarif_output_to_file(real_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    code, _, _ = scan(
        "--sbom", str(SYFT_CDX), "--db", str(real_db), "-o", "sarif", "--output", str(out)
    )
    assert code == 0
    jsonschema.Draft4Validator(sarif_schema()).validate(json.loads(out.read_text()))
    assert not (tmp_path / "r.sarif.part").exists()


def test_table_severity_filter(real_db: Path) -> None:
    code, out, _ = scan("--sbom", str(SYFT_CDX), "--db", str(real_db), "--severity", "high")
    assert code == 0
    assert "CVE-2023-43804" in out and "1 findings: 1 high (28 filtered)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "error: give either an IMAGE or --sbom FILE (not both)"),
        (
            ["-o", "xml"],
            "error: unknown scan output format 'xml': expected one of table, json, sarif, cyclonedx-json",
        ),
        (
            ["--fail-on", "severe"],
            "error: --fail-on 'severe': expected one of critical, high, medium, low, negligible, unknown",
        ),
        (["--severity", "hgih"], "error: unknown severity 'hgih'"),
        (
            ["--ignore-file", "/nonexistent/x"],
            "error: ignore file '/nonexistent/x': No such file or directory",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(real_db: Path, args: list[str], message: str) -> None:
    base = [] if not args else ["--sbom", str(SYFT_CDX)]
    code, _, err = scan(*base, "--db", str(real_db), *args)
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_missing_db_is_built_from_the_bundled_feeds_offline(tmp_path: Path) -> None:
    db = tmp_path / "new" / "vuln.db"
    code, out, err = scan("--sbom", str(SYFT_CDX), "--db", str(db), "--offline", "-o", "json")
    assert code == 0, err
    assert "building it from the feed snapshots bundled with shoal (no network)" in err
    assert db.is_file()
    doc = json.loads(out)
    assert len(doc["findings"]) == 29  # the bundled OSV PyPI snapshot, as with the real DB
    code, _, err = scan("--sbom", str(SYFT_CDX), "--db", str(db), "-o", "json")
    assert code == 0 and "building" not in err  # built once


def test_unusable_db_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "vuln.db"
    bad.write_bytes(b"this is not sqlite")
    code, _, err = scan("--sbom", str(SYFT_CDX), "--db", str(bad))
    assert code == 2 and err.count("\n") == 1 and str(bad) in err


def test_offline_refuses_registry_references(real_db: Path) -> None:
    code, _, err = scan("registry.example/app:1", "--offline", "--db", str(real_db))
    assert code == 2
    assert "--offline: 'registry.example/app:1' would be pulled from a registry" in err


def test_malformed_sbom_is_one_line(real_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "CycloneDX", "components": [')
    code, _, err = scan("--sbom", str(bad), "--db", str(real_db))
    assert code == 2 and err.count("\n") == 1 and "not JSON (line 1" in err


def test_error_text_is_not_taken_for_markup(real_db: Path, tmp_path: Path) -> None:
    ignore = tmp_path / "ign"
    ignore.write_text("CVE-1 [bold]x\n")
    code, _, err = scan("--sbom", str(SYFT_CDX), "--db", str(real_db), "--ignore-file", str(ignore))
    assert code == 2
    assert "unexpected '[bold]x'" in err


def test_offline_scan_of_a_local_oci_layout(real_db: Path, tmp_path: Path) -> None:
    from tests.support.images import OciLayoutBuilder
    from tests.unit.scan.conftest import TESTDATA

    root = TESTDATA / "image"
    files = {"/" + str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    layout = OciLayoutBuilder(tmp_path / "layout")
    layout.add_image([files], tag="v1")
    code, out, err = scan(
        f"oci-dir:{layout.path}:v1", "--offline", "--db", str(real_db), "-o", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["findings"] == 29
    assert doc["target"]["distro"]["codename"] == "bookworm"
