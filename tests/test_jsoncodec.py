"""The JSON codec of the hot paths: orjson's speed, the standard library's results."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from mmtakeout import jsoncodec


@pytest.mark.parametrize(
    "document",
    [
        b'{"id":"abc","create_at":1718000000123,"message":"caf\xc3\xa9 \xf0\x9f\x8d\x95","props":{}}',
        b'[1, -2, 3.5, 1e300, true, false, null, "\\u00e9\\n", {"a": [{}]}]',
        b'{"a": 9223372036854775807, "b": -9223372036854775808, "c": 123456789012345678}',
        '{"text": "already decoded"}',
    ],
)
def test_reads_what_the_standard_library_reads(document: bytes | str) -> None:
    assert jsoncodec.parse(document) == json.loads(document)


@pytest.mark.parametrize("number", ["18446744073709551616", "-99999999999999999999", "1" * 40])
def test_integers_beyond_64_bits_keep_every_digit(number: str) -> None:
    value = jsoncodec.parse(f'{{"n": {number}, "m": "x"}}'.encode())["n"]
    assert type(value) is int and value == int(number)


def test_a_long_run_of_digits_inside_text_is_read_the_same() -> None:
    assert jsoncodec.parse(b'{"phone": "00491234567890123456789"}') == {"phone": "00491234567890123456789"}


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    value = jsoncodec.parse(b'{"message": "a\\ud800b", "\\udc00": 1}')
    assert value == {"message": "a\ufffdb", "\ufffd": 1}
    assert jsoncodec.compact(value).encode("utf-8")


def test_non_standard_constants_are_read_and_written_as_null() -> None:
    value = jsoncodec.parse(b'{"a": NaN, "b": Infinity}')
    assert math.isnan(value["a"]) and value["b"] == math.inf
    assert jsoncodec.compact(value) == '{"a":null,"b":null}'


@pytest.mark.parametrize("document", [b"", b'{"a": ', b"\xff\xfe{}", b"[1,]", "{'a': 1}"])
def test_invalid_json_raises_value_error(document: bytes | str) -> None:
    with pytest.raises(ValueError):
        jsoncodec.parse(document)


def test_compact_matches_the_standard_library_compact_form() -> None:
    value = {"z": "é \u2028 </script>", "a": [1, 2.5, None, True], "n": {"k": ""}}
    assert jsoncodec.compact(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_compact_refuses_what_is_not_json() -> None:
    @dataclasses.dataclass
    class NotJson:
        x: int

    with pytest.raises(TypeError):
        jsoncodec.compact({"a": NotJson(1)})
