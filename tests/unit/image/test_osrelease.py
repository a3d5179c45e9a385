"""Distribution detection against release files as the distributions publish them.

The file contents below are verbatim copies: Debian 12 from the machine this was written on;
the others as printed by `cat` in the distributions' official container images (collected
from public documentation and test suites that quote them).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.image.osrelease import (
    DEBIAN_CODENAMES,
    OS_RELEASE_PATHS,
    detect_distro,
    parse_os_release,
)
from shoal.model import Distro

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

DEBIAN_8 = """\
PRETTY_NAME="Debian GNU/Linux 8 (jessie)"
NAME="Debian GNU/Linux"
VERSION_ID="8"
VERSION="8 (jessie)"
ID=debian
HOME_URL="http://www.debian.org/"
SUPPORT_URL="http://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

DEBIAN_TESTING = """\
PRETTY_NAME="Debian GNU/Linux trixie/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=trixie
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

# gcr.io/distroless/cc-debian12 (/usr/lib/os-release; /etc/os-release links to it)
DISTROLESS_12 = """\
PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
SUPPORT_URL="https://github.com/GoogleContainerTools/distroless/blob/master/README.md"
BUG_REPORT_URL="https://github.com/GoogleContainerTools/distroless/issues/new"
"""

ALPINE_3_19 = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""

UBUNTU_22_04 = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"""

# registry.access.redhat.com/ubi9 ships the RHEL file unchanged
RHEL_9_4 = """\
NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.4
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
"""

FEDORA_39 = """\
NAME="Fedora Linux"
VERSION="39 (Container Image)"
ID=fedora
VERSION_ID=39
VERSION_CODENAME=""
PLATFORM_ID="platform:f39"
PRETTY_NAME="Fedora Linux 39 (Container Image)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:39"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f39/system-administrators-guide/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=39
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=39
SUPPORT_END=2024-11-12
VARIANT="Container Image"
VARIANT_ID=container
"""

CENTOS_7 = """\
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"
"""

WOLFI = """\
ID=wolfi
NAME="Wolfi"
PRETTY_NAME="Wolfi"
VERSION_ID="20230201"
HOME_URL="https://wolfi.dev"
"""

OPENSUSE_LEAP_15_5 = """\
NAME="openSUSE Leap"
VERSION="15.5"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.5"
PRETTY_NAME="openSUSE Leap 15.5"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.5"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
"""

UBUNTU_14_04_LSB = """\
DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=14.04
DISTRIB_CODENAME=trusty
DISTRIB_DESCRIPTION="Ubuntu 14.04.6 LTS"
"""

SLES_11_SP4 = """\
SUSE Linux Enterprise Server 11 (x86_64)
VERSION = 11
PATCHLEVEL = 4
"""


def detect(**files: str) -> Distro | None:
    """detect_distro with keyword names for paths: etc_os_release -> /etc/os-release."""
    paths = {_path(k): v.encode() for k, v in files.items()}
    return detect_distro(paths)


def _path(key: str) -> str:
    return {
        "etc_os_release": "/etc/os-release",
        "usr_lib_os_release": "/usr/lib/os-release",
        "etc_lsb_release": "/etc/lsb-release",
        "etc_alpine_release": "/etc/alpine-release",
        "etc_debian_version": "/etc/debian_version",
        "etc_SuSE_release": "/etc/SuSE-release",
        "etc_system_release_cpe": "/etc/system-release-cpe",
    }.get(key) or "/" + key.replace("etc_", "etc/", 1).replace("_", "-")


# --- parse_os_release -----------------------------------------------------------------------


def test_parse_real_file() -> None:
    values = parse_os_release(DEBIAN_12)

    assert values["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert values["VERSION_CODENAME"] == "bookworm"
    assert values["ID"] == "debian"
    assert len(values) == 9


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('A="double quoted"', "double quoted"),
        ("A='single $quoted \\n'", "single $quoted \\n"),
        ("A=unquoted", "unquoted"),
        (
            'A="with \\"escaped\\" quote and \\$dollar \\\\ \\`tick\\`"',
            'with "escaped" quote and $dollar \\ `tick`',
        ),
        ('A="keeps \\other backslashes"', "keeps \\other backslashes"),
        ("A=escaped\\ space", "escaped space"),
        ('A="concat"enated', "concatenated"),
        ("A=value # comment", "value"),
        ('A="# not a comment"', "# not a comment"),
        ("A=#word", "#word"),
        ('A=""', ""),
        ("A=", ""),
        ('A="unterminated', "unterminated"),
        ("  A=indented  ", "indented"),
        ("A=crlf\r", "crlf"),
    ],
)
def test_parse_shell_quoting(line: str, value: str) -> None:
    assert parse_os_release(line) == {"A": value}


