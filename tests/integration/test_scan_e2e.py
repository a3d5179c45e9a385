"""`shoal scan` end to end: an image with real old wheels' metadata (django 3.2, urllib3
1.26.4, PyYAML 5.3.1, from PyPI) and real Debian 12 dpkg data, pushed with skopeo to the
real Distribution registry, analysed through the registry client and matched against a
vulnerability DB built by `shoal.vulndb.update` from the real OSV and Debian DSA feeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoal.cli.main import app
from tests.support.images import OciLayoutBuilder, push
from tests.support.registry import Registry
from tests.unit.scan.conftest import TESTDATA, real_osv_zip

pytestmark = pytest.mark.integration
runner = CliRunner()

IMAGE_FILES = TESTDATA / "image"  # trimmed real METADATA files and dpkg stanzas


def dsa_list() -> Path:
    """The real Debian DSA list: shoal's bundled (compressed) copy."""
    from shoal.vulndb.resolve import bundled_path

    path = bundled_path("debian/dsa")
    assert path is not None, "the bundled DSA list is missing from src/shoal/data/feeds"
    return path


@pytest.fixture(scope="module")
def vuln_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoal.feeds.debian_dsa import DebianDsaFeed
    from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
    from shoal.vulndb.update import update

    root = tmp_path_factory.mktemp("e2e-db")
    (root / "in" / "osv").mkdir(parents=True)
    (root / "in" / "osv" / "PyPI.zip").symlink_to(real_osv_zip("PyPI"))
    (root / "in" / "osv" / "Go.zip").symlink_to(real_osv_zip("Go"))
    (root / "in" / "debian").mkdir()
    (root / "in" / "debian" / "dsa").symlink_to(dsa_list())
    db = root / "vuln.db"
    report = update(db, [OsvPyPIFeed(), OsvGoFeed(), DebianDsaFeed()], from_path=root / "in")
    assert not report.failed, report.to_json()
    return db


@pytest.fixture(scope="module")
def app_image(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[str]]:
    """Two layers: the Debian 12 base (os-release, dpkg status), then the Python packages."""
    files = {
        "/" + str(p.relative_to(IMAGE_FILES)): p.read_bytes()
        for p in IMAGE_FILES.rglob("*")
        if p.is_file()
    }
    base = {k: v for k, v in files.items() if not k.startswith("/usr/local")}
    site = {k: v for k, v in files.items() if k.startswith("/usr/local")}
    b = OciLayoutBuilder(tmp_path_factory.mktemp("scan-app"))
    img = b.add_image(
        [base, site],
        tag="v1",
        history=["FROM debian:bookworm", "RUN pip install -r requirements.txt"],
    )
    ref = f"{registry.host}/scan/app:v1"
    push(b.path, "v1", ref)
    return ref, img.diff_ids


def scan_json(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = runner.invoke(app, ["scan", *args, "-o", "json"])
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


# (vulnerability, package, fixed version, effective severity, where the severity comes from)
EXPECTED = {
    ("CVE-2020-14343", "PyYAML", "5.4", "unknown", None),
    ("CVE-2021-33503", "urllib3", "1.26.5", "unknown", None),
    ("CVE-2023-43804", "urllib3", "1.26.17", "high", "osv:PyPI"),
    ("CVE-2023-45803", "urllib3", "1.26.18", "medium", "osv:PyPI"),
    ("CVE-2021-33203", "Django", "3.2.4", "unknown", None),
    ("CVE-2022-28346", "Django", "3.2.13", "unknown", None),
    ("CVE-2024-27351", "Django", "3.2.25", "unknown", None),
}


def test_scan_image_from_registry(app_image: tuple[str, list[str]], vuln_db: Path) -> None:
    ref, diff_ids = app_image
    code, doc = scan_json(ref, "--db", str(vuln_db))
    assert code == 0
    findings = doc["findings"]
    got = {
        (
            f["vulnerability"],
            f["package"]["name"],
            f["fix"]["versions"][0],
            f["severity"]["effective"],
            f["severity"]["source"],
        )
        for f in findings
    }
    assert got >= EXPECTED
    by_pkg: dict[str, int] = {}
    for f in findings:
        by_pkg[f["package"]["name"]] = by_pkg.get(f["package"]["name"], 0) + 1
    # every PyPI advisory whose ranges hold these versions in the real feed
    assert by_pkg == {"Django": 25, "urllib3": 3, "PyYAML": 1}
    # the Debian 12 packages: no DSA of the snapshot is for bookworm, and PyPI advisories
    # never apply to dpkg packages
    assert all(f["package"]["type"] == "python" for f in findings)
    assert doc["target"]["distro"] == {"id": "debian", "versionID": "12", "codename": "bookworm"}
    assert doc["target"]["packages"] == 11
    assert doc["unknowns"] == []
    django = next(f for f in findings if f["vulnerability"] == "CVE-2021-33203")
    assert django["package"]["layer"] == {
        "diffID": diff_ids[1],
        "createdBy": "RUN pip install -r requirements.txt",
    }
    assert django["ids"] == ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"]
    assert django["matchedBy"][0]["source"] == "osv/PyPI"


def test_fail_on_and_ignore_unfixed(
    app_image: tuple[str, list[str]], vuln_db: Path, tmp_path: Path
) -> None:
    ref, _ = app_image
    res = runner.invoke(
        app, ["scan", ref, "--db", str(vuln_db), "--fail-on", "high", "--severity", "high,critical"]
    )
    assert res.exit_code == 1, res.output
    assert "CVE-2023-43804" in res.stdout
    ignore = tmp_path / ".shoalignore"
    ignore.write_text("CVE-2023-43804 exp:2999-01-01 reason: tracked in JIRA-1\n")
    res = runner.invoke(
        app,
        [
            "scan",
            ref,
            "--db",
            str(vuln_db),
            "--fail-on",
            "high",
            "--ignore-file",
            str(ignore),
            "-o",
            "sarif",
        ],
    )
    assert res.exit_code == 0, res.output
    sarif = json.loads(res.stdout)
    assert "CVE-2023-43804" not in {r["ruleId"] for r in sarif["runs"][0]["results"]}


def test_sbom_then_scan_gives_the_same_findings(
    app_image: tuple[str, list[str]], vuln_db: Path, tmp_path: Path
) -> None:
    ref, _ = app_image
    _, direct = scan_json(ref, "--db", str(vuln_db))
    for fmt in ("cyclonedx-json", "spdx-json"):
        sbom = tmp_path / f"sbom.{fmt}"
        res = runner.invoke(app, ["sbom", ref, "-o", fmt, "--output", str(sbom)])
        assert res.exit_code == 0, res.output
        _, via_sbom = scan_json("--sbom", str(sbom), "--db", str(vuln_db))
        # the same ids: the SBOM carries the image's digest and platform
        assert [f["id"] for f in via_sbom["findings"]] == [f["id"] for f in direct["findings"]]
        if fmt == "cyclonedx-json":  # the SPDX reader does not read packages' layers back
            first, want = via_sbom["findings"][0], direct["findings"][0]
            assert first["package"]["layer"] == want["package"]["layer"]
