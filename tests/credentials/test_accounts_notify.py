"""Desktop notifications: the right tool per desktop, text passed as data, nothing without a desktop."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from mmtakeout.accounts.notify import (
    TEXT_ENV_VAR,
    TITLE_ENV_VAR,
    notification_command,
    send_notification,
)

TITLE = "Mattermost backup needs you"
TEXT = 'The login for https://chat.example.com has expired. Run: mmtakeout login "$(rm -rf ~)"'


def tools(*names: str) -> object:
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_linux_uses_notify_send_only_in_a_desktop_session() -> None:
    command = notification_command(
        TITLE, TEXT, platform="linux", environ={"DISPLAY": ":0"}, which=tools("notify-send")
    )  # type: ignore[arg-type]
    assert command is not None
    assert command.argv == ["/usr/bin/notify-send", "--app-name=mmtakeout", "--urgency=critical", TITLE, TEXT]
    assert notification_command(TITLE, TEXT, platform="linux", environ={}, which=tools("notify-send")) is None  # type: ignore[arg-type]
    assert (
        notification_command(TITLE, TEXT, platform="linux", environ={"DISPLAY": ":0"}, which=tools()) is None
    )  # type: ignore[arg-type]


def test_macos_passes_the_text_as_arguments_not_as_script() -> None:
    command = notification_command(TITLE, TEXT, platform="darwin", environ={}, which=tools("osascript"))  # type: ignore[arg-type]
    assert command is not None
    assert command.argv[-2:] == [TITLE, TEXT]
    assert all(TEXT not in part for part in command.argv[:-1])


def test_windows_passes_the_text_in_the_environment() -> None:
    command = notification_command(TITLE, TEXT, platform="win32", environ={}, which=tools("powershell.exe"))  # type: ignore[arg-type]
    assert command is not None
    assert command.argv == ["/usr/bin/powershell.exe", "-NoProfile", "-NonInteractive", "-Command", "-"]
    assert command.extra_env == {TITLE_ENV_VAR: TITLE, TEXT_ENV_VAR: TEXT}
    assert TEXT not in command.stdin and f"$env:{TEXT_ENV_VAR}" in command.stdin


def test_a_real_notifier_process_receives_exactly_the_text(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    fake = tmp_path / "bin" / "notify-send"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'exec python3 -c \'import json,sys; json.dump(sys.argv[1:], open("{record}", "w"))\' "$@"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    environ = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "DISPLAY": ":99"}
    assert send_notification(TITLE, TEXT, platform="linux", environ=environ) is True
    assert json.loads(record.read_text()) == ["--app-name=mmtakeout", "--urgency=critical", TITLE, TEXT]
    assert send_notification(TITLE, TEXT, platform="linux", environ={"PATH": str(fake.parent)}) is False
