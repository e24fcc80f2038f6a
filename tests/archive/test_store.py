"""The archive store against a real SQLite file: schema, migrations and the never-forget merge rules."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mmtakeout.archive.store import (
    DATABASE_NAME,
    FORMAT_VERSION,
    ArchiveError,
    ArchiveMismatchError,
    ArchiveStore,
)

CHANNEL = "c" * 26
ALICE = "a" * 26
BOB = "b" * 26
CAROL = "k" * 26


def post(post_id: str, **fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": post_id,
        "channel_id": CHANNEL,
        "user_id": ALICE,
        "root_id": "",
        "original_id": "",
        "create_at": 1000,
        "update_at": 1000,
        "edit_at": 0,
        "delete_at": 0,
        "message": "hello",
        "type": "",
        "is_pinned": False,
        "props": {},
        "metadata": {},
    }
    raw.update(fields)
    return raw


def rows(store_dir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(store_dir / DATABASE_NAME) as db:
        return list(db.execute(sql, params))


@pytest.fixture
def store(tmp_path: Path) -> ArchiveStore:
    opened = ArchiveStore.open(tmp_path)
    yield opened  # type: ignore[misc]
    opened.close()


def test_new_archive_has_schema_version_and_wal(tmp_path: Path) -> None:
    with ArchiveStore.open(tmp_path) as store:
        assert store.format_version() == FORMAT_VERSION
        assert store.meta()["format_version"] == "1"
    assert rows(tmp_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in rows(tmp_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"posts", "channels", "files", "users", "reactions", "post_history", "sync_channels"} <= tables


def test_reopening_keeps_data_and_creation_time(tmp_path: Path) -> None:
    with ArchiveStore.open(tmp_path) as store:
        store.save_posts([post("p" * 26)])
        created = store.meta()["created_at"]
    with ArchiveStore.open(tmp_path) as store:
        assert store.count_posts() == 1
        assert store.meta()["created_at"] == created


def test_an_archive_from_the_first_schema_gains_the_added_columns(tmp_path: Path) -> None:
    ArchiveStore.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        for table, column in [
            ("users", "avatar_etag"),
            ("users", "avatar_sha256"),
            ("emoji", "sha256"),
            ("sync_channels", "backfill_started_at"),
        ]:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    with ArchiveStore.open(tmp_path) as store:
        store.mark_avatar_saved(ALICE, path="avatars/x.png", sha256="0" * 64, etag="5")
    columns = {row[1] for row in rows(tmp_path, "PRAGMA table_info(users)")}
    assert {"avatar_etag", "avatar_sha256"} <= columns
    assert "backfill_started_at" in {row[1] for row in rows(tmp_path, "PRAGMA table_info(sync_channels)")}


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(ArchiveError, match="format 7"):
        ArchiveStore.open(tmp_path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    (tmp_path / DATABASE_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match="not a usable archive"):
        ArchiveStore.open(tmp_path)


def test_a_new_archive_is_only_started_in_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / ".DS_Store").write_bytes(b"")
    ArchiveStore.open(tmp_path).close()
    ArchiveStore.open(tmp_path).close()
    ArchiveStore.open(tmp_path / "new" / "deeper").close()
    documents = tmp_path / "documents"
    (documents / "files").mkdir(parents=True)
    (documents / "files" / "tax-return.pdf").write_bytes(b"%PDF")
    with pytest.raises(ArchiveError, match="not empty"):
        ArchiveStore.open(documents)
    assert not (documents / DATABASE_NAME).exists()


def test_archive_belongs_to_one_server_and_person(store: ArchiveStore) -> None:
    store.claim_owner("https://chat.example.org", ALICE, "alice")
    store.claim_owner("https://chat.example.org", ALICE, "alice")
    with pytest.raises(ArchiveMismatchError, match=r"archive of https://chat\.example\.org"):
        store.claim_owner("https://other.example.org", ALICE, "alice")
    with pytest.raises(ArchiveMismatchError, match="another person"):
        store.claim_owner("https://chat.example.org", BOB, "bob")


def test_failed_transaction_leaves_nothing(store: ArchiveStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.save_posts([post("p" * 26)])
        raise RuntimeError("crash in the middle")
    assert store.count_posts() == 0


def test_page_and_sync_state_commit_together(store: ArchiveStore) -> None:
    store.save_posts(
        [post("p" * 26)], sync={"backfill_anchor": "p" * 26, "backfill_page": 3}, sync_channel_id=CHANNEL
    )
    state = store.sync_state(CHANNEL)
    assert (state.backfill_anchor, state.backfill_page, state.history_complete) == ("p" * 26, 3, False)
    with pytest.raises(ValueError, match="unknown sync_channels columns"):
        store.update_sync(CHANNEL, no_such_column=1)


def test_edit_keeps_the_earlier_text(store: ArchiveStore, tmp_path: Path) -> None:
    pid = "p" * 26
    store.save_posts([post(pid, message="first")])
    outcome = store.save_posts([post(pid, message="second", edit_at=2000, update_at=2000)])
    assert (outcome.changed_posts, outcome.history_rows) == (1, 1)
    assert rows(tmp_path, "SELECT message, edit_at FROM posts") == [("second", 2000)]
    assert rows(tmp_path, "SELECT id, post_id, message, edit_at, replaced_at FROM post_history") == [
        (f"{pid}@2000", pid, "first", 0, 2000)
    ]


def test_server_history_copy_and_own_copy_are_not_duplicated(store: ArchiveStore, tmp_path: Path) -> None:
    pid = "p" * 26
    store.save_posts([post(pid, message="first")])
    copy = post("h" * 26, original_id=pid, message="first", delete_at=2001, update_at=2001)
    edited = post(pid, message="second", edit_at=2000, update_at=2001)
    store.save_posts([edited, copy])
    history = rows(tmp_path, "SELECT id, message, edit_at FROM post_history")
    assert history == [("h" * 26, "first", 0)]
    store.save_posts([copy])
    assert rows(tmp_path, "SELECT count(*) FROM post_history") == [(1,)]
    assert rows(tmp_path, "SELECT count(*) FROM posts") == [(1,)], "a history copy is not a post"


def test_blank_server_history_copy_does_not_hide_the_archived_text(
    store: ArchiveStore, tmp_path: Path
) -> None:
    pid = "p" * 26
    store.save_posts([post(pid, message="first")])
    blank_copy = post("h" * 26, original_id=pid, message="", delete_at=2001, update_at=2001)
    store.save_posts([blank_copy, post(pid, message="second", edit_at=2000, update_at=2001)])
    assert rows(tmp_path, "SELECT post_id, message, edit_at FROM post_history") == [(pid, "first", 0)]


def test_deleted_post_keeps_its_archived_text(store: ArchiveStore, tmp_path: Path) -> None:
    pid = "p" * 26
    store.save_posts(
        [post(pid, message="keep me", metadata={"reactions": [{"user_id": BOB, "emoji_name": "+1"}]})]
    )
    outcome = store.save_posts([post(pid, message="", delete_at=3000, update_at=3000, metadata={})])
    assert outcome.changed_posts == 1
    assert rows(tmp_path, "SELECT message, delete_at, update_at FROM posts") == [("keep me", 3000, 3000)]
    assert '"keep me"' in rows(tmp_path, "SELECT raw FROM posts")[0][0]
    assert rows(tmp_path, "SELECT user_id, emoji_name FROM reactions") == [(BOB, "+1")]
    assert store.save_posts([post(pid, message="", delete_at=3000, update_at=3000)]).changed_posts == 0


def test_post_deleted_before_first_seen_is_kept_empty(store: ArchiveStore, tmp_path: Path) -> None:
    store.save_posts([post("p" * 26, message="", delete_at=5, update_at=5)])
    assert rows(tmp_path, "SELECT message, delete_at FROM posts") == [("", 5)]


def test_reactions_mirror_the_server(store: ArchiveStore, tmp_path: Path) -> None:
    pid = "p" * 26
    two = {
        "reactions": [
            {"user_id": BOB, "emoji_name": "+1", "create_at": 5},
            {"user_id": CAROL, "emoji_name": "tada"},
        ]
    }
    store.save_posts([post(pid, metadata=two)])
    assert len(rows(tmp_path, "SELECT * FROM reactions")) == 2
    one = {"reactions": [{"user_id": CAROL, "emoji_name": "tada"}]}
    store.save_posts([post(pid, update_at=1001, metadata=one)])
    assert rows(tmp_path, "SELECT user_id, emoji_name FROM reactions") == [(CAROL, "tada")]
    store.save_posts([post(pid, update_at=1002, metadata={})])
    assert rows(tmp_path, "SELECT count(*) FROM reactions") == [(0,)]


def test_older_copy_of_a_post_does_not_overwrite_a_newer_one(store: ArchiveStore, tmp_path: Path) -> None:
    pid = "p" * 26
    store.save_posts([post(pid, message="new", update_at=5000, edit_at=5000)])
    assert store.save_posts([post(pid, message="old", update_at=4000)]).saved == 0
    assert rows(tmp_path, "SELECT message FROM posts") == [("new",)]


def test_unknown_types_and_odd_fields_are_kept(store: ArchiveStore, tmp_path: Path) -> None:
    odd = post("p" * 26, type="burn_on_read", create_at="yesterday", is_pinned="yes", future_field=[1, 2])
    store.save_posts([odd])
    (kind, create_at, pinned, raw) = rows(tmp_path, "SELECT type, create_at, is_pinned, raw FROM posts")[0]
    assert (kind, create_at, pinned) == ("burn_on_read", 0, 0)
    assert '"future_field":[1,2]' in raw


def test_files_of_posts_are_recorded_pending(store: ArchiveStore) -> None:
    info = {
        "id": "f" * 26,
        "name": "../../etc/passwd",
        "extension": "",
        "size": 10,
        "mime_type": "text/plain",
    }
    outcome = store.save_posts([post("p" * 26, file_ids=["f" * 26, "g" * 26], metadata={"files": [info]})])
    assert outcome.new_files == 1
    assert outcome.file_ids_without_info == [("p" * 26, "g" * 26)]
    [(rowid, row)] = store.files_to_fetch()
    assert (row.id, row.name, row.status, row.post_id, row.channel_id) == (
        "f" * 26,
        "../../etc/passwd",
        "pending",
        "p" * 26,
        CHANNEL,
    )
    assert store.files_to_fetch(after_rowid=rowid) == []
    store.mark_file_saved("f" * 26, path="files/ff/x", sha256="0" * 64, size=10)
    store.mark_file_image("f" * 26, "thumbnail", "files/ff/x.thumb.jpg")
    assert store.file_row("f" * 26).thumbnail_path == "files/ff/x.thumb.jpg"  # type: ignore[union-attr]
    assert store.files_to_fetch() == []
    store.save_posts([post("p" * 26, update_at=2000, metadata={"files": [dict(info, size=99)]})])
    assert store.file_row("f" * 26).status == "saved"  # type: ignore[union-attr]
    assert store.file_row("f" * 26).size == 10  # type: ignore[union-attr]


def test_referenced_users_become_pending_until_fetched(store: ArchiveStore) -> None:
    reacted = {"reactions": [{"user_id": CAROL, "emoji_name": "+1"}]}
    store.save_posts(
        [post("p" * 26, user_id=ALICE, props={"addedUserId": BOB, "userId": "../bad"}, metadata=reacted)]
    )
    assert store.pending_user_ids() == sorted([ALICE, BOB, CAROL])
    store.save_users([{"id": ALICE, "username": "alice"}, {"id": BOB, "username": "bob", "is_bot": True}])
    assert store.pending_user_ids() == [CAROL]
    store.save_posts([post("q" * 26, user_id=ALICE)])
    assert store.pending_user_ids() == [CAROL]


def test_favorites_are_replaced_as_a_set(store: ArchiveStore, tmp_path: Path) -> None:
    store.save_channels(
        [{"id": CHANNEL, "type": "O", "name": "town"}, {"id": "d" * 26, "type": "D", "name": "x"}]
    )
    store.set_favorites([CHANNEL])
    store.set_favorites(["d" * 26])
    assert rows(tmp_path, "SELECT id FROM channels WHERE is_favorite = 1") == [("d" * 26,)]


def test_problems_are_recorded_and_cleared(store: ArchiveStore) -> None:
    store.record_problem("file", "f" * 26, "gone", 10)
    store.record_problem("file", "f" * 26, "still gone", 20)
    store.record_problem("avatar", ALICE, "broken", 5)
    [avatar, file] = store.problems()
    assert (file.message, file.first_at, file.last_at) == ("still gone", 10, 20)
    store.clear_problems_older_than(10)
    assert [p.kind for p in store.problems()] == ["file"]
    store.clear_problem("file", "f" * 26)
    assert store.problems() == []
    assert avatar.kind == "avatar"


def test_avatar_needs_fetching_until_saved_at_the_current_version(store: ArchiveStore) -> None:
    store.save_users([{"id": ALICE, "username": "alice", "last_picture_update": 7}])
    assert [row.id for row in store.avatars_to_fetch()] == [ALICE]
    store.mark_avatar_saved(ALICE, path=f"avatars/{ALICE}.png", sha256="0" * 64, etag="7")
    assert store.avatars_to_fetch() == []
    store.save_users([{"id": ALICE, "username": "alice", "last_picture_update": 8}])
    assert [row.avatar_etag for row in store.avatars_to_fetch()] == ["7"]


def test_readonly_open_sees_data_and_cannot_write(tmp_path: Path) -> None:
    with ArchiveStore.open(tmp_path) as store:
        store.save_posts([post("p" * 26)])
    with ArchiveStore.open_readonly(tmp_path) as reader:
        assert reader.count_posts() == 1
        with pytest.raises(sqlite3.OperationalError):
            reader.save_posts([post("q" * 26)])
    with pytest.raises(ArchiveError, match="not a Mattermost Takeout archive"):
        ArchiveStore.open_readonly(tmp_path / "elsewhere")