def test_parse_skips_comments_and_junk_and_last_assignment_wins() -> None:
    text = "# comment\n\nnot an assignment\n1BAD=x\nexport X=1\nID=first\nID=second\n"

    assert parse_os_release(text) == {"ID": "second"}


# --- detect_distro: os-release --------------------------------------------------------------


def test_debian_12_from_this_machine() -> None:
    assert detect(etc_os_release=DEBIAN_12, etc_debian_version="12.11\n") == Distro(
        id="debian",
        version_id="12",
        version_codename="bookworm",
        name="Debian GNU/Linux",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
    )


def test_distroless_is_debian_with_a_derived_codename() -> None:
    distro = detect(usr_lib_os_release=DISTROLESS_12)

    assert distro is not None
    assert (distro.id, distro.version_id, distro.version_codename) == ("debian", "12", "bookworm")
    assert distro.pretty_name == "Distroless"
    assert distro.purl_qualifier == "debian-12"


def test_debian_8_has_no_codename_field() -> None:
    distro = detect(etc_os_release=DEBIAN_8)

    assert distro is not None and distro.version_codename == "jessie"


def test_debian_testing_has_no_version() -> None:
    distro = detect(etc_os_release=DEBIAN_TESTING, etc_debian_version="trixie/sid\n")

    assert distro is not None
    assert (distro.version_id, distro.version_codename) == (None, "trixie")
    assert distro.purl_qualifier == "debian"


def test_debian_os_release_without_version_takes_debian_version() -> None:
    distro = detect(
        etc_os_release='ID=debian\nNAME="Debian GNU/Linux"\n', etc_debian_version="11.9\n"
    )

    assert distro is not None
    assert (distro.version_id, distro.version_codename) == ("11", "bullseye")


def test_alpine() -> None:
    assert detect(etc_os_release=ALPINE_3_19, etc_alpine_release="3.19.1\n") == Distro(
        id="alpine",
        version_id="3.19.1",
        name="Alpine Linux",
        pretty_name="Alpine Linux v3.19",
    )


def test_ubuntu_is_not_mistaken_for_debian() -> None:
    distro = detect(
        etc_os_release=UBUNTU_22_04,
        etc_lsb_release=UBUNTU_14_04_LSB,
        etc_debian_version="bookworm/sid",
    )

    assert distro == Distro(
        id="ubuntu",
        version_id="22.04",
        version_codename="jammy",
        name="Ubuntu",
        pretty_name="Ubuntu 22.04.4 LTS",
        id_like=("debian",),
    )


def test_rhel_and_ubi() -> None:
    distro = detect(
        usr_lib_os_release=RHEL_9_4,
        etc_redhat_release="Red Hat Enterprise Linux release 9.4 (Plow)",
    )

    assert distro is not None
    assert (distro.id, distro.version_id, distro.id_like) == ("rhel", "9.4", ("fedora",))
    assert distro.version_codename is None


def test_fedora_empty_codename_is_none() -> None:
    distro = detect(etc_os_release=FEDORA_39)

    assert distro is not None
    assert (distro.id, distro.version_id, distro.version_codename) == ("fedora", "39", None)


def test_centos_7() -> None:
    distro = detect(
        etc_os_release=CENTOS_7, etc_centos_release="CentOS Linux release 7.9.2009 (Core)"
    )

    assert distro is not None
    assert (distro.id, distro.version_id, distro.id_like) == ("centos", "7", ("rhel", "fedora"))


def test_wolfi() -> None:
    distro = detect(etc_os_release=WOLFI)

    assert distro == Distro(id="wolfi", version_id="20230201", name="Wolfi", pretty_name="Wolfi")


def test_opensuse_leap() -> None:
    distro = detect(etc_os_release=OPENSUSE_LEAP_15_5)

    assert distro is not None
    assert (distro.id, distro.version_id, distro.id_like) == (
        "opensuse-leap",
        "15.5",
        ("suse", "opensuse"),
    )


def test_etc_os_release_wins_over_usr_lib() -> None:
    distro = detect(etc_os_release=ALPINE_3_19, usr_lib_os_release=DEBIAN_12)

    assert distro is not None and distro.id == "alpine"


def test_an_empty_etc_os_release_falls_through_to_usr_lib() -> None:
    distro = detect(etc_os_release="", usr_lib_os_release=WOLFI)

    assert distro is not None and distro.id == "wolfi"


# --- detect_distro: older markers -----------------------------------------------------------


def test_lsb_release() -> None:
    assert detect(etc_lsb_release=UBUNTU_14_04_LSB) == Distro(
        id="ubuntu",
        version_id="14.04",
        version_codename="trusty",
        name="Ubuntu",
        pretty_name="Ubuntu 14.04.6 LTS",
    )


def test_alpine_release_alone() -> None:
    distro = detect(etc_alpine_release="3.14.2\n")

    assert distro is not None
    assert (distro.id, distro.version_id, distro.pretty_name) == (
        "alpine",
        "3.14.2",
        "Alpine Linux v3.14",
    )


