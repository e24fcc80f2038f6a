"""Deterministic zip output written atomically.

The same archive must give a byte-identical file, so every entry gets a fixed timestamp and fixed
permissions, entries are written in the order the converter chooses (which is sorted), and the
output only appears under its final name once complete (temp file + rename).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16


def _check_entry_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"unsafe zip entry name {name!r}")


class DeterministicZip:
    """A zip file whose bytes depend only on what is written into it."""

    def __init__(self, target: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self._names: set[str] = set()

    def _info(self, name: str, compress: bool) -> zipfile.ZipInfo:
        _check_entry_name(name)
        if name in self._names:
            raise ValueError(f"duplicate zip entry {name!r}")
        self._names.add(name)
        info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
        info.external_attr = _FILE_MODE
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        return info

    def write_bytes(self, name: str, data: bytes) -> None:
        self._zip.writestr(self._info(name, compress=True), data)

    def write_file(self, name: str, source: Path, compress: bool = False) -> None:
        """Copy a file in; stored uncompressed by default (attachments are mostly compressed already)."""
        entry = self._info(name, compress=compress)
        with source.open("rb") as reader, self._zip.open(entry, "w", force_zip64=True) as out:
            shutil.copyfileobj(reader, out, 1024 * 1024)

    @contextlib.contextmanager
    def open_entry(self, name: str) -> Iterator[IO[bytes]]:
        """A writable stream for one entry; nothing else may be written until it is closed."""
        with self._zip.open(self._info(name, compress=True), "w", force_zip64=True) as out:
            yield out

    def close(self) -> None:
        self._zip.close()


@contextlib.contextmanager
def atomic_file(destination: Path) -> Iterator[IO[bytes]]:
    """A binary stream that becomes `destination` only if the block finishes without an error."""
    directory = destination.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def atomic_zip(destination: Path) -> Iterator[DeterministicZip]:
    with atomic_file(destination) as stream:
        archive = DeterministicZip(stream)
        try:
            yield archive
        except BaseException:
            with contextlib.suppress(Exception):
                archive.close()
            raise
        archive.close()


def write_text_atomically(destination: Path, text: str) -> None:
    with atomic_file(destination) as stream:
        stream.write(text.encode("utf-8"))
