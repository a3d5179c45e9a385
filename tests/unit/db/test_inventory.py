from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shoal.db.errors import DbError
from shoal.db.inventory import (
    SubscriptionSettings,
    check_image_key,
    check_tag,
    create_subscription,
    ensure_repository,
    image_tags,
    images_in_use,
    mark_scanned,
    record_pull,
    record_push,
    subscription_settings,
)
from shoal.db.models import Image, Repository
from shoal.model.advisory import Rating
from tests.unit.db.factories import DIGEST_A, DIGEST_B, tree

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_duplicate_push_of_a_digest_is_one_image(session: Session) -> None:
    _, _, repo = tree(session)
    a = record_push(session, repo.id, DIGEST_A, platform="linux/amd64", tags=["3.14"], at=T0)
    b = record_push(
        session, repo.id, DIGEST_A, platform="linux/amd64", tags=["latest"], at=T0 + timedelta(1)
    )
    session.commit()
    assert a.id == b.id
    assert session.scalar(select(func.count()).select_from(Image)) == 1
    assert b.pushed_at == T0 + timedelta(1)
    assert image_tags(session, a.id) == ["3.14", "latest"]
    # a late, older delivery does not move pushed_at back
    record_push(session, repo.id, DIGEST_A, platform="linux/amd64", at=T0 - timedelta(1))
    assert a.pushed_at == T0 + timedelta(1)


def test_same_digest_other_platform_or_repository_is_another_image(session: Session) -> None:
    _, reg, repo = tree(session)
    other = ensure_repository(session, reg.id, "team/app")
    a = record_push(session, repo.id, DIGEST_A, platform="linux/amd64", at=T0)
    b = record_push(session, repo.id, DIGEST_A, platform="linux/arm64", at=T0)
    c = record_push(session, other.id, DIGEST_A, platform="linux/amd64", at=T0)
    assert len({a.id, b.id, c.id}) == 3


def test_tag_moves_to_the_newest_push(session: Session) -> None:
    _, _, repo = tree(session)
    old = record_push(session, repo.id, DIGEST_A, tags=["latest", "3.14"], at=T0)
    new = record_push(session, repo.id, DIGEST_B, tags=["latest"], at=T0 + timedelta(1))
    session.commit()
    assert image_tags(session, old.id) == ["3.14"]
    assert image_tags(session, new.id) == ["latest"]


def test_malformed_keys_are_refused_before_writing(session: Session) -> None:
    _, reg, repo = tree(session)
    for digest, platform, tags, msg in [
        ("sha256:abc", "", (), "invalid sha256 digest"),
        ("md5:" + "0" * 32, "", (), "unsupported digest algorithm"),
        (DIGEST_A, "linux", (), "invalid platform"),
        (DIGEST_A, "linux/" + "x" * 200, (), "too long"),
        (DIGEST_A, "", ("-leading-dash",), "invalid tag"),
        (DIGEST_A, "", ("t" * 129,), "invalid tag"),
    ]:
        with pytest.raises(ValueError, match=msg):
            record_push(session, repo.id, digest, platform=platform, tags=tags, at=T0)
    for name in ["", "UPPER/case", "a//b", "x" * 300]:
        with pytest.raises(ValueError, match="invalid repository name"):
            ensure_repository(session, reg.id, name)
    assert session.scalar(select(func.count()).select_from(Image)) == 0


@given(st.text(max_size=80), st.text(max_size=40), st.lists(st.text(max_size=40), max_size=2))
def test_fuzz_image_keys_validate_cleanly(digest: str, platform: str, tags: list[str]) -> None:
    try:
        check_image_key(digest, platform)
        for t in tags:
            check_tag(t)
    except ValueError as e:
        assert "\n" not in str(e)


def test_ensure_repository_is_idempotent(session: Session) -> None:
    _, reg, repo = tree(session)
    again = ensure_repository(session, reg.id, "library/alpine")
    assert again.id == repo.id
    assert session.scalar(select(func.count()).select_from(Repository)) == 1


