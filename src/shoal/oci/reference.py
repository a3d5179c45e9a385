"""Image references (``registry/repo:tag@digest``) as Docker's distribution/reference parses them.

The grammar, from distribution/reference::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | '[' IPv6address ']'
    domain-name      := domain-component ['.' domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    remote-name      := path-component ['/' path-component]*
    path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" hex

Normalisation follows the Docker CLI: a first component counts as a registry only if it
holds a '.' or ':' or is ``localhost`` (or is not lower case); otherwise the name is on
Docker Hub, where one-component names live under ``library/``. ``latest`` is the tag
when neither a tag nor a digest is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from shoal.errors import InvalidReference
from shoal.model.digest import InvalidDigest, parse_digest

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
# Names the Docker CLI treats as Docker Hub; all normalise to DOCKER_HUB.
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

NAME_TOTAL_LENGTH_MAX = 255
REFERENCE_LENGTH_MAX = 4096  # bounds regex work on hostile input; real ones are far shorter

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[_.]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN_RE = re.compile(rf"{_HOST}(?::[0-9]+)?")
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalised image reference.

    ``registry`` is the registry as the user knows it (``docker.io``, ``ghcr.io``,
    ``127.0.0.1:5000``); ``api_host`` is where its API answers.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def normalized(self) -> str:
        """``docker.io/library/alpine:3.19``, ``ghcr.io/x/y@sha256:...``, or both."""
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    @property
    def api_host(self) -> str:
        return api_host(self.registry)

    @property
    def ref(self) -> str:
        """What to ask the registry for: the digest when there is one (it pins the
        content, a tag may have moved since), else the tag."""
        if self.digest is not None:
            return self.digest
        return self.tag or "latest"

    def __str__(self) -> str:
        return self.normalized


def api_host(registry: str) -> str:
    """The host serving the registry API: Docker Hub's lives on another name."""
    return DOCKER_HUB_API if registry in HUB_ALIASES else registry


def registry_of_url(url: str) -> str:
    """The registry as image references name it, from the URL of its API:
    ``https://ghcr.io`` -> ``ghcr.io``, ``http://127.0.0.1:5000`` -> ``127.0.0.1:5000``,
    ``https://registry-1.docker.io`` -> ``docker.io``; lowercase, without credentials or
    the scheme's default port."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (parts.scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return DOCKER_HUB if host in HUB_ALIASES else host


def parse_reference(text: str) -> Reference:
    """Parse and normalise ``text``; raises InvalidReference with a one-line reason."""
    if not isinstance(text, str):
        raise InvalidReference(f"invalid reference: expected a string, got {type(text).__name__}")
    shown = repr(text[:200])
    if not text:
        raise InvalidReference("invalid reference '': empty")
    if len(text) > REFERENCE_LENGTH_MAX:
        raise InvalidReference(f"invalid reference {shown}: longer than {REFERENCE_LENGTH_MAX}")

    remainder, at, digest = text.partition("@")
    if at:
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidReference(f"invalid reference {shown}: malformed digest {digest[:100]!r}")
        try:
            parse_digest(digest)
        except InvalidDigest as e:
            raise InvalidReference(f"invalid reference {shown}: {e}") from e

    # The tag is after the last ':' only if that ':' is past the last '/', otherwise it
    # is a registry port ("localhost:5000/app").
    tag: str | None = None
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not TAG_RE.fullmatch(tag):
            raise InvalidReference(f"invalid reference {shown}: malformed tag {tag[:100]!r}")

    registry, path = _split_domain(remainder, shown)
    if not PATH_RE.fullmatch(path):
        if PATH_RE.fullmatch(path.lower()):
            raise InvalidReference(f"invalid reference {shown}: repository name must be lowercase")
        raise InvalidReference(f"invalid reference {shown}: malformed repository name {path!r}")
    if len(remainder) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference {shown}: name longer than {NAME_TOTAL_LENGTH_MAX} characters"
        )

    if registry in HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if tag is None and not at:
        tag = "latest"
    return Reference(registry=registry, repository=path, tag=tag, digest=digest if at else None)


def _split_domain(name: str, shown: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash:
        return DOCKER_HUB, name
    is_domain = "." in first or ":" in first or first == "localhost" or first != first.lower()
    if not is_domain:
        return DOCKER_HUB, name
    if not _DOMAIN_RE.fullmatch(first):
        raise InvalidReference(f"invalid reference {shown}: malformed registry {first[:100]!r}")
    return first, rest
