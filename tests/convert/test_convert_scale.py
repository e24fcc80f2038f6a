"""Converters stream: memory stays flat when the archive grows, and large archives still validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from convert_builder import build_big_archive
from convert_validators.mattermost import validate_bulk_zip
from convert_validators.slack import validate_slack_zip

# VmHWM is this process's own peak: unlike ru_maxrss it does not inherit the forking parent's size.
MEASURE = """
import sys
from pathlib import Path
from mmtakeout.cli import main
code = main(["convert", sys.argv[1], "--to", sys.argv[2], "--out", sys.argv[3]])
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""


def _peak_kib(archive: Path, target: str, out: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(archive), target, str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def small_and_large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    small = build_big_archive(tmp_path_factory.mktemp("small") / "archive", 10_000)
    large = build_big_archive(tmp_path_factory.mktemp("large") / "archive", 80_000)
    return small, large


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc to read peak memory")
@pytest.mark.parametrize("target", ["mattermost", "slack"])
def test_memory_does_not_grow_with_the_archive(
    small_and_large: tuple[Path, Path], tmp_path: Path, target: str
) -> None:
    small, large = small_and_large
    small_peak = _peak_kib(small, target, tmp_path / "small.zip")
    large_peak = _peak_kib(large, target, tmp_path / "large.zip")
    assert large_peak - small_peak < 16 * 1024, (small_peak, large_peak)
    assert large_peak < 150 * 1024
    validate = validate_bulk_zip if target == "mattermost" else validate_slack_zip
    assert validate(tmp_path / "large.zip") == []
