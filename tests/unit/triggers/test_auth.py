from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from shoal.triggers import ALL, AcrTrigger, DistributionTrigger, TriggerAuthError, TriggerSource
from shoal.triggers._auth import header

from .helpers import payload

SECRET = SecretStr("s3cret")
BODY = payload("distribution/push-manifest.json")


@pytest.fixture(params=[cls.name for cls in ALL])
def trigger(request: pytest.FixtureRequest) -> TriggerSource:
    return next(cls for cls in ALL if cls.name == request.param)()


def test_accepts_bearer_form(trigger: TriggerSource) -> None:
    trigger.verify({"Authorization": "Bearer s3cret"}, BODY, SECRET)


def test_accepts_exact_configured_value(trigger: TriggerSource) -> None:
    trigger.verify({"Authorization": "s3cret"}, BODY, SECRET)


def test_header_name_and_bearer_scheme_are_case_insensitive(trigger: TriggerSource) -> None:
    trigger.verify({"authorization": "Bearer s3cret"}, BODY, SECRET)
    trigger.verify({"Authorization": "bearer s3cret"}, BODY, SECRET)
    trigger.verify({"Authorization": "BEARER s3cret"}, BODY, SECRET)


def test_presented_secrets_for_hashed_storage(trigger: TriggerSource) -> None:
    assert trigger.presented_secrets({"Authorization": "Bearer s3cret"}) == (
        "Bearer s3cret",
        "s3cret",
    )
    assert trigger.presented_secrets({"authorization": "s3cret"}) == ("s3cret",)
    assert trigger.presented_secrets({"Authorization": "Basic s3cret"}) == ("Basic s3cret",)
    with pytest.raises(TriggerAuthError, match="missing Authorization header"):
        trigger.presented_secrets({})
    with pytest.raises(TriggerAuthError, match="missing Authorization header"):
        trigger.presented_secrets({"Authorization": ""})


def test_oversized_header_is_refused_unread(trigger: TriggerSource) -> None:
    with pytest.raises(TriggerAuthError, match="Authorization header longer than 8192"):
        trigger.verify({"Authorization": "Bearer " + "x" * 9000}, BODY, SECRET)


@pytest.mark.parametrize(
    "value",
    ["Bearer s3cre", "Bearer s3cret ", "Bearer  s3cret", "Basic s3cret", "s3cretx", "Bearer", " "],
)
def test_refuses_wrong_values(trigger: TriggerSource, value: str) -> None:
    with pytest.raises(TriggerAuthError, match=rf"^{trigger.name} webhook: wrong secret"):
        trigger.verify({"Authorization": value}, BODY, SECRET)


def test_refuses_missing_header(trigger: TriggerSource) -> None:
    with pytest.raises(TriggerAuthError, match="missing Authorization header"):
        trigger.verify({"Content-Type": "application/json"}, BODY, SECRET)
    with pytest.raises(TriggerAuthError, match="missing Authorization header"):
        trigger.verify({"Authorization": ""}, BODY, SECRET)


def test_empty_secret_refuses_everything(trigger: TriggerSource) -> None:
    # An unconfigured secret must never mean "anyone may post".
    with pytest.raises(TriggerAuthError, match="no secret configured"):
        trigger.verify({"Authorization": ""}, BODY, SecretStr(""))
    with pytest.raises(TriggerAuthError, match="no secret configured"):
        trigger.verify({"Authorization": "Bearer "}, BODY, SecretStr(""))


def test_acr_reads_a_custom_header() -> None:
    acr = AcrTrigger(header="X-Shoal-Token")
    acr.verify({"x-shoal-token": "s3cret"}, BODY, SECRET)
    with pytest.raises(TriggerAuthError, match="missing X-Shoal-Token header"):
        acr.verify({"Authorization": "Bearer s3cret"}, BODY, SECRET)


def test_non_ascii_secret_compares() -> None:
    secret = SecretStr("gëheim-🔑")
    DistributionTrigger().verify({"Authorization": "Bearer gëheim-🔑"}, BODY, secret)
    with pytest.raises(TriggerAuthError):
        DistributionTrigger().verify({"Authorization": "Bearer geheim-🔑"}, BODY, secret)


def test_header_lookup_prefers_exact_then_any_case() -> None:
    assert header({"Authorization": "a"}, "Authorization") == "a"
    assert header({"AUTHORIZATION": "b"}, "authorization") == "b"
    assert header({}, "Authorization") is None


@given(st.text(max_size=80))
def test_only_the_secret_passes(value: str) -> None:
    trigger = DistributionTrigger()
    if value == "s3cret" or (value[:7].lower() == "bearer " and value[7:] == "s3cret"):
        trigger.verify({"Authorization": value}, BODY, SECRET)
    else:
        with pytest.raises(TriggerAuthError):
            trigger.verify({"Authorization": value}, BODY, SECRET)


@given(st.text(alphabet=st.characters(), max_size=40))
def test_any_header_text_is_refused_cleanly_including_surrogates(value: str) -> None:
    with pytest.raises(TriggerAuthError):
        DistributionTrigger().verify({"Authorization": value + "\ud800"}, BODY, SECRET)
