"""The site in real headless Chromium from file://: navigation, search, themes, safety, screenshots.

Screenshots go to test-artifacts/viewer/ (index, a DM, a thread, search results, dark mode, a phone
window, an image attachment, reactions with custom emoji, edited/deleted markers, a code block and a
link preview).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_harness import guarded_page, load_all_images, screenshot
from playwright.sync_api import Browser, expect
from viewer_fixtures import ShowcaseArchive

pytestmark = pytest.mark.browser


def url(archive: ShowcaseArchive, relative: str) -> str:
    return (archive.root / relative).resolve().as_uri()


def conversation_url(archive: ShowcaseArchive, key: str, part: int = 1) -> str:
    return url(archive, f"site/c/{archive.show.channels[key]}/{part}.html")


def test_index_to_conversation_to_thread_and_back(
    chromium: Browser, rendered_showcase: ShowcaseArchive
) -> None:
    posts = rendered_showcase.show.posts
    with guarded_page(chromium, rendered_showcase.root, viewport={"width": 1200, "height": 900}) as (
        page,
        guard,
    ):
        page.goto(url(rendered_showcase, "index.html"))
        expect(page.locator("#conv-filter")).to_be_enabled()
        screenshot(page, "01-index", full_page=True)
        page.fill("#conv-filter", "bob")
        expect(page.locator(".conv-item:visible")).to_have_count(2)
        page.fill("#conv-filter", "")
        page.locator(".conv-link", has_text="Town Square").first.click()
        expect(page).to_have_url(re.compile(r"/1\.html#latest$"))
        expect(page.locator(".conv-heading h1")).to_contain_text("Town Square")
        assert load_all_images(page) == []

        page.locator(f"#p-{posts['thread_root']} .thread-link a").click()
        expect(page).to_have_url(re.compile(rf"/t1\.html#t-{posts['thread_root']}$"))
        expect(page.locator(f"#t-{posts['thread_root']}")).to_be_visible()
        expect(page.locator(f"#t-{posts['code']}")).to_be_hidden()
        expect(page.locator(f"#tp-{posts['reply2']}")).to_contain_text("I'm in")
        screenshot(page, "04-thread")

        page.locator(f"#tp-{posts['reply1']} .thread-link a").click()
        expect(page).to_have_url(re.compile(rf"/1\.html#p-{posts['reply1']}$"))
        page.wait_for_function(f"() => document.querySelector('#p-{posts['reply1']}').matches(':target')")
        page.locator(f"#p-{posts['code_reply']} .reply-to a").click()
        expect(page).to_have_url(re.compile(rf"#p-{posts['code']}$"))
        guard.assert_clean(page)


def test_search_finds_posts_and_opens_them_in_context(
    chromium: Browser, rendered_showcase: ShowcaseArchive
) -> None:
    posts = rendered_showcase.show.posts
    with guarded_page(chromium, rendered_showcase.root, viewport={"width": 1200, "height": 900}) as (
        page,
        guard,
    ):
        page.goto(conversation_url(rendered_showcase, "town"))
        page.fill("#topsearch-q", "piz")
        page.press("#topsearch-q", "Enter")
        expect(page.locator("#search-status")).to_contain_text("2 messages found")
        expect(page.locator(".search-result mark").first).to_have_text("Piz")
        screenshot(page, "05-search-results")
        page.locator(".search-result a").last.click()
        expect(page).to_have_url(re.compile(rf"/1\.html#p-{posts['thread_root']}$"))

        page.goto(url(rendered_showcase, "site/search.html"))
        page.fill("#q", "MEETING")
        page.click("#search-form button[type=submit]")
        expect(page.locator("#search-status")).to_contain_text("1 message found")
        page.fill("#q", "")
        page.select_option("#f-person", rendered_showcase.show.users["carol"])
        page.click("#search-form button[type=submit]")
        expect(page.locator(".result-author").first).to_have_text("carol")
        authors = page.locator(".result-author").all_inner_texts()
        assert authors and set(authors) == {"carol"}
        page.select_option("#f-person", "")
        page.fill("#q", "hello")
        page.select_option("#f-conv", rendered_showcase.show.channels["offtopic"])
        page.click("#search-form button[type=submit]")
        expect(page.locator("#search-status")).to_contain_text("No messages found")
        page.goto(url(rendered_showcase, "site/search.html") + "?q=coffee&after=2024-06-01&before=2024-06-01")
        expect(page.locator("#search-status")).to_contain_text("1 message found")
        page.goto(url(rendered_showcase, "site/search.html") + "?q=%C3%BCber%20ACME")
        expect(page.locator("#search-status")).to_contain_text("No messages found")
        page.goto(
            url(rendered_showcase, "site/search.html") + "?q=%D8%A8%D8%A7%D9%84%D8%AC%D9%85%D9%8A%D8%B9"
        )
        expect(page.locator("#search-status")).to_contain_text("1 message found")
        guard.assert_clean(page)


def test_permalink_resolver(chromium: Browser, rendered_showcase: ShowcaseArchive) -> None:
    posts = rendered_showcase.show.posts
    with guarded_page(chromium, rendered_showcase.root) as (page, guard):
        page.goto(url(rendered_showcase, "index.html") + f"?post={posts['dm3']}")
        expect(page).to_have_url(
            re.compile(rf"/site/c/{rendered_showcase.show.channels['dm_bob']}/1\.html#p-{posts['dm3']}$")
        )
        page.goto(url(rendered_showcase, "index.html") + "?post=zzzzzzzzzzzzzzzzzzzzzzzzzz")
        expect(page.locator("#resolver-status")).to_have_text("This message is not in the archive.")
        page.goto(url(rendered_showcase, "index.html") + "?post=../../etc")
        expect(page.locator("#resolver-status")).to_have_text("That link does not name a message.")
        page.goto(conversation_url(rendered_showcase, "town"))
        page.locator(f"#p-{posts['permalink']} a.permalink").first.click()
        expect(page).to_have_url(re.compile(rf"#p-{posts['welcome']}$"))
        guard.assert_clean(page)


def test_direct_message_and_feature_screenshots(
    chromium: Browser, rendered_showcase: ShowcaseArchive
) -> None:
    posts = rendered_showcase.show.posts
    with guarded_page(chromium, rendered_showcase.root, viewport={"width": 1100, "height": 800}) as (
        page,
        guard,
    ):
        page.goto(conversation_url(rendered_showcase, "dm_bob"))
        expect(page.locator(".conv-heading h1")).to_contain_text("Bobby")
        screenshot(page, "02-direct-message")
        page.goto(conversation_url(rendered_showcase, "town"))
        assert load_all_images(page) == []
        for name, key in (
            ("07-image-attachment", "image"),
            ("08-reactions-custom-emoji", "thread_root"),
            ("10-code-block", "code"),
            ("11-link-preview", "link"),
            ("12-files", "files"),
            ("13-webhook-attachment", "webhook"),
        ):
            page.locator(f"#p-{posts[key]}").scroll_into_view_if_needed()
            screenshot(page, name, selector=f"#p-{posts[key]}")
        page.locator(f"#p-{posts['edited']} details summary").click()
        expect(page.locator(f"#p-{posts['edited']} .history-list")).to_be_visible()
        page.evaluate(f"document.getElementById('p-{posts['edited']}').scrollIntoView()")
        box_top = page.locator(f"#p-{posts['edited']}").bounding_box()
        box_bottom = page.locator(f"#p-{posts['deleted']}").bounding_box()
        assert box_top and box_bottom
        clip = {
            "x": 0,
            "y": box_top["y"] - 8,
            "width": 1100,
            "height": box_bottom["y"] + box_bottom["height"] - box_top["y"] + 16,
        }
        screenshot(page, "09-edited-deleted", clip=clip)  # type: ignore[arg-type]
        image = page.locator(f"#p-{posts['image']} .file-image img").first
        assert image.evaluate("img => img.naturalWidth") == 320
        guard.assert_clean(page)


def test_dark_theme_follows_the_system_and_the_toggle(
    chromium: Browser, rendered_showcase: ShowcaseArchive
) -> None:
    with guarded_page(
        chromium, rendered_showcase.root, color_scheme="dark", viewport={"width": 1100, "height": 900}
    ) as (page, guard):
        page.goto(conversation_url(rendered_showcase, "town"))
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert _luminance(background) < 0.2, background
        text = page.evaluate("getComputedStyle(document.querySelector('.message')).color")
        assert _luminance(text) > 0.6, text
        page.locator(f"#p-{rendered_showcase.show.posts['code']}").scroll_into_view_if_needed()
        screenshot(page, "06-dark-mode")
        expect(page.locator("#theme-toggle")).to_have_text("Light theme")
        page.click("#theme-toggle")
        assert _luminance(page.evaluate("getComputedStyle(document.body).backgroundColor")) > 0.9
        page.reload()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        guard.assert_clean(page)


def test_phone_sized_window(chromium: Browser, rendered_showcase: ShowcaseArchive) -> None:
    phone = {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    }
    with guarded_page(chromium, rendered_showcase.root, **phone) as (page, guard):
        for relative, name in (
            ("index.html", "03-phone-index"),
            (f"site/c/{rendered_showcase.show.channels['town']}/1.html", "03-phone-conversation"),
        ):
            page.goto(url(rendered_showcase, relative))
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            screenshot(page, name)
        page.goto(url(rendered_showcase, "site/search.html") + "?q=pizza")
        expect(page.locator("#search-status")).to_contain_text("found")
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        screenshot(page, "03-phone-search")
        guard.assert_clean(page)


def test_keyboard_access(chromium: Browser, rendered_showcase: ShowcaseArchive) -> None:
    with guarded_page(chromium, rendered_showcase.root) as (page, guard):
        page.goto(url(rendered_showcase, "index.html"))
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#main"
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.className")
        assert focused == "conv-filter"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        landmarks = page.evaluate(
            "[...document.querySelectorAll('header[role=banner], main, footer, nav, "
            "form[role=search]')].length"
        )
        assert landmarks >= 3
        guard.assert_clean(page)


def test_jump_to_date_and_parts(chromium: Browser, rendered_showcase: ShowcaseArchive) -> None:
    with guarded_page(chromium, rendered_showcase.root) as (page, guard):
        page.goto(conversation_url(rendered_showcase, "town"))
        page.fill(".jump-date input", "2024-06-02")
        page.click(".jump-date button")
        expect(page).to_have_url(re.compile(r"#d-2024-06-02$"))
        guard.assert_clean(page)


def test_hostile_corpus_cannot_run_or_load(chromium: Browser, rendered_showcase: ShowcaseArchive) -> None:
    hostile = rendered_showcase.hostile
    with guarded_page(chromium, rendered_showcase.root, viewport={"width": 1100, "height": 900}) as (
        page,
        guard,
    ):
        page.goto(url(rendered_showcase, f"site/c/{hostile['channel']}/1.html"))
        failed = load_all_images(page)
        assert failed == [], failed
        for element in page.locator("a[href]").all()[:400]:
            href = element.get_attribute("href") or ""
            assert not href.lower().lstrip().startswith(("javascript", "data", "vbscript")), href
        page.mouse.wheel(0, 100_000)
        page.locator(f"#p-{hostile['props']}").scroll_into_view_if_needed()
        page.locator(f"#p-{hostile['props']}").hover()
        screenshot(page, "14-hostile-corpus")
        page.goto(url(rendered_showcase, "site/search.html") + "?q=pwned")
        expect(page.locator("#search-status")).to_contain_text("found")
        page.locator(".search-result").first.hover()
        page.goto(url(rendered_showcase, "index.html"))
        page.goto(url(rendered_showcase, "index.html") + "?post=" + "%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
        guard.assert_clean(page)
        assert all(request.startswith("file://") for request in guard.requests)


def _luminance(css_color: str) -> float:
    channels = [int(value) / 255 for value in re.findall(r"\d+", css_color)[:3]]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def test_the_guards_notice_scripts_loads_and_violations(chromium: Browser, tmp_path: Path) -> None:
    """The checks above can fail: a page that misbehaves is caught by each of them."""
    from mmtakeout.render.site import CSP

    body = (
        '<img src="https://evil.example.net/x.png"><p style="color:red">x</p>'
        "<script>window.__pwned = 'inline'</script>"
    )
    (tmp_path / "open.html").write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    (tmp_path / "strict.html").write_text(
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    with guarded_page(chromium, tmp_path) as (page, guard):
        page.goto((tmp_path / "open.html").as_uri())
        assert guard.blocked == ["https://evil.example.net/x.png"]
        assert page.evaluate("window.__pwned") == "inline"
        with pytest.raises(AssertionError):
            guard.assert_clean(page)
    with guarded_page(chromium, tmp_path) as (page, guard):
        page.goto((tmp_path / "strict.html").as_uri())
        page.wait_for_function("() => window.__csp.length >= 3")
        violations = " ".join(page.evaluate("window.__csp"))
        assert "script-src" in violations and "img-src" in violations and "style-src" in violations
        assert guard.blocked == [] and page.evaluate("typeof window.__pwned") == "undefined"
        with pytest.raises(AssertionError, match="CSP violations"):
            guard.assert_clean(page)
