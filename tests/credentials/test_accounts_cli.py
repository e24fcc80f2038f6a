"""`mmtakeout login`, `sync` and `logout` end to end: a real sandbox server over loopback, real archives,
the keyring through an in-memory backend, and a search for the token everywhere it must not be."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from credentials_leaks import files_containing, watch_process_arguments
from credentials_stores import Row, write_chromium_db
from keyring.backends import fail

from memory_keyring import MemoryKeyring
from mmtakeout.cli import main
from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, start_sandbox_thread


@dataclass
class Server:
    setup: SandboxSetup
    running: RunningSandbox

    @property
    def url(self) -> str:
        return self.running.url

    def new_post(self, message: str) -> str:
        world = self.setup.world
        channel_id = next(iter(sorted(world.user_channels[self.setup.user_id])))
        return world.create_post(channel_id, self.setup.user_id, message).id


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    started = []
    try:
        for seed in (21, 22):
            setup = generate_world(seed=seed, posts=80, unknown_channel_type=False)
            started.append(Server(setup, start_sandbox_thread(setup.world)))
        yield started[0], started[1]
    finally:
        for server in started:
            server.running.stop()


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> object:
    def run(*args: str, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def private_temp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder every library uses during the test, so it can be searched afterwards."""
    temp = tmp_path_factory.mktemp("tmp")
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return temp


