"""A scaled-down run of the viewer benchmark (tests/render/bench_render.py) inside the suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_render import run

pytestmark = pytest.mark.slow


def test_large_archive_renders_fast_and_updates_incrementally(tmp_path: Path) -> None:
    result = run(20_000, tmp_path)
    assert result["full_render_seconds"] < 60  # about 3 s on an idle 2-core machine
    assert result["incremental_conversations_rendered"] == 1
    assert result["incremental_pages_rendered"] == 1
    # one page + its thread view, search shard and nav, a few map chunks, the index and the manifest
    assert result["incremental_files_written"] <= 12
    assert result["unchanged_files_written"] == 2
    assert result["site_files"] > 100
