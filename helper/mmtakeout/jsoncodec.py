"""JSON in and out of the hot paths (API pages, archive rows, sandbox answers, viewer and converter
reads), with orjson's speed and the standard library's tolerance.

An export parses every post once and stores it once as compact JSON; with the standard library that
was about a third of the exporter's CPU time. orjson accepts less than `json` (UTF-8 only, no NaN, no
lone surrogate escapes), so whatever it refuses goes to `json`, which accepts it or raises its usual
`ValueError`. Two differences remain, both on input no Mattermost server sends:

* a lone surrogate (`"\\ud800"`) cannot be written as UTF-8 or stored by SQLite; it is read as U+FFFD,
  the character the server itself substitutes for invalid text;
* NaN and infinities (not JSON) are written back as `null`.

Integers too large for 64 bits would come out of orjson as floats; documents holding a run of 19 or
more digits are therefore read by `json`, which keeps every digit.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["compact", "parse"]

_DIGITS_ONLY = bytes(ord("0") if byte in b"0123456789" else ord(" ") for byte in range(256))
"""Maps digits to "0" and every other byte to " ": `translate` then `find` is a fast search for a run."""
_LONG_DIGIT_RUN = b"0" * 19
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_STRICT_TYPES = (
    orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def parse(data: bytes | str) -> Any:
    """Decode a JSON document; raises ValueError (or RecursionError) on invalid input like `json.loads`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.translate(_DIGITS_ONLY).find(_LONG_DIGIT_RUN) < 0:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return _without_lone_surrogates(json.loads(data))


def compact(value: Any) -> str:
    """JSON without spaces, non-ASCII unescaped, keys in their given order."""
    try:
        return orjson.dumps(value, option=_STRICT_TYPES).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value
