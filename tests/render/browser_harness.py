"""Debian's Chromium driven by Playwright, with guards that record what a page tries to do.

Every request is checked: only file:// URLs inside the archive folder may load; anything else is
recorded and aborted. Dialogs (alert/confirm), page errors, CSP violations and the hostile corpus's
`window.__pwned` marker are recorded too, so a test can assert that none happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, FloatRect, Page, Route, sync_playwright

from chromium_browser import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "viewer"
WATCH_SCRIPT = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (event) {
  window.__csp.push(
    event.violatedDirective + ' ' + event.blockedURI + ' ' + event.sourceFile + ':' + event.lineNumber);
});
"""


@dataclass
class Guard:
    root: Path
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme != "file":
            return False
        path = Path(unquote(parts.path)).resolve()
        return path == self.root or self.root in path.parents

    def handle(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if self.allowed(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def watch(self, page: Page) -> Page:
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def assert_clean(self, page: Page) -> None:
        assert self.blocked == [], f"requests left the archive folder: {self.blocked}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.errors == [], f"script errors: {self.errors}"
        assert page.evaluate("typeof window.__pwned") == "undefined", page.evaluate("window.__pwned")
        violations = page.evaluate("window.__csp || []")
        assert violations == [], f"CSP violations: {violations}"


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def guarded_page(browser: Browser, root: Path, **context_options: object) -> Iterator[tuple[Page, Guard]]:
    context: BrowserContext = browser.new_context(**context_options)  # type: ignore[arg-type]
    guard = Guard(root.resolve())
    context.route("**/*", guard.handle)
    context.add_init_script(WATCH_SCRIPT)
    page = guard.watch(context.new_page())
    try:
        yield page, guard
    finally:
        context.close()


def screenshot(
    page: Page,
    name: str,
    *,
    full_page: bool = False,
    selector: str | None = None,
    clip: FloatRect | None = None,
) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    if selector is not None:
        page.locator(selector).first.screenshot(path=str(target))
    else:
        page.screenshot(path=str(target), full_page=full_page, clip=clip)
    assert target.stat().st_size > 1000
    return target


def load_all_images(page: Page) -> list[str]:
    """Forces lazy images to load and returns the sources of those that failed."""
    return page.evaluate(
        """async () => {
          const images = Array.from(document.images);
          images.forEach((img) => { img.loading = 'eager'; });
          await Promise.all(images.map((img) => img.complete ? null :
            new Promise((done) => {
              img.addEventListener('load', done);
              img.addEventListener('error', done);
            })));
          return images.filter((img) => img.naturalWidth === 0).map((img) => img.getAttribute('src'));
        }"""
    )
