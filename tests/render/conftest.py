"""Fixtures for the viewer tests: showcase archives built with plain SQL, rendered or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import launch_chromium
from playwright.sync_api import Browser
from viewer_fixtures import BERLIN, ShowcaseArchive, make_showcase_archive

from mmtakeout.render import render_archive


@pytest.fixture
def showcase(tmp_path: Path) -> ShowcaseArchive:
    """A fresh, unrendered showcase archive (with the hostile corpus) for tests that change it."""
    return make_showcase_archive(tmp_path / "archive")


@pytest.fixture(scope="session")
def rendered_showcase(tmp_path_factory: pytest.TempPathFactory) -> ShowcaseArchive:
    """One rendered showcase shared by read-only tests (HTML and all plain formats)."""
    archive = make_showcase_archive(tmp_path_factory.mktemp("viewer") / "archive")
    render_archive(archive.root, formats=("html", "markdown", "text", "json", "csv"), timezone=BERLIN)
    return archive


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded build), shared by one module's browser tests.

    Module scope on purpose: while Playwright's sync API is open, the thread counts as running an
    event loop, which would break asyncio tests of other modules that run afterwards.
    """
    with launch_chromium() as browser:
        yield browser
