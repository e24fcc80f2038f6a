"""Helpers to read converted zips and to derive broken variants of them for the validators' tests."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def entries(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def jsonl(zip_path: Path, name: str = "import.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in entries(zip_path)[name].decode("utf-8").splitlines() if line]


def payloads(zip_path: Path, line_type: str, name: str = "import.jsonl") -> list[dict[str, Any]]:
    return [row[line_type] for row in jsonl(zip_path, name) if row["type"] == line_type]


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def with_lines(
    source: Path,
    target: Path,
    change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    name: str = "import.jsonl",
) -> Path:
    """A copy of a bulk zip whose JSONL lines went through `change`."""
    files = entries(source)
    rows = change([json.loads(line) for line in files[name].decode("utf-8").splitlines() if line])
    files[name] = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode("utf-8")
    return write_zip(target, files)


def first(rows: list[dict[str, Any]], line_type: str) -> dict[str, Any]:
    return next(row[line_type] for row in rows if row["type"] == line_type)
