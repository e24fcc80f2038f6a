"""Look for a token where it must never be: files on disk (plain, base64, UTF-16) and processes' argv."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _encodings(token: str) -> list[bytes]:
    raw = token.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"="), token.encode("utf-16-le")]


def files_containing(tokens: Iterable[str], roots: Iterable[Path]) -> list[str]:
    """Every file under `roots` that holds one of the tokens in any of the encodings a leak could take."""
    needles = [needle for token in tokens for needle in _encodings(token)]
    hits = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                content = path.read_bytes()
                hits.extend(f"{path}" for needle in needles if needle in content)
    return hits


@contextmanager
def watch_process_arguments(tokens: Iterable[str]) -> Iterator[list[str]]:
    """While the block runs, read every process's command line (Linux /proc); collect any holding a token."""
    needles = [token.encode() for token in tokens]
    seen: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    arguments = cmdline.read_bytes()
                except OSError:
                    continue
                if any(needle in arguments for needle in needles):
                    seen.append(arguments.replace(b"\0", b" ").decode(errors="replace"))
            stop.wait(0.02)

    watcher = threading.Thread(target=scan, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()
