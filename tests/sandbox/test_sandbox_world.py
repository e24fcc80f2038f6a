"""The World's mutation rules (reference §7), the generator's coverage and determinism, and the blobs."""

from __future__ import annotations

import hashlib
import struct
import time
import zlib
from collections.abc import Iterator

import pytest

from mmtakeout.sandbox.blobs import BlobSpec, jpeg_mosaic, pdf_document, png_mosaic, render
from mmtakeout.sandbox.generator import PASSWORD, generate_world
from mmtakeout.sandbox.ids import is_valid_id
from mmtakeout.sandbox.world import (
    Post,
    Team,
    TeamMember,
    User,
    World,
    WorldError,
    file_extension,
    group_channel_name,
    parse_hashtags,
)


class StepClock:
    """A clock that advances 10 ms per reading, so every assertion about times is exact."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.value = start

    def __call__(self) -> int:
        self.value += 10
        return self.value


def small_world() -> tuple[World, str, str, str, str]:
    """A world with two users in one team and one public channel: (world, alice, bob, team, channel)."""
    world = World(seed=9, clock=StepClock())
    at = world.now()
    alice = world.add_user(User("a" * 26, "alice", "alice@example.org", "Alice", "A", at, at, password="pw"))
    bob = world.add_user(User("b" * 26, "bob", "bob@example.org", "Bob", "B", at, at, password="pw"))
    team = world.add_team(Team("t" * 26, "team", "Team", at, at))
    for user in (alice, bob):
        world.add_team_member(TeamMember(team.id, user.id, at))
    channel = world.create_channel(team.id, "town-square", "Town Square", "O", alice.id)
    world.add_channel_member(channel.id, bob.id)
    return world, alice.id, bob.id, team.id, channel.id


def snapshot(world: World) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for post in sorted(world.posts.values(), key=lambda p: p.id):
        rows.append((post.id, post.channel_id, post.create_at, post.update_at, post.delete_at, post.message))
    for info in sorted(world.files.values(), key=lambda f: f.id):
        rows.append((info.id, info.name, info.size, hashlib.sha256(render(info.content)).hexdigest()))
    rows.extend(sorted((c.id, c.name, c.type, c.delete_at) for c in world.channels.values()))
    rows.extend(sorted((u.id, u.username, u.delete_at) for u in world.users.values()))
    rows.extend(
        sorted(
            (r.post_id, r.user_id, r.emoji_name, r.create_at) for rs in world.reactions.values() for r in rs
        )
    )
    return rows


def test_same_seed_gives_the_same_world_and_another_seed_does_not() -> None:
    first, second, other = (generate_world(seed=seed, posts=400) for seed in (21, 21, 22))
    assert first.token == second.token
    assert snapshot(first.world) == snapshot(second.world)
    assert snapshot(first.world) != snapshot(other.world)


def test_generated_ids_look_like_mattermost_ids() -> None:
    setup = generate_world(seed=2, posts=300)
    ids = [*setup.world.posts, *setup.world.users, *setup.world.channels, *setup.world.files, setup.token]
    assert all(is_valid_id(value) and value == value.lower() for value in ids)
    assert len(set(ids)) == len(ids)


def test_default_world_covers_every_special_case() -> None:
    setup = generate_world(seed=1, posts=500)
    world, me = setup.world, setup.user_id
    assert setup.username == "alice" and setup.password == PASSWORD
    mine = world.visible_channels(me)
    types = {channel.type for channel in mine}
    assert {"O", "P", "D", "G", "S"} <= types
    names = {channel.name for channel in mine}
    assert f"{me}__{me}" in names, "self-DM"
    assert any(channel.delete_at for channel in mine), "archived channels"
    assert len({channel.team_id for channel in mine if channel.team_id}) >= 3, "channels of several teams"
    assert world.user_by_name("heidi").delete_at, "a deactivated user"
    partners = {uid for c in mine if c.type == "D" for uid in c.name.split("__")}
    assert world.user_by_name("heidi").id in partners and world.user_by_name("sandbox-bot").id in partners
    assert any(not world.can_read_channel(me, cid) for cid in world.channels), "channels alice cannot read"
    rows = list(world.posts.values())
    assert any(p.original_id and p.delete_at == p.update_at for p in rows), "edit-history copies"
    assert any(p.delete_at and not p.original_id for p in rows), "deleted posts"
    assert any(p.is_pinned for p in rows) and any(p.type.startswith("system_") for p in rows)
    assert any((p.props or {}).get("attachments") for p in rows), "bot message attachments"
    assert any("#release" in p.hashtags for p in rows) and any("@" in p.message for p in rows)
    reactions = {r.emoji_name for rs in world.reactions.values() for r in rs}
    assert "+1" in reactions and "party_parrot" in reactions and "raised_hand_tone3" in reactions
    names_of_files = [f.name for f in world.files.values()]
    for hostile in ("../../etc/passwd", "/abs/path.txt", "CON.txt", "nul\x00byte.txt", "\u202egnp.exe"):
        assert hostile in names_of_files
    assert any(len(name.encode()) >= 300 for name in names_of_files)
    assert names_of_files.count("report.pdf") >= 2
    assert any(not f.blob_present for f in world.files.values()), "a file whose bytes are gone"
    assert any(f.mime_type == "" for f in world.files.values()), "unknown type"
    assert world.link_previews, "link previews"
    sanitized = [u for u in world.users.values() if not u.first_name and not u.last_name and not u.is_bot]
    assert sanitized, "users without names"


def test_bursts_straddle_the_200_post_page_boundary() -> None:
    world = generate_world(seed=1, posts=500).world
    big = next(c for c in world.channels.values() if c.name == "big-channel")
    newest_first = world.posts_in_channel(big.id)[::-1]
    assert len(newest_first) > 200
    assert newest_first[199].create_at == newest_first[200].create_at
    replies_to_old = [
        p
        for p in newest_first
        if p.root_id and world.posts[p.root_id].create_at < p.create_at - 7 * 24 * 3600_000
    ]
    assert replies_to_old, "replies to threads older than a week"


def test_create_post_updates_channel_and_bumps_the_root() -> None:
    world, alice, bob, _, channel_id = small_world()
    root = world.create_post(channel_id, alice, "root #topic")
    assert root.update_at == root.create_at and root.hashtags == "#topic"
    channel = world.channel(channel_id)
    assert (channel.total_msg_count, channel.total_msg_count_root, channel.last_post_at) == (
        1,
        1,
        root.create_at,
    )
    reply = world.create_post(channel_id, bob, "reply", root_id=root.id)
    assert root.update_at == reply.create_at > root.create_at
    assert channel.total_msg_count == 2 and channel.total_msg_count_root == 1
    assert channel.last_root_post_at == root.create_at and channel.last_post_at == reply.create_at
    assert world.live_reply_count(root) == 1
    with pytest.raises(WorldError):
        world.create_post(channel_id, bob, "reply to a reply", root_id=reply.id)


def test_backdated_post_keeps_update_at_equal_to_create_at() -> None:
    world, alice, _, _, channel_id = small_world()
    old = world.create_post(channel_id, alice, "imported", create_at=1_500_000_000_000)
    assert old.update_at == old.create_at == 1_500_000_000_000
    assert world.posts_updated_since(channel_id, 1_600_000_000_000) == []


def test_edit_inserts_a_history_copy_and_moves_post_channel_and_root() -> None:
    world, alice, bob, _, channel_id = small_world()
    root = world.create_post(channel_id, alice, "root")
    reply = world.create_post(channel_id, bob, "first text", root_id=root.id)
    before = world.channel(channel_id).last_post_at
    edited = world.edit_post(reply.id, "second text")
    assert edited.message == "second text" and edited.edit_at == edited.update_at
    copies = [p for p in world.posts.values() if p.original_id == reply.id]
    assert len(copies) == 1
    copy = copies[0]
    assert copy.message == "first text" and copy.delete_at == copy.update_at == edited.update_at
    assert copy.create_at == reply.create_at and copy.edit_at == 0 and copy.id != reply.id
    assert world.channel(channel_id).last_post_at == edited.update_at > before
    assert root.update_at == edited.update_at
    assert copy not in world.posts_in_channel(channel_id)
    assert copy in world.posts_updated_since(channel_id, before)


def test_delete_of_a_root_deletes_its_thread_and_files() -> None:
    world, alice, bob, _, channel_id = small_world()
    root = world.create_post(channel_id, alice, "root", file_names=("a.txt",))
    replies = [world.create_post(channel_id, bob, f"r{i}", root_id=root.id) for i in range(3)]
    world.delete_post(root.id)
    for post in (root, *replies):
        assert post.delete_at == post.update_at == root.delete_at > 0
        assert post.props is not None and post.props["deleteBy"] == alice
    assert world.posts_in_channel(channel_id) == []
    assert world.files[root.file_ids[0]].delete_at == root.delete_at
    assert world.channel(channel_id).total_msg_count == 4, "the server never decrements the count"


def test_reactions_and_pins_bump_the_post_but_not_the_channel() -> None:
    world, alice, bob, _, channel_id = small_world()
    post = world.create_post(channel_id, alice, "react to me")
    last_post_at = world.channel(channel_id).last_post_at
    world.add_reaction(post.id, bob, "+1")
    after_reaction = post.update_at
    assert post.has_reactions and after_reaction > post.create_at
    world.remove_reaction(post.id, bob, "+1")
    assert not post.has_reactions and post.update_at > after_reaction
    world.set_pinned(post.id, True)
    assert post.is_pinned and post.update_at > after_reaction
    assert world.channel(channel_id).last_post_at == last_post_at
    with pytest.raises(WorldError):
        world.remove_reaction(post.id, bob, "+1")


def test_archive_posts_a_system_message_then_sets_delete_at() -> None:
    world, alice, _, _, channel_id = small_world()
    channel = world.archive_channel(channel_id, by_user_id=alice)
    last = world.posts_in_channel(channel_id)[-1]
    assert last.type == "system_channel_deleted" and channel.delete_at > last.create_at
    assert channel.update_at == channel.delete_at


def test_direct_and_group_channels_follow_the_naming_rules() -> None:
    world, alice, bob, _, _ = small_world()
    carol = world.add_user(User("c" * 26, "carol", "c@example.org", "C", "C", 1, 1))
    dm = world.create_direct_channel(bob, alice)
    assert dm.name == f"{alice}__{bob}" and dm.team_id == "" and dm.type == "D"
    assert world.create_direct_channel(alice, bob) is dm
    self_dm = world.create_direct_channel(alice, alice)
    assert self_dm.name == f"{alice}__{alice}" and world.channel_member_ids(self_dm.id) == [alice]
    gm = world.create_group_channel([carol.id, alice, bob])
    assert gm.name == group_channel_name([alice, bob, carol.id]) and len(gm.name) == 40
    assert gm.display_name == "alice, bob, carol"
    with pytest.raises(WorldError):
        world.create_group_channel([alice, bob])


def test_deactivation_revokes_sessions_and_tokens_can_be_revoked_or_expired() -> None:
    world, alice, bob, _, _ = small_world()
    token_a, token_b, token_c = (
        world.create_session(alice),
        world.create_session(bob),
        world.create_session(bob),
    )
    world.deactivate_user(alice)
    assert world.session(token_a) is None and world.user(alice).delete_at > 0
    world.revoke_token(token_b)
    assert world.session(token_b) is None
    world.expire_token(token_c)
    session = world.session(token_c)
    assert session is not None and session.is_expired(world.now())


def test_hashtags_and_extensions_follow_the_server() -> None:
    assert parse_hashtags("plan #release, #q3 and #a and #release again") == "#release #q3"
    assert file_extension("../../etc/passwd") == ""
    assert file_extension("photo.JPG") == "jpg"
    assert file_extension("archive.tar.gz") == "gz"
    assert file_extension("dir.d/no_extension") == ""


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    at = data.index(b"\xff\xc0")
    height, width = struct.unpack(">HH", data[at + 5 : at + 9])
    return width, height


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body)
        yield kind, body
        at += 12 + length


def test_images_are_well_formed_and_deterministic() -> None:
    png = png_mosaic(37, 21, 5)
    assert _png_size(png) == (37, 21)
    image = b"".join(body for kind, body in _png_chunks(png) if kind == b"IDAT")
    assert len(zlib.decompress(image)) == 21 * (1 + 37 * 3)
    assert _jpeg_size(jpeg_mosaic(130, 70, 5)) == (130, 70)
    assert jpeg_mosaic(130, 70, 5) == jpeg_mosaic(130, 70, 5) != jpeg_mosaic(130, 70, 6)
    pdf = pdf_document(4)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert len(render(BlobSpec("text", 3, size=1234))) == 1234
    assert render(BlobSpec("binary", 3, size=5000)) == render(BlobSpec("binary", 3, size=5000))


def test_file_sizes_match_the_served_bytes() -> None:
    world = generate_world(seed=4, posts=300).world
    for info in world.files.values():
        data = render(info.content)
        assert len(data) == info.size, info.name
        if info.mime_type == "image/png":
            assert _png_size(data) == (info.width, info.height)
        if info.mime_type == "image/jpeg":
            assert _jpeg_size(data) == (info.width, info.height)


def test_generating_100k_posts_is_fast() -> None:
    started = time.perf_counter()
    setup = generate_world(seed=5, posts=100_000)
    elapsed = time.perf_counter() - started
    live = sum(1 for post in setup.world.posts.values() if not post.original_id)
    assert live == 100_000
    assert elapsed < 20, f"100k posts took {elapsed:.1f} s"
    assert isinstance(next(iter(setup.world.posts.values())), Post)
