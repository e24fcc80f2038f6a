"""Seeded generation of sandbox worlds, from a few hundred posts to a million.

The default world exercises everything an exporter must survive: several teams (one the user is not
in, one deleted), public/private/archived channels, channels the user can read but is not a member
of, the self-DM, DMs with a deactivated user and a bot, group messages, an unknown channel type,
threads (also replies to old threads), same-millisecond bursts that straddle page boundaries,
unicode and custom-emoji reactions, pins, edits with history copies, deletions, system posts, bot
attachments, link previews, markdown, mentions, hashtags, hostile file names, a missing blob, and
users whose names or e-mail addresses the server hides.

The same seed and size always give the same world (ids, times, texts, file bytes).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from mmtakeout.sandbox.blobs import BlobSpec
from mmtakeout.sandbox.ids import new_id
from mmtakeout.sandbox.world import (
    Channel,
    CustomCategory,
    Emoji,
    FileInfo,
    LinkPreview,
    Post,
    Reaction,
    Team,
    TeamMember,
    User,
    World,
    direct_channel_name,
    file_info_for_name,
    group_channel_name,
    parse_hashtags,
    real_clock_ms,
)

PRIMARY_USERNAME = "alice"
PASSWORD = "sandbox-password"  # noqa: S105 - the fake users' shared, documented password
BASE_TIME = 1_672_531_200_000  # 2023-01-01T00:00:00Z; every generated time lies in 2023-2024.
SPAN_MS = 365 * 24 * 3600 * 1000
PAGE_BOUNDARIES = (60, 200)


class SandboxSetup(NamedTuple):
    """The generated world and the primary user's session token (`world, token = generate_world()`)."""

    world: World
    token: str

    @property
    def user_id(self) -> str:
        return self.world.primary_user_id

    @property
    def username(self) -> str:
        return self.world.users[self.world.primary_user_id].username

    @property
    def password(self) -> str:
        return PASSWORD


@dataclass(frozen=True, slots=True)
class _Person:
    username: str
    first_name: str
    last_name: str
    nickname: str = ""
    position: str = ""
    is_bot: bool = False
    roles: str = "system_user"


_PEOPLE = (
    _Person("alice", "Alice", "Liddell", position="Archivist"),
    _Person("bob", "Bob", "Builder", nickname="bobby"),
    _Person("carol", "Carol", "Danvers"),
    _Person("dave", "Dave", ""),
    _Person("erin", "", ""),
    _Person("frank", "Frank", "Núñez"),
    _Person("grace", "Zoë", "Grâce-Hopper"),
    _Person("heidi", "Heidi", "Deactivated"),
    _Person("ivan", "Ivan", "Petrov", nickname="Ivo"),
    _Person("judy", "ג'ודי", "כהן"),
    _Person("mallory", "", "", position="Auditor"),
    _Person("oscar", "李", "雷"),
    _Person("peggy", "Peggy", "Elsewhere"),
    _Person("trent", "Trent", "Admin", roles="system_user system_admin"),
    _Person("sandbox-bot", "", "", is_bot=True),
    _Person("webhook-bot", "", "", is_bot=True),
)

_WORDS = [
    "release",
    "notes",
    "budget",
    "roadmap",
    "meeting",
    "design",
    "review",
    "deploy",
    "migration",
    "archive",
    "backup",
    "export",
    "sprint",
    "coffee",
    "lunch",
    "weekend",
    "bug",
    "fix",
    "ticket",
    "customer",
    "feedback",
    "draft",
    "proposal",
    "slides",
    "demo",
    "metrics",
    "latency",
    "database",
    "cache",
    "search",
    "index",
    "thread",
    "channel",
    "reaction",
    "emoji",
    "update",
    "status",
    "plan",
    "question",
    "answer",
]
_UNICODE_EMOJI = ("+1", "smile", "heart", "tada", "raised_hand_tone3", "thumbsup", "white_check_mark", "eyes")
_CUSTOM_EMOJI = ("party_parrot", "shipit", "blob-dance")
_ARTICLE_URL = "https://www.example.org/articles/keeping-your-chats"
_ARTICLE_IMAGE = "https://www.example.org/images/keeping-your-chats.png"
_LOGO_URL = "https://example.com/logo.png"


