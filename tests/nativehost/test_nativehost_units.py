"""The pure parts of the native host: URL and cookie checks, paths, frame sizes, throttling."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from mmtakeout.nativehost import paths
from mmtakeout.nativehost.host import Caller, identify_caller, is_allowed
from mmtakeout.nativehost.jobs import ProgressThrottle, done_frame, opener_command, progress_frame
from mmtakeout.nativehost.protocol import (
    DEV_CHROMIUM_EXTENSION_ID,
    FIREFOX_ADDON_ID,
    MAX_OUTGOING_FRAME,
    ProtocolError,
    SiteSession,
    check_session_site,
    encode_frame,
    normalise_server_url,
    read_frame,
)
from mmtakeout.sync import ExportResult, Problem, ProgressSnapshot


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://Chat.Example.org/", "https://chat.example.org"),
        ("https://chat.example.org:443", "https://chat.example.org"),
        ("http://127.0.0.1:8065", "http://127.0.0.1:8065"),
        ("http://localhost:80/", "http://localhost"),
        ("https://example.org/mattermost/", "https://example.org/mattermost"),
        ("https://example.org//team//", "https://example.org/team"),
        ("http://[::1]:8065", "http://[::1]:8065"),
    ],
)
def test_server_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_server_url(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "chat.example.org",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "https://a.org/../b",
        "https://a.org/x\\..",
        "https://u@a.org",
        "https://a.org/#x",
        "https://a.org:0x1",
        "https://a.org\n",
        "https://" + "a" * 3000,
        42,
        None,
    ],
)
def test_bad_server_urls_are_refused(bad: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        normalise_server_url(bad)
    assert caught.value.code == "bad-message"


def session(server: str, site: str, domain: str, secure: bool = False) -> SiteSession:
    return SiteSession(server=server, cookie_site=site, cookie_domain=domain, cookie_secure=secure, token="t")


@pytest.mark.parametrize(
    ("server", "site", "domain", "secure"),
    [
        ("https://chat.example.org", "https://chat.example.org", "chat.example.org", True),
        ("https://chat.example.org", "https://chat.example.org", ".example.org", True),
        ("https://chat.example.org/mm", "https://chat.example.org", "chat.example.org", False),
        ("http://127.0.0.1:8065", "http://127.0.0.1:8065", "127.0.0.1", False),
    ],
)
def test_tokens_go_back_to_their_own_site(server: str, site: str, domain: str, secure: bool) -> None:
    check_session_site(session(server, site, domain, secure))


@pytest.mark.parametrize(
    ("server", "site", "domain", "secure"),
    [
        ("https://evil.example", "https://chat.example.org", "chat.example.org", False),
        ("https://chat.example.org", "https://chat.example.org", "evil.example", False),
        ("https://chat.example.org", "https://chat.example.org", "example.org", False),
        ("https://chat.example.org", "https://chat.example.org", ".xample.org", False),
        ("https://notexample.org", "https://notexample.org", ".example.org", False),
        ("http://chat.example.org", "http://chat.example.org", "chat.example.org", True),
        ("http://127.0.0.1:8065", "http://127.0.0.1:8065", ".0.0.1", False),
        ("http://127.0.0.1:8066", "http://127.0.0.1:8065", "127.0.0.1", False),
    ],
)
def test_tokens_never_go_elsewhere(server: str, site: str, domain: str, secure: bool) -> None:
    with pytest.raises(ProtocolError) as caught:
        check_session_site(session(server, site, domain, secure))
    assert caught.value.code == "origin-mismatch"


def test_the_token_stays_out_of_reprs() -> None:
    site = SiteSession("https://a.org", "https://a.org", "a.org", True, "s3cret-token")
    assert "s3cret-token" not in repr(site) and "s3cret-token" not in str(site)


def test_frames_round_trip_in_native_byte_order() -> None:
    data = encode_frame({"type": "hello", "text": "héllo ✓"})
    assert struct.unpack("=I", data[:4])[0] == len(data) - 4
    payload = read_frame(io.BytesIO(data))
    assert payload is not None and json.loads(payload)["text"] == "héllo ✓"
    assert read_frame(io.BytesIO(b"")) is None


def snapshot(current: str = "") -> ProgressSnapshot:
    return ProgressSnapshot(
        phase="messages",
        channels_total=3,
        channels_done=1,
        posts_expected=100,
        posts_saved=40,
        files_total=2,
        files_done=1,
        bytes_saved=10,
        elapsed_s=1.234,
        eta_s=2.5,
        percent=41.337,
        current=current,
    )


def test_frames_stay_far_below_the_browsers_limit() -> None:
    huge = progress_frame("j", snapshot(current="x" * 5_000_000))
    assert len(encode_frame(huge)) < 2_000
    problems = [Problem("file", f"id{i}", "y" * 10_000) for i in range(100_000)]
    result = ExportResult(status="incomplete", archive_dir=Path("/a"), stats={"n": 1}, problems=problems)
    frame = done_frame("j", result, viewer=True, totals={"posts": 1, "channels": 1})
    assert len(encode_frame(frame)) < MAX_OUTGOING_FRAME
    assert frame["problems_total"] == 100_000 and len(frame["problems"]) == 20  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too large"):
        encode_frame({"type": "x", "blob": "z" * (MAX_OUTGOING_FRAME + 1)})


def test_progress_is_throttled_but_phase_changes_always_pass() -> None:
    throttle = ProgressThrottle(min_interval_s=0.2)
    sent = [
        throttle.should_send(phase, now)
        for phase, now in [
            ("listing", 0.0),
            ("listing", 0.05),
            ("messages", 0.06),
            ("messages", 0.1),
            ("messages", 0.27),
            ("messages", 0.3),
            ("files", 0.31),
        ]
    ]
    assert sent == [True, False, True, False, True, False, True]


@pytest.mark.parametrize(
    ("argv", "caller"),
    [
        ([f"chrome-extension://{DEV_CHROMIUM_EXTENSION_ID}/"], Caller("chromium", DEV_CHROMIUM_EXTENSION_ID)),
        (
            [f"chrome-extension://{DEV_CHROMIUM_EXTENSION_ID}/", "--parent-window=1234"],
            Caller("chromium", DEV_CHROMIUM_EXTENSION_ID),
        ),
        (["/x/org.mmtakeout.helper.json", FIREFOX_ADDON_ID], Caller("firefox", FIREFOX_ADDON_ID)),
        ([f"chrome-extension://{DEV_CHROMIUM_EXTENSION_ID}"], None),
        (["chrome-extension://ABC/"], None),
        ([], None),
    ],
)
def test_callers_are_read_from_argv(argv: list[str], caller: Caller | None) -> None:
    assert identify_caller(argv) == caller


def test_extra_extension_ids_come_from_the_settings() -> None:
    store_id = "a" * 32
    caller = Caller("chromium", store_id)
    assert not is_allowed(caller, paths.HostConfig())
    assert is_allowed(caller, paths.HostConfig(extra_extension_ids=(store_id,)))
    with_store = paths.HostConfig(extra_extension_ids=(store_id,))
    assert not is_allowed(Caller("firefox", "other@example.org"), with_store)


@pytest.mark.parametrize(
    ("server", "name"),
    [
        ("https://chat.example.org", "chat.example.org"),
        ("http://127.0.0.1:8065", "127.0.0.1_8065"),
        ("https://example.org/mattermost", "example.org_mattermost"),
        ("http://[::1]:8065", "1_8065"),
        ("https://con", "_con"),
    ],
)
def test_archive_folders_are_named_after_the_server(server: str, name: str) -> None:
    assert paths.folder_name_for_server(server) == name


def test_folder_names_never_escape_the_archive_root(tmp_path: Path) -> None:
    user = paths.UserEnvironment("linux", tmp_path)
    root = paths.archive_root(user, paths.HostConfig())
    for server in ["https://a.org/..%2f..%2fetc", "https://a.org/%2e%2e", "https://a.org/.hidden/x"]:
        folder = paths.archive_dir_for(user, paths.HostConfig(), server)
        assert folder.parent == root and not folder.name.startswith(".")


def test_documents_folder_follows_xdg_user_dirs(tmp_path: Path) -> None:
    user = paths.UserEnvironment("linux", tmp_path, {})
    assert paths.documents_dir(user) == tmp_path / "Documents"
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "user-dirs.dirs").write_text('# comment\nXDG_DOCUMENTS_DIR="$HOME/Dokumente"\n')
    assert paths.documents_dir(user) == tmp_path / "Dokumente"
    assert paths.archive_root(user, paths.HostConfig()) == tmp_path / "Dokumente" / "Mattermost Takeout"
    configured = paths.HostConfig(archive_root=tmp_path / "elsewhere")
    assert paths.archive_root(user, configured) == tmp_path / "elsewhere"


def test_state_and_config_folders_per_platform(tmp_path: Path) -> None:
    linux = paths.UserEnvironment("linux", tmp_path, {"XDG_STATE_HOME": str(tmp_path / "st")})
    mac = paths.UserEnvironment("darwin", tmp_path)
    windows = paths.UserEnvironment(
        "win32", tmp_path, {"LOCALAPPDATA": str(tmp_path / "L"), "APPDATA": str(tmp_path / "R")}
    )
    assert paths.log_file(linux) == tmp_path / "st" / "mmtakeout" / "native-host.log"
    assert paths.log_file(mac) == tmp_path / "Library" / "Logs" / "mmtakeout" / "native-host.log"
    assert paths.log_file(windows) == tmp_path / "L" / "mmtakeout" / "Logs" / "native-host.log"
    assert paths.config_file(windows) == tmp_path / "R" / "mmtakeout" / "native-host.json"


def test_broken_settings_are_reported_not_ignored(tmp_path: Path) -> None:
    user = paths.UserEnvironment("linux", tmp_path)
    path = paths.config_file(user)
    path.parent.mkdir(parents=True)
    for text in ["{", "[]", '{"archive_root": "relative"}', '{"extra_extension_ids": "x"}']:
        path.write_text(text)
        with pytest.raises(paths.ConfigError, match=r"native-host\.json"):
            paths.load_config(user)
    settings = paths.HostConfig(archive_root=tmp_path / "a", extra_extension_ids=("b" * 32,))
    path.write_text(settings.to_json())
    assert paths.load_config(user) == settings


def test_the_os_opener_is_a_program_not_a_shell_line() -> None:
    target = Path("/x/it's; rm -rf ~/index.html")
    assert opener_command("linux", target) == ["xdg-open", str(target)]
    assert opener_command("darwin", target) == ["open", str(target)]
    assert opener_command("win32", target) is None
