"""CNCF Distribution (`registry:2`, Debian's docker-registry) notifications.

The registry POSTs an envelope ``{"events": [...]}`` (media type
``application/vnd.docker.distribution.events.v1+json``; v3 says ``v2+json`` for the same
shape) to each endpoint in ``notifications.endpoints``, with the endpoint's configured
``headers`` (shoal's secret goes in ``Authorization``). One envelope may batch unrelated
events. Each event has ``action`` (push, pull, mount, delete), ``target`` (``mediaType``,
``digest``, ``size``, ``repository``, ``url``, ``tag``), ``request.host`` (the registry
host the client used), and ``timestamp``.

What triggers what:

- push / pull of a manifest or index -> `ScanRequest` / `PullEvent`. Blob pushes, pulls
  and mounts carry layer media types and are ignored: a push of one image sends one event
  per layer plus one for the manifest, and only the manifest names the image. Pushing an
  index sends each child manifest (by digest, untagged) before the index itself; all are
  reported, the scan side decides what to do with children of an index.
- delete -> `Deleted`: a manifest delete carries only ``digest`` and ``repository`` (no
  media type, so a blob delete looks the same), a tag delete only ``tag``, a repository
  delete only ``repository``.
- unknown actions are skipped, not refused: the registry would retry a rejected envelope
  forever, and an action added by a later version must not block the ones we know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from shoal.oci.client import USER_AGENT
from shoal.triggers._auth import check_secret, presented_secrets
from shoal.triggers._media import is_image
from shoal.triggers._payload import Fields
from shoal.triggers.base import Deleted, PullEvent, ScanRequest, TriggerEvent

# What the registry sets as Content-Type (2.x: v1, 3.x: v2). Not enforced: the
# notification docs ask endpoints to be accepting, and the body's shape is checked anyway.
SHOAL_AGENT_PREFIX = USER_AGENT.split("/", 1)[0] + "/"

EVENTS_MEDIA_TYPES = (
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
)


class DistributionTrigger:
    """Receiver dialect for Distribution's notification envelopes."""

    name: ClassVar[str] = "distribution"
    version: ClassVar[int] = 1

    def verify(self, headers: Mapping[str, str], body: bytes, secret: SecretStr) -> None:
        check_secret(headers, secret, who=self.name)

    def presented_secrets(self, headers: Mapping[str, str]) -> tuple[str, ...]:
        return presented_secrets(headers, who=self.name)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TriggerEvent]:
        f = Fields(self.name)
        doc = f.load(body)
        out: list[TriggerEvent] = []
        for i, raw in enumerate(f.array(doc, "events", "")):
            event = _event(f, f.object(raw, f"events[{i}]"), f"events[{i}]")
            if event is not None:
                out.append(event)
        return out


def _event(f: Fields, ev: dict[str, Any], where: str) -> TriggerEvent | None:
    action = f.req_str(ev, "action", where)
    if action not in ("push", "pull", "delete"):
        return None  # mount (a blob) and anything newer than this code
    target = f.opt_object(ev, "target", where)
    if target is None:
        raise f.fail(f"{where}.target", "missing")
    tw = f"{where}.target"
    media_type = f.opt_str(target, "mediaType", tw)
    if action != "delete" and not is_image(media_type):
        return None  # a layer or config blob
    repository = f.repository(f.req_str(target, "repository", tw), f"{tw}.repository")
    host = _host(f, ev, target, where)
    tag = f.tag(f.opt_str(target, "tag", tw), f"{tw}.tag")
    at = f.iso_time(f.opt_str(ev, "timestamp", where), f"{where}.timestamp")
    if action == "delete":
        raw_digest = f.opt_str(target, "digest", tw)
        digest = f.digest(raw_digest, f"{tw}.digest") if raw_digest is not None else None
        return Deleted(host, repository, digest, tag, at, "distribution")
    digest = f.digest(f.req_str(target, "digest", tw), f"{tw}.digest")
    if action == "push":
        return ScanRequest(host, repository, digest, tag, media_type, at, "distribution")
    if _by_shoal(f, ev, where):
        return None  # shoal's own scan reading the manifest is not use of the image
    return PullEvent(host, repository, digest, tag, at, "distribution")


def _by_shoal(f: Fields, ev: dict[str, Any], where: str) -> bool:
    """Whether the request behind the event came from shoal's registry client (its
    User-Agent), so scanning an image never makes it look "in use"."""
    request = f.opt_object(ev, "request", where)
    if request is None:
        return False
    agent = f.opt_str(request, "useragent", f"{where}.request")
    return agent is not None and agent.startswith(SHOAL_AGENT_PREFIX)


def _host(f: Fields, ev: dict[str, Any], target: dict[str, Any], where: str) -> str:
    """The registry host clients use: ``request.host`` (the Host header of the request
    that caused the event), else the host of ``target.url`` (built from the same)."""
    request = f.opt_object(ev, "request", where)
    host = f.opt_str(request, "host", f"{where}.request") if request is not None else None
    if host is not None:
        return f.host(host, f"{where}.request.host")
    url = f.opt_str(target, "url", f"{where}.target")
    if url is not None:
        try:
            netloc = urlsplit(url).netloc
        except ValueError as e:
            raise f.fail(f"{where}.target.url", f"invalid URL {url[:100]!r}") from e
        return f.host(netloc.rpartition("@")[2], f"{where}.target.url")
    raise f.fail(f"{where}.request.host", "missing (and no target.url to take it from)")
