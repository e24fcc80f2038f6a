"""`mmtakeout export` and `mmtakeout verify` as a person runs them: exit codes, messages, kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from export_checks import assert_files_intact, assert_matches_world, assert_nothing_outside, query
from mmtakeout.cli import EXIT_AUTH, EXIT_FAILURE, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, main
from mmtakeout.cli.export import parse_size
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox_thread
from sandbox_worlds import Scenario


def run_cli(
    *args: str, token: str | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "MMTAKEOUT_TOKEN"}
    if token is not None:
        env["MMTAKEOUT_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "mmtakeout", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [("20MB", 20 * 1024**2), ("500k", 500 * 1024), ("1.5 GiB", 3 * 1024**3 // 2), ("1234", 1234), ("7b", 7)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_export_then_verify(
    scenario: Scenario,
    scenario_sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = tmp_path / "archive"
    monkeypatch.setenv("MMTAKEOUT_TOKEN", scenario.token)
    assert main(["export", scenario_sandbox.url, "--out", str(archive)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == str(archive.resolve())
    assert "Export complete" in err and "messages" in err, "plain progress lines when not on a terminal"
    assert scenario.token not in out + err
    assert_matches_world(archive, scenario.world)
    assert main(["verify", str(archive)]) == EXIT_OK
    assert "all good" in capsys.readouterr().out


def test_token_from_stdin_and_quiet(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    done = run_cli(
        "export",
        scenario_sandbox.url,
        "--out",
        str(archive),
        "--token-stdin",
        "--quiet",
        "--direct-only",
        stdin=scenario.token + "\n",
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.strip() == str(archive.resolve())
    assert "%" not in done.stderr, "no progress with --quiet"
    assert scenario.token not in done.stdout + done.stderr
    assert {row[0] for row in query(archive, "SELECT DISTINCT type FROM channels")} == {"D", "G"}


def test_invalid_token_exits_3_with_a_plain_message(scenario_sandbox: RunningSandbox, tmp_path: Path) -> None:
    bad = "q" * 26
    done = run_cli("export", scenario_sandbox.url, "--out", str(tmp_path / "a"), token=bad)
    assert done.returncode == EXIT_AUTH
    assert "session has expired or the token is invalid" in done.stderr
    assert scenario_sandbox.url in done.stderr and bad not in done.stderr + done.stdout


def test_missing_items_exit_4_and_are_listed(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    lost = scenario.world.post(scenario.hostile_post).file_ids[0]
    scenario.world.drop_file_blob(lost)
    archive = tmp_path / "archive"
    done = run_cli("export", scenario_sandbox.url, "--out", str(archive), token=scenario.token)
    assert done.returncode == EXIT_INCOMPLETE, done.stderr
    assert lost in done.stderr and lost in (archive / "report.txt").read_text()
    assert done.stdout.strip() == str(archive.resolve())
    assert query(archive, "SELECT status FROM files WHERE id = ?", lost) == [("unavailable",)]


def test_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMTAKEOUT_TOKEN", raising=False)
    assert main(["export", "http://127.0.0.1:9", "--out", str(tmp_path)]) == EXIT_USAGE
    monkeypatch.setenv("MMTAKEOUT_TOKEN", "x" * 26)
    assert main(["export", "ftp://example", "--out", str(tmp_path)]) == EXIT_USAGE
    for arguments in (["--max-file-size", "big"], ["--token", "secret"], ["--concurrency", "0"]):
        with pytest.raises(SystemExit) as exit_:
            main(["export", "http://127.0.0.1:9", "--out", str(tmp_path), *arguments])
        assert exit_.value.code == EXIT_USAGE, arguments


def test_a_web_page_instead_of_the_api_exits_1(scenario_sandbox: RunningSandbox, tmp_path: Path) -> None:
    done = run_cli(
        "export", scenario_sandbox.url + "/some/portal", "--out", str(tmp_path / "a"), token="x" * 26
    )
    assert done.returncode == EXIT_FAILURE
    assert "web page" in done.stderr


def test_archive_of_another_server_is_refused(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    assert (
        run_cli("export", scenario_sandbox.url, "--out", str(archive), token=scenario.token).returncode == 0
    )
    other = start_sandbox_thread(scenario.world, SandboxConfig())
    try:
        done = run_cli(
            "export", other.url.replace("127.0.0.1", "localhost"), "--out", str(archive), token=scenario.token
        )
    finally:
        other.stop()
    assert done.returncode == EXIT_FAILURE
    assert "Choose another folder" in done.stderr


def _count_runs(archive: Path) -> int:
    if not (archive / "archive.sqlite").exists():
        return 0
    try:
        return int(query(archive, "SELECT count(*) FROM runs")[0][0])
    except sqlite3.Error:
        return 0


def _wait_until_a_new_run_is_under_way(
    archive: Path, runs_before: int, process: subprocess.Popen[bytes]
) -> bool:
    """True once this process has recorded its run (so a kill lands mid-export), False if it ended first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if _count_runs(archive) > runs_before:
            return True
        time.sleep(0.02)
    return False