@pytest.fixture
def fake_notifier(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A notify-send on PATH that records its arguments, in a desktop session."""
    folder = tmp_path_factory.mktemp("notifier")
    record = folder / "calls.jsonl"
    script = folder / "notify-send"
    script.write_text(
        "#!/bin/sh\nexec python3 -c "
        f'\'import json,sys; open("{record}", "a").write(json.dumps(sys.argv[1:]) + "\\n")\' "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":99")
    return record


def post_ids(archive: Path) -> set[str]:
    with sqlite3.connect(f"{(archive / 'archive.sqlite').as_uri()}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT id FROM posts")}


def config_file(home: Path) -> dict[str, object]:
    return json.loads((home / ".config" / "mmtakeout" / "archives.json").read_text())  # type: ignore[no-any-return]


def test_login_then_sync_keeps_the_archive_current(
    servers: tuple[Server, Server], cli: object, private_home: Path, memory_keyring: MemoryKeyring
) -> None:
    server, _ = servers
    archive = private_home / "Backups" / "chat"
    run = cli  # type: ignore[assignment]

    result = run(
        "login",
        server.url,
        "--token-stdin",
        "--out",
        str(archive),
        "--no-files",
        stdin=server.setup.token + "\n",
    )
    assert result.code == 0, result.err
    assert f"Logged in to {server.url} as @alice (login taken from standard input)." in result.out
    assert f"`mmtakeout sync` now keeps {archive} up to date" in result.out
    assert memory_keyring.secrets == {("mmtakeout", server.url): server.setup.token}
    entry = config_file(private_home)["archives"][0]  # type: ignore[index]
    assert entry == {
        "server_url": server.url,
        "folder": str(archive),
        "selection": {"scope": "all", "files": False, "max_file_size": None},
    }

    first = run("sync")
    assert first.code == 0, first.err
    assert f"{archive} ({server.url}): ok: up to date:" in first.out
    before = post_ids(archive)
    assert len(before) > 50

    new_post = server.new_post("written after the first backup")
    quiet = run("sync", "--quiet")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    assert post_ids(archive) == before | {new_post}

    listing = run("sync", "--list")
    assert str(archive) in listing.out and "all conversations, without files" in listing.out
    assert ": ok: up to date:" in listing.out
    log = (private_home / ".local" / "state" / "mmtakeout" / "sync.log").read_text()
    assert log.count(f"{archive} ({server.url}): ok") == 2

    removed = run("sync", "--remove", str(archive))
    assert removed.code == 0 and "no longer updated" in removed.out
    assert archive.is_dir()
    nothing = run("sync")
    assert nothing.code == 2 and "No archives to update yet" in nothing.err


def test_an_expired_login_is_reported_while_other_archives_still_update(
    servers: tuple[Server, Server], cli: object, private_home: Path, fake_notifier: Path, private_temp: Path
) -> None:
    expiring, healthy = servers
    run = cli  # type: ignore[assignment]
    tokens = [expiring.setup.token, healthy.setup.token]
    archives = {expiring.url: private_home / "expiring", healthy.url: private_home / "healthy"}
    with watch_process_arguments(tokens) as argv_with_token:
        for server in (expiring, healthy):
            result = run(
                "login",
                server.url,
                "--token-stdin",
                "--out",
                str(archives[server.url]),
                "--no-files",
                stdin=server.setup.token,
            )
            assert result.code == 0, result.err
        assert run("sync").code == 0

        expiring.setup.world.expire_token(expiring.setup.token)
        new_post = healthy.new_post("the healthy server keeps going")
        result = run("sync")

    assert result.code == 3
    assert (
        f"The server refused the saved login for {expiring.url}: it has expired or was signed out. "
        f"Log in to {expiring.url} in your browser, then run `mmtakeout login {expiring.url} --browser auto`."
    ) in result.err
    assert f"{archives[healthy.url]} ({healthy.url}): ok" in result.out
    assert new_post in post_ids(archives[healthy.url])

    runs = {
        entry["server_url"]: entry["last_run"]["outcome"] for entry in config_file(private_home)["archives"]
    }  # type: ignore[index, union-attr]
    assert runs == {expiring.url: "login-expired", healthy.url: "ok"}

    notifications = [json.loads(line) for line in fake_notifier.read_text().splitlines()]
    assert len(notifications) == 1
    assert notifications[0][:3] == [
        "--app-name=mmtakeout",
        "--urgency=critical",
        "Mattermost backup needs you",
    ]
    assert expiring.url in notifications[0][3]

    assert argv_with_token == []
    searched = [private_home, private_temp, fake_notifier]
    assert files_containing(tokens, searched) == []
    assert any(archive.rglob("archive.sqlite") for archive in archives.values())


def test_sync_takes_a_fresh_login_from_the_desktop_app_and_keeps_it(
    servers: tuple[Server, Server],
    cli: object,
    private_home: Path,
    memory_keyring: MemoryKeyring,
    private_temp: Path,
) -> None:
    server, _ = servers
    run = cli  # type: ignore[assignment]
    archive = private_home / "archive"
    assert (
        run(
            "login",
            server.url,
            "--token-stdin",
            "--out",
            str(archive),
            "--no-files",
            stdin=server.setup.token,
        ).code
        == 0
    )
    server.setup.world.expire_token(server.setup.token)
    fresh = server.setup.world.create_session(server.setup.user_id)
    app_dir = private_home / ".config" / "Mattermost"
    app_dir.mkdir(parents=True)
    (app_dir / "config.json").write_text(
        json.dumps({"version": 4, "servers": [{"name": "Chat", "url": server.url, "order": 0}]})
    )
    write_chromium_db(app_dir / "Network" / "Cookies", [(Row("127.0.0.1", fresh), b"")], plain_values=True)

    without_browser = run("sync")
    assert without_browser.code == 3 and "refused the saved login" in without_browser.err

    with watch_process_arguments([fresh, server.setup.token]) as argv_with_token:
        refreshed = run("sync", "--browser", "mattermost-desktop")
    assert refreshed.code == 0, refreshed.err
    assert (
        "the expired login was replaced by the one from the Mattermost desktop app (Network/Cookies)"
        in refreshed.out
    )
    assert memory_keyring.secrets[("mmtakeout", server.url)] == fresh
    assert run("sync").code == 0
    assert argv_with_token == []
    assert files_containing([server.setup.token], [private_home, private_temp]) == []


def test_login_refused_or_unsafe_keyring_keeps_nothing(
    servers: tuple[Server, Server], cli: object, private_home: Path, memory_keyring: MemoryKeyring
) -> None:
    server, _ = servers
    run = cli  # type: ignore[assignment]
    refused = run(
        "login",
        server.url,
        "--token-stdin",
        "--out",
        str(private_home / "a"),
        stdin="notavalidtokenatall123456\n",
    )
    assert refused.code == 3
    assert f"{server.url} refused the login from standard input" in refused.err
    assert memory_keyring.secrets == {}

    keyring.set_keyring(fail.Keyring())
    unsafe = run(
        "login", server.url, "--token-stdin", "--out", str(private_home / "a"), stdin=server.setup.token
    )
    assert unsafe.code == 1
    assert "Logged in to" in unsafe.err and "No secure keyring is available" in unsafe.err
    assert not (private_home / ".config" / "mmtakeout" / "archives.json").exists()
    assert server.setup.token not in unsafe.err + unsafe.out


def test_logout_forgets_the_login_and_sync_says_what_to_do(
    servers: tuple[Server, Server], cli: object, private_home: Path, memory_keyring: MemoryKeyring
) -> None:
    server, other = servers
    run = cli  # type: ignore[assignment]
    for each in (server, other):
        assert (
            run(
                "login",
                each.url,
                "--token-stdin",
                "--out",
                str(private_home / each.url[-5:]),
                "--no-files",
                stdin=each.setup.token,
            ).code
            == 0
        )

    out = run("logout", server.url)
    assert out.code == 0 and f"Removed the saved login for {server.url}." in out.out
    assert ("mmtakeout", server.url) not in memory_keyring.secrets
    result = run("sync")
    assert result.code == 3
    assert (
        f"No saved login for {server.url}: run `mmtakeout login {server.url} --browser auto` once."
        in result.err
    )
    assert f"({other.url}): ok" in result.out

    forget = run("logout", other.url, "--forget-archives")
    assert "Removed 1 archive(s)" in forget.out
    assert [entry["server_url"] for entry in config_file(private_home)["archives"]] == [server.url]  # type: ignore[index, union-attr]
    again = run("logout", other.url)
    assert again.code == 0 and "There was no saved login" in again.out


def test_export_uses_the_saved_login(servers: tuple[Server, Server], cli: object, private_home: Path) -> None:
    server, _ = servers
    run = cli  # type: ignore[assignment]
    assert run("login", server.url, "--token-stdin", stdin=server.setup.token).code == 0
    archive = private_home / "exported"
    result = run("export", server.url, "--out", str(archive), "--no-files", "--quiet")
    assert result.code == 0, result.err
    assert len(post_ids(archive)) > 50


def test_login_again_after_the_saved_login_expired_says_both_things(
    servers: tuple[Server, Server], cli: object, private_home: Path
) -> None:
    server, _ = servers
    run = cli  # type: ignore[assignment]
    assert run("login", server.url, "--token-stdin", stdin=server.setup.token).code == 0
    server.setup.world.expire_token(server.setup.token)
    again = run("login", server.url)
    assert again.code == 3
    assert f"{server.url} refused the login from the login saved earlier." in again.err
    assert f"No usable login for {server.url} was found in any browser." in again.err
    assert run("login", "chat.example.com").code == 2
