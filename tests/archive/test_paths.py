"""Archive paths come from ids and sanitised extensions only; nothing may point outside the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmtakeout.archive import paths

FILE_ID = "x3hbzo8r4jbzzmxuh6b7pxzfxo"


@pytest.mark.parametrize(
    ("name", "extension", "expected"),
    [
        ("report.PDF", "", "pdf"),
        ("photo.jpeg", "JPEG", "jpeg"),
        ("../../etc/passwd", "", ""),
        ("/etc/shadow", "", ""),
        ("..\\..\\windows\\system32\\evil.exe", "", "exe"),
        ("CON.txt", "txt", "txt"),
        ("archive.tar.gz", "gz", "gz"),
        ("x" * 300 + ".txt", "", "txt"),
        ("name.with spaces", "", ""),
        ("weird.ext\x00.png", "", "png"),
        ("nul\x01.b\x7fin", "", ""),
        ("file.verylongextension", "", ""),
        ("no-extension", "", ""),
        ("dots...", "", ""),
        ("emoji.😀", "", ""),
        ("x", "../../x", ""),
    ],
)
def test_safe_extension(name: str, extension: str, expected: str) -> None:
    assert paths.safe_extension(name, extension) == expected


def test_attachment_paths_are_derived_from_the_id() -> None:
    assert paths.attachment_path(FILE_ID, "png") == f"files/x3/{FILE_ID}.png"
    assert paths.attachment_path(FILE_ID, "") == f"files/x3/{FILE_ID}"
    assert paths.thumbnail_path(FILE_ID) == f"files/x3/{FILE_ID}.thumb.jpg"
    assert paths.preview_path(FILE_ID) == f"files/x3/{FILE_ID}.preview.jpg"
    assert paths.avatar_path(FILE_ID) == f"avatars/{FILE_ID}.png"
    assert paths.emoji_path(FILE_ID, "gif") == f"emoji/{FILE_ID}.gif"


@pytest.mark.parametrize(
    "bad_id", ["", "../etc", "/abs", "con", "AUX", "a/b", "a\\b", "ABC", ".hidden", "x" * 65, "a\x00"]
)
def test_unsafe_ids_are_refused(bad_id: str) -> None:
    assert not paths.is_safe_id(bad_id)
    with pytest.raises(paths.UnsafePathError):
        paths.attachment_path(bad_id, "txt")


def test_unsafe_extension_is_refused_even_if_passed_directly() -> None:
    with pytest.raises(paths.UnsafePathError):
        paths.attachment_path(FILE_ID, "../x")


@pytest.mark.parametrize(
    "relative", ["", "/etc/passwd", "../x", "files/../../x", "files//x", "files/./x", "a\\b", "a\x00"]
)
def test_resolve_inside_refuses_escapes(tmp_path: Path, relative: str) -> None:
    with pytest.raises(paths.UnsafePathError):
        paths.resolve_inside(tmp_path, relative)


def test_resolve_inside_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    outside = tmp_path / "outside"
    archive.mkdir()
    outside.mkdir()
    os.symlink(outside, archive / "files")
    with pytest.raises(paths.UnsafePathError, match="outside"):
        paths.resolve_inside(archive, f"files/x3/{FILE_ID}.png")
    assert (
        paths.resolve_inside(archive, "avatars/a.png")
        == Path(os.path.realpath(archive)) / "avatars" / "a.png"
    )


@pytest.mark.parametrize(
    ("head", "extension"),
    [
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"GIF89a....", "gif"),
        (b"\xff\xd8\xff\xe0", "jpg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"<svg", "img"),
    ],
)
def test_image_type_sniffing(head: bytes, extension: str) -> None:
    assert paths.sniff_image_extension(head) == extension
