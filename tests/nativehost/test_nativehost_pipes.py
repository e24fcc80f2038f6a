"""The native host over real pipes: every bad input gets a clear error frame or a clean exit."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from nativehost_support import CHROMIUM_ORIGIN, HostProcess, frame, start_message

from mmtakeout import __version__
from mmtakeout.nativehost.protocol import FIREFOX_ADDON_ID, MAX_INCOMING_FRAME, PROTOCOL_VERSION

Spawn = Callable[..., Awaitable[HostProcess]]
HELLO = {"v": PROTOCOL_VERSION, "type": "hello", "extension_version": "test"}
TOKEN = "abcdefghijklmnopqrstuvwxyz"

pytestmark = pytest.mark.timeout(60)


async def expect_error(host: HostProcess, code: str) -> dict[str, Any]:
    reply = await host.receive()
    assert reply is not None, "the host closed instead of answering"
    assert reply["type"] == "error", reply
    assert reply["code"] == code, reply
    assert reply["message"] and len(reply["message"]) < 1100
    return reply


async def expect_alive(host: HostProcess) -> None:
    """The stream is still in sync: a hello right after still gets its answer."""
    await host.send(HELLO)
    reply = await host.receive()
    assert reply is not None and reply["type"] == "hello"


async def test_hello_is_answered_with_version_and_folders(spawn_host: Spawn, home: Path) -> None:
    host = await spawn_host()
    await host.send(HELLO)
    reply = await host.receive()
    assert reply is not None
    assert reply["type"] == "hello" and reply["v"] == PROTOCOL_VERSION
    assert reply["helper_version"] == __version__
    assert reply["archive_root"] == str(home / "Documents" / "Mattermost Takeout")
    assert {"start", "cancel", "open-archive"} <= set(reply["features"])
    code, stderr = await host.finish()
    assert code == 0, stderr
    assert (home / ".local" / "state" / "mmtakeout" / "native-host.log").is_file()


async def test_end_of_input_ends_the_host_cleanly(spawn_host: Spawn) -> None:
    host = await spawn_host()
    code, stderr = await host.finish()
    assert code == 0
    assert "Traceback" not in stderr
    assert await host.receive() is None


BAD_MESSAGES = [
    (b"{not json", "bad-frame"),
    (b"\xff\xfe\x00garbage", "bad-frame"),
    (b'{"v": 1, "type": "hello", "x": NaN}', "bad-frame"),
    (b"[1, 2, 3]", "bad-message"),
    (b'"hello"', "bad-message"),
    (b'{"type": "hello"}', "bad-message"),
    (b'{"v": "1", "type": "hello"}', "bad-message"),
    (b'{"v": true, "type": "hello"}', "bad-message"),
    (b'{"v": 2, "type": "hello"}', "unsupported-version"),
    (b'{"v": 1, "type": "format-disk"}', "unknown-type"),
    (b'{"v": 1}', "unknown-type"),
    (b'{"v": 1, "type": "hello", "surprise": true}', "bad-message"),
    (b'{"v": 1, "type": "hello", "extension_version": 7}', "bad-message"),
    (b'{"v": 1, "type": "cancel"}', "bad-message"),
    (b'{"v": 1, "type": "cancel", "job": "../../etc"}', "bad-message"),
    (b'{"v": 1, "type": "open-archive", "server": "file:///etc", "target": "viewer"}', "bad-message"),
    (b'{"v": 1, "type": "open-archive", "server": "https://a.org/../x", "target": "viewer"}', "bad-message"),
    (b'{"v": 1, "type": "open-archive", "server": "https://a.example", "target": "/bin/sh"}', "bad-message"),
    (b"", "bad-frame"),
]


async def test_bad_messages_get_an_error_and_the_stream_stays_usable(spawn_host: Spawn) -> None:
    # One host for all cases: each refusal must leave the stream in sync for the next message.
    host = await spawn_host()
    for payload, code in BAD_MESSAGES:
        await host.send_raw(struct.pack("=I", len(payload)) + payload)
        reply = await host.receive()
        assert reply is not None, f"the host closed after {payload!r}"
        assert (reply["type"], reply["code"]) == ("error", code), (payload, reply)
        assert reply["message"] and len(reply["message"]) < 1100
        await expect_alive(host)
    exit_code, stderr = await host.finish()
    assert exit_code == 0 and "Traceback" not in stderr


async def test_unknown_job_cancel_is_refused_with_its_job_id(spawn_host: Spawn) -> None:
    host = await spawn_host()
    await host.send({"v": 1, "type": "cancel", "job": "nope"})
    reply = await expect_error(host, "bad-message")
    assert reply["job"] == "nope"


async def test_oversized_length_prefix_ends_the_session_without_reading_it(spawn_host: Spawn) -> None:
    host = await spawn_host()
    await host.send_raw(struct.pack("=I", 0xFFFF_FFF0))
    reply = await expect_error(host, "bad-frame")
    assert str(MAX_INCOMING_FRAME) in reply["message"]
    assert await host.wait(seconds=10) == 1
    assert "Traceback" not in await host.stderr_text()


async def test_a_frame_just_over_the_cap_is_refused(spawn_host: Spawn) -> None:
    host = await spawn_host()
    payload = b'{"v":1,"type":"hello","extension_version":"' + b"x" * MAX_INCOMING_FRAME + b'"}'
    await host.send_raw(struct.pack("=I", len(payload)))
    await expect_error(host, "bad-frame")
    assert await host.wait(seconds=10) == 1


@pytest.mark.parametrize("data", [b"\x10\x00", struct.pack("=I", 100) + b'{"v":1,'])
async def test_truncated_frames_end_the_host_without_a_crash(spawn_host: Spawn, data: bytes) -> None:
    host = await spawn_host()
    await host.send_raw(data)
    await host.close_input()
    reply = await host.receive()
    assert reply is not None and reply["code"] == "bad-frame"
    assert await host.wait(seconds=10) == 1
    assert "Traceback" not in await host.stderr_text()


async def test_frames_split_into_tiny_writes_are_reassembled(spawn_host: Spawn) -> None:
    host = await spawn_host()
    data = frame(HELLO) * 3
    for index in range(len(data)):
        await host.send_raw(data[index : index + 1])
        if index % 7 == 0:
            await asyncio.sleep(0.001)
    for _ in range(3):
        reply = await host.receive()
        assert reply is not None and reply["type"] == "hello"


async def test_many_messages_in_one_write_are_all_answered(spawn_host: Spawn) -> None:
    host = await spawn_host()
    await host.send_raw(frame(HELLO) * 50)
    for _ in range(50):
        reply = await host.receive()
        assert reply is not None and reply["type"] == "hello"


@pytest.mark.parametrize(
    "args",
    [
        ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"],
        [CHROMIUM_ORIGIN.rstrip("/")],
        ["/home/x/.mozilla/native-messaging-hosts/org.mmtakeout.helper.json", "evil@example.org"],
        [],
        ["a", "b", "c"],
    ],
)
async def test_unknown_callers_are_turned_away(spawn_host: Spawn, args: list[str]) -> None:
    host = await spawn_host(args)
    await expect_error(host, "forbidden-caller")
    assert await host.wait() == 1


async def test_chromium_on_windows_passes_a_parent_window_too(spawn_host: Spawn) -> None:
    host = await spawn_host([CHROMIUM_ORIGIN, "--parent-window=0"])
    await expect_alive(host)


async def test_firefox_caller_is_accepted(spawn_host: Spawn, home: Path) -> None:
    manifest = home / ".mozilla" / "native-messaging-hosts" / "org.mmtakeout.helper.json"
    host = await spawn_host([str(manifest), FIREFOX_ADDON_ID])
    await expect_alive(host)


REFUSED_STARTS: list[tuple[dict[str, Any], str]] = [
    ({"cookie_site": "https://other.example"}, "origin-mismatch"),
    ({"cookie_site": "https://chat.example.org:8443"}, "origin-mismatch"),
    ({"cookie_site": "http://chat.example.org"}, "origin-mismatch"),
    ({"cookie_domain": "evil.example"}, "origin-mismatch"),
    ({"cookie_domain": "example.org"}, "origin-mismatch"),
    ({"cookie_domain": ".org.example"}, "origin-mismatch"),
    (
        {
            "server": "http://chat.example.org",
            "cookie_site": "http://chat.example.org",
            "cookie_secure": True,
        },
        "origin-mismatch",
    ),
    ({"token": "has space"}, "bad-message"),
    ({"token": "semi;colon"}, "bad-message"),
    ({"token": ""}, "bad-message"),
    ({"token": 12345}, "bad-message"),
    ({"server": "https://user:pw@chat.example.org"}, "bad-message"),
    ({"server": "https://chat.example.org/?q=1"}, "bad-message"),
    ({"server": "ftp://chat.example.org"}, "bad-message"),
    ({"server": "https://chat.example.org:99999"}, "bad-message"),
    ({"options": {"scope": "everything"}}, "bad-message"),
    ({"options": {"include_files": "yes"}}, "bad-message"),
    ({"options": {"path": "/etc"}}, "bad-message"),
    ({"options": []}, "bad-message"),
    ({"cookie_secure": "false"}, "bad-message"),
    ({"out_dir": "/tmp/evil"}, "bad-message"),
    ({"job": "x" * 65}, "bad-message"),
]


async def test_start_is_validated_before_anything_runs(spawn_host: Spawn, home: Path) -> None:
    host = await spawn_host()
    for overrides, code in REFUSED_STARTS:
        await host.send(start_message("https://chat.example.org", TOKEN, overrides=overrides))
        reply = await host.receive()
        assert reply is not None and (reply["type"], reply["code"]) == ("error", code), (overrides, reply)
        assert TOKEN not in reply["message"]
    await expect_alive(host)
    exit_code, stderr = await host.finish()
    assert exit_code == 0 and TOKEN not in stderr
    log = (home / ".local" / "state" / "mmtakeout" / "native-host.log").read_text(encoding="utf-8")
    assert TOKEN not in log
    assert not (home / "Documents").exists(), "nothing may be written for a refused start"


async def test_an_unreachable_server_is_reported_in_plain_words(spawn_host: Spawn) -> None:
    host = await spawn_host()
    # Nothing listens on this loopback port: the start is accepted, then the connection fails.
    await host.send(start_message("http://127.0.0.1:9", TOKEN, overrides={"cookie_domain": "127.0.0.1"}))
    reply, _frames = await host.receive_until("error", "done", seconds=60)
    assert reply["code"] == "unreachable", reply
    assert TOKEN not in str(reply)


async def test_open_archive_without_an_archive_says_so(spawn_host: Spawn) -> None:
    host = await spawn_host()
    await host.send(
        {"v": 1, "type": "open-archive", "server": "https://chat.example.org", "target": "folder"}
    )
    reply = await expect_error(host, "no-archive")
    assert "chat.example.org" in reply["message"]


async def test_remember_never_falls_back_to_an_unsafe_keyring(spawn_host: Spawn, home: Path) -> None:
    # No desktop session here (no D-Bus): the OS keyring is out of reach. The host must neither prompt
    # on the browser's pipe nor keep the token in a file (even when told to use a file backend).
    unsafe = {"DBUS_SESSION_BUS_ADDRESS": "", "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    host = await spawn_host(env=unsafe)
    message = start_message("https://chat.example.org", TOKEN)
    for field in ("type", "job"):
        message.pop(field)
    await host.send({**message, "type": "remember"})
    reply = await expect_error(host, "keyring-unavailable")
    assert "keyring" in reply["message"].lower()
    await expect_alive(host)
    await host.finish()
    assert files_containing(home, TOKEN) == []


def files_containing(folder: Path, text: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and text in path.read_text(errors="replace")]
