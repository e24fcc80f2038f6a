"""Reading the archive: path validation, naming rules and tolerance of malformed rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from viewer_fixtures import BASE_TIME, VIEWER_STYLE

from archive_builder import ArchiveBuilder
from mmtakeout.render.model import ArchiveReader, Channel, User, safe_relative_path
from mmtakeout.render.naming import describe, safe_id, slugify


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("files/ab/abcdef.png", "files/ab/abcdef.png"),
        ("files/ab/abcdef.thumb.jpg", "files/ab/abcdef.thumb.jpg"),
        ("avatars/u1.png", "avatars/u1.png"),
        ("../outside.txt", None),
        ("files/../../etc/passwd", None),
        ("/etc/passwd", None),
        ("C:/Windows/win.ini", None),
        ("files\\ab\\x.png", None),
        ("files//x.png", None),
        ("./files/x.png", None),
        ("files/x y.png", None),
        ("files/%2e%2e/x", None),
        ("https://evil.example.net/x.png", None),
        ("files/x\x00.png", None),
        ("", None),
        (None, None),
    ],
)
def test_only_plain_relative_paths_are_used(path: str | None, expected: str | None) -> None:
    assert safe_relative_path(path) == expected


def test_safe_ids_and_slugs() -> None:
    assert safe_id("abcdefghijkmnopqrstuwxyz13") == "abcdefghijkmnopqrstuwxyz13"
    for hostile in ("../../etc", "CON", "a/b", "x" * 300, "<script>", ""):
        value = safe_id(hostile)
        assert len(value) == 26 and value.isalnum() and value.islower()
    assert slugify("Town Square") == "town-square"
    assert slugify("Ünïcödé – Café!") == "unicode-cafe"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("<script>") == "script"
    assert slugify("日本語") == "conversation"
    assert len(slugify("word " * 100)) <= 48


def _channel(channel_type: str, name: str, members: list[str], display_name: str = "") -> Channel:
    return Channel(
        id="c" * 26,
        team_id="",
        type=channel_type,
        name=name,
        display_name=display_name,
        header="",
        purpose="",
        create_at=0,
        delete_at=0,
        last_post_at=0,
        total_msg_count=0,
        is_favorite=False,
        member_ids=members,
    )


def test_direct_and_group_message_names() -> None:
    users = {
        "me": User("me", "me", "My", "Self"),
        "bob": User("bob", "bob", nickname="Bobby"),
        "sanitized": User("sanitized", "carol", "  ", ""),
        "gone": User("gone", "dave", delete_at=5),
    }
    assert describe(_channel("D", "bob__me", ["bob", "me"]), users, {}, "me").title == "Bobby"
    own = describe(_channel("D", "me__me", ["me"]), users, {}, "me")
    assert own.title == "My Self (you)" and own.kind == "self"
    assert describe(_channel("D", "me__sanitized", []), users, {}, "me").title == "carol"
    unknown = describe(_channel("D", "me__zz", []), users, {}, "me")
    assert unknown.title.startswith("unknown") and unknown.partner is not None
    group = describe(_channel("G", "hash", ["me", "bob", "sanitized", "gone"]), users, {}, "me")
    assert group.title == "Bobby, carol, dave"
    bare = describe(_channel("G", "hash", [], "bob, carol, me"), users, {}, "me")
    assert bare.title == "bob, carol, me"
    assert describe(_channel("O", "town-square", [], ""), users, {}, "me").title == "town-square"


def test_malformed_rows_are_tolerated(tmp_path: Path) -> None:
    builder = ArchiveBuilder(tmp_path / "archive", VIEWER_STYLE)
    user = builder.add_user("alice")
    channel = builder.add_channel("O", "c", "C")
    good = builder.add_post(channel, user, "fine", BASE_TIME, props={"attachments": "not a list"})
    builder.db.execute(
        "INSERT INTO posts (id, channel_id, user_id, create_at, update_at, message, raw) VALUES "
        "('broken00000000000000000000', ?, ?, ?, ?, 'x', '[1, 2')",
        (channel, user, BASE_TIME + 1, BASE_TIME + 1),
    )
    builder.db.execute(
        "INSERT INTO posts (id, channel_id, user_id, create_at, update_at, message, raw) VALUES "
        "('shape000000000000000000000', ?, ?, ?, ?, 'y', ?)",
        (channel, user, BASE_TIME + 2, BASE_TIME + 2, '{"props": [], "metadata": 5, "file_ids": {}}'),
    )
    builder.close()
    with ArchiveReader(tmp_path / "archive") as reader:
        posts = list(reader.iter_posts(channel))
    assert [post.id for post in posts] == [good, "broken00000000000000000000", "shape000000000000000000000"]
    assert all(isinstance(post.props, dict) and isinstance(post.metadata, dict) for post in posts)
    assert posts[2].file_ids == []


def test_reader_never_writes_to_the_archive(tmp_path: Path) -> None:
    builder = ArchiveBuilder(tmp_path / "archive", VIEWER_STYLE)
    builder.add_user("alice")
    builder.close()
    database = tmp_path / "archive" / "archive.sqlite"
    before = database.read_bytes()
    with ArchiveReader(tmp_path / "archive") as reader:
        assert len(reader.users()) == 1
        with pytest.raises(Exception, match="readonly"):
            reader._db.execute("DELETE FROM users")
    assert database.read_bytes() == before
