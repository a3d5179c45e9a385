"""java/archive: trimmed Debian jars, and wars/ears/fat jars built from them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.java import (
    JavaCataloger,
    bundle_licenses,
    central_directory_size,
    name_version_from_filename,
    parse_java_archive,
    parse_manifest,
    parse_pom_properties,
)
from shoal.config import Limits
from shoal.model import Package, PackageType

DATA = Path(__file__).parent / "testdata" / "java"


def _jar(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _ids(pkgs: tuple[Package, ...]) -> list[tuple[str | None, str, str]]:
    return [(p.namespace, p.name, p.version) for p in pkgs]


# --- wants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/usr/share/java/commons-lang3.jar", True),
        ("/opt/app/ROOT.war", True),
        ("/srv/app.ear", True),
        ("/var/jenkins_home/plugins/git.jpi", True),
        ("/var/jenkins_home/plugins/old.HPI", True),
        ("/opt/nifi/lib/nifi-standard-nar-1.20.0.nar", True),
        ("/opt/kafka/x.kar", True),
        ("/opt/jboss/a.sar", True),
        ("/opt/a.par", True),
        ("/usr/lib/python3/x.zip", False),
        ("/usr/share/java/jarfile.txt", False),
        ("/usr/bin/jar", False),
    ],
)
def test_wants_archive_extensions(path: str, wanted: bool) -> None:
    assert JavaCataloger().wants(FileEntry(path=path, size=1000, mode=0o644)) is wanted


def test_wants_skips_empty_files() -> None:
    assert not JavaCataloger().wants(FileEntry(path="/a.jar", size=0, mode=0o644))


# --- single real jars ----------------------------------------------------------------


def test_pom_properties_identify_the_archive() -> None:
    result = parse_java_archive(
        _jar("commons-lang3-3.12.0.jar"), "/usr/share/java/commons-lang3.jar"
    )
    assert result.unknowns == ()
    (p,) = result.packages
    assert (p.namespace, p.name, p.version) == ("org.apache.commons", "commons-lang3", "3.12.0")
    assert p.type is PackageType.JAVA
    assert p.cataloger == "java/archive"
    assert p.purl == "pkg:maven/org.apache.commons/commons-lang3@3.12.0"
    assert p.locations[0].path == "/usr/share/java/commons-lang3.jar"
    assert p.meta("java.source") == "pom.properties"
    assert p.meta("java.pom_properties") == (
        "META-INF/maven/org.apache.commons/commons-lang3/pom.properties"
    )
    assert p.meta("heuristic") is None
    assert p.meta("java.archive") is None  # top level: the location says it all


def test_log4j_core_with_a_large_manifest() -> None:
    (p,) = parse_java_archive(_jar("log4j-core-2.19.0.jar"), "/app/log4j-core.jar").packages
    assert p.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.19.0"


def test_single_pom_with_another_file_name_still_is_the_archive() -> None:
    # file is jakarta-activation.jar, artifactId is jakarta.activation
    (p,) = parse_java_archive(_jar("jakarta-activation.jar"), "/x/jakarta-activation.jar").packages
    assert (p.namespace, p.name, p.version) == ("com.sun.activation", "jakarta.activation", "2.0.0")
    assert p.licenses == ("http://www.eclipse.org/org/documents/edl-v10.php",)


def test_manifest_only_jar_uses_manifest_version_and_bundle_license() -> None:
    result = parse_java_archive(_jar("asm-9.4.jar"), "/usr/share/java/asm-9.4.jar")
    assert result.unknowns == ()
    (p,) = result.packages
    assert (p.name, p.version) == ("asm", "9.4-SNAPSHOT")  # Implementation-Version wins
    assert p.licenses == ("BSD-3-Clause",)  # ";link=..." directive dropped
    assert p.meta("java.source") == "manifest"
    assert p.meta("java.bundle_symbolic_name") == "org.objectweb.asm"
    assert p.meta("heuristic") is None


def test_manifest_title_when_the_file_name_says_nothing() -> None:
    (p,) = parse_java_archive(_jar("xz-1.9.jar"), "/opt/lib/.jar").packages
    assert (p.name, p.version) == ("XZ data compression", "1.9")


@pytest.mark.parametrize(
    ("fixture", "name", "version"),
    [
        ("asm-all-9.4.jar", "asm-all", "9.4"),
        ("hamcrest-integration-1.3.1-SNAPSHOT.jar", "hamcrest-integration", "1.3.1-SNAPSHOT"),
        ("jsr305-0.1~+svn49.jar", "jsr305", "0.1~+svn49"),
    ],
)
def test_empty_manifest_falls_back_to_the_file_name_marked_heuristic(
    fixture: str, name: str, version: str
) -> None:
    (p,) = parse_java_archive(_jar(fixture), f"/usr/share/java/{fixture}").packages
    assert (p.name, p.version) == (name, version)
    assert p.meta("heuristic") == "filename"
    assert p.meta("java.source") == "filename"


def test_unfilled_placeholders_in_the_manifest_are_ignored() -> None:
    jar = _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nImplementation-Version: "
            b"${project.version}\nBundle-Version: 2.1.0\nImplementation-Vendor-Id: com.acme\n"
            b"Bundle-License: ${license}\n\n"
        }
    )
    (p,) = parse_java_archive(jar, "/lib/widget.jar").packages
    assert (p.namespace, p.name, p.version, p.licenses) == ("com.acme", "widget", "2.1.0", ())
    assert p.purl == "pkg:maven/com.acme/widget@2.1.0"


def test_nothing_to_go_on_is_an_unknown() -> None:
    result = parse_java_archive(_jar("asm-all-9.4.jar"), "/opt/app/app.jar")
    assert result.packages == ()
    assert [u.reason for u in result.unknowns] == [
        "no pom.properties, manifest version or version in the file name"
    ]


def test_catalog_wires_the_parser() -> None:
    f = LayerFile("/usr/share/java/log4j-api.jar", _jar("log4j-api-2.19.0.jar"))
    (p,) = JavaCataloger().catalog(f).packages
    assert p.purl == "pkg:maven/org.apache.logging.log4j/log4j-api@2.19.0"


# --- nesting -------------------------------------------------------------------------


def _war() -> bytes:
    return _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nImplementation-Title: shop\r\n"
            b"Implementation-Version: 4.2.0\r\n\r\n",
            "WEB-INF/web.xml": b"<web-app/>",
            "WEB-INF/lib/commons-lang3-3.12.0.jar": _jar("commons-lang3-3.12.0.jar"),
            "WEB-INF/lib/log4j-core-2.19.0.jar": _jar("log4j-core-2.19.0.jar"),
            "WEB-INF/lib/asm-9.4.jar": _jar("asm-9.4.jar"),
        }
    )


def test_war_reports_itself_and_its_libraries_with_nested_paths() -> None:
    result = parse_java_archive(_war(), "/usr/local/tomcat/webapps/shop-4.2.0.war")
    assert result.unknowns == ()
    assert _ids(result.packages) == [
        (None, "shop", "4.2.0"),
        ("org.apache.commons", "commons-lang3", "3.12.0"),
        ("org.apache.logging.log4j", "log4j-core", "2.19.0"),
        (None, "asm", "9.4-SNAPSHOT"),
    ]
    war, lang, _, asm = result.packages
    assert war.meta("java.archive") is None
    assert lang.meta("java.archive") == (
        "/usr/local/tomcat/webapps/shop-4.2.0.war:WEB-INF/lib/commons-lang3-3.12.0.jar"
    )
    assert asm.licenses == ("BSD-3-Clause",)
    assert {p.locations[0].path for p in result.packages} == {
        "/usr/local/tomcat/webapps/shop-4.2.0.war"
    }


def test_ear_holding_a_war_holding_jars() -> None:
    ear = _zip({"shop.war": _war(), "lib/log4j-api-2.19.0.jar": _jar("log4j-api-2.19.0.jar")})
    result = parse_java_archive(ear, "/srv/app.ear")
    names = {p.name: p.meta("java.archive") for p in result.packages}
    assert names["log4j-core"] == "/srv/app.ear:shop.war:WEB-INF/lib/log4j-core-2.19.0.jar"
    assert names["log4j-api"] == "/srv/app.ear:lib/log4j-api-2.19.0.jar"
    assert names["shop"] == "/srv/app.ear:shop.war"
    # the ear itself: no pom, no manifest, no version in "app.ear"
    assert [u.reason for u in result.unknowns] == [
        "no pom.properties, manifest version or version in the file name"
    ]


def test_spring_boot_fat_jar_with_stored_libraries_and_shaded_poms() -> None:
    fat = _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nMain-Class: org.springframework"
            b".boot.loader.JarLauncher\nStart-Class: com.acme.App\n\n",
            "META-INF/maven/com.acme/orders/pom.properties": b"#Created by Apache Maven 3.9.5\n"
            b"version=1.0.3\ngroupId=com.acme\nartifactId=orders\n",
            "META-INF/maven/com.google.guava/guava/pom.properties": b"version=31.1-jre\n"
            b"groupId=com.google.guava\nartifactId=guava\n",
            "BOOT-INF/lib/log4j-api-2.19.0.jar": _jar("log4j-api-2.19.0.jar"),
        },
        zipfile.ZIP_STORED,
    )
    launcher = b"#!/bin/bash\n# Spring Boot launch script\nexec java -jar $0\n" + b"\n" * 20
    result = parse_java_archive(launcher + fat, "/app/orders-1.0.3.jar")
    assert result.unknowns == ()
    assert _ids(result.packages) == [
        ("com.acme", "orders", "1.0.3"),
        ("com.google.guava", "guava", "31.1-jre"),
        ("org.apache.logging.log4j", "log4j-api", "2.19.0"),
    ]


def test_nesting_deeper_than_the_limit_is_an_unknown() -> None:
    inner = _jar("commons-lang3-3.12.0.jar")
    for level in range(4):
        inner = _zip({f"lib/level{level}-1.0.jar": inner})
    result = parse_java_archive(inner, "/a-1.0.jar", Limits(nesting_depth=2))
    assert "commons-lang3" not in {p.name for p in result.packages}
    assert [u.reason for u in result.unknowns] == [
        "lib/level3-1.0.jar:lib/level2-1.0.jar:lib/level1-1.0.jar: archives nested deeper than 2"
    ]


def test_zip_bomb_stops_at_the_byte_budget() -> None:
    bomb = _zip({"lib/zeros-1.0.jar": bytes(8 * 1024 * 1024)})  # 8 MiB in ~8 KiB
    assert len(bomb) < 64 * 1024
    outer = _zip({"a/bomb-1.0.jar": bomb, "b/bomb-1.0.jar": bomb, "c/bomb-1.0.jar": bomb})
    result = parse_java_archive(outer, "/app/x-1.0.jar", Limits(file_bytes=4 * 1024 * 1024))
    reasons = [u.reason for u in result.unknowns]
    assert reasons == [
        "a/bomb-1.0.jar:lib/zeros-1.0.jar: 8388608 bytes would pass the 4194304-byte budget "
        "for the whole file",
        f"b/bomb-1.0.jar: {len(bomb)} bytes would pass the 4194304-byte budget for the whole file",
        "skipped 1 more nested archive",
    ]
    assert {u.path for u in result.unknowns} == {"/app/x-1.0.jar"}
    assert all(r.isprintable() for r in reasons)


def test_entry_lying_about_its_size_inflates_no_more_than_it_declares() -> None:
    jar = bytearray(_zip({"lib/liar-1.0.jar": bytes(8 * 1024 * 1024)}))
    jar[22:26] = (100).to_bytes(4, "little")  # local header: uncompressed size
    cd = jar.find(b"PK\x01\x02")
    jar[cd + 24 : cd + 28] = (100).to_bytes(4, "little")  # central directory: the same
    result = parse_java_archive(bytes(jar), "/app/a-1.0.jar")
    assert [u.reason for u in result.unknowns] == [
        "lib/liar-1.0.jar: unreadable (Bad CRC-32 for file 'lib/liar-1.0.jar')"
    ]


def test_forged_central_directory_size_is_refused() -> None:
    data = bytearray(_jar("asm-9.4.jar"))
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 12 : eocd + 16] = (0x7FFFFFFF).to_bytes(4, "little")
    assert central_directory_size(bytes(data)) == 0x7FFFFFFF
    (u,) = parse_java_archive(bytes(data), "/a.jar").unknowns
    assert u.reason == "central directory of 2147483647 bytes (limit 33554432)"


def test_corrupt_nested_archive_is_an_unknown_beside_good_ones() -> None:
    war = _zip(
        {
            "WEB-INF/lib/broken-1.0.jar": b"PK\x03\x04 this is not really a zip",
            "WEB-INF/lib/asm-9.4.jar": _jar("asm-9.4.jar"),
        }
    )
    result = parse_java_archive(war, "/app/site-2.0.war")
    assert [p.name for p in result.packages] == ["site", "asm"]
    (u,) = result.unknowns
    assert u.reason.startswith("WEB-INF/lib/broken-1.0.jar: not a readable zip archive (")


def test_entry_with_an_empty_name_is_skipped() -> None:
    jar = bytearray(_jar("asm-9.4.jar"))
    cd = jar.find(b"PK\x01\x02")
    jar[cd + 46] = 0  # "META-INF/" now reads as "" (zipfile cuts names at NUL)
    result = parse_java_archive(bytes(jar), "/usr/share/java/asm-9.4.jar")
    assert result.unknowns == ()
    assert [(p.name, p.version) for p in result.packages] == [("asm", "9.4-SNAPSHOT")]


def test_control_characters_in_entry_names_stay_escaped() -> None:
    jar = _zip({"META-INF/maven/g/a\nb/pom.properties": b"groupId=g\n"})
    (u,) = parse_java_archive(jar, "/lib/x.jar").unknowns
    assert u.reason == "META-INF/maven/g/a\\nb/pom.properties: missing artifactId, version"


def test_not_a_zip_at_all() -> None:
    (u,) = parse_java_archive(b"just text", "/a.jar").unknowns
    assert u.reason == "not a readable zip archive (File is not a zip file)"
    assert u.cataloger == "java/archive"


def test_incomplete_pom_properties_is_an_unknown() -> None:
    jar = _zip({"META-INF/maven/g/a/pom.properties": b"groupId=g\nartifactId=a\n"})
    result = parse_java_archive(jar, "/lib/a.jar")
    assert result.packages == ()
    assert [u.reason for u in result.unknowns] == [
        "META-INF/maven/g/a/pom.properties: missing version"
    ]


# --- the small parsers ---------------------------------------------------------------


def test_parse_manifest_continuations_case_and_sections() -> None:
    text = (
        "Manifest-Version: 1.0\r\n"
        "Implementation-Title: ASM, a very small and fast Java bytecode manipul\r\n"
        " ation framework\r\n"
        "bundle-version: 9.4\r\n"
        "\r\n"
        "Name: org/objectweb/asm/\r\n"
        "Implementation-Version: 0.0-per-entry\r\n"
    )
    attrs, problems = parse_manifest(text)
    assert problems == []
    assert attrs["implementation-title"] == (
        "ASM, a very small and fast Java bytecode manipulation framework"
    )
    assert attrs["bundle-version"] == "9.4"
    assert "implementation-version" not in attrs  # per-entry sections are not the jar's


def test_parse_manifest_reports_bad_lines() -> None:
    attrs, problems = parse_manifest(" orphan\nGood: yes\nno colon here\n")
    assert attrs == {"good": "yes"}
    assert problems == [
        "line 1: continuation line without a header",
        "line 3: header without 'name: value'",
    ]


def test_parse_pom_properties_java_syntax() -> None:
    text = (
        "#Generated by Maven\n"
        "! another comment\n"
        "groupId = org.example\n"
        "artifactId:multi\\\n"
        "    line\n"
        "version 1.0\\u002d\\tx\n"
    )
    assert parse_pom_properties(text) == {
        "groupId": "org.example",
        "artifactId": "multiline",
        "version": "1.0-\tx",
    }


@pytest.mark.parametrize(
    ("value", "licenses"),
    [
        ("BSD-3-Clause;link=https://asm.ow2.io/LICENSE.txt", ("BSD-3-Clause",)),
        (
            'Apache-2.0;link="https://a.org/x,y";description="A, B", MIT',
            ("Apache-2.0", "MIT"),
        ),
        (
            "https://www.apache.org/licenses/LICENSE-2.0.txt",
            ("https://www.apache.org/licenses/LICENSE-2.0.txt",),
        ),
        ("", ()),
    ],
)
def test_bundle_licenses(value: str, licenses: tuple[str, ...]) -> None:
    assert bundle_licenses(value) == licenses


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("commons-lang3-3.12.0.jar", ("commons-lang3", "3.12.0")),
        ("log4j-1.2-api-2.19.0.jar", ("log4j-1.2-api", "2.19.0")),
        ("guava-31.1-jre.jar", ("guava", "31.1-jre")),
        ("netty-handler-4.1.100.Final.jar", ("netty-handler", "4.1.100.Final")),
        ("bcprov-jdk15on-1.70.jar", ("bcprov-jdk15on", "1.70")),
        ("app-2023.war", ("app", "2023")),
        ("commons-lang3.jar", ("commons-lang3", None)),
        ("ROOT.war", ("ROOT", None)),
        ("-1.0.jar", ("-1.0", None)),
    ],
)
def test_name_version_from_filename(filename: str, expected: tuple[str, str | None]) -> None:
    assert name_version_from_filename(filename) == expected


# --- fuzzing -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_manifest_and_properties_text(text: str) -> None:
    attrs, problems = parse_manifest(text)
    assert all(k == k.lower() for k in attrs)
    assert all(p.isprintable() for p in problems)
    parse_pom_properties(text)
    bundle_licenses(text)
    name_version_from_filename(text + ".jar")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=540), st.binary(min_size=1, max_size=12))
def test_fuzz_corrupted_jar_is_data_not_a_crash(at: int, patch: bytes) -> None:
    data = bytearray(_jar("asm-9.4.jar"))
    data[at : at + len(patch)] = patch
    result = parse_java_archive(bytes(data), "/a-1.0.jar")
    assert all(u.reason.isprintable() for u in result.unknowns)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "META-INF/MANIFEST.MF",
                "META-INF/maven/g/a/pom.properties",
                "META-INF/maven/h/b/pom.properties",
                "WEB-INF/lib/x-1.0.jar",
                "lib/y.war",
            ]
        ),
        st.binary(max_size=200),
        max_size=5,
    )
)
def test_fuzz_archives_of_random_members(entries: dict[str, bytes]) -> None:
    result = parse_java_archive(_zip(entries), "/w-3.0.war")
    assert all(u.reason.isprintable() for u in result.unknowns)
    assert all(p.name and p.version for p in result.packages)