@pytest.mark.parametrize(
    ("path", "text", "distro_id", "version"),
    [
        ("etc_centos_release", "CentOS release 6.10 (Final)\n", "centos", "6"),
        (
            "etc_redhat_release",
            "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
            "rhel",
            "7.9",
        ),
        ("etc_redhat_release", "Rocky Linux release 8.9 (Green Obsidian)\n", "rocky", "8.9"),
        ("etc_redhat_release", "AlmaLinux release 9.3 (Shamrock Pampas Cat)\n", "almalinux", "9.3"),
        ("etc_oracle_release", "Oracle Linux Server release 7.9\n", "ol", "7.9"),
        ("etc_system_release", "Amazon Linux AMI release 2018.03\n", "amzn", "2018.03"),
        ("etc_fedora_release", "Fedora release 39 (Thirty Nine)\n", "fedora", "39"),
        ("etc_redhat_release", "Scientific Linux release 6.1 (Carbon)\n", "scientific", "6.1"),
    ],
)
def test_red_hat_family_release_sentences(
    path: str, text: str, distro_id: str, version: str
) -> None:
    distro = detect(**{path: text})

    assert distro is not None
    assert (distro.id, distro.version_id) == (distro_id, version)
    assert distro.pretty_name == text.strip()


def test_most_specific_red_hat_file_wins() -> None:
    distro = detect(
        etc_redhat_release="Red Hat Enterprise Linux release 8.9 (Ootpa)",
        etc_rocky_release="Rocky Linux release 8.9 (Green Obsidian)",
    )

    assert distro is not None and distro.id == "rocky"


def test_system_release_cpe() -> None:
    distro = detect(etc_system_release_cpe="cpe:/o:centos:linux:6:GA\n")

    assert distro == Distro(id="centos", version_id="6")


def test_suse_release() -> None:
    distro = detect(etc_SuSE_release=SLES_11_SP4)

    assert distro is not None
    assert (distro.id, distro.version_id) == ("sles", "11.4")
    opensuse = detect(
        etc_SuSE_release="openSUSE 13.2 (x86_64)\nVERSION = 13.2\nCODENAME = Harlequin\n"
    )
    assert opensuse is not None and (opensuse.id, opensuse.version_id) == ("opensuse", "13.2")


@pytest.mark.parametrize(
    ("text", "version", "codename"),
    [
        ("12.5\n", "12", "bookworm"),
        ("10.13\n", "10", "buster"),
        ("8.11\n", "8", "jessie"),
        ("6.0.10\n", "6", "squeeze"),
        ("4.0\n", "4", "etch"),
        ("3.1\n", "3.1", "sarge"),
        ("bookworm/sid\n", None, "bookworm"),
        ("99.1\n", "99", None),
    ],
)
def test_debian_version_alone(text: str, version: str | None, codename: str | None) -> None:
    distro = detect(etc_debian_version=text)

    assert distro is not None
    assert (distro.id, distro.version_id, distro.version_codename) == ("debian", version, codename)


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"/etc/os-release": b""},
        {"/etc/os-release": b"NAME=nothing useful\n"},
        {"/etc/alpine-release": b"not a version\n"},
        {"/etc/debian_version": b"garbage\n"},
        {"/etc/redhat-release": b"no sentence here"},
        {"/etc/SuSE-release": b"SUSE\n"},
        {"/etc/passwd": b"ID=debian\n"},
    ],
)
def test_nothing_recognisable_gives_none(files: dict[str, bytes]) -> None:
    assert detect_distro(files) is None


def test_undecodable_bytes() -> None:
    distro = detect_distro(
        {"/etc/os-release": b'ID=debian\nPRETTY_NAME="\xff\xfe"\nVERSION_ID="12"\n'}
    )

    assert distro is not None and distro.version_codename == "bookworm"


def test_paths_cover_every_source() -> None:
    assert OS_RELEASE_PATHS[:2] == ("/etc/os-release", "/usr/lib/os-release")
    assert len(set(OS_RELEASE_PATHS)) == len(OS_RELEASE_PATHS)
    assert {
        "/etc/alpine-release",
        "/etc/debian_version",
        "/etc/lsb-release",
        "/etc/SuSE-release",
    } <= set(OS_RELEASE_PATHS)
    assert DEBIAN_CODENAMES["12"] == "bookworm"


# --- fuzzing --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parse_os_release(text: str) -> None:
    for key, value in parse_os_release(text).items():
        assert key and "=" not in key and "\n" not in value


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(OS_RELEASE_PATHS), st.binary(max_size=200), max_size=4))
def test_fuzz_detect_distro(files: dict[str, bytes]) -> None:
    distro = detect_distro(files)

    if distro is not None:
        assert distro.id and distro.id == distro.id.lower()
