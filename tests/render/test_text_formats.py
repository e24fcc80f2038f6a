"""Plain exports: Markdown, text, JSON and CSV, one file per conversation, threads readable."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from viewer_fixtures import BERLIN, ShowcaseArchive

from mmtakeout.render import render_archive


def export_file(archive: ShowcaseArchive, fmt: str, slug_start: str) -> Path:
    extension = {"markdown": "md", "text": "txt", "json": "json", "csv": "csv"}[fmt]
    matches = sorted((archive.root / "exports" / fmt).glob(f"{slug_start}*.{extension}"))
    assert len(matches) == 1, matches
    return matches[0]


def test_one_file_per_conversation_with_safe_names(rendered_showcase: ShowcaseArchive) -> None:
    for fmt in ("markdown", "text", "json", "csv"):
        files = sorted((rendered_showcase.root / "exports" / fmt).iterdir())
        assert len(files) == 9
        for path in files:
            assert re.fullmatch(r"[a-z0-9-]+-[a-z0-9]{8}\.(md|txt|json|csv)", path.name), path.name
    names = {path.stem.rsplit("-", 1)[0] for path in (rendered_showcase.root / "exports" / "text").iterdir()}
    assert {"acme-town-square", "dm-bobby", "dm-alice-liddell-you", "gm-bobby-carol"} <= names
    assert "acme-script-window-pwned-channel-script-hostile" in names


def test_text_format_indents_replies_under_their_root(rendered_showcase: ShowcaseArchive) -> None:
    text = export_file(rendered_showcase, "text", "acme-town-square").read_text(encoding="utf-8")
    root = text.index("Lunch plans for Friday? :pizza:")
    first, second = (
        text.index("↳ 2024-06-01 12:25  Bobby (@bob): Pizza again?"),
        text.index("↳ 2024-06-01 12:27  carol"),
    )
    assert root < first < second < text.index("The meeting is at")
    assert "Bobby joined the channel." in text
    assert (
        "[edited 2024-06-01 13:30:00 CEST]" in text
        and "[deleted on the server 2024-06-01 13:45:00 CEST]" in text
    )
    assert re.search(r"\[file\] dashboard screenshot\.png \(.*\) files/[a-z0-9]{2}/[a-z0-9]+\.png", text)
    assert "[file] huge-video.mp4 (700.0 MB) not saved (skipped)" in text
    assert "[reactions] 👍 2, :partyparrot: 1, ❤️ 1" in text
    assert "[attachment] Deployment finished — Build #42 passed — All **128** tests green." in text


def test_markdown_format_quotes_replies_and_links_files(rendered_showcase: ShowcaseArchive) -> None:
    path = export_file(rendered_showcase, "markdown", "acme-town-square")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Town Square\n")
    assert "## Saturday, 1 June 2024" in text
    assert "> **Bobby** (@bob) · 12:25\n>\n> Pizza again? :partyparrot:" in text
    link = re.search(r"\[dashboard screenshot\.png\]\((\.\./\.\./files/[^)]+)\)", text)
    assert link is not None and (path.parent / link.group(1)).resolve().is_file()


def test_markdown_closes_unbalanced_code_fences(rendered_showcase: ShowcaseArchive) -> None:
    text = export_file(rendered_showcase, "markdown", "acme-script").read_text(encoding="utf-8")
    fences = [line for line in text.splitlines() if line.lstrip("> ").startswith("```")]
    assert len(fences) % 2 == 0


def test_json_format_nests_replies(rendered_showcase: ShowcaseArchive) -> None:
    data = json.loads(export_file(rendered_showcase, "json", "acme-town-square").read_text(encoding="utf-8"))
    assert data["format"] == "mmtakeout-conversation" and data["conversation"]["title"] == "Town Square"
    posts = data["posts"]
    root = next(post for post in posts if post["id"] == rendered_showcase.show.posts["thread_root"])
    assert [reply["message"] for reply in root["replies"]] == ["Pizza again? :partyparrot:", "I'm in 👍"]
    assert all(post["root_id"] == "" for post in posts)
    edited = next(post for post in posts if post["id"] == rendered_showcase.show.posts["edited"])
    assert edited["history"][0]["message"] == "The meeting is at 2 pm."
    files = next(post for post in posts if post["id"] == rendered_showcase.show.posts["files"])["files"]
    assert {file["status"] for file in files} == {"saved", "skipped", "failed"}
    assert all((file["path"] is None) == (file["status"] != "saved") for file in files)
    assert sum(1 + len(post["replies"]) for post in posts) == 20


def test_json_of_hostile_conversation_is_valid(rendered_showcase: ShowcaseArchive) -> None:
    data = json.loads(export_file(rendered_showcase, "json", "acme-script").read_text(encoding="utf-8"))
    messages = [post["message"] for post in data["posts"]]
    assert "<script>window.__pwned = 'script-tag'</script>" in messages


def test_csv_format_keeps_thread_order_and_defuses_formulas(rendered_showcase: ShowcaseArchive) -> None:
    with export_file(rendered_showcase, "csv", "acme-town-square").open(
        encoding="utf-8", newline=""
    ) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    ids = [row["post_id"] for row in rows]
    posts = rendered_showcase.show.posts
    assert ids.index(posts["thread_root"]) + 1 == ids.index(posts["reply1"])
    assert rows[ids.index(posts["reply1"])]["root_id"] == posts["thread_root"]
    with export_file(rendered_showcase, "csv", "acme-script").open(encoding="utf-8", newline="") as handle:
        hostile = list(csv.DictReader(handle))
    for row in hostile:
        for column in ("message", "username", "display_name", "files", "reactions"):
            assert not row[column].startswith(("=", "+", "-", "@")), row[column]
    assert any(row["username"].startswith("'<img") or row["message"].startswith("'- ") for row in hostile)


def test_plain_formats_are_incremental(showcase: ShowcaseArchive) -> None:
    first = render_archive(showcase.root, formats=("text", "csv"), timezone=BERLIN)
    assert first.exports_written == {"text": 9, "csv": 9}
    assert not (showcase.root / "index.html").exists()
    again = render_archive(showcase.root, formats=("text", "csv"), timezone=BERLIN)
    assert again.exports_written == {"text": 0, "csv": 0}
    import sqlite3

    with sqlite3.connect(showcase.root / "archive.sqlite") as db:
        db.execute(
            "UPDATE posts SET message = 'changed text', update_at = update_at + 1 WHERE id = ?",
            (showcase.show.posts["dm1"],),
        )
        db.execute(
            "UPDATE channels SET display_name = 'Lobby' WHERE id = ?", (showcase.show.channels["town"],)
        )
    third = render_archive(showcase.root, formats=("text",), timezone=BERLIN)
    assert third.exports_written == {"text": 2}
    names = {path.name.rsplit("-", 1)[0] for path in (showcase.root / "exports" / "text").iterdir()}
    assert "acme-lobby" in names and "acme-town-square" not in names
    assert "changed text" in export_file(showcase, "text", "dm-bobby").read_text(encoding="utf-8")
