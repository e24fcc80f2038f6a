"""Contract checks of API requests against the vendored Mattermost OpenAPI file (reference §11).

`check_request(method, path, query_names)` lists what the spec does not document about a request:
an unknown path, a method the path does not have, or query parameters that are neither documented
nor in the allow-list of real but undocumented ones (openapi/README.md, item 6). `me` is matched
onto `{user_id}` like any other value. The spec is parsed once per process (PyYAML, a dev dependency).

The file is looked for as `shared/reference/openapi/mattermost-openapi-v4.yaml` in any parent of this
module (a clone at X/main with the shared material at X/shared), or wherever the
`MMTAKEOUT_OPENAPI_SPEC` environment variable points.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SPEC_ENV_VAR = "MMTAKEOUT_OPENAPI_SPEC"
SPEC_RELATIVE = Path("shared/reference/openapi/mattermost-openapi-v4.yaml")
UNDOCUMENTED_QUERY_NAMES: dict[str, frozenset[str]] = {
    "/api/v4/channels/{channel_id}/posts": frozenset(
        {"skipFetchThreads", "collapsedThreads", "collapsedThreadsExtended"}
    ),
    "/api/v4/posts/{post_id}/thread": frozenset({"fromUpdateAt", "updatesOnly"}),
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class SpecNotFound(FileNotFoundError):
    """The vendored OpenAPI file is not where it is expected."""


def find_spec_path() -> Path:
    configured = os.environ.get(SPEC_ENV_VAR)
    if configured:
        path = Path(configured)
        if path.is_file():
            return path
        raise SpecNotFound(f"{SPEC_ENV_VAR} points to {path}, which is not a file")
    for parent in Path(__file__).resolve().parents:
        candidate = parent / SPEC_RELATIVE
        if candidate.is_file():
            return candidate
    raise SpecNotFound(f"{SPEC_RELATIVE} not found in any parent directory of {Path(__file__).parent}")


@dataclass(frozen=True, slots=True)
class _Template:
    path: str
    segments: tuple[str, ...]
    operations: dict[str, frozenset[str]]

    @property
    def parameter_count(self) -> int:
        return sum(segment.startswith("{") for segment in self.segments)


@functools.lru_cache(maxsize=4)
def load_spec(path: Path | None = None) -> dict[str, Any]:
    """The parsed spec with the README's operationId fix applied (parsed once per path)."""
    import yaml

    spec_path = path or find_spec_path()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec_path.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    ack = spec.get("paths", {}).get("/api/v4/users/{user_id}/posts/{post_id}/ack", {})
    if "delete" in ack:
        ack["delete"]["operationId"] = "DeleteAcknowledgementForPost"
    return spec


def _query_names(parameters: Iterable[Any]) -> set[str]:
    return {p["name"] for p in parameters if isinstance(p, dict) and p.get("in") == "query" and "name" in p}


@functools.lru_cache(maxsize=4)
def _templates(path: Path | None = None) -> tuple[_Template, ...]:
    templates = []
    for template, item in load_spec(path).get("paths", {}).items():
        shared = _query_names(item.get("parameters", []))
        operations = {
            method.upper(): frozenset(shared | _query_names(operation.get("parameters", [])))
            for method, operation in item.items()
            if method in _METHODS and isinstance(operation, dict)
        }
        templates.append(_Template(template, tuple(template.strip("/").split("/")), operations))
    return tuple(templates)


def _matches(template: _Template, segments: list[str], *, literal_params: bool) -> bool:
    if len(template.segments) != len(segments):
        return False
    for expected, actual in zip(template.segments, segments, strict=True):
        if expected.startswith("{"):
            if not actual or (literal_params and not actual.startswith("{")):
                return False
        elif expected != actual:
            return False
    return True


def _resolve(method: str, path: str, spec_path: Path | None) -> tuple[_Template | None, list[str]]:
    segments = [segment for segment in path.strip("/").split("/")]
    is_template = any(segment.startswith("{") for segment in segments)
    candidates = [t for t in _templates(spec_path) if _matches(t, segments, literal_params=is_template)]
    if not candidates:
        return None, [f"{method} {path}: no such path in the OpenAPI spec"]
    with_method = [t for t in candidates if method in t.operations]
    if not with_method:
        return None, [f"{method} {path}: the spec documents only {sorted(candidates[0].operations)} here"]
    return min(with_method, key=lambda t: t.parameter_count), []


def check_request(
    method: str, path: str, query_names: Iterable[str] = (), *, spec_path: Path | None = None
) -> list[str]:
    """Problems with a request (an empty list when the spec documents it). `path` may be a full URL."""
    method = method.upper()
    split = urlsplit(path)
    bare_path = split.path
    names = list(query_names)
    if split.query:
        names += [pair.split("=", 1)[0] for pair in split.query.split("&") if pair]
    template, problems = _resolve(method, bare_path, spec_path)
    if template is None:
        return problems
    allowed = template.operations[method] | UNDOCUMENTED_QUERY_NAMES.get(template.path, frozenset())
    return [
        f"{method} {template.path}: query parameter {name!r} is not documented"
        for name in dict.fromkeys(names)
        if name not in allowed
    ]


def check_route(method: str, template: str, *, spec_path: Path | None = None) -> list[str]:
    """Problems with a route template such as `/api/v4/users/{user_id}` (parameters match parameters)."""
    _, problems = _resolve(method.upper(), template, spec_path)
    return problems
