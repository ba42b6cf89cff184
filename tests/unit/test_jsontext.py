"""Fast JSON reading: orjson, and the standard library for what orjson refuses."""

from __future__ import annotations

import json
import math

from quarry_core import jsontext


def test_ordinary_pages_read_as_the_standard_library_reads_them() -> None:
    text = '{"issues": [{"id": "10001", "fields": {"summary": "caf\\u00e9 \\ud83d\\ude00", "n": 3.5}}]}'
    assert jsontext.loads(text) == json.loads(text)
    assert jsontext.loads(text.encode()) == json.loads(text)


def test_what_orjson_refuses_falls_back_to_the_standard_library() -> None:
    lone = '{"summary": "cut \\ud83d"}'  # an emoji cut in half: orjson refuses it
    assert jsontext.loads(lone) == {"summary": "cut \ud83d"}
    assert math.isnan(jsontext.loads('{"x": NaN}')["x"])


def test_text_that_is_not_json_still_raises_a_value_error() -> None:
    try:
        jsontext.loads("<html>proxy error</html>")
    except ValueError:
        return
    raise AssertionError("not JSON must raise")
