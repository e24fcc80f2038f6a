"""A desktop notification when a scheduled sync needs the person (an expired login), where the desktop allows.

Best effort: no desktop session (cron, SSH) means no notification, never an error. The text goes to the
notifier as separate arguments or environment variables, never spliced into a script, and it never
holds a secret: callers pass only server addresses and instructions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

APP_NAME = "mmtakeout"
NOTIFY_TIMEOUT_SECONDS = 15
TITLE_ENV_VAR = "MMTAKEOUT_NOTIFY_TITLE"
TEXT_ENV_VAR = "MMTAKEOUT_NOTIFY_TEXT"
# Windows shows toasts only for registered application ids; PowerShell's own is always registered.
POWERSHELL_APP_ID = r"{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe"
WINDOWS_TOAST_SCRIPT = "\n".join(
    (
        "$ErrorActionPreference = 'Stop'",
        "[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, "
        "ContentType = WindowsRuntime] | Out-Null",
        "$kind = [Windows.UI.Notifications.ToastTemplateType]::ToastText02",
        "$template = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent($kind)",
        "$lines = $template.GetElementsByTagName('text')",
        f"$lines.Item(0).AppendChild($template.CreateTextNode($env:{TITLE_ENV_VAR})) | Out-Null",
        f"$lines.Item(1).AppendChild($template.CreateTextNode($env:{TEXT_ENV_VAR})) | Out-Null",
        "$toast = [Windows.UI.Notifications.ToastNotification]::new($template)",
        f"[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('{POWERSHELL_APP_ID}')"
        ".Show($toast)",
    )
)
MACOS_SCRIPT = ("on run argv", "display notification (item 2 of argv) with title (item 1 of argv)", "end run")


@dataclass(frozen=True)
class NotificationCommand:
    argv: list[str]
    stdin: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)


def notification_command(
    title: str,
    text: str,
    *,
    platform: str,
    environ: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
) -> NotificationCommand | None:
    """How to show the notification on this desktop, or None when there is no desktop to show it on."""
    if platform == "darwin":
        osascript = which("osascript")
        if osascript is None:
            return None
        script = [part for line in MACOS_SCRIPT for part in ("-e", line)]
        return NotificationCommand(argv=[osascript, *script, title, text])
    if platform == "win32":
        powershell = which("powershell.exe") or which("powershell")
        if powershell is None:
            return None
        return NotificationCommand(
            argv=[powershell, "-NoProfile", "-NonInteractive", "-Command", "-"],
            stdin=WINDOWS_TOAST_SCRIPT,
            extra_env={TITLE_ENV_VAR: title, TEXT_ENV_VAR: text},
        )
    has_desktop = any(
        environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    )
    notify_send = which("notify-send")
    if notify_send is None or not has_desktop:
        return None
    return NotificationCommand(
        argv=[notify_send, f"--app-name={APP_NAME}", "--urgency=critical", title, text]
    )


def send_notification(
    title: str, text: str, *, platform: str, environ: Mapping[str, str] | None = None
) -> bool:
    """Show the notification if this desktop can; True when the notifier accepted it."""
    environ = os.environ if environ is None else environ
    search_path = environ.get("PATH")
    command = notification_command(
        title,
        text,
        platform=platform,
        environ=environ,
        which=lambda name: shutil.which(name, path=search_path),
    )
    if command is None:
        return False
    try:
        completed = subprocess.run(
            command.argv,
            input=command.stdin,
            env={**environ, **command.extra_env},
            capture_output=True,
            text=True,
            timeout=NOTIFY_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0
