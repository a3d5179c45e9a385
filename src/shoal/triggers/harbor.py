"""Harbor webhooks (HTTP endpoint, `Default` and `CloudEvents` payload formats).

Harbor POSTs one event per request. A webhook policy's ``auth_header`` is sent verbatim
as the ``Authorization`` header. The default format::

    {"type": "PUSH_ARTIFACT", "occur_at": <unix seconds>, "operator": "...",
     "event_data": {"resources": [{"digest", "tag", "resource_url"}, ...],
                    "repository": {"name", "namespace", "repo_full_name", "repo_type"}}}

The CloudEvents format (Harbor 2.8+) carries the same ``event_data`` as ``data``, with
``type`` ``harbor.artifact.pushed`` and an RFC 3339 ``time``.

PUSH_ARTIFACT -> `ScanRequest`, PULL_ARTIFACT -> `PullEvent`, DELETE_ARTIFACT ->
`Deleted`, one per resource. Everything else Harbor reports (scans, quotas, replication,
retention) is not a trigger and parses to nothing.

Harbor does not send the manifest media type. The registry host is the part of
``resource_url`` before ``repo_full_name`` (Harbor builds it from its external URL). An
artifact pushed by digest has its digest in ``tag``: that is no tag, so it reads as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import SecretStr

from shoal.triggers._auth import check_secret, presented_secrets
from shoal.triggers._payload import Fields
from shoal.triggers.base import Deleted, PullEvent, ScanRequest, TriggerEvent

_ACTIONS = {
    "PUSH_ARTIFACT": "push",
    "PULL_ARTIFACT": "pull",
    "DELETE_ARTIFACT": "delete",
    "harbor.artifact.pushed": "push",
    "harbor.artifact.pulled": "pull",
    "harbor.artifact.deleted": "delete",
}


class HarborTrigger:
    """Receiver dialect for Harbor project webhooks."""

    name: ClassVar[str] = "harbor"
    version: ClassVar[int] = 1

    def verify(self, headers: Mapping[str, str], body: bytes, secret: SecretStr) -> None:
        check_secret(headers, secret, who=self.name)

    def presented_secrets(self, headers: Mapping[str, str]) -> tuple[str, ...]:
        return presented_secrets(headers, who=self.name)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TriggerEvent]:
        f = Fields(self.name)
        doc = f.load(body)
        cloud = "specversion" in doc
        kind = f.req_str(doc, "type", "")
        action = _ACTIONS.get(kind)
        if action is None:
            return []
        if cloud:
            at = f.iso_time(f.opt_str(doc, "time", ""), "time")
            data_key = "data"
        else:
            at = f.unix_time(doc, "occur_at", "")
            data_key = "event_data"
        data = f.opt_object(doc, data_key, "")
        if data is None:
            raise f.fail(data_key, "missing")
        repository = _repository(f, data, data_key)
        out: list[TriggerEvent] = []
        for i, raw in enumerate(f.array(data, "resources", data_key)):
            where = f"{data_key}.resources[{i}]"
            out.append(_resource(f, f.object(raw, where), where, repository, action, at))
        return out


def _repository(f: Fields, data: dict[str, Any], where: str) -> str:
    repo = f.opt_object(data, "repository", where)
    rw = f"{where}.repository"
    if repo is None:
        raise f.fail(rw, "missing")
    full = f.opt_str(repo, "repo_full_name", rw)
    if full is None:
        # Older Harbor versions: only namespace (the project) and name.
        namespace = f.req_str(repo, "namespace", rw)
        name = f.req_str(repo, "name", rw)
        full = name if name.startswith(f"{namespace}/") else f"{namespace}/{name}"
    return f.repository(full, f"{rw}.repo_full_name")


def _resource(
    f: Fields,
    res: dict[str, Any],
    where: str,
    repository: str,
    action: str,
    at: datetime | None,
) -> TriggerEvent:
    digest = f.digest(f.req_str(res, "digest", where), f"{where}.digest")
    raw_tag = f.opt_str(res, "tag", where)
    tag = None if raw_tag is None or raw_tag == digest else f.tag(raw_tag, f"{where}.tag")
    host = _host(f, f.req_str(res, "resource_url", where), repository, f"{where}.resource_url")
    if action == "push":
        return ScanRequest(host, repository, digest, tag, None, at, "harbor")
    if action == "pull":
        return PullEvent(host, repository, digest, tag, at, "harbor")
    return Deleted(host, repository, digest, tag, at, "harbor")


def _host(f: Fields, url: str, repository: str, where: str) -> str:
    """``core.harbor.domain/library/alpine:3.8`` -> ``core.harbor.domain``."""
    host, _, rest = url.partition("/")
    if not (rest == repository or rest.startswith((f"{repository}:", f"{repository}@"))):
        raise f.fail(where, f"{url[:100]!r} does not name repository {repository!r}")
    return f.host(host, where)
