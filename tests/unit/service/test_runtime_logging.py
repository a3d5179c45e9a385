"""The service's structured log lines (`shoal serve --log-format json|text`)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
import typer

from shoal.cli.serve import JsonLines, KeyValue, configure_logging


def _record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("inner problem")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("shoal.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    for k, v in extra.items():
        setattr(record, k, v)
    return record


def test_json_lines_carry_the_message_and_the_extra_fields() -> None:
    line = JsonLines().format(
        _record("job %s failed", 7, job_id=7, kind="scan_image", ratio=0.5, obj=[1, 2])
    )
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["level"] == "warning" and doc["logger"] == "shoal.test"
    assert doc["msg"] == "job 7 failed"
    assert doc["job_id"] == 7 and doc["kind"] == "scan_image" and doc["ratio"] == 0.5
    assert doc["obj"] == "[1, 2]"  # anything else as its text
    assert doc["ts"].endswith("+00:00")
    assert not {"args", "msecs", "color_message"} & set(doc)


def test_json_lines_keep_a_traceback_in_one_object() -> None:
    line = JsonLines().format(_record("boom", exc=True))
    assert "\n" not in line  # the traceback is inside the JSON string
    assert "ValueError: inner problem" in json.loads(line)["exc"]


def test_key_value_lines_quote_what_needs_it() -> None:
    line = KeyValue().format(_record("job done", job_id=3, note="two words", empty=""))
    assert line.startswith("ts=")
    assert ' msg="job done" ' in line
    assert " job_id=3" in line and ' note="two words"' in line and ' empty=""' in line


def test_configure_logging_refuses_an_unknown_format() -> None:
    with pytest.raises(typer.BadParameter, match="--log-format 'xml': json or text"):
        configure_logging("xml")


def test_configure_logging_installs_one_structured_handler() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json")
        configure_logging("json")  # again: still one handler
        handlers = [h for h in root.handlers if isinstance(h.formatter, JsonLines)]
        assert len(handlers) == 1 and root.level == logging.INFO
    finally:
        for h in root.handlers[:]:
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
