"""Polling discovery: the trigger for registries that cannot send webhooks.

`discover` walks a registry the way a client would (``/v2/_catalog``, then each
repository's tag list, then a ``HEAD`` per tag for the digest it names) and compares the
result with what the previous poll stored, a mapping ``(repository, tag) -> digest``:

- a tag that is new, or names another digest than before, gives a `ScanRequest`
  (``source="poll"``); the events go through `dedupe`, so two tags on one new digest
  scan it once;
- a tag that is gone gives `Deleted` with only the tag; when no tag of the repository
  names its old digest any more, that digest is asked for (``HEAD repo@digest``) and a
  404 gives `Deleted` with the digest: the manifest itself is gone, not only untagged;
- a repository that is gone (missing from a complete catalog, or 404 for its tags)
  gives `Deleted` with neither.

The returned `state` is the mapping to store for the next poll, and it is the truth about
tags: events say what to do (and dedupe may drop a second tag's request), `state` says
which tag names which digest.

Failures are data. A repository whose tags cannot be listed, or a tag whose manifest
cannot be read, becomes a `PollError`, and its entries of `known` are carried into
`state` unchanged, so an outage never looks like a deletion and the next poll retries.
Only a catalog that cannot be read raises: without the list of repositories there is
nothing to compare, and a partial one would make every repository after the break look
deleted.

Bounds: at most ``max_repositories`` repositories and ``max_tags`` tags per poll. When
one is reached discovery stops early and says so in `DiscoveryResult.truncated` (one
line naming the limit) instead of raising: a registry larger than the limit still gets
its first part polled. Whatever was not reached keeps its stored state and nothing
unseen is reported deleted. A registry that rate-limits us stops the poll the same way,
since every further request would wait out the same limit.

Events carry no times (`pushed_at`, `deleted_at` are None): a registry does not say
when a tag moved, and the time of the poll would make images pushed years ago look new.
`DiscoveryResult.started_at` and `finished_at` bound when the change was seen.

Repositories and tags are asked for one after the other; a poll costs one tag listing
per repository and one ``HEAD`` per tag (plus one per old digest no tag names any more).
``HEAD`` because it is cheap: Docker Hub does not count it against the pull limit. A
registry that sends no ``Docker-Content-Digest`` costs a ``GET`` per tag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shoal.errors import (
    AuthError,
    ConfigError,
    DigestMismatch,
    LimitExceeded,
    NotFound,
    RateLimited,
    RegistryError,
    UnsupportedManifest,
)
from shoal.oci.client import RegistryClient
from shoal.oci.reference import NAME_TOTAL_LENGTH_MAX, PATH_RE, TAG_RE
from shoal.triggers._media import is_image
from shoal.triggers.base import Deleted, ScanRequest, TriggerEvent, dedupe

log = logging.getLogger(__name__)

SOURCE = "poll"
"""`ScanRequest.source` / `Deleted.source` of everything discovery reports."""

State = dict[tuple[str, str], str]
"""``(repository, tag) -> manifest digest``, as stored between polls."""

MAX_CONSECUTIVE_FAILURES = 3
"""Tags in a row that may fail (5xx, timeouts) before the rest of a repository is left
for the next poll: one broken manifest must not hide its siblings, but a repository
that fails every request must not cost every tag its retries."""

# Errors that concern one manifest, not the registry's health.
_MANIFEST_ERRORS = (DigestMismatch, UnsupportedManifest, LimitExceeded)


@dataclass(frozen=True, slots=True)
class PollError:
    """Something one repository (or one of its tags) could not be polled for.

    `message` is one line naming the registry, repository and what failed.
    """

    repository: str
    tag: str | None
    message: str


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """The outcome of one poll of one registry."""

    registry_host: str
    events: list[TriggerEvent]
    """`ScanRequest`s and `Deleted`s, deduplicated, in discovery order."""
    state: State
    """The mapping to store and pass as ``known`` next time."""
    errors: list[PollError]
    repositories: int
    """Repositories whose tags were listed (successfully or not)."""
    tags: int
    """Tag list entries read across those repositories."""
    requests: int
    """Registry API calls discovery made: a listing counts once however many pages it
    has, and token requests and retries inside the client are not counted."""
    truncated: str | None
    """Why discovery stopped before the end (a limit, rate limiting); None if it did not."""
    started_at: datetime
    finished_at: datetime

    @property
    def complete(self) -> bool:
        """True when every repository in scope was polled without an error."""
        return self.truncated is None and not self.errors


@dataclass
class _Run:
    """The mutable bookkeeping of one `discover` call."""

    client: RegistryClient
    host: str
    known_by_repo: dict[str, dict[str, str]]
    max_tags: int
    events: list[TriggerEvent] = field(default_factory=list)
    state: State = field(default_factory=dict)
    errors: list[PollError] = field(default_factory=list)
    repositories: int = 0
    tags: int = 0
    requests: int = 0
    truncated: str | None = None
    stopped: bool = False
    """Set when nothing more may be asked (tag budget spent, rate limited)."""

    def stop(self, why: str) -> None:
        self.truncated = self.truncated or why
        self.stopped = True

    def error(self, repo: str, tag: str | None, message: str) -> None:
        log.warning("poll %s: %s", self.host, message)
        self.errors.append(PollError(repo, tag, message))

    def carry_over(self, repo: str, tags: Iterable[str] | None = None) -> None:
        """Keep the stored digests of `repo` (all of it, or only `tags`)."""
        known = self.known_by_repo.get(repo, {})
        for tag in known if tags is None else tags:
            if tag in known:
                self.state[(repo, tag)] = known[tag]


def discover(
    client: RegistryClient,
    known: Mapping[tuple[str, str], str],
    *,
    repositories: Iterable[str] | None = None,
    registry_host: str,
    now: Callable[[], datetime] | None = None,
    max_repositories: int = 10_000,
    max_tags: int = 100_000,
) -> DiscoveryResult:
    """Poll the registry behind `client` and report what changed since `known`.

    `repositories` limits the poll to those names (needed where ``/v2/_catalog`` is not
    offered, such as Docker Hub); entries of `known` for other repositories are then
    carried into the new state untouched, so one stored state can serve polls of parts
    of a registry. Without it the catalog is listed, and a known repository missing
    from it is reported deleted.

    `registry_host` is the host that events name (as in webhook events: the one clients
    pull from). `now` gives the start and finish times (default: UTC now).

    Raises `RegistryError` only when the catalog cannot be listed; a 401, 403 or 404 on
    it says to list the repositories explicitly. `ConfigError` for a limit below 1.
    Everything else is in the result.
    """
    clock = now or (lambda: datetime.now(UTC))
    if max_repositories < 1 or max_tags < 1:
        raise ConfigError(
            f"poll limits must be at least 1: max_repositories={max_repositories}, "
            f"max_tags={max_tags}"
        )
    started_at = clock()
    known_by_repo: dict[str, dict[str, str]] = {}
    for (repo, tag), digest in known.items():
        known_by_repo.setdefault(repo, {})[tag] = digest
    run = _Run(client, registry_host, known_by_repo, max_tags)

    explicit = repositories is not None
    if repositories is None:
        names = _catalog(run, max_repositories)
    else:
        names = _explicit(run, repositories, max_repositories)
    # Known repositories absent from a complete catalog are gone; with an explicit list,
    # or a catalog cut short, absence says nothing.
    listed_complete = not explicit and run.truncated is None
    listed = set(names)

    polled: set[str] = set()
    for repo in names:
        if run.stopped:
            break
        polled.add(repo)
        _poll_repository(run, repo, explicit=explicit)

    for repo in known_by_repo:
        if repo in polled:
            continue
        if listed_complete and repo not in listed:
            run.events.append(Deleted(registry_host, repo, None, None, None, SOURCE))
        else:
            run.carry_over(repo)  # out of scope or not reached: keep what was stored
    if run.truncated is not None:
        log.warning("poll %s: %s", registry_host, run.truncated)
    return DiscoveryResult(
        registry_host=registry_host,
        events=dedupe(run.events),
        state=run.state,
        errors=run.errors,
        repositories=run.repositories,
        tags=run.tags,
        requests=run.requests,
        truncated=run.truncated,
        started_at=started_at,
        finished_at=clock(),
    )


# -- repositories ---------------------------------------------------------------------------


def _catalog(run: _Run, max_repositories: int) -> list[str]:
    """The repository names from ``/v2/_catalog`` (at most `max_repositories`), in order.

    Listed in full before any is polled: a catalog that fails half-way raises, rather
    than make the repositories after the break look deleted.
    """
    run.requests += 1
    names: list[str] = []
    seen: set[str] = set()
    try:
        for i, name in enumerate(run.client.catalog()):
            # Repeats count too: a registry that pages the same names forever must
            # still come to an end.
            if i >= max_repositories:
                run.truncated = (
                    f"{run.host}: the catalog lists more than max_repositories "
                    f"({max_repositories}) repositories; polled the first {len(names)}"
                )
                break
            if name not in seen:
                seen.add(name)
                names.append(name)
    except (AuthError, NotFound) as e:
        raise RegistryError(
            f"{run.host}: the registry does not list its repositories (/v2/_catalog: {e}); "
            "name the repositories to poll explicitly"
        ) from e
    except LimitExceeded as e:
        raise RegistryError(f"{run.host}: cannot list repositories: {e}") from e
    return names


def _explicit(run: _Run, repositories: Iterable[str], max_repositories: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for name in repositories:
        if name in seen:
            continue
        if len(names) >= max_repositories:
            run.truncated = (
                f"{run.host}: more than max_repositories ({max_repositories}) repositories "
                f"to poll; polled the first {max_repositories}"
            )
            break
        seen.add(name)
        names.append(name)
    return names


def _poll_repository(run: _Run, repo: str, *, explicit: bool) -> None:
    """List `repo`'s tags, resolve each to a digest and record what changed."""
    known = run.known_by_repo.get(repo, {})
    if len(repo) > NAME_TOTAL_LENGTH_MAX or not PATH_RE.fullmatch(repo):
        # From the catalog (a registry's word) or from the caller: never put into a URL.
        run.error(repo, None, f"{run.host}: invalid repository name {repo[:100]!r}")
        run.carry_over(repo)
        return
    run.repositories += 1
    listed = _list_tags(run, repo, explicit=explicit)
    if listed is None:
        return
    tags, complete = listed

    current: dict[str, str] = {}
    unresolved: set[str] = set()
    failures = 0
    for i, tag in enumerate(tags):
        try:
            digest, media_type = _resolve(run, repo, tag)
        except NotFound:
            failures = 0
            continue  # deleted between the listing and now: as if it was not listed
        except _MANIFEST_ERRORS as e:
            run.error(repo, tag, str(e))
            unresolved.add(tag)
            continue
        except RegistryError as e:
            run.error(repo, tag, str(e))
            failures += 1
            stop = isinstance(e, AuthError | RateLimited) or failures >= MAX_CONSECUTIVE_FAILURES
            if isinstance(e, RateLimited):
                run.stop(f"{run.host}: rate limited; stopped polling at {repo}:{tag}")
            unresolved.update(tags[i:] if stop else (tag,))
            if stop:
                break
            continue
        failures = 0
        current[tag] = digest
        run.state[(repo, tag)] = digest
        if known.get(tag) != digest and (media_type is None or is_image(media_type)):
            run.events.append(ScanRequest(run.host, repo, digest, tag, media_type, None, SOURCE))
    run.carry_over(repo, unresolved)

    if not complete:
        # Tags past the limit were never seen: they may all still be there.
        run.carry_over(repo, (t for t in known if t not in current))
        return
    for tag in known:
        if tag not in current and tag not in unresolved:
            run.events.append(Deleted(run.host, repo, None, tag, None, SOURCE))
    still_named = set(current.values()) | {known[t] for t in unresolved if t in known}
    _check_untagged(run, repo, [d for d in known.values() if d not in still_named])


