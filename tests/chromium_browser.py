"""Debian's Chromium for the browser tests: where it is, and the switches every test starts it with
(no sandbox in containers, no GPU, no traffic of its own: only what the test asks for goes out)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
