"""Viewer benchmark: render a large synthetic archive, then a small update, and report both.

    .venv/bin/python tests/render/bench_render.py [--posts 100000] [--out bench-results/render.json]

The archive is written with `archive_builder.ArchiveBuilder` (plain SQL per schema.sql). The small
update adds a few posts to one conversation, edits an old post and adds a reaction, like a typical
incremental export; the report shows how many files the second render wrote.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from viewer_fixtures import BASE_TIME, VIEWER_STYLE, avatar

from archive_builder import MINUTE, ArchiveBuilder, make_png
from mmtakeout.render import render_archive

WORDS = [
    "the",
    "deploy",
    "build",
    "release",
    "meeting",
    "lunch",
    "coffee",
    "review",
    "invoice",
    "design",
    "search",
    "archive",
    "export",
    "thread",
    "message",
    "channel",
    "server",
    "offline",
    "backup",
    "report",
    "test",
    "green",
    "red",
    "blue",
    "fix",
    "bug",
    "feature",
    "docs",
]
EMOJI = ("+1", "smile", "tada", "heart", "eyes", "rocket", "white_check_mark", "pray")


def _message(rng: random.Random, usernames: list[str]) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 30))]
    roll = rng.random()
    if roll < 0.15:
        words.insert(rng.randrange(len(words)), f"**{rng.choice(WORDS)}**")
    elif roll < 0.25:
        words.insert(rng.randrange(len(words)), f"@{rng.choice(usernames)}")
    elif roll < 0.32:
        words.insert(rng.randrange(len(words)), f":{rng.choice(EMOJI)}:")
    elif roll < 0.36:
        return " ".join(words) + "\n```python\nprint('hello')\nfor i in range(3):\n    print(i)\n```"
    elif roll < 0.40:
        words.append("https://example.org/" + rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def generate_large_archive(root: Path, posts: int, channels: int = 40, seed: int = 7) -> dict[str, str]:
    rng = random.Random(seed)
    builder = ArchiveBuilder(root, VIEWER_STYLE)
    users = [
        builder.add_user(
            f"user{index}",
            f"First{index}",
            f"Last{index}",
            avatar=avatar((rng.randrange(256), rng.randrange(256), rng.randrange(256)))
            if index < 20
            else None,
            owner=index == 0,
        )
        for index in range(60)
    ]
    usernames = [f"user{index}" for index in range(60)]
    team = builder.add_team("big", "Big Team")
    channel_ids = []
    for index in range(channels):
        if index % 5 == 4:
            channel_ids.append(builder.add_dm(users[0], users[index % 59 + 1]))
        else:
            channel_ids.append(
                builder.add_channel(
                    "O" if index % 3 else "P",
                    f"channel-{index}",
                    f"Channel {index}",
                    team_id=team,
                    members=users[:5],
                )
            )
    weights = [1 / (index + 1) for index in range(channels)]
    image = make_png(64, 48, (40, 90, 160))
    recent_roots: dict[str, list[str]] = {channel: [] for channel in channel_ids}
    now = BASE_TIME
    for number in range(posts):
        channel = rng.choices(channel_ids, weights)[0]
        now += rng.randint(1, 4) * MINUTE // 2
        author = rng.choice(users[:12])
        root = ""
        if recent_roots[channel] and rng.random() < 0.3:
            root = rng.choice(recent_roots[channel][-20:])
        post_id = builder.add_post(channel, author, _message(rng, usernames), now, root_id=root)
        if not root:
            recent_roots[channel].append(post_id)
        if rng.random() < 0.08:
            builder.add_reaction(post_id, rng.choice(users[:12]), rng.choice(EMOJI), now + MINUTE)
        if rng.random() < 0.01:
            builder.add_file(
                post_id, f"image-{number}.png", mime_type="image/png", data=image, width=64, height=48
            )
        if number % 20_000 == 0:
            builder.commit()
    builder.close()
    return {"busiest_channel": channel_ids[0], "owner": users[0]}


def small_update(root: Path, channel_id: str, owner: str) -> None:
    builder = ArchiveBuilder.reopen(root, VIEWER_STYLE, first_id_number=5_000_000)
    last = builder.db.execute("SELECT max(create_at) FROM posts").fetchone()[0]
    for index in range(5):
        builder.add_post(
            channel_id,
            owner,
            f"New message number {index} after the update :rocket:",
            last + (index + 1) * MINUTE,
        )
    old_id = builder.db.execute(
        "SELECT id FROM posts WHERE channel_id = ? ORDER BY create_at DESC LIMIT 1 OFFSET 50", (channel_id,)
    ).fetchone()[0]
    builder.db.execute(
        "UPDATE posts SET message = message || ' (fixed)', edit_at = ?, update_at = ? WHERE id = ?",
        (last + 10 * MINUTE, last + 10 * MINUTE, old_id),
    )
    builder.add_reaction(old_id, owner, "eyes", last + 11 * MINUTE)
    builder.close()


def run(posts: int, workdir: Path) -> dict[str, object]:
    root = workdir / "archive"
    started = time.monotonic()
    info = generate_large_archive(root, posts)
    generated = time.monotonic() - started
    cpu_before = time.process_time()
    first = render_archive(root)
    first_cpu = time.process_time() - cpu_before
    small_update(root, info["busiest_channel"], info["owner"])
    second = render_archive(root)
    third = render_archive(root)
    site_files = sum(1 for path in (root / "site").rglob("*") if path.is_file())
    return {
        "posts": posts,
        "generate_seconds": round(generated, 1),
        "full_render_seconds": round(first.seconds, 2),
        "full_render_cpu_seconds": round(first_cpu, 2),
        "full_render_files_written": first.files_written,
        "incremental_render_seconds": round(second.seconds, 2),
        "incremental_files_written": second.files_written,
        "incremental_pages_rendered": second.parts_rendered,
        "incremental_conversations_rendered": second.conversations_rendered,
        "unchanged_render_seconds": round(third.seconds, 2),
        "unchanged_files_written": third.files_written,
        "site_files": site_files,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results/render.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = run(args.posts, Path(workdir))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
