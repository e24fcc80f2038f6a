"""Fixtures for the converter tests: the hostile archive built once per session, and its conversions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from convert_builder import RichArchive, build_rich_archive

from mmtakeout.convert import ConversionReport, ConvertOptions, convert_archive


@pytest.fixture(scope="session")
def rich_archive(tmp_path_factory: pytest.TempPathFactory) -> RichArchive:
    return build_rich_archive(tmp_path_factory.mktemp("rich") / "archive")


Converted = tuple[Path, ConversionReport]


@pytest.fixture(scope="session")
def convert_rich(
    rich_archive: RichArchive, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Converted]:
    """Convert the rich archive once per (target, options) and reuse the result across tests."""
    cache: dict[tuple[str, str | None, bool], Converted] = {}

    def run(target: str, team: str | None = None, direct_only: bool = False) -> Converted:
        key = (target, team, direct_only)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"out-{target}") / f"{target}.zip"
            report = convert_archive(
                rich_archive.root, target, out, ConvertOptions(team=team, direct_only=direct_only)
            )
            cache[key] = (out, report)
        return cache[key]

    return run
