"""`mmtakeout convert` as a user runs it: exit codes, messages, the report file, atomic output."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from convert_builder import RichArchive

from archive_builder import ArchiveBuilder
from mmtakeout.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from mmtakeout.convert.zipout import atomic_zip


def test_convert_writes_the_zip_and_the_report(
    rich_archive: RichArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "slack-export.zip"
    code = main(["convert", str(rich_archive.root), "--to", "slack", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == EXIT_OK
    assert zipfile.is_zipfile(out)
    report = (tmp_path / "slack-export.zip.report.txt").read_text(encoding="utf-8")
    assert report.startswith("Conversion to Slack export")
    assert "placeholder address" in report
    assert report in printed
    assert "Wrote" in printed


def test_an_invalid_team_name_is_a_usage_error(
    rich_archive: RichArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.zip"
    code = main(
        ["convert", str(rich_archive.root), "--to", "mattermost", "--out", str(out), "--team", "help-desk"]
    )
    assert code == EXIT_USAGE
    assert "not a valid team name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_an_archive_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["convert", str(tmp_path), "--to", "zulip", "--out", str(tmp_path / "out.zip")])
    assert code == EXIT_FAILURE
    assert "archive.sqlite is missing" in capsys.readouterr().err


def test_a_newer_archive_format_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builder = ArchiveBuilder(tmp_path / "archive")
    builder.db.execute("PRAGMA user_version = 2")
    archive = builder.close()
    code = main(["convert", str(archive), "--to", "slack", "--out", str(tmp_path / "out.zip")])
    assert code == EXIT_FAILURE
    assert "format version 2" in capsys.readouterr().err


def test_out_must_be_a_file_in_an_existing_folder(
    rich_archive: RichArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(rich_archive.root), "--to", "slack", "--out", str(tmp_path)]) == EXIT_FAILURE
    assert "is a folder" in capsys.readouterr().err
    missing = tmp_path / "missing" / "out.zip"
    assert main(["convert", str(rich_archive.root), "--to", "slack", "--out", str(missing)]) == EXIT_FAILURE
    assert "does not exist" in capsys.readouterr().err


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    destination = tmp_path / "out.zip"
    destination.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic_zip(destination) as archive:
        archive.write_bytes("a.txt", b"partial")
        raise RuntimeError("disk on fire")
    assert destination.read_bytes() == b"previous"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.zip"]


def test_the_command_runs_as_a_real_process(rich_archive: RichArchive, tmp_path: Path) -> None:
    out = tmp_path / "rc.zip"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmtakeout",
            "convert",
            str(rich_archive.root),
            "--to",
            "rocketchat-csv",
            "--out",
            str(out),
            "--direct-only",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "Conversion to Rocket.Chat CSV import" in result.stdout
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
    assert "users.csv" in names and not any(name.startswith("town-square/") for name in names)