def test_pull_updates_every_platform_and_never_goes_back(session: Session) -> None:
    _, _, repo = tree(session)
    a = record_push(session, repo.id, DIGEST_A, platform="linux/amd64", at=T0)
    b = record_push(session, repo.id, DIGEST_A, platform="linux/arm64", at=T0)
    session.commit()
    assert record_pull(session, repo.id, DIGEST_A, at=T0 + timedelta(days=2)) == 2
    assert record_pull(session, repo.id, DIGEST_A, at=T0 + timedelta(days=1)) == 0
    assert record_pull(session, repo.id, DIGEST_B, at=T0) == 0
    session.commit()
    session.expire_all()
    assert a.last_pulled_at == b.last_pulled_at == T0 + timedelta(days=2)


def test_images_in_use_window(session: Session) -> None:
    sub, _, repo = tree(session)
    now = T0 + timedelta(days=100)
    pulled = record_push(session, repo.id, DIGEST_A, platform="linux/amd64", at=T0)
    record_pull(session, repo.id, DIGEST_A, at=now - timedelta(days=29))
    record_push(session, repo.id, DIGEST_A, platform="linux/arm64", at=T0)  # never pulled
    stale = record_push(session, repo.id, DIGEST_B, platform="linux/amd64", at=T0)
    record_pull(session, repo.id, DIGEST_B, at=now - timedelta(days=31))
    fresh = record_push(session, repo.id, DIGEST_B, platform="linux/s390x", at=now - timedelta(1))
    session.commit()
    assert {i.id for i in images_in_use(session, sub.id, now=now)} == {pulled.id, fresh.id}
    assert stale.id not in {i.id for i in images_in_use(session, sub.id, now=now)}
    sub.settings = SubscriptionSettings(in_use_window_days=90).to_json()
    assert stale.id in {i.id for i in images_in_use(session, sub.id, now=now)}
    with pytest.raises(DbError, match="does not exist"):
        images_in_use(session, 999_999)


def test_mark_scanned(session: Session) -> None:
    _, _, repo = tree(session)
    img = record_push(session, repo.id, DIGEST_A, at=T0)
    mark_scanned(session, img, analyser_version="0.1.0", db_version="2026-11-24", at=T0)
    session.commit()
    session.expire_all()
    assert (img.last_scanned_at, img.analyser_version, img.db_version) == (
        T0,
        "0.1.0",
        "2026-11-24",
    )


def test_deleting_a_subscription_cascades(session: Session) -> None:
    sub, _, repo = tree(session)
    record_push(session, repo.id, DIGEST_A, tags=["x"], at=T0)
    session.commit()
    session.delete(sub)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Image)) == 0


def test_unique_subscription_name(session: Session) -> None:
    create_subscription(session, "dup")
    with pytest.raises(IntegrityError):
        create_subscription(session, "dup")


def test_settings_defaults_and_validation(session: Session) -> None:
    sub = create_subscription(session, "team")
    s = subscription_settings(sub)
    assert (s.unhealthy_severity, s.in_use_window_days) == (Rating.MEDIUM, 30)
    assert SubscriptionSettings.from_json({"unhealthy_severity": "high"}).in_use_window_days == 30
    for bad, msg in [
        ({"in_use_window_days": 0}, "in_use_window_days"),
        ({"in_use_window_days": True}, "in_use_window_days"),
        ({"unhealthy_severity": "unknown"}, "unhealthy_severity"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ([], "expected an object"),
    ]:
        with pytest.raises(ValueError, match=msg):
            SubscriptionSettings.from_json(bad)
    sub.settings = {"in_use_window_days": "thirty"}
    with pytest.raises(DbError, match=f"subscription {sub.id}: .*in_use_window_days"):
        subscription_settings(sub)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=20), c, max_size=3),
    max_leaves=10,
)


@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {}, optional={"unhealthy_severity": _json, "in_use_window_days": _json}
        ),
    )
)
def test_fuzz_settings_parse_or_clean_error(doc: Any) -> None:
    try:
        s = SubscriptionSettings.from_json(doc)
    except ValueError as e:
        assert "\n" not in str(e) and str(e).startswith("subscription settings:")
    else:
        assert SubscriptionSettings.from_json(s.to_json()) == s
