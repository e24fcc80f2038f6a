"""The ready-made schedules in scripts/schedule/ are valid for their schedulers and run `mmtakeout sync`."""

from __future__ import annotations

import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCHEDULE = Path(__file__).resolve().parents[2] / "scripts" / "schedule"


def test_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    home, runtime = tmp_path / "home", tmp_path / "run"
    program = home / ".local" / "bin" / "mmtakeout"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    runtime.mkdir(mode=0o700)
    units = [
        shutil.copy(SCHEDULE / name, tmp_path) for name in ("mmtakeout-sync.service", "mmtakeout-sync.timer")
    ]
    verified = subprocess.run(
        ["systemd-analyze", "--user", "verify", *units],
        env={"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    service = (SCHEDULE / "mmtakeout-sync.service").read_text()
    assert "\nExecStart=%h/.local/bin/mmtakeout sync --quiet\n" in service
    assert "\nType=oneshot\n" in service
    timer = (SCHEDULE / "mmtakeout-sync.timer").read_text()
    assert "\nPersistent=true\n" in timer and "\nWantedBy=timers.target\n" in timer


def test_launchd_agent_runs_sync_every_hour() -> None:
    agent = plistlib.loads((SCHEDULE / "org.mmtakeout.sync.plist").read_bytes())
    assert agent["Label"] == "org.mmtakeout.sync"
    assert agent["ProgramArguments"][1:] == ["sync", "--quiet"]
    assert agent["ProgramArguments"][0].endswith("/mmtakeout")
    assert agent["StartInterval"] == 3600
    assert agent["StandardErrorPath"].startswith("/")


def test_crontab_line_is_well_formed() -> None:
    lines = [
        line
        for line in (SCHEDULE / "crontab.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(lines) == 1
    minute, hour, day, month, weekday, command = lines[0].split(maxsplit=5)
    assert re.fullmatch(r"[0-5]?\d", minute) and (hour, day, month, weekday) == ("*", "*", "*", "*")
    assert command.endswith('/mmtakeout" sync --quiet')
    assert "DBUS_SESSION_BUS_ADDRESS=" in command


def test_task_scheduler_script_registers_an_hourly_sync_for_the_logged_on_user() -> None:
    script = (SCHEDULE / "register-mmtakeout-sync.ps1").read_text()
    assert "Register-ScheduledTask -TaskName 'mmtakeout sync'" in script
    assert "-Argument 'sync --quiet'" in script
    assert "-LogonType Interactive" in script
    assert "[int]$EveryMinutes = 60" in script
