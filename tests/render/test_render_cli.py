"""`mmtakeout render` as a user runs it: a real subprocess, exit codes and messages."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from viewer_fixtures import ShowcaseArchive


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmtakeout", "render", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_render_writes_the_viewer_and_formats(showcase: ShowcaseArchive) -> None:
    result = run_cli(str(showcase.root), "--format", "html", "--format", "json", "--timezone", "UTC")
    assert result.returncode == 0, result.stderr
    assert "9 conversations" in result.stdout and "index.html" in result.stdout
    assert (showcase.root / "index.html").is_file()
    assert len(list((showcase.root / "exports" / "json").glob("*.json"))) == 9
    again = run_cli(str(showcase.root), "--timezone", "UTC")
    assert again.returncode == 0 and "0 re-rendered" in again.stdout
    forced = run_cli(str(showcase.root), "--force", "--timezone", "UTC")
    assert forced.returncode == 0 and "9 re-rendered" in forced.stdout


def test_render_defaults_to_html(showcase: ShowcaseArchive) -> None:
    result = run_cli(str(showcase.root))
    assert result.returncode == 0, result.stderr
    assert (showcase.root / "index.html").is_file() and not (showcase.root / "exports").exists()


def test_render_reports_bad_input(tmp_path: Path) -> None:
    missing = run_cli(str(tmp_path / "nope"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    empty = run_cli(str(tmp_path))
    assert empty.returncode == 1 and "archive.sqlite is missing" in empty.stderr
    with sqlite3.connect(tmp_path / "archive.sqlite") as db:
        db.execute("PRAGMA user_version = 2")
    future = run_cli(str(tmp_path))
    assert future.returncode == 1 and "format version 2" in future.stderr
    zone = run_cli(str(tmp_path), "--timezone", "Mars/Olympus")
    assert zone.returncode == 2 and "Unknown time zone" in zone.stderr
    fmt = run_cli(str(tmp_path), "--format", "pdf")
    assert fmt.returncode == 2 and "invalid choice" in fmt.stderr
    assert "Traceback" not in missing.stderr + empty.stderr + future.stderr + zone.stderr
