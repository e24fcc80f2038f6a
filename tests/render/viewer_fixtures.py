"""The viewer tests' archives, built with the shared `archive_builder.ArchiveBuilder`.

`build_showcase` makes a small, realistic world that exercises every viewer feature;
`add_hostile_corpus` adds data that tries to run script or load from the network. `VIEWER_STYLE`
gives these archives server-like ids and the times the viewer tests' dates are written against.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from archive_builder import DAY, HOUR, MINUTE, ArchiveBuilder, ArchiveStyle, make_png, mattermost_ids

BASE_TIME = 1_717_230_000_000  # 2024-06-01 08:20 UTC
VIEWER_STYLE = ArchiveStyle(
    base_time=BASE_TIME,
    founded_at=BASE_TIME - 200 * DAY,
    updated_at=BASE_TIME + 30 * DAY,
    ids=mattermost_ids,
)


def avatar(rgb: tuple[int, int, int]) -> bytes:
    return make_png(64, 64, rgb, (255, 255, 255))


def make_wav(seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(bytes((128 + (40 if (i // 10) % 2 else -40)) for i in range(int(8000 * seconds))))
    return buffer.getvalue()


@dataclass
class Showcase:
    """Ids of the interesting things in the showcase archive, for tests to find them."""

    root: Path
    owner: str = ""
    users: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    posts: dict[str, str] = field(default_factory=dict)


OPENGRAPH = {
    "type": "opengraph",
    "url": "https://mattermost.com/blog/release/",
    "data": {
        "type": "article",
        "url": "https://mattermost.com/blog/release/",
        "title": "Mattermost 9.0 is here",
        "site_name": "Mattermost",
        "description": "Threads, playbooks and a faster desktop app — what is new in this release.",
        "images": [{"url": "https://mattermost.com/og.png", "secure_url": "", "width": 1200, "height": 630}],
    },
}


def build_showcase(root: Path) -> Showcase:
    """A small, realistic world: teams, channels, DMs, a GM, threads, files, emoji, edits and deletes."""
    show = Showcase(root=root)
    b = ArchiveBuilder(root, VIEWER_STYLE)
    alice = b.add_user("alice", "Alice", "Liddell", avatar=avatar((63, 111, 216)), owner=True)
    bob = b.add_user("bob", "Bob", "Builder", "Bobby", avatar=avatar((194, 65, 12)))
    carol = b.add_user("carol", "", "", avatar=None)  # names blanked by the server's privacy settings
    dave = b.add_user("dave", "Dave", "Departed", delete_at=BASE_TIME - 5 * DAY, avatar=avatar((75, 85, 99)))
    bot = b.add_user("deploybot", "Deploy", "Bot", is_bot=True, avatar=avatar((21, 128, 61)))
    erin = b.add_user("erin", "Erin", "Example", avatar=avatar((126, 34, 206)))
    show.owner = alice
    show.users = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "bot": bot, "erin": erin}
    acme = b.add_team("acme", "ACME Corp")
    town = b.add_channel(
        "O",
        "town-square",
        "Town Square",
        team_id=acme,
        members=[alice, bob, carol],
        purpose="Everyone at ACME",
        header="Office hours: **9–17** · see ~off-topic",
        favorite=True,
    )
    offtopic = b.add_channel("O", "off-topic", "Off-Topic", team_id=acme, members=[alice, bob])
    design = b.add_channel("P", "design-team", "Design Team", team_id=acme, members=[alice, erin])
    old = b.add_channel("O", "old-project", "Old Project", team_id=acme, delete_at=BASE_TIME - 2 * DAY)
    dm_bob = b.add_dm(alice, bob)
    self_dm = b.add_dm(alice, alice)
    gm = b.add_gm([alice, bob, carol], "alice, bob, carol")
    dm_dave = b.add_dm(alice, dave)
    show.channels = {
        "town": town,
        "offtopic": offtopic,
        "design": design,
        "old": old,
        "dm_bob": dm_bob,
        "self_dm": self_dm,
        "gm": gm,
        "dm_dave": dm_dave,
    }
    parrot = make_png(32, 32, (255, 140, 0), (0, 160, 80))
    b.add_emoji("partyparrot", parrot, creator_id=bob)

    t = BASE_TIME
    p = show.posts
    p["join"] = b.add_post(town, bob, "", t, post_type="system_join_channel", props={"username": "bob"})
    p["welcome"] = b.add_post(
        town, alice, "Welcome to **ACME**! :wave: Please read the #handbook first.", t + MINUTE, pinned=True
    )
    p["welcome2"] = b.add_post(town, alice, "Questions go to @bob or ~off-topic.", t + 2 * MINUTE)
    p["markdown"] = b.add_post(
        town,
        bob,
        "Release notes:\n\n# Version 2.0\n\n- *faster* sync\n- ~~old~~ new viewer\n- `code` spans\n\n"
        "> Quote from the docs\n\n| Feature | State |\n|:--|--:|\n| Search | done |\n| Export | done |\n\n"
        "1. first\n2. second\n\n- [ ] write tests\n- [x] ship it",
        t + 20 * MINUTE,
    )
    p["code"] = b.add_post(
        town,
        carol,
        "Here is the fix:\n\n```python\ndef greet(name: str) -> str:\n    # say hello\n    return "
        'f"Hello {name}!"\n```\n'
        'and the config:\n```json\n{"retries": 3, "verbose": true}\n```',
        t + 40 * MINUTE,
    )
    p["link"] = b.add_post(
        town,
        bob,
        "Have you seen https://mattermost.com/blog/release/ ?",
        t + HOUR,
        metadata={"embeds": [OPENGRAPH]},
    )
    p["thread_root"] = b.add_post(
        town, alice, "Lunch plans for Friday? :pizza:", t + 2 * HOUR, update_at=t + 4 * HOUR
    )
    p["reply1"] = b.add_post(
        town, bob, "Pizza again? :partyparrot:", t + 2 * HOUR + 5 * MINUTE, root_id=p["thread_root"]
    )
    p["reply2"] = b.add_post(town, carol, "I'm in 👍", t + 2 * HOUR + 7 * MINUTE, root_id=p["thread_root"])
    for name, who in (("+1", bob), ("+1", carol), ("partyparrot", bob), ("heart", alice)):
        b.add_reaction(p["thread_root"], who, name, t + 3 * HOUR)
    p["code_reply"] = b.add_post(town, alice, "Thanks, that works!", t + HOUR + 5 * MINUTE, root_id=p["code"])
    p["edited"] = b.add_post(
        town, bob, "The meeting is at **3 pm** (room 2).", t + 3 * HOUR, edit_at=t + 3 * HOUR + 10 * MINUTE
    )
    b.add_history(p["edited"], "The meeting is at 2 pm.", t + 3 * HOUR + 10 * MINUTE)
    p["deleted"] = b.add_post(
        town,
        carol,
        "Oops, wrong channel — please ignore.",
        t + 3 * HOUR + 20 * MINUTE,
        delete_at=t + 3 * HOUR + 25 * MINUTE,
    )
    image_post = b.add_post(town, alice, "Screenshot of the new dashboard", t + DAY)
    p["image"] = image_post
    b.add_file(
        image_post,
        "dashboard screenshot.png",
        mime_type="image/png",
        data=make_png(320, 180, (30, 50, 92), (120, 180, 255)),
        width=320,
        height=180,
        preview=make_png(320, 180, (30, 50, 92), (120, 180, 255)),
    )
    files_post = b.add_post(town, bob, "Minutes and the recording", t + DAY + 10 * MINUTE)
    p["files"] = files_post
    b.add_file(
        files_post, "minutes 2024-06-02.pdf", mime_type="application/pdf", data=b"%PDF-1.4\n% minutes\n"
    )
    b.add_file(files_post, "standup.wav", mime_type="audio/wav", data=make_wav())
    b.add_file(
        files_post,
        "demo clip.webm",
        mime_type="video/webm",
        data=b"\x1aE\xdf\xa3 not a real video",
        preview=make_png(160, 90, (21, 128, 61), (255, 255, 255)),
    )
    b.add_file(files_post, "huge-video.mp4", mime_type="video/mp4", status="skipped", size=734_003_200)
    b.add_file(files_post, "lost.zip", mime_type="application/zip", status="failed", size=1200)
    p["webhook"] = b.add_post(
        town,
        bot,
        "",
        t + DAY + HOUR,
        post_type="slack_attachment",
        props={
            "from_webhook": "true",
            "override_username": "CI",
            "attachments": [
                {
                    "fallback": "Build #42 passed",
                    "color": "#2e9d51",
                    "pretext": "Deployment finished",
                    "author_name": "Jenkins",
                    "title": "Build #42 passed",
                    "title_link": "https://ci.example.org/42",
                    "text": "All **128** tests green.",
                    "fields": [
                        {"title": "Branch", "value": "main", "short": True},
                        {"title": "Duration", "value": "4 min", "short": True},
                    ],
                    "footer": "ci.example.org",
                }
            ],
        },
    )
    p["mention_me"] = b.add_post(town, bob, "@alice can you review? @channel FYI", t + DAY + 2 * HOUR)
    p["emoji_only"] = b.add_post(town, erin, ":tada: :tada:", t + DAY + 3 * HOUR)
    p["rtl"] = b.add_post(town, erin, "مرحبا بالجميع — שלום לכולם", t + DAY + 3 * HOUR + MINUTE)
    p["dave"] = b.add_post(town, dave, "Goodbye everyone, it was great working with you.", t + 2 * DAY)
    p["permalink"] = b.add_post(
        town,
        bob,
        f"See {b.style.server_url}/acme/pl/{p['welcome']}",
        t + 2 * DAY + HOUR,
        metadata={
            "embeds": [
                {
                    "type": "permalink",
                    "data": {
                        "post_id": p["welcome"],
                        "channel_display_name": "Town Square",
                        "team_name": "acme",
                        "post": {"id": p["welcome"], "user_id": alice, "message": "Welcome to **ACME**!"},
                    },
                }
            ]
        },
    )
    for offset, (who, text) in enumerate(
        [(bob, "Anyone up for a coffee? ☕"), (alice, "Sure, in 5"), (bob, "Great, see you downstairs")]
    ):
        b.add_post(offtopic, who, text, t + offset * 2 * MINUTE)
    b.add_post(design, erin, "New logo drafts are in the shared folder.", t + 5 * HOUR)
    b.add_post(old, alice, "This project is finished, archiving the channel.", t - 10 * DAY)
    p["dm1"] = b.add_post(dm_bob, bob, "Hey Alice, got a minute?", t + 4 * DAY)
    p["dm2"] = b.add_post(dm_bob, alice, "Sure! What's up?", t + 4 * DAY + MINUTE)
    p["dm3"] = b.add_post(dm_bob, bob, "Can you look at the **invoice** I sent?", t + 4 * DAY + 2 * MINUTE)
    p["dm4"] = b.add_post(dm_bob, alice, "Done, approved :white_check_mark:", t + 4 * DAY + 30 * MINUTE)
    b.add_reaction(p["dm4"], bob, "pray", t + 4 * DAY + 31 * MINUTE)
    p["note"] = b.add_post(self_dm, alice, "Remember: renew passport 🛂", t + 3 * DAY)
    p["gm"] = b.add_post(gm, carol, "Group chat for the offsite", t + 5 * DAY)
    b.add_post(dm_dave, dave, "Thanks for everything!", t - 6 * DAY)
    b.close()
    return show


HOSTILE_MESSAGES = [
    "<script>window.__pwned = 'script-tag'</script>",
    "<img src=x onerror=\"window.__pwned='onerror'\">",
    "<svg onload=\"window.__pwned='svg'\"></svg>",
    "[click](javascript:window.__pwned='js-link')",
    "[click](JaVaScRiPt:window.__pwned='js-mixed')",
    "[click](  javascript:window.__pwned='js-space')",
    "[click](java&#x09;script:window.__pwned='js-entity')",
    "[click](&#106;avascript:window.__pwned='js-entity2')",
    "[click](vbscript:msgbox)",
    "[click](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0nZGF0YSc8L3NjcmlwdD4=)",
    "![x](javascript:window.__pwned='img-js')",
    "![remote](https://evil.example.net/track.png)",
    "![data](data:image/png;base64,iVBORw0KGgo=)",
    "<a href=\"javascript:window.__pwned='a'\">a</a>",
    '<iframe src="https://evil.example.net"></iframe>',
    "<style>body{background:url(https://evil.example.net/x.png)}</style>",
    "<javascript:window.__pwned='autolink'>",
    "<https://evil.example.net/autolink>",
    "\"><script>window.__pwned='attr-break'</script>",
    "```html\n<script>window.__pwned='code'</script>\n```",
    "```javascript\" onmouseover=\"window.__pwned='lang'\n1\n```",
    "`<b>not bold</b>`",
    '[x](https://example.org "title\\" onmouseover=window.__pwned=1")',
    "**unclosed *emphasis [link( ``` broken",
    "> " * 200 + "deep quote",
    "- " * 300 + "deep list",
    "@" + "a" * 500,
    ":" + "smile:" * 200,
    "e\u0301\u0301\u0301 zalgo t\u0336\u0336e\u0336x\u0336t \u202eevil\u202c override",
    "עברית mixed with English and العربية",
    "\x00 nul and \x1b escape and \u2028 line separator",
]


def add_hostile_corpus(root: Path, show: Showcase) -> dict[str, str]:
    """A channel full of data that tries to run script or load from outside the archive."""
    b = ArchiveBuilder.reopen(root, VIEWER_STYLE, first_id_number=10_000)
    hostile_user = b.add_user(
        "<img src=x onerror=window.__pwned='user'>",
        "<script>window.__pwned='first'</script>",
        "\u202eevil",
        "",
        avatar=None,
    )
    blank_user = b.add_user("blanky", "   ", "", "")
    team = b.db.execute("SELECT id FROM teams LIMIT 1").fetchone()[0]
    channel = b.add_channel(
        "O",
        "hostile",
        "<script>window.__pwned='channel'</script> Hostile",
        team_id=team,
        members=[show.owner, hostile_user],
        header="<img src=x onerror=alert(1)>",
        purpose="[x](javascript:alert(1))",
    )
    t = BASE_TIME + 10 * DAY
    ids = {"channel": channel, "user": hostile_user}
    for index, message in enumerate(HOSTILE_MESSAGES):
        ids[f"m{index}"] = b.add_post(
            channel, hostile_user if index % 2 else blank_user, message, t + index * MINUTE
        )
    big = ("A long message line with **bold** and `code` and a link https://example.org/x?y=1 " * 1300)[
        :100_000
    ]
    ids["big"] = b.add_post(channel, show.owner, big, t + 200 * MINUTE)
    props = {
        "from_webhook": "true",
        "override_username": "<b>evil</b>",
        "override_icon_url": "https://evil.example.net/icon.png",
        "attachments": [
            {
                "color": "red;background:url(https://evil.example.net/c.png)",
                "title": "<script>window.__pwned='att'</script>",
                "title_link": "javascript:window.__pwned='att-link'",
                "author_link": "data:text/html,<script>alert(1)</script>",
                "author_icon": "https://evil.example.net/author.png",
                "image_url": "javascript:alert(1)",
                "thumb_url": "https://evil.example.net/thumb.png",
                "text": "<img src=x onerror=window.__pwned='att-text'>",
                "fields": [{"title": "<i>f</i>", "value": {"nested": "<script>"}, "short": "yes"}],
                "actions": [{"name": "<button onclick=alert(1)>"}],
            },
            "not an object",
            None,
        ],
    }
    ids["props"] = b.add_post(channel, hostile_user, "props", t + 201 * MINUTE, props=props)
    embeds = {
        "embeds": [
            {
                "type": "opengraph",
                "url": "javascript:alert(1)",
                "data": {
                    "title": "<script>window.__pwned='og'</script>",
                    "description": "<img src=x onerror=alert(1)>",
                    "url": "javascript:window.__pwned='og-url'",
                    "images": [{"url": "https://evil.example.net/og.png"}],
                },
            },
            {"type": "image", "url": "https://evil.example.net/embedded.png"},
            {
                "type": "permalink",
                "data": {"post_id": '"><script>alert(1)</script>', "post": {"message": "<script>x</script>"}},
            },
            {"type": "opengraph", "data": "not a dict"},
            "garbage",
        ],
        "images": {"https://evil.example.net/i.png": {"width": 1, "height": 1}},
    }
    ids["embeds"] = b.add_post(
        channel, hostile_user, "embeds https://evil.example.net/page", t + 202 * MINUTE, metadata=embeds
    )
    file_post = b.add_post(channel, hostile_user, "hostile files", t + 203 * MINUTE)
    ids["files"] = file_post
    b.add_file(
        file_post,
        "<img src=x onerror=window.__pwned='file'>.png",
        mime_type="image/png",
        data=make_png(8, 8, (200, 0, 0)),
        width=8,
        height=8,
    )
    passwd = b.add_file(file_post, "../../../etc/passwd", b"root:x:0:0", mime_type="text/plain")
    dotted = f"files/{passwd[:2]}/{passwd}./etc/passwd"  # dot segments in a path that stays inside
    (root / dotted).parent.mkdir(parents=True)
    (root / f"files/{passwd[:2]}/{passwd}.bin").rename(root / dotted)
    b.db.execute("UPDATE files SET path = ? WHERE id = ?", (dotted, passwd))
    b.add_file(
        file_post,
        "evil.svg",
        mime_type="image/svg+xml",
        data=b"<svg xmlns='http://www.w3.org/2000/svg' onload=\"window.__pwned='svgfile'\"><script>"
        b"window.__pwned='svg-script'</script><rect width='8' height='8'/></svg>",
    )
    escaping = b.add_file(file_post, "escape.txt", mime_type="text/plain", data=b"x")
    b.db.execute(
        "UPDATE files SET path = '../outside.txt', preview_path = '/etc/passwd' WHERE id = ?", (escaping,)
    )
    odd = b.add_post(
        channel, hostile_user, "odd id", t + 204 * MINUTE, post_id='../../x"><script>alert(1)</script>'
    )
    ids["odd"] = odd
    b.add_reaction(ids["m0"], hostile_user, "<img src=x onerror=alert(1)>", t + 205 * MINUTE)
    b.add_reaction(ids["m0"], hostile_user, "smile", t + 205 * MINUTE)
    b.db.execute("UPDATE users SET avatar_path = '../../../../etc/passwd' WHERE id = ?", (blank_user,))
    b.db.execute(
        "INSERT INTO posts (id, channel_id, root_id, user_id, create_at, update_at, message, raw) "
        "VALUES (?, ?, '', ?, ?, ?, 'broken raw', '{not json')",
        (b.new_id("p"), channel, hostile_user, t + 206 * MINUTE, t + 206 * MINUTE),
    )
    b.close()
    return ids


BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class ShowcaseArchive:
    """A showcase archive with the hostile corpus added, and the ids of both."""

    root: Path
    show: Showcase
    hostile: dict[str, str]


def make_showcase_archive(root: Path) -> ShowcaseArchive:
    show = build_showcase(root)
    hostile = add_hostile_corpus(root, show)
    return ShowcaseArchive(root, show, hostile)
