"""Every parser, on any input: a list of well-formed events or a one-line TriggerFormatError."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.model.digest import parse_digest
from shoal.oci.reference import PATH_RE
from shoal.triggers import ALL, Deleted, PullEvent, ScanRequest, TriggerFormatError, TriggerSource

from .helpers import TESTDATA

SAMPLES = {
    cls.name: [
        json.loads(p.read_bytes())
        for p in sorted((TESTDATA / cls.name).glob("*.json"))
        if not p.name.startswith("headers")
    ]
    for cls in ALL
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def check(trigger: TriggerSource, body: bytes) -> None:
    try:
        events = trigger.parse({}, body)
    except TriggerFormatError as e:
        msg = str(e)
        assert msg.startswith(f"{trigger.name} webhook: ")
        assert "\n" not in msg
        return
    assert isinstance(events, list)
    for ev in events:
        assert isinstance(ev, ScanRequest | PullEvent | Deleted)
        assert ev.source == trigger.name
        assert PATH_RE.fullmatch(ev.repository)
        assert ev.registry_host == ev.registry_host.lower() and ev.registry_host
        if ev.digest is not None:
            parse_digest(ev.digest)


@pytest.fixture(params=[cls.name for cls in ALL])
def trigger(request: pytest.FixtureRequest) -> TriggerSource:
    return next(cls for cls in ALL if cls.name == request.param)()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(trigger: TriggerSource, body: bytes) -> None:
    check(trigger, body)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(value=json_values)
def test_arbitrary_json(trigger: TriggerSource, value: Any) -> None:
    check(trigger, json.dumps(value).encode())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=400)
@given(data=st.data())
def test_real_payloads_with_one_field_replaced(trigger: TriggerSource, data: st.DataObject) -> None:
    sample = copy.deepcopy(data.draw(st.sampled_from(SAMPLES[trigger.name])))
    path = data.draw(st.sampled_from(_paths(sample)[1:]))
    replacement = data.draw(json_values | st.text(alphabet=st.characters(), max_size=300))
    node = sample
    for step in path[:-1]:
        node = node[step]
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = replacement
    check(trigger, json.dumps(sample).encode())


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=100)
@given(depth=st.integers(min_value=1, max_value=100_000), opener=st.sampled_from([b"[", b'{"a":']))
def test_nesting(trigger: TriggerSource, depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    check(trigger, opener * depth + b"1" + closer * depth)
