"""An export of the generated, realistic sandbox world (the one `exported_archive` is made from)."""

from __future__ import annotations

from pathlib import Path

from export_checks import assert_files_intact, assert_matches_world, export_now, query
from mmtakeout.sandbox.server import RunningSandbox
from mmtakeout.sandbox.world import World


def test_generated_world(
    sandbox: RunningSandbox, sandbox_world: World, sandbox_token: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    result = export_now(sandbox.url, sandbox_token, archive)
    me = sandbox_world.primary_user_id
    lost = [f.id for f in sandbox_world.files.values() if not f.blob_present and not f.delete_at]
    assert [(p.kind, p.item_id) for p in result.problems] == [("file", file_id) for file_id in lost]
    assert result.status == ("incomplete" if lost else "complete")
    assert_matches_world(archive, sandbox_world)
    assert_files_intact(archive, sandbox_world)
    favorites = {row[0] for row in query(archive, "SELECT id FROM channels WHERE is_favorite = 1")}
    assert favorites == set(sandbox_world.favorites[me])
    types = {row[0] for row in query(archive, "SELECT DISTINCT type FROM channels")}
    assert types >= {"O", "P", "D", "G"}
    unknown = [c for c in sandbox_world.visible_channels(me) if c.type not in ("O", "P", "D", "G")]
    for channel in unknown:
        assert query(archive, "SELECT type FROM channels WHERE id = ?", channel.id) == [(channel.type,)]
    names = query(archive, "SELECT value FROM meta WHERE key IN ('server_url', 'username', 'server_version')")
    assert len(names) == 3
    statuses = dict(query(archive, "SELECT id, status FROM files"))
    assert all(statuses[file_id] == "unavailable" for file_id in lost)


def test_exported_archive_fixture_is_a_real_archive(exported_archive: Path) -> None:
    assert query(exported_archive, "SELECT count(*) > 500 FROM posts") == [(1,)]
    assert query(exported_archive, "SELECT status FROM runs") in ([("complete",)], [("incomplete",)])