def _list_tags(run: _Run, repo: str, *, explicit: bool) -> tuple[list[str], bool] | None:
    """``(tags, complete)``: the valid, distinct tags of `repo`, bounded by the run's tag
    budget (``complete`` is False when it ran out). None when the repository could not
    be listed, after recording why, or after reporting it deleted."""
    run.requests += 1
    tags: list[str] = []
    seen: set[str] = set()
    try:
        for tag in run.client.tags(repo):
            # Repeats count too: a registry that pages the same names forever must
            # still run out of budget.
            if run.tags >= run.max_tags:
                run.stop(
                    f"{run.host}: more than max_tags ({run.max_tags}) tags; "
                    f"stopped polling in {repo}"
                )
                return tags, False
            run.tags += 1
            if tag in seen:
                continue
            seen.add(tag)
            if not TAG_RE.fullmatch(tag):
                run.error(repo, None, f"{run.host}/{repo}: invalid tag {tag[:100]!r} in tag list")
                continue
            tags.append(tag)
    except NotFound as e:
        if repo in run.known_by_repo:
            run.events.append(Deleted(run.host, repo, None, None, None, SOURCE))
        elif explicit:
            run.error(repo, None, str(e))  # asked for by name: a typo, most likely
        # else: listed by the catalog but holding nothing (Distribution keeps the
        # names of repositories whose manifests were all deleted)
        return None
    except (RegistryError, LimitExceeded) as e:
        run.error(repo, None, str(e))
        run.carry_over(repo)
        if isinstance(e, RateLimited):
            run.stop(f"{run.host}: rate limited; stopped polling at {repo}")
        return None
    return tags, True


def _resolve(run: _Run, repo: str, tag: str) -> tuple[str, str | None]:
    """The digest `repo:tag` names and its media type (None when not sent)."""
    run.requests += 1
    digest, media_type, _ = run.client.head_manifest(repo, tag)
    if digest is None:
        # No Docker-Content-Digest: only the body itself tells.
        run.requests += 1
        _, media_type, digest = run.client.get_manifest(repo, tag)
    return digest, media_type or None


def _check_untagged(run: _Run, repo: str, digests: Iterable[str]) -> None:
    """Report those of `digests` (old digests of `repo` that no tag names any more) the
    registry no longer has: a 404 by digest. An untagged manifest that remains is not
    deleted; it just leaves the state, which maps tags only."""
    for digest in dict.fromkeys(digests):
        if run.stopped:
            return
        run.requests += 1
        try:
            run.client.head_manifest(repo, digest)
        except NotFound:
            run.events.append(Deleted(run.host, repo, digest, None, None, SOURCE))
        except (RegistryError, LimitExceeded) as e:
            run.error(repo, None, str(e))
            if isinstance(e, RateLimited):
                run.stop(f"{run.host}: rate limited; stopped polling at {repo}")
