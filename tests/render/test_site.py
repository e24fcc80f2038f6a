"""The static site as files: structure, content, safety of every page, and incremental rendering."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from html_checks import page_problems, parse
from viewer_fixtures import BASE_TIME, BERLIN, VIEWER_STYLE, ShowcaseArchive

from archive_builder import DAY, ArchiveBuilder, make_png
from mmtakeout.render import ArchiveError, render_archive
from mmtakeout.render import builder as builder_module


def page(archive: ShowcaseArchive, channel: str, part: int = 1, prefix: str = "") -> str:
    return (archive.root / "site" / "c" / channel / f"{prefix}{part}.html").read_text(encoding="utf-8")


def post_html(html: str, post_id: str, prefix: str = "p-") -> str:
    match = re.search(rf'<article [^>]*id="{prefix}{post_id}".*?</article>', html, re.S)
    assert match, f"post {post_id} not found"
    return match.group(0)


def test_every_page_is_safe_and_self_contained(rendered_showcase: ShowcaseArchive) -> None:
    root = rendered_showcase.root
    pages = [root / "index.html", *sorted((root / "site").rglob("*.html"))]
    assert len(pages) > 10
    for path in pages:
        problems = page_problems(path.read_text(encoding="utf-8"), path, root)
        assert problems == [], (path, problems)


def test_data_scripts_are_plain_registrations(rendered_showcase: ShowcaseArchive) -> None:
    for path in (rendered_showcase.root / "site").rglob("*.js"):
        if path.parent.name == "assets":
            continue
        text = path.read_text(encoding="utf-8")
        assert re.fullmatch(r"MMT\.(registerNav|mapChunk|searchShard|searchManifest)\(.*\);\n", text, re.S), (
            path
        )
        assert "</script" not in text.lower()
        arguments = text[text.index("(") + 1 : -3]
        json.loads(f"[{arguments}]")


def test_index_lists_conversations_in_order(rendered_showcase: ShowcaseArchive) -> None:
    html = (rendered_showcase.root / "index.html").read_text(encoding="utf-8")
    names = re.findall(r'<span class="conv-name"><bdi>(.*?)</bdi>', html)
    assert names[0] == "Town Square"  # the favourite
    assert {
        "Off-Topic",
        "Design Team",
        "Old Project",
        "Bobby",
        "Alice Liddell (you)",
        "Bobby, carol",
        "Dave Departed",
    } <= set(names)
    direct = names[names.index("Bobby, carol") :]
    assert direct == ["Bobby, carol", "Bobby", "Alice Liddell (you)", "Dave Departed"]  # most recent first
    assert "archived</span>" in html and "deactivated</span>" in html
    assert "&lt;script&gt;window.__pwned=&#x27;channel&#x27;&lt;/script&gt; Hostile" in html
    assert "20 messages" in html


def test_conversation_page_shows_mattermost_features(rendered_showcase: ShowcaseArchive) -> None:
    show = rendered_showcase.show
    html = page(rendered_showcase, show.channels["town"])
    posts = show.posts
    assert "Saturday, 1 June 2024" in html and "Sunday, 2 June 2024" in html
    assert "joined the channel" in post_html(html, posts["join"])
    assert "📌 Pinned" in post_html(html, posts["welcome"])
    assert 'class="post continuation' in post_html(html, posts["welcome2"])
    edited = post_html(html, posts["edited"])
    assert "(edited)" in edited and "<details" in edited and "The meeting is at 2 pm." in edited
    deleted = post_html(html, posts["deleted"])
    assert "Deleted on the server on 1 Jun 2024" in deleted and "Oops, wrong channel" in deleted
    root = post_html(html, posts["thread_root"])
    assert re.search(r'title="Bobby, carol reacted with :\+1:">.*?👍.*?>2<', root)
    assert 'src="../../../emoji/' in root and "2 replies" in root
    assert f'href="t1.html#t-{posts["thread_root"]}"' in root
    assert "Replied to" not in post_html(html, posts["reply1"])  # it directly follows its thread
    reply = post_html(html, posts["code_reply"])
    assert f'href="#p-{posts["code"]}"' in reply and "Replied to" in reply
    image = post_html(html, posts["image"])
    assert re.search(
        r'<img src="../../../files/[^"]+\.preview\.jpg" alt="dashboard screenshot.png" width="320"', image
    )
    files = post_html(html, posts["files"])
    assert "<audio controls" in files and "minutes 2024-06-02.pdf" in files
    assert re.search(
        r'<video controls preload="metadata" poster="[^"]+\.preview\.jpg" src="[^"]+\.webm"', files
    )
    assert (
        "not saved: skipped by the export options" in files and "not saved: could not be downloaded" in files
    )
    webhook = post_html(html, posts["webhook"])
    assert (
        "CI</bdi>" in webhook
        and "webhook" in webhook
        and re.search(r"att-hue-\d", webhook)
        and "Build #42 passed" in webhook
    )
    link = post_html(html, posts["link"])
    assert "Mattermost 9.0 is here" in link and "embed-opengraph" in link and "og.png" not in link
    assert "mention-highlight" in post_html(html, posts["mention_me"])
    assert "emoji-only" in post_html(html, posts["emoji_only"])
    assert "DEACTIVATED" in post_html(html, posts["dave"]).upper()
    permalink = post_html(html, posts["permalink"])
    assert f"index.html?post={posts['welcome']}" in permalink and "Message from" in permalink
    assert 'class="pg-' in post_html(html, posts["code"])
    assert 'id="latest"' in html


def test_thread_page_links_both_ways(rendered_showcase: ShowcaseArchive) -> None:
    show = rendered_showcase.show
    threads = page(rendered_showcase, show.channels["town"], prefix="t")
    section = re.search(
        rf'<section class="thread" id="t-{show.posts["thread_root"]}".*?</section>', threads, re.S
    )
    assert section is not None
    text = section.group(0)
    for key in ("thread_root", "reply1", "reply2"):
        assert f'id="tp-{show.posts[key]}"' in text
        assert f'href="1.html#p-{show.posts[key]}"' in text
    assert "Pizza again?" in text and "I'm in 👍" in text


def test_direct_messages_are_named_after_people(rendered_showcase: ShowcaseArchive) -> None:
    show = rendered_showcase.show
    dm = page(rendered_showcase, show.channels["dm_bob"])
    assert "<title>Bobby</title>" in dm and "Direct message" in dm
    note = page(rendered_showcase, show.channels["self_dm"])
    assert "Alice Liddell (you)" in note and "Notes to self" in note
    group = page(rendered_showcase, show.channels["gm"])
    assert "Bobby, carol" in group and "Members:" in group


def test_post_map_resolves_every_post(rendered_showcase: ShowcaseArchive) -> None:
    root = rendered_showcase.root
    with sqlite3.connect(root / "archive.sqlite") as db:
        rows = db.execute("SELECT id, channel_id FROM posts").fetchall()
    tables: dict[str, dict[str, list[object]]] = {}
    for path in (root / "site" / "map").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        bucket, table = json.loads(f"[{text[len('MMT.mapChunk(') : -3]}]")
        assert path.stem == bucket
        tables[bucket] = table
    for post_id, _channel_id in rows:
        bucket = post_id[:2] if re.fullmatch(r"[a-z0-9]{2}", post_id[:2]) else "_"
        directory, part = tables[bucket][post_id]
        html = (root / "site" / "c" / str(directory) / f"{part}.html").read_text(encoding="utf-8")
        assert f'id="p-{post_id}"' in html or 'id="p-../../x&quot;&gt;' in html


def test_hostile_corpus_is_escaped_everywhere(rendered_showcase: ShowcaseArchive) -> None:
    hostile = rendered_showcase.hostile
    html = page(rendered_showcase, hostile["channel"])
    collected = parse(html)
    assert not collected.script_bodies
    assert not [el for el in collected.elements if any(name.startswith("on") for name in el.attrs)]
    files = post_html(html, hostile["files"])
    assert 'href="../../../../outside.txt"' not in files and "escape.txt" in files
    assert "missing from the archive folder" in files
    assert "/etc/passwd" not in "".join(el.attrs.get("src", "") for el in collected.elements)
    svg = [el for el in collected.elements if el.tag == "img" and el.attrs.get("alt") == "evil.svg"]
    assert svg, "an SVG is shown only through <img>, where its script cannot run"
    props = post_html(html, hostile["props"])
    assert "att-neutral" in props and "javascript" not in " ".join(
        el.attrs.get("href", "") for el in parse(props).elements
    )
    assert "evil.example.net" not in "".join(el.attrs.get("src", "") for el in collected.elements)


def test_parts_split_large_conversations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder_module, "POSTS_PER_PART", 10)
    builder = ArchiveBuilder(tmp_path / "archive", VIEWER_STYLE)
    alice = builder.add_user("alice", "Alice", owner=True)
    team = builder.add_team("t", "T")
    channel = builder.add_channel("O", "big", "Big", team_id=team)
    ids = [
        builder.add_post(channel, alice, f"message {index}", BASE_TIME + index * DAY // 3)
        for index in range(25)
    ]
    reply = builder.add_post(channel, alice, "late reply", BASE_TIME + 30 * DAY, root_id=ids[2])
    builder.close()
    stats = render_archive(tmp_path / "archive", timezone=BERLIN)
    assert stats.parts_rendered == 3
    directory = tmp_path / "archive" / "site" / "c" / channel
    first, last = (directory / "1.html").read_text(), (directory / "3.html").read_text()
    assert 'rel="next" href="2.html"' in first and "Beginning of the conversation" in first
    assert 'rel="prev" href="2.html"' in last and "Latest messages" in last
    assert f'href="1.html#p-{ids[2]}"' in post_html(last, reply)
    assert f'href="3.html#p-{reply}"' in (directory / "t1.html").read_text()
    nav = (directory / "nav.js").read_text()
    data = json.loads(nav[len("MMT.registerNav(") : -3])
    assert [part[0] for part in data["parts"]] == [1, 2, 3] and [part[3] for part in data["parts"]] == [
        10,
        10,
        6,
    ]
    assert data["days"][0] == ["2024-06-01", 1]
    index = (tmp_path / "archive" / "index.html").read_text()
    assert f"site/c/{channel}/3.html#latest" in index

    monkeypatch.setattr(builder_module, "POSTS_PER_PART", 20)
    render_archive(tmp_path / "archive", timezone=BERLIN)
    assert sorted(path.name for path in directory.iterdir()) == ["1.html", "2.html", "nav.js", "t1.html"]
    shards = sorted(path.name for path in (tmp_path / "archive" / "site" / "search").glob(f"{channel}-*.js"))
    assert shards == [f"{channel}-1.js", f"{channel}-2.js"]


def _channel_files(root: Path, channel: str) -> set[str]:
    return {path.name for path in (root / "site" / "c" / channel).iterdir()}


def test_incremental_render_touches_only_what_changed(showcase: ShowcaseArchive) -> None:
    root = showcase.root
    first = render_archive(root, timezone=BERLIN)
    assert first.conversations_rendered == first.conversations == 9
    unchanged = render_archive(root, timezone=BERLIN)
    assert unchanged.conversations_rendered == 0 and unchanged.files_written == 2  # index + search manifest

    builder = ArchiveBuilder.reopen(root, VIEWER_STYLE, first_id_number=90_000)
    new_post = builder.add_post(
        showcase.show.channels["dm_bob"], showcase.show.users["bob"], "One more thing", BASE_TIME + 6 * DAY
    )
    builder.close()
    page_before = (root / "site" / "c" / showcase.show.channels["town"] / "1.html").stat().st_mtime_ns
    update = render_archive(root, timezone=BERLIN)
    assert update.conversations_rendered == 1 and update.parts_rendered == 1
    # the DM page, its search shard, its nav, one map chunk, the index and the manifest
    assert update.files_written == 6
    assert (root / "site" / "c" / showcase.show.channels["town"] / "1.html").stat().st_mtime_ns == page_before
    assert "One more thing" in page(showcase, showcase.show.channels["dm_bob"])
    assert new_post in (root / "site" / "map" / f"{new_post[:2]}.js").read_text()


def test_reaction_and_file_changes_are_detected(showcase: ShowcaseArchive) -> None:
    root = showcase.root
    render_archive(root, timezone=BERLIN)
    with sqlite3.connect(root / "archive.sqlite") as db:
        db.execute(
            "INSERT INTO reactions (post_id, user_id, emoji_name, create_at) VALUES (?, ?, 'rocket', ?)",
            (showcase.show.posts["welcome"], showcase.show.users["bob"], BASE_TIME + 9 * DAY),
        )
    stats = render_archive(root, timezone=BERLIN)
    assert stats.parts_rendered == 1
    assert "🚀" in post_html(page(showcase, showcase.show.channels["town"]), showcase.show.posts["welcome"])
    with sqlite3.connect(root / "archive.sqlite") as db:
        db.execute("UPDATE files SET status = 'unavailable' WHERE name = 'lost.zip'")
    stats = render_archive(root, timezone=BERLIN)
    assert stats.parts_rendered == 1
    assert "no longer available on the server" in page(showcase, showcase.show.channels["town"])


def test_renamed_user_rerenders_everything(showcase: ShowcaseArchive) -> None:
    root = showcase.root
    render_archive(root, timezone=BERLIN)
    with sqlite3.connect(root / "archive.sqlite") as db:
        db.execute("UPDATE users SET nickname = 'Robert' WHERE username = 'bob'")
    stats = render_archive(root, timezone=BERLIN)
    assert stats.conversations_rendered == stats.conversations
    assert "Robert" in page(showcase, showcase.show.channels["town"])


def test_new_user_alone_does_not_rerender_everything(showcase: ShowcaseArchive) -> None:
    root = showcase.root
    render_archive(root, timezone=BERLIN)
    with sqlite3.connect(root / "archive.sqlite") as db:
        db.execute(
            "INSERT INTO users (id, username, raw) VALUES ('newuser0000000000000000000', 'newbie', '{}')"
        )
    assert render_archive(root, timezone=BERLIN).conversations_rendered == 0


def test_deleted_output_is_rewritten_and_force_rewrites_all(showcase: ShowcaseArchive) -> None:
    root = showcase.root
    render_archive(root, timezone=BERLIN)
    town = root / "site" / "c" / showcase.show.channels["town"] / "1.html"
    town.unlink()
    stats = render_archive(root, timezone=BERLIN)
    assert town.is_file() and stats.parts_rendered == 1
    forced = render_archive(root, force=True, timezone=BERLIN)
    assert forced.conversations_rendered == forced.conversations
    (root / "site" / ".render-state.sqlite").unlink()
    assert render_archive(root, timezone=BERLIN).conversations_rendered == forced.conversations


def test_removed_conversation_is_removed_from_the_site(showcase: ShowcaseArchive) -> None:
    root = showcase.root
    render_archive(root, timezone=BERLIN)
    gone = showcase.show.channels["design"]
    assert (root / "site" / "c" / gone).is_dir()
    with sqlite3.connect(root / "archive.sqlite") as db:
        db.execute("DELETE FROM posts WHERE channel_id = ?", (gone,))
        db.execute("DELETE FROM channels WHERE id = ?", (gone,))
    render_archive(root, timezone=BERLIN)
    assert not (root / "site" / "c" / gone).exists()
    assert not list((root / "site" / "search").glob(f"{gone}-*.js"))
    assert gone not in (root / "index.html").read_text()


def test_renders_only_inside_the_archive_folder(showcase: ShowcaseArchive) -> None:
    outside_before = {path.name for path in showcase.root.parent.iterdir()}
    render_archive(showcase.root, formats=("html", "markdown", "text", "json", "csv"), timezone=BERLIN)
    assert {path.name for path in showcase.root.parent.iterdir()} == outside_before
    assert not list(showcase.root.rglob("*.partial"))


def test_rejects_what_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"archive\.sqlite is missing"):
        render_archive(tmp_path)
    with sqlite3.connect(tmp_path / "archive.sqlite") as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(ArchiveError, match="format version 7"):
        render_archive(tmp_path)
    with pytest.raises(ValueError, match="unknown format"):
        render_archive(tmp_path, formats=("pdf",))


def test_empty_archive_renders(tmp_path: Path) -> None:
    builder = ArchiveBuilder(tmp_path / "archive", VIEWER_STYLE)
    builder.close()
    render_archive(tmp_path / "archive")
    assert "no conversations yet" in (tmp_path / "archive" / "index.html").read_text()


def test_channel_without_posts_has_a_page(tmp_path: Path) -> None:
    builder = ArchiveBuilder(tmp_path / "archive", VIEWER_STYLE)
    team = builder.add_team("t", "T")
    channel = builder.add_channel("O", "quiet", "Quiet", team_id=team)
    builder.add_channel("S", "space", "Some new type", team_id=team)
    builder.close()
    render_archive(tmp_path / "archive")
    assert (
        "No messages of this conversation"
        in (tmp_path / "archive" / "site" / "c" / channel / "1.html").read_text()
    )
    assert "Some new type" in (tmp_path / "archive" / "index.html").read_text()


def test_image_without_saved_preview_is_shown_from_the_original(tmp_path: Path) -> None:
    """Exports save no previews by default: the original must still appear inline, lazily and sized."""
    builder = ArchiveBuilder(tmp_path / "archive", VIEWER_STYLE)
    team = builder.add_team("t", "T")
    channel = builder.add_channel("O", "photos", "Photos", team_id=team)
    alice = builder.add_user("alice")
    post = builder.add_post(channel, alice, "Holiday", BASE_TIME)
    builder.add_file(
        post,
        "beach.png",
        mime_type="image/png",
        data=make_png(1600, 900, (0, 0, 0), (255, 255, 255)),
        width=1600,
        height=900,
    )
    builder.close()
    render_archive(tmp_path / "archive")
    html = post_html((tmp_path / "archive" / "site" / "c" / channel / "1.html").read_text(), post)
    shown = re.search(r'<img src="\.\./\.\./\.\./(files/[^"]+\.png)" alt="beach.png" ([^>]*)>', html)
    assert shown, html
    assert (tmp_path / "archive" / shown.group(1)).is_file()
    assert 'width="480" height="270"' in shown.group(2) and 'loading="lazy"' in shown.group(2)


def test_times_follow_the_chosen_zone(showcase: ShowcaseArchive) -> None:
    from zoneinfo import ZoneInfo

    render_archive(showcase.root, timezone=ZoneInfo("Asia/Tokyo"))
    html = page(showcase, showcase.show.channels["town"])
    welcome = post_html(html, showcase.show.posts["welcome"])
    assert ">17:21</time>" in welcome  # 08:21 UTC
    assert "Times are shown in Asia/Tokyo" in html
