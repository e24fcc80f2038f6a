"""The Mattermost desktop app's cookie store: its folder on each OS, its config.json, both value forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from credentials_stores import NOW, Row, cbc_key, encrypt_cbc, encrypt_gcm, write_chromium_db

from mmtakeout.credentials import CredentialError, ServerAddress
from mmtakeout.credentials.desktop_app import configured_servers, find_desktop_app_tokens
from mmtakeout.credentials.found import LookupReport
from mmtakeout.credentials.os_secrets import SecretUnavailable, secret_service_password

SERVER = ServerAddress.parse("https://chat.example.com")
SAFE_STORAGE_SECRET = b"Mattermost-Safe-Storage-test-secret"


def linux_app_dir(home: Path) -> Path:
    return home / ".config" / "Mattermost"


def write_config(app_dir: Path, config: object) -> None:
    app_dir.mkdir(parents=True, exist_ok=True)
    (app_dir / "config.json").write_text(json.dumps(config))


def never_asked() -> bytes | None:
    raise AssertionError("the secret store must not be asked for a cookie that is not encrypted")


def look(
    home: Path, lookup_secret: object = never_asked, platform: str = "linux", **environ: str
) -> LookupReport:
    return find_desktop_app_tokens(
        SERVER,
        home=home,
        environ=environ,
        platform=platform,
        now=datetime.now(UTC),
        secret_lookup=lookup_secret,  # type: ignore[arg-type]
    )


def test_configured_servers_in_every_config_version(tmp_path: Path) -> None:
    versions = {
        "v0": {"url": "https://one.example.com"},
        "v2": {"version": 2, "teams": [{"name": "One", "url": "https://one.example.com", "order": 0}]},
        "v4": {
            "version": 4,
            "servers": [
                {"name": "One", "url": "https://one.example.com", "order": 0},
                {"name": "x", "url": 7},
            ],
        },
    }
    for name, config in versions.items():
        write_config(tmp_path / name, config)
        assert configured_servers(tmp_path / name) == ["https://one.example.com"], name
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert configured_servers(tmp_path / "broken") == []


def test_unencrypted_cookie_in_the_newer_network_folder(private_home: Path) -> None:
    app_dir = linux_app_dir(private_home)
    write_config(
        app_dir, {"version": 4, "servers": [{"name": "Chat", "url": "https://chat.example.com/", "order": 0}]}
    )
    write_chromium_db(
        app_dir / "Network" / "Cookies", [(Row("chat.example.com", "plain-token"), b"")], plain_values=True
    )
    report = look(private_home)
    assert [(item.token, item.source) for item in report.ranked()] == [
        ("plain-token", "the Mattermost desktop app (Network/Cookies)")
    ]
    assert report.notes == []


def test_encrypted_with_the_apps_safe_storage_secret(private_home: Path) -> None:
    app_dir = linux_app_dir(private_home)
    key = cbc_key(SAFE_STORAGE_SECRET, 1)
    rows = [
        (
            Row("chat.example.com", "secret-token"),
            encrypt_cbc("secret-token", "chat.example.com", key, b"v11"),
        ),
        (Row("other.example.com", "other"), encrypt_cbc("other", "other.example.com", key, b"v11")),
    ]
    write_chromium_db(app_dir / "Cookies", rows)
    asked: list[int] = []

    def secret() -> bytes:
        asked.append(1)
        return SAFE_STORAGE_SECRET

    assert [item.token for item in look(private_home, secret).ranked()] == ["secret-token"]
    assert asked == [1]


def test_older_electron_without_domain_hash_and_the_basic_key(private_home: Path) -> None:
    app_dir = linux_app_dir(private_home)
    value = encrypt_cbc("basic-token", "chat.example.com", cbc_key(b"peanuts", 1), b"v10", domain_hash=False)
    write_chromium_db(app_dir / "Cookies", [(Row("chat.example.com", "basic-token"), value)], version=18)
    assert [item.token for item in look(private_home).ranked()] == ["basic-token"]


def test_wrong_secret_and_unavailable_secret_store_are_explained(private_home: Path) -> None:
    app_dir = linux_app_dir(private_home)
    value = encrypt_cbc("t", "chat.example.com", cbc_key(SAFE_STORAGE_SECRET, 1), b"v11")
    write_chromium_db(app_dir / "Network" / "Cookies", [(Row("chat.example.com", "t"), value)])

    wrong = look(private_home, lambda: b"some other secret")
    assert wrong.tokens == []
    assert wrong.notes == [
        "the Mattermost desktop app (Network/Cookies): the cookie could not be decrypted with the "
        "'Mattermost Safe Storage' secret"
    ]

    def locked() -> bytes:
        raise SecretUnavailable("your keyring is locked: unlock it and try again")

    assert look(private_home, locked).notes == [
        "the Mattermost desktop app (Network/Cookies): your keyring is locked: unlock it and try again"
    ]


def test_macos_layout_and_keychain_iterations(private_home: Path) -> None:
    app_dir = private_home / "Library" / "Application Support" / "Mattermost"
    value = encrypt_cbc("mac-token", "chat.example.com", cbc_key(SAFE_STORAGE_SECRET, 1003), b"v10")
    write_chromium_db(app_dir / "Cookies", [(Row("chat.example.com", "mac-token"), value)])
    report = look(private_home, lambda: SAFE_STORAGE_SECRET, platform="darwin")
    assert [item.token for item in report.ranked()] == ["mac-token"]


def test_windows_layout_and_aes_gcm(private_home: Path) -> None:
    roaming = private_home / "AppData" / "Roaming"
    key = bytes(range(32))
    value = encrypt_gcm("win-token", "chat.example.com", key)
    write_chromium_db(
        roaming / "Mattermost" / "Network" / "Cookies", [(Row("chat.example.com", "win-token"), value)]
    )
    report = look(private_home, lambda: key, platform="win32", APPDATA=str(roaming))
    assert [item.token for item in report.ranked()] == ["win-token"]
    tampered = look(private_home, lambda: bytes(32), platform="win32", APPDATA=str(roaming))
    assert tampered.tokens == [] and "could not be decrypted" in tampered.notes[0]


def test_session_partitions_are_read_and_the_newest_login_wins(private_home: Path) -> None:
    app_dir = linux_app_dir(private_home)
    write_chromium_db(
        app_dir / "Network" / "Cookies",
        [(Row("chat.example.com", "old-token", created=NOW - timedelta(days=5)), b"")],
        plain_values=True,
    )
    write_chromium_db(
        app_dir / "Partitions" / "chat" / "Network" / "Cookies",
        [(Row("chat.example.com", "new-token", created=NOW - timedelta(minutes=5)), b"")],
        plain_values=True,
    )
    assert [item.token for item in look(private_home).ranked()] == ["new-token", "old-token"]


def test_a_server_the_app_does_not_know_is_named(private_home: Path) -> None:
    app_dir = linux_app_dir(private_home)
    write_config(
        app_dir, {"version": 3, "teams": [{"name": "Other", "url": "https://other.example.com", "order": 0}]}
    )
    write_chromium_db(app_dir / "Cookies", [(Row("other.example.com", "x"), b"")], plain_values=True)
    report = look(private_home)
    assert report.tokens == []
    assert report.notes == [
        "the Mattermost desktop app is not set up for https://chat.example.com (it knows https://other.example.com)",
        "the Mattermost desktop app (Cookies): no MMAUTHTOKEN cookie for this server",
    ]


def test_app_not_installed(private_home: Path) -> None:
    report = look(private_home)
    assert report.not_installed == ["the Mattermost desktop app"] and report.tokens == []


def test_secret_service_without_a_desktop_session(no_session_bus: None) -> None:
    with pytest.raises(SecretUnavailable, match=r"no desktop session \(D-Bus\)"):
        secret_service_password("Mattermost")


def test_secret_service_on_a_bus_without_a_keyring_daemon(session_bus: str) -> None:
    with pytest.raises(SecretUnavailable, match="no keyring service"):
        secret_service_password("Mattermost")


def test_desktop_app_through_the_common_token_lookup(private_home: Path) -> None:
    from mmtakeout.credentials.browsers import Environment, ranked_tokens

    app_dir = linux_app_dir(private_home)
    write_chromium_db(
        app_dir / "Network" / "Cookies", [(Row("chat.example.com", "app-token"), b"")], plain_values=True
    )
    env = Environment(home=private_home, environ={}, platform="linux", now=NOW)
    assert [item.token for item in ranked_tokens(SERVER, "mattermost-desktop", env)] == ["app-token"]
    assert [item.token for item in ranked_tokens(SERVER, "auto", env)] == ["app-token"]
    with pytest.raises(CredentialError, match="the Mattermost desktop app"):
        ranked_tokens(ServerAddress.parse("https://elsewhere.example.com"), "mattermost-desktop", env)
