"""The site in Debian's Firefox ESR (WebDriver BiDi): works from file://, the hostile corpus stays inert.

Firefox applies CSP `'self'` and file:// origins differently from Chromium, so the same checks run
here: scripts load (search works), nothing leaves the folder, no CSP violation, no injected script.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser_harness import ARTIFACTS
from viewer_fixtures import ShowcaseArchive

from firefox_bidi import FIREFOX, Firefox, firefox, run_in_thread

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(FIREFOX) is None, reason="firefox-esr is not installed"),
]


def _inside(url: str, root: Path) -> bool:
    """A file inside the archive, or a data: URL (Firefox's own widgets load their fonts that way;
    a data: URL from the page itself would be refused by the CSP and show up as a violation)."""
    parts = urlsplit(url)
    if parts.scheme == "data":
        return True
    if parts.scheme != "file":
        return False
    path = Path(unquote(parts.path)).resolve()
    return path == root or root in path.parents


def _problems(browser: Firefox, root: Path) -> list[str]:
    outside = [url for url in browser.requests if not _inside(url, root)]
    csp = [
        entry.get("text", "")
        for entry in browser.log
        if "Content-Security-Policy" in str(entry.get("text", ""))
    ]
    errors = [
        entry.get("text", "")
        for entry in browser.log
        if entry.get("level") == "error" and entry not in csp and "Content-Security-Policy" not in str(entry)
    ]
    return [
        *(f"request outside: {url}" for url in outside),
        *(f"CSP: {text}" for text in csp),
        *(f"error: {text}" for text in errors),
    ]


def test_firefox_navigation_search_and_hostile_corpus(rendered_showcase: ShowcaseArchive) -> None:
    run_in_thread(_navigation_search_and_hostile_corpus(rendered_showcase))


async def _navigation_search_and_hostile_corpus(rendered_showcase: ShowcaseArchive) -> None:
    root = rendered_showcase.root.resolve()
    show, hostile = rendered_showcase.show, rendered_showcase.hostile
    async with firefox() as browser:
        page = await browser.new_tab()
        await page.navigate((root / "index.html").as_uri())
        assert await page.evaluate("document.getElementById('conv-filter').disabled") is False
        assert await page.evaluate("document.querySelectorAll('.conv-item').length") == 9
        await page.screenshot(ARTIFACTS / "firefox-01-index.png")

        await page.navigate((root / "index.html").as_uri() + f"?post={show.posts['dm2']}")
        await page.evaluate("new Promise((done) => setTimeout(done, 500))")
        location = await page.evaluate("location.href")
        assert location.endswith(f"/site/c/{show.channels['dm_bob']}/1.html#p-{show.posts['dm2']}"), location

        await page.navigate((root / "site" / "search.html").as_uri() + "?q=pizza")
        await page.evaluate(
            "new Promise((done) => "
            "{ const check = () => document.querySelectorAll('.search-result').length ? "
            "done(true) : setTimeout(check, 50); check(); })"
        )
        assert await page.evaluate("document.querySelectorAll('.search-result').length") == 2
        await page.screenshot(ARTIFACTS / "firefox-02-search-results.png")

        await page.navigate(
            (root / "site" / "c" / show.channels["town"] / "t1.html").as_uri()
            + f"#t-{show.posts['thread_root']}"
        )
        visible = await page.evaluate(
            "[...document.querySelectorAll('.thread')].filter((t) => getComputedStyle(t).display "
            "!== 'none').length"
        )
        assert visible == 1

        await page.navigate((root / "site" / "c" / hostile["channel"] / "1.html").as_uri())
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await page.settle()
        assert await page.evaluate("typeof window.__pwned") == "undefined"
        broken = await page.evaluate(
            "Promise.all([...document.images].map((img) => { img.loading = 'eager'; return img.decode()"
            ".then(() => null, () => img.getAttribute('src')); })).then((list) => list.filter(Boolean))"
        )
        assert broken == []
        await page.screenshot(ARTIFACTS / "firefox-03-hostile-corpus.png", whole_document=False)
        await page.navigate((root / "site" / "search.html").as_uri() + "?q=pwned")
        await page.settle(0.5)
        assert await page.evaluate("typeof window.__pwned") == "undefined"
        assert browser.requests, "request events are recorded"
        assert _problems(browser, root) == []


def test_firefox_log_reports_csp_violations(tmp_path: Path) -> None:
    """The Firefox checks can fail: an inline script and a remote image are reported."""
    from mmtakeout.render.site import CSP

    page_file = tmp_path / "strict.html"
    page_file.write_text(
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head><body>'
        '<img src="https://evil.example.net/x.png"><script>window.__pwned = 1</script></body></html>',
        encoding="utf-8",
    )
    problems = run_in_thread(_csp_violations(page_file.as_uri(), tmp_path.resolve()))
    assert any("CSP" in problem and "inline script" in problem for problem in problems), problems
    assert any("CSP" in problem and "evil.example.net" in problem for problem in problems), problems


async def _csp_violations(page_url: str, root: Path) -> list[str]:
    async with firefox() as browser:
        page = await browser.new_tab()
        await page.navigate(page_url)
        await page.settle()
        assert await page.evaluate("typeof window.__pwned") == "undefined"
        return _problems(browser, root)