def _message_pool(rng: random.Random) -> list[tuple[str, str]]:
    """Reusable bulk messages (shared string objects keep million-post worlds small), with hashtags."""
    pool: list[str] = []
    for index in range(240):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 18)))
        text = words.capitalize() + rng.choice((".", "!", "?", "...", ""))
        kind = index % 12
        if kind == 1:
            text += f" #{rng.choice(_WORDS)}"
        elif kind == 2:
            text = f"@{rng.choice(('bob', 'carol', 'dave', 'alice'))} {text}"
        elif kind == 3:
            text += f" :{rng.choice(_CUSTOM_EMOJI)}:"
        elif kind == 4:
            text = f"**{text}** and _{rng.choice(_WORDS)}_"
        elif kind == 5:
            text += f"\n```python\nprint({rng.randrange(1000)!r})\n```"
        elif kind == 6:
            text += " 🙂"
        pool.append(text)
    return [(text, parse_hashtags(text)) for text in pool]


class _Builder:
    """Appends posts per channel with increasing times and records later changes on them."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.cursor: dict[str, int] = {}
        self.members: dict[str, list[str]] = {}

    def new_id(self) -> str:
        return new_id(self.rng)

    def start(self, channel: Channel, at: int) -> None:
        self.cursor[channel.id] = at

    def post(
        self,
        channel: Channel,
        user_id: str,
        message: str,
        *,
        root: Post | None = None,
        gap_ms: int | None = None,
        hashtags: str | None = None,
        post_type: str = "",
        props: dict[str, Any] | None = None,
    ) -> Post:
        at = self.cursor[channel.id] + (
            gap_ms if gap_ms is not None else self.rng.randrange(1_000, 3_600_000)
        )
        self.cursor[channel.id] = at
        post = Post(
            id=self.new_id(),
            channel_id=channel.id,
            user_id=user_id,
            create_at=at,
            update_at=at,
            message=message,
            root_id=root.id if root is not None else "",
            type=post_type,
            props=props,
            hashtags=parse_hashtags(message) if hashtags is None else hashtags,
        )
        if root is not None and root.update_at < at:
            root.update_at = at
        return self.world.load_post(post)

    def system(self, channel: Channel, user: User, kind: str, message: str, **props: str) -> Post:
        return self.post(
            channel, user.id, message, hashtags="", post_type=kind, props={"username": user.username, **props}
        )

    def edit(self, post: Post, message: str, at: int) -> None:
        history = Post(
            id=self.new_id(),
            channel_id=post.channel_id,
            user_id=post.user_id,
            create_at=post.create_at,
            update_at=at,
            message=post.message,
            root_id=post.root_id,
            original_id=post.id,
            edit_at=post.edit_at,
            delete_at=at,
            type=post.type,
            props=dict(post.props) if post.props else None,
            hashtags=post.hashtags,
            file_ids=post.file_ids,
            is_pinned=post.is_pinned,
        )
        self.world.load_post(history)
        post.message = message
        post.hashtags = parse_hashtags(message)
        post.edit_at = at
        self._bump(post, at)
        if post.root_id:
            self._bump(self.world.posts[post.root_id], at)

    def delete(self, post: Post, at: int, replies: Sequence[Post] = ()) -> None:
        for target in (post, *replies):
            target.delete_at = at
            target.props = {**(target.props or {}), "deleteBy": post.user_id}
            self._bump(target, at)
            for file_id in target.file_ids:
                info = self.world.files[file_id]
                info.delete_at = info.update_at = at

    def react(self, post: Post, user_id: str, emoji_name: str, at: int) -> None:
        self.world.load_reaction(Reaction(user_id, post.id, emoji_name, at, post.channel_id))
        post.has_reactions = True
        self._bump(post, at)

    def pin(self, post: Post, at: int) -> None:
        post.is_pinned = True
        self._bump(post, at)

    def attach(self, post: Post, name: str, content: BlobSpec | None = None) -> FileInfo:
        info = file_info_for_name(
            self.new_id(),
            name,
            seed=self.rng.getrandbits(32),
            post_id=post.id,
            channel_id=post.channel_id,
            user_id=post.user_id,
            at=post.create_at - 50,
            content=content,
        )
        post.file_ids = (*post.file_ids, info.id)
        return self.world.add_file(info)

    @staticmethod
    def _bump(post: Post, at: int) -> None:
        post.update_at = max(post.update_at, at)


@dataclass
class _Cast:
    """The generated users, teams and channels, by name, for the content functions."""

    users: dict[str, User]
    teams: dict[str, Team]
    channels: dict[str, Channel]

    def uid(self, username: str) -> str:
        return self.users[username].id


def _make_users(world: World, builder: _Builder) -> dict[str, User]:
    users: dict[str, User] = {}
    for position, person in enumerate(_PEOPLE):
        created = BASE_TIME - (400 - position) * 24 * 3600 * 1000
        user = User(
            id=builder.new_id(),
            username=person.username,
            email=f"{person.username}@example.com",
            first_name=person.first_name,
            last_name=person.last_name,
            create_at=created,
            update_at=created + 3_600_000,
            nickname=person.nickname,
            position=person.position,
            roles=person.roles if not person.is_bot else "system_user",
            is_bot=person.is_bot,
            bot_description="Posts build results and reminders." if person.is_bot else "",
            last_picture_update=created + 7_200_000 if position % 3 == 0 else 0,
            password="" if person.is_bot else PASSWORD,
            timezone={
                "automaticTimezone": "Europe/Berlin" if position % 2 else "America/New_York",
                "manualTimezone": "",
                "useAutomaticTimezone": "true",
            },
        )
        users[person.username] = world.add_user(user)
    return users


def _make_teams(world: World, builder: _Builder, users: dict[str, User]) -> dict[str, Team]:
    created = BASE_TIME - 390 * 24 * 3600 * 1000
    specs = (
        ("alpha", "Alpha Team", "O", [p.username for p in _PEOPLE if p.username != "peggy"]),
        ("beta", "Beta Team", "I", ["alice", "bob", "carol", "judy", "sandbox-bot"]),
        ("gamma", "Gamma Team", "O", ["bob", "peggy"]),
        ("old-team", "Old Team (deleted)", "O", ["alice", "bob"]),
    )
    teams: dict[str, Team] = {}
    for name, display_name, team_type, members in specs:
        team = world.add_team(
            Team(
                builder.new_id(),
                name,
                display_name,
                created,
                created,
                team_type,
                allow_open_invite=team_type == "O",
            )
        )
        for username in members:
            world.add_team_member(TeamMember(team.id, users[username].id, created))
        teams[name] = team
    teams["old-team"].delete_at = teams["old-team"].update_at = BASE_TIME + 300 * 24 * 3600 * 1000
    return teams


def _make_channels(
    world: World, builder: _Builder, users: dict[str, User], teams: dict[str, Team]
) -> dict[str, Channel]:
    created = BASE_TIME - 380 * 24 * 3600 * 1000
    everyone_alpha = [p.username for p in _PEOPLE if p.username not in ("peggy",)]
    specs: list[tuple[str, str, str, str, str, list[str]]] = [
        ("alpha", "town-square", "Town Square", "O", "town-square", everyone_alpha),
        ("alpha", "off-topic", "Off-Topic", "O", "off-topic", everyone_alpha),
        (
            "alpha",
            "big",
            "Big Channel",
            "O",
            "big-channel",
            ["alice", "bob", "carol", "dave", "erin", "frank"],
        ),
        ("alpha", "design", "Design Reviews", "P", "design", ["alice", "bob", "grace", "judy"]),
        (
            "alpha",
            "announcements",
            "Announcements 📣",
            "O",
            "announcements",
            ["alice", "trent", "sandbox-bot"],
        ),
        ("alpha", "archived", "Archived Project", "O", "archived-project", ["alice", "bob", "carol"]),
        ("alpha", "archived-private", "Old Secrets", "P", "old-secrets", ["alice", "dave"]),
        ("alpha", "lurkers", "Lurkers Welcome", "O", "lurkers", ["bob", "carol"]),
        ("alpha", "private-other", "Not For Alice", "P", "not-for-alice", ["bob", "carol"]),
        ("beta", "beta-square", "Town Square", "O", "town-square", ["alice", "bob", "carol", "judy"]),
        ("beta", "beta-private", "Beta – Private 🚀", "P", "beta-private", ["alice", "judy"]),
        ("gamma", "gamma-square", "Town Square", "O", "town-square", ["bob", "peggy"]),
        ("old-team", "old-square", "Town Square", "O", "town-square", ["alice", "bob"]),
    ]
    channels: dict[str, Channel] = {}
    for team_name, key, display_name, channel_type, name, members in specs:
        channel = world.add_channel(
            Channel(
                builder.new_id(),
                teams[team_name].id,
                channel_type,
                name,
                display_name,
                created,
                created,
                creator_id=users[members[0]].id,
            )
        )
        for username in members:
            world.add_channel_member(channel.id, users[username].id)
        channels[key] = channel
    channels["town-square"].header = "Company-wide news. See [the handbook](https://example.com/handbook)."
    channels["town-square"].purpose = "Everyone, everything"
    channels["design"].purpose = "Pixels & <angle brackets>"

    def direct(key: str, first: str, second: str) -> None:
        name = direct_channel_name(users[first].id, users[second].id)
        channel = world.add_channel(
            Channel(builder.new_id(), "", "D", name, "", created, created, users[first].id)
        )
        for username in {first, second}:
            world.add_channel_member(channel.id, users[username].id)
        channels[key] = channel

    def group(key: str, usernames: list[str]) -> None:
        ids = [users[u].id for u in usernames]
        display_name = ", ".join(sorted(usernames))
        channel = world.add_channel(
            Channel(builder.new_id(), "", "G", group_channel_name(ids), display_name, created, created)
        )
        for user_id in ids:
            world.add_channel_member(channel.id, user_id)
        channels[key] = channel

    direct("dm-self", "alice", "alice")
    direct("dm-bob", "alice", "bob")
    direct("dm-heidi", "alice", "heidi")
    direct("dm-bot", "alice", "sandbox-bot")
    direct("dm-erin", "alice", "erin")
    direct("dm-judy", "alice", "judy")
    direct("dm-others", "bob", "carol")
    group("gm-abc", ["alice", "bob", "carol"])
    group("gm-four", ["alice", "dave", "erin", "frank"])
    group("gm-others", ["bob", "carol", "dave"])
    return channels


def _make_emoji(world: World, builder: _Builder, users: dict[str, User]) -> None:
    created = BASE_TIME - 200 * 24 * 3600 * 1000
    specs = (("party_parrot", "png"), ("shipit", "jpeg"), ("blob-dance", "png"), ("retired_emoji", "png"))
    for position, (name, kind) in enumerate(specs):
        image = BlobSpec("png" if kind == "png" else "jpeg", builder.rng.getrandbits(32), 64, 64)
        emoji = Emoji(builder.new_id(), users["bob"].id, name, created + position, created + position, image)
        if name == "retired_emoji":
            emoji.delete_at = emoji.update_at = created + 10 * 24 * 3600 * 1000
        world.add_emoji(emoji)


def _make_link_previews(world: World) -> None:
    world.link_previews[_ARTICLE_URL] = LinkPreview(
        embed={
            "type": "opengraph",
            "url": _ARTICLE_URL,
            "data": {
                "type": "article",
                "url": _ARTICLE_URL,
                "title": "Keeping your chats, for good",
                "description": "Why a personal archive beats trusting a retention policy.",
                "determiner": "",
                "site_name": "Example Articles",
                "locale": "en_US",
                "locales_alternate": None,
                "images": [
                    {
                        "url": _ARTICLE_IMAGE,
                        "secure_url": _ARTICLE_IMAGE,
                        "type": "image/png",
                        "width": 1200,
                        "height": 630,
                    }
                ],
                "audios": None,
                "videos": None,
            },
        },
        images={_ARTICLE_IMAGE: {"width": 1200, "height": 630, "format": "png", "frame_count": 0}},
    )
    world.link_previews[_LOGO_URL] = LinkPreview(
        embed={"type": "image", "url": _LOGO_URL},
        images={_LOGO_URL: {"width": 200, "height": 60, "format": "png", "frame_count": 0}},
    )


_HOSTILE_NAMES = (
    "../../etc/passwd",
    "/abs/path.txt",
    "CON.txt",
    "a" * 296 + ".txt",
    "report.pdf",
    "report.pdf",
    "résumé – final.pdf",
    "\u202egnp.exe",
    "日本語のファイル.txt",
    "emoji 🎉.png",
)
_CONTROL_NAMES = (
    "bell\x07name.txt",
    "nul\x00byte.txt",
    "new\nline.txt",
    "tab\tname.md",
    "index.html",
    "script.js",
)


def _curated(builder: _Builder, cast: _Cast) -> None:
    """Hand-written posts that cover each special case at least once."""
    ch, u = cast.channels, cast.users
    rng = builder.rng
    day = 24 * 3600 * 1000
    later = BASE_TIME + 330 * day
    for key in ch:
        builder.start(ch[key], BASE_TIME + rng.randrange(0, 5 * day))

    town = ch["town-square"]
    builder.system(town, u["bob"], "system_join_channel", "@bob joined the channel.")
    builder.system(
        town,
        u["alice"],
        "system_add_to_channel",
        "@alice added @carol to the channel.",
        addedUsername="carol",
        addedUserId=u["carol"].id,
        userId=u["alice"].id,
    )
    builder.system(
        town,
        u["alice"],
        "system_header_change",
        "@alice updated the channel header",
        old_header="",
        new_header=town.header,
    )
    welcome = builder.post(
        town, u["alice"].id, "Welcome everyone! Release planning starts today #release #q3"
    )
    builder.pin(welcome, welcome.create_at + day)
    builder.react(welcome, u["bob"].id, "+1", welcome.create_at + 60_000)
    builder.react(welcome, u["carol"].id, "party_parrot", welcome.create_at + 90_000)
    builder.react(welcome, u["heidi"].id, "raised_hand_tone3", welcome.create_at + 95_000)
    builder.react(welcome, u["alice"].id, "retired_emoji", welcome.create_at + 99_000)
    for position in range(12):
        builder.post(
            town,
            u[("bob", "carol", "dave", "alice")[position % 4]].id,
            f"Reply number {position + 1}",
            root=welcome,
        )
    markdown = (
        "# Release checklist\n\n| Step | Owner |\n|---|---|\n| Freeze | @bob |\n| Ship | @carol |\n\n"
        '1. first\n2. second\n\n> quoted text\n\n```go\nfmt.Println("hi")\n```\n\n'
        f"![logo]({_LOGO_URL}) and a link to {_ARTICLE_URL} :party_parrot: :retired_emoji: @channel"
    )
    checklist = builder.post(town, u["bob"].id, markdown)
    builder.edit(checklist, markdown + "\n\n_edited: added the logo_", checklist.create_at + 3_600_000)
    builder.post(town, u["carol"].id, f"Read this: {_ARTICLE_URL}")
    builder.post(town, u["dave"].id, "is thinking about lunch", post_type="me", hashtags="")
    builder.post(town, u["judy"].id, "שלום לכולם! مرحبا 👋 zero\u200bwidth and combining é")
    builder.post(town, u["oscar"].id, "Long message:\n" + ("lorem ipsum dolor sit amet " * 600)[:15_000])
    hostile = builder.post(town, u["alice"].id, "Files with hostile names, do not use them as paths")
    for name in _HOSTILE_NAMES:
        builder.attach(hostile, name)
    control = builder.post(town, u["bob"].id, "More awkward file names")
    for name in _CONTROL_NAMES:
        builder.attach(control, name)
    media = builder.post(town, u["carol"].id, "Screenshots and a report")
    builder.attach(media, "screenshot 1.png", BlobSpec("png", rng.getrandbits(32), 640, 360))
    builder.attach(media, "photo.JPG", BlobSpec("jpeg", rng.getrandbits(32), 800, 600))
    builder.attach(media, "report.pdf")
    builder.attach(media, "big-archive.bin", BlobSpec("binary", rng.getrandbits(32), size=1_500_000))
    builder.attach(media, "no_extension")
    missing = builder.post(town, u["dave"].id, "This upload lost its bytes on the server")
    lost = builder.attach(missing, "missing-blob.txt")
    lost.blob_present = False
    doomed = builder.post(town, u["carol"].id, "This thread will be deleted, replies too")
    doomed_replies = [builder.post(town, u["bob"].id, f"doomed reply {n}", root=doomed) for n in range(3)]
    builder.attach(doomed, "deleted-with-post.txt")
    builder.delete(doomed, later - 5 * day, doomed_replies)
    lone = builder.post(town, u["dave"].id, "a reply that gets deleted alone", root=welcome)
    builder.delete(lone, later - 4 * day)
    edited_reply = builder.post(town, u["carol"].id, "first version of a reply", root=welcome)
    builder.edit(edited_reply, "second version of a reply", later - 3 * day)
    builder.edit(edited_reply, "third version of a reply", later - 2 * day)

    bot_channel = ch["dm-bot"]
    builder.post(
        bot_channel,
        u["sandbox-bot"].id,
        "",
        post_type="slack_attachment",
        props={
            "from_bot": "true",
            "attachments": [
                {
                    "fallback": "Build #123 passed",
                    "color": "#36a64f",
                    "pretext": "CI report",
                    "title": "Build #123",
                    "title_link": "https://ci.example.com/123",
                    "text": "All **42** tests passed",
                    "fields": [{"title": "Branch", "value": "main", "short": True}],
                    "footer": "sandbox-bot",
                }
            ],
        },
    )
    builder.post(
        ch["announcements"],
        u["webhook-bot"].id,
        "Deployed version 1.2.3 :shipit:",
        props={"from_webhook": "true", "override_username": "deploy-hook", "override_icon_url": _LOGO_URL},
    )
    builder.post(ch["dm-self"], u["alice"].id, "Notes to self: remember the archive password hint")
    notes = builder.post(ch["dm-self"], u["alice"].id, "my notes file")
    builder.attach(notes, "notes to self.md")
    heidi_post = builder.post(ch["dm-heidi"], u["heidi"].id, "Last day tomorrow, bye!")
    builder.react(heidi_post, u["alice"].id, "heart", heidi_post.create_at + 3_600_000)
    builder.post(ch["dm-heidi"], u["alice"].id, "Good luck Heidi!", root=heidi_post)
    for key, author, text in (
        ("dm-erin", "erin", "Erin has no name set"),
        ("dm-judy", "judy", "מה נשמע?"),
        ("gm-abc", "carol", "Group chat for the three of us"),
        ("gm-four", "frank", "Four people, one group message"),
        ("design", "grace", "Private design talk <b>not html</b> & more"),
        ("beta-square", "bob", "Hello Beta team"),
        ("beta-private", "judy", "Beta secrets 🚀"),
        ("lurkers", "bob", "Public channel alice never joined"),
        ("private-other", "carol", "Alice must never see this"),
        ("dm-others", "bob", "Bob and Carol only"),
        ("gm-others", "dave", "Bob, Carol and Dave only"),
        ("gamma-square", "peggy", "Gamma team only"),
        ("old-square", "bob", "A channel of a deleted team"),
    ):
        builder.post(ch[key], u[author].id, text)
    archived = ch["archived"]
    for n in range(5):
        builder.post(archived, u[("alice", "bob", "carol")[n % 3]].id, f"Project update {n + 1}")
    builder.system(archived, u["bob"], "system_channel_deleted", "@bob archived the channel")
    archived.delete_at = archived.update_at = builder.cursor[archived.id] + day
    secret = ch["archived-private"]
    builder.post(secret, u["dave"].id, "Archived private channel content")
    builder.system(secret, u["dave"], "system_channel_deleted", "@dave archived the channel")
    secret.delete_at = secret.update_at = builder.cursor[secret.id] + day


def _allocate(total: int, weights: dict[str, int]) -> dict[str, int]:
    scale = sum(weights.values())
    counts = {key: int(total * weight / scale) for key, weight in weights.items()}
    counts["big"] += total - sum(counts.values())
    return counts


def _bulk(builder: _Builder, cast: _Cast, total: int) -> None:
    """The remaining posts: chatter with threads, bursts, reactions, files, edits, deletions, pins."""
    if total <= 0:
        return
    rng = builder.rng
    pool = _message_pool(rng)
    weights = {
        "big": 50,
        "town-square": 14,
        "off-topic": 10,
        "dm-bob": 8,
        "design": 4,
        "gm-abc": 4,
        "beta-square": 3,
        "announcements": 2,
        "gm-four": 2,
        "dm-judy": 1,
        "beta-private": 1,
        "lurkers": 1,
    }
    for key, count in _allocate(total, weights).items():
        if count > 0:
            _bulk_channel(builder, cast.channels[key], count, pool, rng)


def _straddles_boundary(remaining: int) -> bool:
    """Bursts are forced around the newest-first page boundaries so that strict cursors skip posts."""
    return any(remaining >= size - 2 and (remaining + 2) % size <= 5 for size in PAGE_BOUNDARIES)


def _below(rng: random.Random, limit: int) -> int:
    """A random integer in [0, limit): `random()` based, several times faster than `randrange`."""
    return int(rng.random() * limit)


def _bulk_channel(
    builder: _Builder, channel: Channel, count: int, pool: list[tuple[str, str]], rng: random.Random
) -> None:
    world = builder.world
    members = [uid for uid in world.channel_members[channel.id] if not world.users[uid].is_bot] or list(
        world.channel_members[channel.id]
    )
    start = builder.cursor[channel.id]
    mean_gap = max(2, (BASE_TIME + SPAN_MS - start) // (count + 1))
    roots: list[Post] = []
    burst_left = 0
    latest_change = BASE_TIME + SPAN_MS + 30 * 24 * 3600 * 1000
    for position in range(count):
        in_burst = burst_left > 0 or _straddles_boundary(count - position)
        if burst_left > 0:
            burst_left -= 1
        elif rng.random() < 0.01:
            burst_left = 2 + _below(rng, 6)
        gap = 0 if in_burst and position else 1 + _below(rng, 2 * mean_gap)
        text, hashtags = pool[_below(rng, len(pool))]
        root = None
        if roots and rng.random() < 0.22:
            root = (
                roots[-1 - _below(rng, min(len(roots), 25))]
                if rng.random() < 0.9
                else roots[_below(rng, len(roots))]
            )
        user_id = members[_below(rng, len(members))]
        if not in_burst and rng.random() < 0.01:
            user = world.users[user_id]
            builder.system(channel, user, "system_join_channel", f"@{user.username} joined the channel.")
            continue
        post = builder.post(channel, user_id, text, root=root, gap_ms=gap, hashtags=hashtags)
        if root is None:
            roots.append(post)
        roll = rng.random()
        later = min(post.create_at + 1_000 + _below(rng, 86_400_000), latest_change)
        if roll < 0.10:
            for _ in range(1 + _below(rng, 3)):
                choices = _UNICODE_EMOJI if rng.random() < 0.8 else _CUSTOM_EMOJI
                builder.react(
                    post, members[_below(rng, len(members))], choices[_below(rng, len(choices))], later
                )
        elif roll < 0.13:
            builder.edit(post, text + " (edited)", later)
        elif roll < 0.15 and root is not None:
            builder.delete(post, later)
        elif roll < 0.16:
            builder.pin(post, later)
        if rng.random() < 0.025:
            seed = rng.getrandbits(32)
            if rng.random() < 0.5:
                builder.attach(
                    post, f"notes-{position}.txt", BlobSpec("text", seed, size=100 + _below(rng, 2900))
                )
            else:
                builder.attach(post, f"image-{position}.png", BlobSpec("png", seed, 64, 48))


def _read_state(world: World, user_id: str, unread: Sequence[str]) -> None:
    """Members have read everything except a few channels left unread for the primary user."""
    for channel_id, members in world.channel_members.items():
        channel = world.channels[channel_id]
        for member in members.values():
            member.msg_count = channel.total_msg_count
            member.msg_count_root = channel.total_msg_count_root
            member.last_viewed_at = channel.last_post_at
            member.last_update_at = channel.last_post_at
    for channel_id in unread:
        unread_member = world.channel_members[channel_id].get(user_id)
        if unread_member is not None:
            unread_member.msg_count = max(0, unread_member.msg_count - 3)
            unread_member.msg_count_root = max(0, unread_member.msg_count_root - 2)
            unread_member.mention_count = unread_member.mention_count_root = 1
            unread_member.last_viewed_at -= 3_600_000


def generate_world(
    *,
    seed: int = 1,
    posts: int = 500,
    clock: Callable[[], int] = real_clock_ms,
    unknown_channel_type: bool = True,
) -> SandboxSetup:
    """A complete world with about `posts` posts (edit-history copies come on top) and a session for alice."""
    rng = random.Random(f"sandbox-world-{seed}")
    world = World(seed=seed, clock=clock)
    builder = _Builder(world, rng)
    users = _make_users(world, builder)
    teams = _make_teams(world, builder, users)
    channels = _make_channels(world, builder, users, teams)
    if unknown_channel_type:
        created = BASE_TIME - 10 * 24 * 3600 * 1000
        space = world.add_channel(
            Channel(
                builder.new_id(),
                teams["alpha"].id,
                "S",
                "space-one",
                "A Space (unknown type)",
                created,
                created,
            )
        )
        world.add_channel_member(space.id, users["alice"].id)
        channels["space"] = space
    _make_emoji(world, builder, users)
    _make_link_previews(world)
    cast = _Cast(users, teams, channels)
    _curated(builder, cast)
    if unknown_channel_type:
        builder.post(
            channels["space"], users["alice"].id, "A post in a channel type the exporter does not know"
        )
    curated_count = sum(1 for post in world.posts.values() if not post.original_id)
    _bulk(builder, cast, posts - curated_count)
    users["heidi"].delete_at = users["heidi"].update_at = BASE_TIME + 200 * 24 * 3600 * 1000
    world.finish_loading()
    alice = users[PRIMARY_USERNAME].id
    world.primary_user_id = alice
    world.favorites[alice] = [channels["off-topic"].id, channels["dm-bob"].id]
    world.custom_categories[(alice, teams["alpha"].id)] = [
        CustomCategory(builder.new_id(), "Projects ✨", [channels["design"].id, channels["archived"].id])
    ]
    _read_state(world, alice, [channels["town-square"].id, channels["dm-bob"].id])
    session = world.add_session(alice, token=builder.new_id())
    return SandboxSetup(world, session.token)
