"""End to end: the sandbox server → the real exporter → `render_archive` → Chromium.

The archive comes from the shared `exported_archive` fixture (the generated world exported over
loopback HTTP), so this checks the viewer against what the exporter really writes.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from browser_harness import guarded_page, load_all_images, screenshot
from html_checks import page_problems
from playwright.sync_api import Browser, expect

from mmtakeout.render import render_archive

pytestmark = pytest.mark.slow


def test_every_exported_post_is_on_its_page(exported_archive: Path) -> None:
    stats = render_archive(exported_archive, formats=("html", "json"))
    with sqlite3.connect(exported_archive / "archive.sqlite") as db:
        channels = db.execute("SELECT id FROM channels").fetchall()
        posts = db.execute("SELECT id, channel_id FROM posts").fetchall()
        roots = {row[0] for row in db.execute("SELECT DISTINCT root_id FROM posts WHERE root_id <> ''")}
    assert stats.conversations == len(channels) > 5
    index = (exported_archive / "index.html").read_text(encoding="utf-8")
    assert index.count('class="conv-item"') == len(channels)
    pages: dict[str, str] = {}
    for page in (exported_archive / "site" / "c").rglob("*.html"):
        pages[page.relative_to(exported_archive).as_posix()] = page.read_text(encoding="utf-8")
        assert (
            page_problems(pages[page.relative_to(exported_archive).as_posix()], page, exported_archive) == []
        )
    for post_id, channel_id in posts:
        parts = [
            text
            for name, text in pages.items()
            if name.startswith(f"site/c/{channel_id}/") and not name.rsplit("/", 1)[1].startswith("t")
        ]
        assert sum(text.count(f'id="p-{post_id}"') for text in parts) == 1, post_id
    thread_pages = "".join(text for name, text in pages.items() if name.rsplit("/", 1)[1].startswith("t"))
    for root in roots:
        assert f'id="t-{root}"' in thread_pages or root not in {post for post, _ in posts}
    assert len(list((exported_archive / "exports" / "json").glob("*.json"))) == len(channels)


@pytest.mark.browser
def test_real_export_in_chromium(exported_archive: Path, chromium: Browser) -> None:
    render_archive(exported_archive)
    with guarded_page(chromium, exported_archive, viewport={"width": 1200, "height": 900}) as (page, guard):
        page.goto((exported_archive / "index.html").resolve().as_uri())
        screenshot(page, "20-real-export-index", full_page=True)
        page.locator(".conv-link", has_text="Direct message").first.click()
        expect(page.locator(".conv-heading h1")).to_be_visible()
        assert load_all_images(page) == []
        screenshot(page, "21-real-export-direct-message")
        page.goto((exported_archive / "index.html").resolve().as_uri())
        page.locator(".conv-link", has_text="Town Square").first.click()
        assert load_all_images(page) == []
        thread = page.locator(".thread-link a").first
        thread.click()
        expect(page).to_have_url(re.compile(r"/t\d+\.html#t-"))
        screenshot(page, "22-real-export-thread")
        page.fill("#topsearch-q", "release")
        page.press("#topsearch-q", "Enter")
        expect(page.locator("#search-status")).to_contain_text("found")
        screenshot(page, "23-real-export-search")
        page.locator(".search-result a").first.click()
        expect(page).to_have_url(re.compile(r"\.html#p-"))
        guard.assert_clean(page)
