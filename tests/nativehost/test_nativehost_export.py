"""Backups through the native host, against the sandbox server over loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import stat
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nativehost_support import HostProcess, start_message

from export_checks import assert_files_intact, assert_matches_world, assert_nothing_outside, query
from mmtakeout.archive.store import ArchiveStore
from mmtakeout.nativehost.paths import folder_name_for_server
from mmtakeout.nativehost.protocol import PROTOCOL_VERSION
from mmtakeout.sandbox.generator import SandboxSetup
from mmtakeout.sandbox.server import RunningSandbox

Spawn = Callable[..., Awaitable[HostProcess]]

pytestmark = pytest.mark.timeout(180)


def archive_dir(home: Path, server: str) -> Path:
    return home / "Documents" / "Mattermost Takeout" / folder_name_for_server(server)


def log_text(home: Path) -> str:
    return (home / ".local" / "state" / "mmtakeout" / "native-host.log").read_text(encoding="utf-8")


def check_progress(frames: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    progress = [f for f in frames if f["type"] == "progress"]
    assert progress, "no progress frames"
    assert all(f["job"] == job for f in progress)
    percents = [f["percent"] for f in progress if f["percent"] is not None]
    assert percents == sorted(percents), "the percentage went backwards"
    assert all(0 <= p <= 100 for p in percents)
    # Throttled: within one phase, frames are at least ~0.2 s apart (elapsed_s is rounded to 0.1 s).
    for before, after in itertools.pairwise(progress):
        if before["phase"] == after["phase"] and after["phase"] != "viewer":
            assert after["elapsed_s"] - before["elapsed_s"] >= 0.1, (before, after)
    return progress


async def test_backup_then_update_writes_the_archive_and_viewer(
    spawn_host: Spawn, home: Path, sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    host = await spawn_host()
    await host.send({"v": PROTOCOL_VERSION, "type": "hello"})
    await host.send(start_message(sandbox.url, sandbox_setup.token))
    done, frames = await host.receive_until("done", "error")
    assert done["type"] == "done", done
    # The generated world has one attachment whose bytes are gone from the server: reported, not fatal.
    assert done["status"] == "incomplete", done
    assert done["problems_total"] == 1 and "missing-blob.txt" in done["problems"][0]
    folder = archive_dir(home, sandbox.url)
    assert done["archive_dir"] == str(folder)
    assert done["viewer"] is True and (folder / "index.html").is_file()
    progress = check_progress(frames, "job-1")
    assert progress[-1]["channels_total"] > 0 and progress[-1]["posts_saved"] > 0
    assert {"listing", "messages", "done", "viewer"} <= {f["phase"] for f in progress}
    assert_matches_world(folder, sandbox_setup.world)
    assert_files_intact(folder, sandbox_setup.world)
    assert_nothing_outside(folder, home / "Documents")
    with ArchiveStore.open_readonly(folder) as store:
        assert done["archive"] == {
            "channels": len(store.channel_ids()),
            "posts": store.count_posts(),
            "files": query(folder, "SELECT count(*) FROM files WHERE path IS NOT NULL")[0][0],
        }
    assert done["archive"]["files"] == done["stats"]["files_saved"] > 0
    first_requests = len(sandbox.requests)

    # Second click: same archive, only what changed is fetched.
    world = sandbox_setup.world
    channel = world.visible_channels(world.primary_user_id)[0]
    new_post = sandbox.call(lambda: world.create_post(channel.id, world.primary_user_id, "added later"))
    await host.send(start_message(sandbox.url, sandbox_setup.token, job="job-2"))
    again, _frames = await host.receive_until("done", "error")
    assert again["type"] == "done" and again["status"] == "incomplete", again
    assert again["archive_dir"] == str(folder)
    assert again["stats"]["posts_new"] == 1
    assert again["archive"]["posts"] == done["archive"]["posts"] + 1
    second_requests = len(sandbox.requests) - first_requests
    assert second_requests < first_requests / 2, (first_requests, second_requests)
    assert_matches_world(folder, world)
    assert query(folder, "SELECT message FROM posts WHERE id = ?", new_post.id) == [(new_post.message,)]

    code, stderr = await host.finish()
    assert code == 0, stderr
    assert sandbox_setup.token not in log_text(home)
    assert sandbox_setup.token not in stderr


async def test_only_direct_messages_without_files(
    spawn_host: Spawn, home: Path, sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    host = await spawn_host()
    options = {"scope": "direct", "include_files": False}
    await host.send(start_message(sandbox.url, sandbox_setup.token, overrides={"options": options}))
    done, _frames = await host.receive_until("done", "error")
    assert done["type"] == "done", done
    folder = archive_dir(home, sandbox.url)
    types = {row[0] for row in query(folder, "SELECT DISTINCT type FROM channels")}
    assert types <= {"D", "G"} and types
    assert query(folder, "SELECT count(*) FROM files WHERE status = 'saved'") == [(0,)]


async def test_cancel_stops_the_run_and_keeps_what_was_saved(
    spawn_host: Spawn, home: Path, slow_sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    host = await spawn_host()
    await host.send(start_message(slow_sandbox.url, sandbox_setup.token))
    _first, _ = await host.receive_until("progress")
    await asyncio.sleep(1.0)
    await host.send({"v": PROTOCOL_VERSION, "type": "cancel", "job": "job-1"})
    started = asyncio.get_running_loop().time()
    done, _frames = await host.receive_until("done", "error", seconds=30)
    assert done["type"] == "done" and done["status"] == "cancelled", done
    assert asyncio.get_running_loop().time() - started < 10
    folder = archive_dir(home, slow_sandbox.url)
    with ArchiveStore.open_readonly(folder) as store:
        assert store.integrity_check() == ["ok"]


async def test_expired_session_is_reported_as_such(
    spawn_host: Spawn, home: Path, sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    sandbox_setup.world.revoke_token(sandbox_setup.token)
    host = await spawn_host()
    await host.send(start_message(sandbox.url, sandbox_setup.token))
    error, _frames = await host.receive_until("error", "done")
    assert error["code"] == "session-expired", error
    assert error["job"] == "job-1"
    assert "log in" in error["message"].lower()


async def test_archive_of_another_person_is_refused_in_plain_words(
    spawn_host: Spawn, home: Path, sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    host = await spawn_host()
    await host.send(start_message(sandbox.url, sandbox_setup.token))
    done, _frames = await host.receive_until("done", "error")
    assert done["type"] == "done", done
    world = sandbox_setup.world
    someone_else = next(
        u.id for u in world.users.values() if u.id != sandbox_setup.user_id and not (u.is_bot or u.delete_at)
    )
    other_token = world.create_session(someone_else)
    await host.send(start_message(sandbox.url, other_token, job="job-2"))
    refused, _frames = await host.receive_until("error", "done")
    assert refused["type"] == "error" and refused["job"] == "job-2", refused
    assert "cannot be used" in refused["message"], refused
    assert other_token not in refused["message"]
    with ArchiveStore.open_readonly(archive_dir(home, sandbox.url)) as store:
        assert store.integrity_check() == ["ok"]


async def test_one_backup_per_archive_at_a_time(
    spawn_host: Spawn, home: Path, slow_sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    first = await spawn_host()
    second = await spawn_host()
    await first.send(start_message(slow_sandbox.url, sandbox_setup.token))
    await first.receive_until("progress")
    await second.send(start_message(slow_sandbox.url, sandbox_setup.token, job="other"))
    refused, _frames = await second.receive_until("error", "done")
    assert refused["code"] == "busy" and refused["job"] == "other", refused
    await first.send({"v": PROTOCOL_VERSION, "type": "cancel", "job": "job-1"})
    done, _ = await first.receive_until("done", "error")
    assert done["status"] == "cancelled"


async def test_browser_going_away_mid_run_stops_cleanly(
    spawn_host: Spawn, home: Path, slow_sandbox: RunningSandbox, sandbox_setup: SandboxSetup
) -> None:
    host = await spawn_host()
    await host.send(start_message(slow_sandbox.url, sandbox_setup.token))
    await host.receive_until("progress")
    await asyncio.sleep(0.5)
    code, stderr = await host.finish()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    with ArchiveStore.open_readonly(archive_dir(home, slow_sandbox.url)) as store:
        assert store.integrity_check() == ["ok"]


@pytest.fixture
def recording_opener(home: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """An `xdg-open` earlier on PATH that records what it was asked to open (instead of a desktop)."""
    bin_dir = home / "bin"
    bin_dir.mkdir()
    record = home / "opened.txt"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{record}"\necho "noise on stdout"\n')
    opener.chmod(opener.stat().st_mode | stat.S_IXUSR)
    yield {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, record


async def test_open_archive_uses_the_os_opener_on_the_derived_path(
    spawn_host: Spawn,
    home: Path,
    sandbox: RunningSandbox,
    sandbox_setup: SandboxSetup,
    recording_opener: tuple[dict[str, str], Path],
) -> None:
    env, record = recording_opener
    host = await spawn_host(env=env)
    await host.send(start_message(sandbox.url, sandbox_setup.token))
    await host.receive_until("done")
    folder = archive_dir(home, sandbox.url)
    for target, expected in (("viewer", folder / "index.html"), ("folder", folder)):
        await host.send({"v": 1, "type": "open-archive", "server": sandbox.url, "target": target})
        reply = await host.receive()
        assert reply == {"v": 1, "type": "opened", "target": target, "path": str(expected)}
    # The opener's own output must not reach the browser's pipe: the next frame is still a clean hello.
    await host.send({"v": 1, "type": "hello"})
    hello = await host.receive()
    assert hello is not None and hello["type"] == "hello"
    for _ in range(50):
        if record.exists() and len(record.read_text().splitlines()) == 2:
            break
        await asyncio.sleep(0.1)
    assert sorted(record.read_text().splitlines()) == sorted([str(folder / "index.html"), str(folder)])


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 400 KiB tmpfs: a real "no space left on device" (needs the right to mount; skipped otherwise)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): disk-full path not exercised")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_disk_full_is_reported_in_plain_words(
    spawn_host: Spawn, home: Path, sandbox: RunningSandbox, sandbox_setup: SandboxSetup, tiny_disk: Path
) -> None:
    config = home / ".config" / "mmtakeout" / "native-host.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"archive_root": str(tiny_disk)}))
    host = await spawn_host()
    await host.send(start_message(sandbox.url, sandbox_setup.token))
    error, _frames = await host.receive_until("error", "done")
    assert error["type"] == "error" and error["code"] == "disk-full", error
    assert "free some space" in error["message"].lower()
