"""Every test here runs with a private home folder and an in-memory keyring: never the user's own."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from memory_keyring import MemoryKeyring


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, the XDG folders, the Windows folders and the temp folder all point into the test's own space."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "APPDATA", "LOCALAPPDATA"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("MMTAKEOUT_CONFIG_DIR", raising=False)
    monkeypatch.delenv("MMTAKEOUT_TOKEN", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def session_bus(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private D-Bus session bus (no secret service on it), like a desktop without a keyring daemon."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    socket_dir = tmp_path_factory.mktemp("bus")
    daemon = subprocess.Popen(
        [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--nopidfile",
            "--print-address=1",
            f"--address=unix:dir={socket_dir}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        assert address.startswith("unix:"), address
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@pytest.fixture
def no_session_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """No desktop session: what cron, SSH and containers look like."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