def test_kill_9_at_random_moments_then_resume(scenario: Scenario, tmp_path: Path) -> None:
    running = start_sandbox_thread(scenario.world, SandboxConfig(latency_ms=60))
    archive = tmp_path / "archive"
    command = [
        sys.executable,
        "-m",
        "mmtakeout",
        "export",
        running.url,
        "--out",
        str(archive),
        "--concurrency",
        "2",
        "--quiet",
    ]
    env = {**os.environ, "MMTAKEOUT_TOKEN": scenario.token}
    rng = random.Random(20240601)
    kills = 0
    try:
        for _ in range(5):
            runs_before = _count_runs(archive)
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if _wait_until_a_new_run_is_under_way(archive, runs_before, process):
                time.sleep(rng.uniform(0.0, 0.8))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        running.stop()
    assert kills >= 2, "the export was interrupted at least twice"
    assert final.returncode == EXIT_OK, final.stderr
    statuses = [row[0] for row in query(archive, "SELECT status FROM runs ORDER BY id")]
    assert statuses[-1] == "complete" and "running" in statuses, statuses
    assert_matches_world(archive, scenario.world)
    assert_files_intact(archive, scenario.world)
    assert_nothing_outside(archive, tmp_path)


def test_verify_finds_damage(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    assert (
        run_cli("export", scenario_sandbox.url, "--out", str(archive), token=scenario.token).returncode == 0
    )
    saved = query(archive, "SELECT path FROM files WHERE status = 'saved' ORDER BY id")
    corrupted, removed = archive / saved[0][0], archive / saved[1][0]
    corrupted.write_bytes(corrupted.read_bytes()[:-1] + b"!")
    removed.unlink()
    (archive / "files" / "zz").mkdir(parents=True, exist_ok=True)
    (archive / "files" / "zz" / "stray.bin").write_bytes(b"?")
    assert main(["verify", str(archive)]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert saved[0][0] in err and "sha256" in err
    assert f"{saved[1][0]} is missing" in err
    assert "files/zz/stray.bin" in err
    assert main(["verify", str(tmp_path / "nothing-here")]) == EXIT_FAILURE


def test_file_options_reach_the_export(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    done = run_cli(
        "export",
        scenario_sandbox.url,
        "--out",
        str(archive),
        "--max-file-size",
        "3KB",
        "--no-previews",
        "--concurrency",
        "2",
        token=scenario.token,
    )
    assert done.returncode == EXIT_OK, done.stderr
    rows = query(archive, "SELECT status, size, thumbnail_path FROM files")
    assert {status for status, size, _ in rows if size > 3 * 1024} == {"skipped"}
    assert {status for status, size, _ in rows if size <= 3 * 1024} == {"saved"}
    assert all(thumbnail is None for _, _, thumbnail in rows)
    selection = query(archive, "SELECT value FROM meta WHERE key = 'selection'")[0][0]
    assert '"max_file_size": 3072' in selection and '"previews": false' in selection
    done = run_cli("export", scenario_sandbox.url, "--out", str(archive), "--no-files", token=scenario.token)
    assert done.returncode == EXIT_OK
    assert {row[0] for row in query(archive, "SELECT DISTINCT status FROM files")} == {"saved", "skipped"}
