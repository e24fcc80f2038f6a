"""The login cookie in browser profiles: exact host, every profile, newest login, plain failure messages."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from credentials_stores import NOW, Row, cbc_key, encrypt_cbc, write_chromium_db, write_firefox_db

from mmtakeout.credentials import CredentialError, ServerAddress, find_token
from mmtakeout.credentials.browsers import Environment, lookup, ranked_tokens
from mmtakeout.credentials.keyring_store import TokenStore

SERVER = ServerAddress.parse("https://chat.example.com")
PEANUTS = cbc_key(b"peanuts", 1)


def linux(home: Path) -> Environment:
    return Environment(home=home, environ={}, platform="linux", now=datetime.now(UTC))


def firefox_root(home: Path) -> Path:
    return home / ".config" / "mozilla" / "firefox"


def write_profiles_ini(root: Path, profiles: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    sections = [
        f"[Profile{index}]\nName={name}\nIsRelative=1\nPath={folder}\n"
        for index, (name, folder) in enumerate(profiles.items())
    ]
    (root / "profiles.ini").write_text("\n".join([*sections, "[General]\nVersion=2\n"]))


def chromium_profile(home: Path, folder: str) -> Path:
    return home / ".config" / "chromium" / folder / "Cookies"


def test_server_addresses_are_spelled_one_way() -> None:
    assert ServerAddress.parse(" https://Chat.Example.com:443/ ").url == "https://chat.example.com"
    assert ServerAddress.parse("http://127.0.0.1:8065/api/v4/") == ServerAddress(
        url="http://127.0.0.1:8065", host="127.0.0.1", path=""
    )
    sub = ServerAddress.parse("https://example.org/team-chat/")
    assert (sub.url, sub.host, sub.path) == ("https://example.org/team-chat", "example.org", "/team-chat")
    for bad in ("chat.example.com", "ftp://chat.example.com", "https://user:pw@chat.example.com"):
        with pytest.raises(CredentialError):
            ServerAddress.parse(bad)


def test_only_cookies_for_exactly_this_host_count() -> None:
    assert SERVER.cookie_host_matches("chat.example.com")
    assert SERVER.cookie_host_matches(".chat.example.com")
    for other in (
        ".example.com",
        "example.com",
        "evilchat.example.com",
        "chat.example.com.evil.net",
        "a.chat.example.com",
    ):
        assert not SERVER.cookie_host_matches(other)
    sub = ServerAddress.parse("https://example.org/mm")
    assert sub.cookie_path_matches("/") and sub.cookie_path_matches("/mm") and sub.cookie_path_matches("/mm/")
    assert not sub.cookie_path_matches("/mmx") and not sub.cookie_path_matches("/other")


def test_firefox_every_profile_is_read_and_the_newest_login_wins(private_home: Path) -> None:
    root = firefox_root(private_home)
    write_profiles_ini(root, {"default-esr": "aaaa.default-esr", "work": "bbbb.work"})
    write_firefox_db(
        root / "aaaa.default-esr" / "cookies.sqlite",
        [Row("chat.example.com", "older-token", created=NOW - timedelta(days=3))],
    )
    write_firefox_db(
        root / "bbbb.work" / "cookies.sqlite",
        [
            Row("chat.example.com", "newer-token", created=NOW - timedelta(hours=2)),
            Row(".example.com", "parent-domain-token", created=NOW),
            Row("evilchat.example.com", "lookalike-token", created=NOW),
            Row("chat.example.com", "other-cookie", name="MMUSERID", created=NOW),
        ],
    )
    legacy = private_home / ".mozilla" / "firefox" / "cccc.old" / "cookies.sqlite"
    write_firefox_db(
        legacy, [Row("chat.example.com", "legacy-token", created=NOW - timedelta(days=9))], expiry_in_ms=False
    )

    found = ranked_tokens(SERVER, "firefox", linux(private_home))
    assert [item.token for item in found] == ["newer-token", "older-token", "legacy-token"]
    assert found[0].source == "Firefox (profile 'work')"
    assert "newer-token" not in repr(found[0])


def test_firefox_expired_login_says_when_and_what_to_do(private_home: Path) -> None:
    root = firefox_root(private_home)
    write_profiles_ini(root, {"default-esr": "aaaa.default-esr"})
    expired = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    write_firefox_db(
        root / "aaaa.default-esr" / "cookies.sqlite", [Row("chat.example.com", "old", expires=expired)]
    )
    with pytest.raises(CredentialError) as caught:
        ranked_tokens(SERVER, "firefox", linux(private_home))
    message = str(caught.value)
    assert "Firefox (profile 'default-esr'): the login expired on 2024-05-01 12:30 UTC" in message
    assert "Log in to https://chat.example.com in that browser first" in message
    assert "old" not in message.replace("older", "")


def test_a_site_under_a_sub_path_prefers_its_own_cookie(private_home: Path) -> None:
    root = firefox_root(private_home)
    write_profiles_ini(root, {"default": "p.default"})
    write_firefox_db(
        root / "p.default" / "cookies.sqlite",
        [
            Row("example.org", "root-cookie", path="/", created=NOW),
            Row("example.org", "site-cookie", path="/mm", created=NOW - timedelta(days=1)),
            Row("example.org", "other-site", path="/other", created=NOW),
        ],
    )
    found = ranked_tokens(ServerAddress.parse("https://example.org/mm"), "firefox", linux(private_home))
    assert [item.token for item in found] == ["site-cookie", "root-cookie"]


def test_chromium_profiles_are_named_and_decrypted_without_a_desktop_session(
    private_home: Path, no_session_bus: None
) -> None:
    write_chromium_db(
        chromium_profile(private_home, "Default"),
        [
            (
                Row("chat.example.com", "default-token", created=NOW - timedelta(days=1)),
                encrypt_cbc("default-token", "chat.example.com", PEANUTS),
            )
        ],
    )
    write_chromium_db(
        chromium_profile(private_home, "Profile 1"),
        [(Row(".chat.example.com", "work-token"), encrypt_cbc("work-token", ".chat.example.com", PEANUTS))],
    )
    local_state = {
        "profile": {"info_cache": {"Default": {"name": "Personal"}, "Profile 1": {"name": "Work"}}}
    }
    (private_home / ".config" / "chromium" / "Local State").write_text(json.dumps(local_state))

    found = ranked_tokens(SERVER, "chromium", linux(private_home))
    assert [(item.token, item.source) for item in found] == [
        ("work-token", "Chromium (profile 'Work' (Profile 1))"),
        ("default-token", "Chromium (profile 'Personal' (Default))"),
    ]


def test_chromium_through_browser_cookie3_on_a_desktop_session(private_home: Path, session_bus: str) -> None:
    write_chromium_db(
        chromium_profile(private_home, "Default"),
        [(Row("chat.example.com", "bus-token"), encrypt_cbc("bus-token", "chat.example.com", PEANUTS))],
    )
    assert [item.token for item in ranked_tokens(SERVER, "chromium", linux(private_home))] == ["bus-token"]


def test_keyring_protected_cookie_without_a_desktop_session(private_home: Path, no_session_bus: None) -> None:
    keyring_key = cbc_key(b"secret-from-gnome-keyring", 1)
    write_chromium_db(
        chromium_profile(private_home, "Default"),
        [
            (
                Row("chat.example.com", "v11-token"),
                encrypt_cbc("v11-token", "chat.example.com", keyring_key, b"v11"),
            )
        ],
    )
    with pytest.raises(CredentialError, match=r"without a desktop session \(D-Bus\)"):
        ranked_tokens(SERVER, "chromium", linux(private_home))


def test_keyring_protected_cookie_when_the_keyring_does_not_give_the_key(
    private_home: Path, session_bus: str
) -> None:
    keyring_key = cbc_key(b"secret-from-gnome-keyring", 1)
    write_chromium_db(
        chromium_profile(private_home, "Default"),
        [
            (
                Row("chat.example.com", "v11-token"),
                encrypt_cbc("v11-token", "chat.example.com", keyring_key, b"v11"),
            )
        ],
    )
    with pytest.raises(CredentialError, match="unlock your keyring"):
        ranked_tokens(SERVER, "chromium", linux(private_home))


def test_chrome_app_bound_encryption_on_windows(private_home: Path) -> None:
    local = private_home / "AppData" / "Local"
    cookies = local / "Google" / "Chrome" / "User Data" / "Default" / "Network" / "Cookies"
    write_chromium_db(cookies, [(Row("chat.example.com", "x"), b"v20" + bytes(60))])
    env = Environment(home=private_home, environ={"LOCALAPPDATA": str(local)}, platform="win32", now=NOW)
    with pytest.raises(CredentialError) as caught:
        ranked_tokens(SERVER, "chrome", env)
    assert "Chrome on Windows encrypts cookies so other programs cannot read them: use the extension" in str(
        caught.value
    )


def test_nothing_installed_names_what_was_looked_for(private_home: Path) -> None:
    with pytest.raises(CredentialError) as caught:
        ranked_tokens(SERVER, "auto", linux(private_home))
    message = str(caught.value)
    assert "not found on this computer: Firefox, Chrome, Chromium, Edge, Brave, Vivaldi, Opera" in message
    assert "the Mattermost desktop app" in message
    with pytest.raises(CredentialError, match="Try --browser auto"):
        ranked_tokens(SERVER, "vivaldi", linux(private_home))


def test_a_profile_without_the_cookie_says_log_in_first(private_home: Path) -> None:
    root = firefox_root(private_home)
    write_profiles_ini(root, {"default-esr": "aaaa.default-esr"})
    write_firefox_db(root / "aaaa.default-esr" / "cookies.sqlite", [Row("other.example.com", "elsewhere")])
    with pytest.raises(CredentialError) as caught:
        ranked_tokens(SERVER, "firefox", linux(private_home))
    assert "Firefox (profile 'default-esr'): no MMAUTHTOKEN cookie for this server" in str(caught.value)
    assert "Log in to https://chat.example.com in that browser first" in str(caught.value)


def test_a_damaged_cookie_file_is_named_and_other_profiles_still_count(private_home: Path) -> None:
    root = firefox_root(private_home)
    write_profiles_ini(root, {"broken": "b.broken", "good": "g.good"})
    (root / "b.broken").mkdir()
    (root / "b.broken" / "cookies.sqlite").write_bytes(b"garbage")
    write_firefox_db(root / "g.good" / "cookies.sqlite", [Row("chat.example.com", "good-token")])
    report = lookup(SERVER, "firefox", linux(private_home))
    assert [item.token for item in report.ranked()] == ["good-token"]
    assert any("b.broken" in note and "not an SQLite database" in note for note in report.notes)


def test_unknown_browser_is_refused() -> None:
    with pytest.raises(CredentialError, match="Unknown browser 'netscape'"):
        lookup(SERVER, "netscape", linux(Path("/nonexistent")))


def test_token_sources_in_order(private_home: Path) -> None:
    root = firefox_root(private_home)
    write_profiles_ini(root, {"default": "p.default"})
    write_firefox_db(root / "p.default" / "cookies.sqlite", [Row("chat.example.com", "browser-token")])
    TokenStore.open().save(SERVER, "keyring-token")
    env = linux(private_home)

    def source(**overrides: object) -> tuple[str, str]:
        settings: dict[str, object] = {
            "token_stdin": False,
            "browser": None,
            "stdin": io.StringIO("stdin-token\n"),
            "environ": {"MMTAKEOUT_TOKEN": "env-token"},
            "use_keyring": True,
            "environment": env,
        }
        settings.update(overrides)
        found = find_token(SERVER.url, **settings)  # type: ignore[arg-type]
        return found.token, found.source

    assert source(token_stdin=True, browser="firefox") == ("stdin-token", "standard input")
    assert source(browser="firefox") == ("browser-token", "Firefox (profile 'default')")
    assert source()[0] == "env-token"
    assert source(environ={})[0] == "keyring-token"
    with pytest.raises(
        CredentialError, match=re.escape("Run `mmtakeout login https://chat.example.com --browser auto`")
    ):
        source(environ={}, use_keyring=False)
    with pytest.raises(CredentialError, match="standard input had no token"):
        source(token_stdin=True, stdin=io.StringIO("\n"))
    with pytest.raises(CredentialError, match="spaces"):
        source(token_stdin=True, stdin=io.StringIO("two words\n"))
