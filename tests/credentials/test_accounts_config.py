"""The list of known archives: where it lives, what it accepts, atomic concurrent-safe writes, no token."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from mmtakeout.accounts.config import (
    Config,
    ConfigError,
    KnownArchive,
    LastRun,
    Selection,
    config_dir,
    load_config,
    log_dir,
    update_config,
)
from mmtakeout.accounts.remember import register_archive, remember_server
from mmtakeout.credentials.keyring_store import KeyringUnavailable
from mmtakeout.sync.options import ExportOptions


def test_config_folder_on_each_platform(tmp_path: Path) -> None:
    home = tmp_path
    assert config_dir(home, {}, "linux") == home / ".config" / "mmtakeout"
    assert config_dir(home, {"XDG_CONFIG_HOME": "/x/cfg"}, "linux") == Path("/x/cfg/mmtakeout")
    assert config_dir(home, {}, "darwin") == home / "Library" / "Application Support" / "mmtakeout"
    assert config_dir(home, {"APPDATA": "C:/Users/a/AppData/Roaming"}, "win32") == Path(
        "C:/Users/a/AppData/Roaming/mmtakeout"
    )
    assert config_dir(home, {"MMTAKEOUT_CONFIG_DIR": "/srv/mm"}, "linux") == Path("/srv/mm")
    assert log_dir(home, {}, "linux") == home / ".local" / "state" / "mmtakeout"
    assert log_dir(home, {}, "darwin") == home / "Library" / "Logs" / "mmtakeout"


def test_round_trip_and_the_file_a_person_can_read(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "archives.json"
    archive = KnownArchive(
        server_url="https://chat.example.com",
        folder=tmp_path / "archive",
        selection=Selection(scope="direct", files=True, max_file_size=20 * 1024 * 1024),
        last_run=LastRun(finished_at="2026-11-22T03:00:00+00:00", outcome="ok", message="up to date"),
    )
    update_config(path, lambda config: config.with_archive(archive))
    assert load_config(path) == Config(archives=(archive,))
    data = json.loads(path.read_text())
    assert data["format"] == 1
    assert data["archives"][0]["selection"] == {"scope": "direct", "files": True, "max_file_size": 20971520}
    assert sorted(entry.name for entry in path.parent.iterdir()) == ["archives.json", "archives.json.lock"]
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_folder_belongs_to_one_server(tmp_path: Path) -> None:
    path = tmp_path / "archives.json"
    folder = tmp_path / "archive"
    register_archive("https://one.example.com", folder, ExportOptions(), config_path=path)
    register_archive("https://one.example.com/", folder, ExportOptions(scope="direct"), config_path=path)
    assert [(a.server_url, a.selection.scope) for a in load_config(path).archives] == [
        ("https://one.example.com", "direct")
    ]
    with pytest.raises(ConfigError, match=re.escape("already the archive of https://one.example.com")):
        register_archive("https://two.example.com", folder, ExportOptions(), config_path=path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"format": 9, "archives": []}', "has format 9"),
        ('{"archives": [{"server_url": "ftp://x", "folder": "/a"}]}', "'server_url' must be"),
        (
            '{"archives": [{"server_url": "https://x", "folder": "relative/dir"}]}',
            "'folder' must be an absolute",
        ),
        (
            '{"archives": [{"server_url": "https://x", "folder": "/a", "selection": {"scope": "any"}}]}',
            "'scope' must be",
        ),
        (
            '{"archives": [{"server_url": "https://x", "folder": "/a", "selection": {"max_file_size": -1}}]}',
            "'max_file_size' must be",
        ),
    ],
)
def test_damaged_files_are_refused_with_the_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "archives.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=reason) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_a_damaged_last_run_record_does_not_block_syncing(tmp_path: Path) -> None:
    path = tmp_path / "archives.json"
    path.write_text(
        '{"archives": [{"server_url": "https://x", "folder": "/a", "last_run": {"outcome": "great"}}]}'
    )
    assert load_config(path).archives[0].last_run is None


def test_concurrent_updates_keep_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "archives.json"

    def add(index: int) -> None:
        register_archive(
            f"https://s{index}.example.com", tmp_path / f"a{index}", ExportOptions(), config_path=path
        )

    threads = [threading.Thread(target=add, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.server_url for a in load_config(path).archives) == sorted(
        f"https://s{index}.example.com" for index in range(12)
    )
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.endswith(".tmp")] == []


def test_remember_server_stores_the_token_in_the_keyring_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "archives.json"
    token = "k5b3jw8qz1tm7rnd2fyc6xhpea"
    remember_server(
        "https://chat.example.com", token, tmp_path / "archive", ExportOptions(), config_path=path
    )
    assert load_config(path).archives[0].folder == (tmp_path / "archive").resolve()
    assert token not in path.read_text()
    import keyring

    assert keyring.get_keyring().get_password("mmtakeout", "https://chat.example.com") == token


def test_remember_server_registers_nothing_without_a_secure_keyring(tmp_path: Path) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    path = tmp_path / "archives.json"
    with pytest.raises(KeyringUnavailable):
        remember_server(
            "https://chat.example.com", "abc", tmp_path / "archive", ExportOptions(), config_path=path
        )
    assert not path.exists()
