"""The converter tests' archives, built with the shared `archive_builder.ArchiveBuilder`.

The rich archive is deliberately hostile: unicode and invalid names, hidden e-mail addresses, the
self-DM, group messages of legal and illegal sizes, deactivated users and bots, archived channels,
over-long messages, system and plugin posts, deleted posts and orphaned replies, files with and
without saved bytes and with dangerous names, custom emoji with and without images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from archive_builder import BASE_TIME, ArchiveBuilder, make_id

PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b2a4b80000000049454e44ae426082"
)


@dataclass
class RichArchive:
    """The hostile archive and the ids tests look things up by."""

    root: Path
    ids: dict[str, str]
    long_message: str


def build_rich_archive(root: Path) -> RichArchive:
    b = ArchiveBuilder(root)
    me = b.add_user(
        "me", email="me@example.org", first_name="Mia", last_name="Example", avatar=PNG_BYTES, owner=True
    )
    alice = b.add_user("alice", email="", first_name="Alice", last_name="Liddell", avatar=PNG_BYTES)
    bob = b.add_user("bob", email="Bob@Example.COM", nickname="bobby")
    carol = b.add_user("Carol", email="carol@example.org", first_name="C" * 70)
    remote = b.add_user("remote:dave", email="dave@remote.example")
    gone = b.add_user("gone", email="gone@example.org", delete_at=BASE_TIME + 5)
    robot = b.add_user("robot", is_bot=True)
    nul = b.add_user("nul", nickname="bad\x00nick")
    extra = [b.add_user(f"member{n}", email=f"member{n}@example.org") for n in range(7)]
    ghost_author = make_id("user", "not-in-users-table")

    acme = b.add_team("acme", "ACME Corp")
    helpdesk = b.add_team("helpdesk", "Help Desk", "I")
    town = b.add_channel(
        "O", "town-square", "Town Square", team_id=acme, header="Welcome <b>all</b>", favorite=True
    )
    off_acme = b.add_channel("O", "off-topic", "Off-Topic", team_id=acme)
    off_help = b.add_channel("O", "off-topic", "Off-Topic", team_id=helpdesk)
    secret = b.add_channel("P", "secret-plans", "Sécret plans 🤫", team_id=acme, purpose="p" * 300)
    archived = b.add_channel("O", "old-stuff", "Old stuff", team_id=acme, delete_at=BASE_TIME + 10)
    long_display = b.add_channel("O", "unicode", "Ünïcödé " + "🎉" * 70, team_id=acme)
    bad_name = b.add_channel("P", "Bad Name!", "Bad name", team_id=helpdesk)
    space = b.add_channel("S", "a-space", "A space", team_id=acme)
    dm_alice = b.add_dm(me, alice, favorite=True)
    dm_gone = b.add_dm(me, gone)
    dm_robot = b.add_dm(me, robot)
    self_dm = b.add_dm(me, me)
    gm = b.add_gm((me, alice, bob), "group")
    big_gm = b.add_gm((me, *extra, bob), "group")

    b.add_post(town, me, "system", post_type="system_join_channel")
    root_post = b.add_post(
        town, me, "Hello **world** <script>alert(1)</script> & friends\n\n```\n  code <x>\n```", pinned=True
    )
    b.add_reaction(root_post, alice, "+1")
    b.add_reaction(root_post, bob, "party_parrot")
    b.add_reaction(root_post, carol, "ghost")
    b.add_reaction(root_post, me, "thumbsup_tone3", create_at=0)
    reply = b.add_post(town, alice, "@me agreed, see @bob.", root_id=root_post)
    b.add_post(town, bob, "late reply", root_id=root_post, create_at=b.tick(86_400_000 * 3))
    same = b.tick()
    b.add_post(town, carol, "same millisecond A", create_at=same)
    b.add_post(town, remote, "same millisecond B", create_at=same)
    edited_at = b.tick()
    edited = b.add_post(town, me, "edited text", edited_at, edit_at=edited_at + 500)
    b.add_history(edited, "first text", edited_at + 1)
    b.add_history(edited, "second text", edited_at + 2)
    deleted = b.add_post(town, me, "deleted text", delete_at=b.clock + 10)
    b.add_post(town, alice, "reply to deleted root", root_id=deleted)
    b.add_post(town, alice, "reply to a root the archive never saw", root_id=make_id("post", "missing-root"))
    b.add_post(town, me, "/me waves", post_type="me")
    b.add_post(town, robot, "poll", post_type="custom_poll")
    b.add_post(town, ghost_author, "from someone the archive does not know")
    b.add_post(town, nul, "nul\x00inside")
    b.add_post(
        town,
        me,
        "",
        props={"attachments": [{"fallback": "card", "text": "Card text", "title": "Card"}]},
        post_type="slack_attachment",
    )
    long_message = ("long line " * 2100).strip()
    b.add_post(off_acme, me, long_message)
    with_files = b.add_post(off_acme, alice, "files attached")
    b.add_file(with_files, "../../etc/passwd", b"root:x:0:0", mime_type="text/plain")
    b.add_file(with_files, "CON.txt", b"con", mime_type="text/plain")
    b.add_file(with_files, ("x" * 296) + ".pdf", b"%PDF-1.4 fake", mime_type="application/pdf")
    b.add_file(with_files, "\u202egpj.exe", b"MZ", mime_type="application/octet-stream")
    b.add_file(with_files, "report.txt", b"first", mime_type="text/plain")
    b.add_file(with_files, "report.txt", b"second", mime_type="text/plain")
    b.add_file(with_files, "pending.bin", None)
    b.add_file(with_files, "vanished.bin", b"gone from disk", keep_bytes_on_disk=False)
    b.add_file(with_files, "photo.png", PNG_BYTES, mime_type="image/png")
    b.add_post(off_help, bob, "help desk off-topic")
    b.add_post(secret, me, "secret message")
    b.add_post(archived, me, "from an archived channel")
    b.add_post(long_display, carol, "unicode channel ☃")
    b.add_post(bad_name, me, "bad name channel")
    b.add_post(space, me, "in a space")
    dm_root = b.add_post(dm_alice, me, "hi alice")
    b.add_reaction(dm_root, alice, "no_such_emoji")
    b.add_post(dm_alice, alice, "hi back", root_id=dm_root)
    dm_file = b.add_post(dm_alice, alice, "a file for you")
    b.add_file(dm_file, "notes.md", b"# notes\n", mime_type="text/markdown")
    b.add_post(dm_gone, gone, "bye forever")
    b.add_post(dm_robot, robot, "beep")
    b.add_post(self_dm, me, "note to self")
    gm_post = b.add_post(gm, bob, "group hello")
    b.add_reaction(gm_post, me, "smile")
    b.add_post(big_gm, extra[0], "a group too big for Mattermost")
    b.add_emoji("party_parrot", PNG_BYTES)
    b.add_emoji("ghost", None)
    b.add_emoji("bad name!", PNG_BYTES)
    b.add_emoji("removed", PNG_BYTES, delete_at=BASE_TIME)
    ids = {
        "me": me,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "remote": remote,
        "gone": gone,
        "robot": robot,
        "town": town,
        "off_acme": off_acme,
        "off_help": off_help,
        "secret": secret,
        "archived": archived,
        "dm_alice": dm_alice,
        "self_dm": self_dm,
        "gm": gm,
        "big_gm": big_gm,
        "root": root_post,
        "reply": reply,
        "edited": edited,
        "deleted": deleted,
        "with_files": with_files,
        "space": space,
        "acme": acme,
        "helpdesk": helpdesk,
    }
    b.close()
    return RichArchive(root=root, ids=ids, long_message=long_message)


def build_big_archive(root: Path, posts: int, *, channels: int = 2) -> Path:
    """A plain archive with `posts` posts (every tenth a thread start with replies), for scale tests."""
    builder = ArchiveBuilder(root)
    me = builder.add_user("me", email="me@example.org", owner=True)
    others = [builder.add_user(f"user{n}", email=f"user{n}@example.org") for n in range(20)]
    team = builder.add_team("big", "Big")
    channel_ids = [
        builder.add_channel("O", f"channel-{n}", f"Channel {n}", team_id=team) for n in range(channels)
    ]
    people = [me, *others]
    rows = []
    reactions = []
    for number in range(posts):
        channel_id = channel_ids[(number // 10) % channels]
        post_id = make_id("bigpost", str(number))
        root_id = make_id("bigpost", str(number - number % 10)) if number % 10 else ""
        created = BASE_TIME + number * 1000
        author = people[number % len(people)]
        message = f"message {number} from the big archive, with some words to make it realistic"
        raw = json.dumps({"id": post_id, "message": message, "props": {}, "metadata": {}})
        rows.append((post_id, channel_id, root_id, author, created, created, message, raw))
        if number % 7 == 0:
            reactions.append((post_id, people[(number + 1) % len(people)], "+1", created + 1))
    builder.db.executemany(
        """INSERT INTO posts (id, channel_id, root_id, user_id, create_at, update_at, message, raw)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    builder.db.executemany("INSERT INTO reactions VALUES (?, ?, ?, ?)", reactions)
    builder.clock = BASE_TIME + posts * 1000
    return builder.close()
