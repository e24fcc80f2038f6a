"""Streaming downloads: atomic replace, resume with Range, size limits, 304, a full disk."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from aiohttp import web
from api_scripted_server import (
    TOKEN,
    Handler,
    ScriptedServer,
    assert_token_hidden,
    error_reply,
    rate_limited,
    truncated_reply,
)

from mmtakeout.api import BadResponse, FileTooLarge, MattermostClient, NotFound, TransportError

FILE_ID = "ps8smsjwjfr39fysq4muzk3qbh"
FILE_PATH = f"/api/v4/files/{FILE_ID}"
CONTENT = bytes(range(256)) * 4096  # 1 MiB
ClientFactory = Callable[..., MattermostClient]


def serve_file(content: bytes = CONTENT, *, ranges: bool = True, etag: str | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if etag is not None and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"Content-Type": "image/png", **({"ETag": etag} if etag else {})}
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if ranges and match:
            start = int(match.group(1))
            if start >= len(content):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(content)}"})
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
            return web.Response(status=206, body=content[start:], headers=headers)
        return web.Response(body=content, headers=headers)

    return handler


def serve_chunked(content: bytes) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(content), 65536):
            await response.write(content[start : start + 65536])
        await response.write_eof()
        return response

    return handler


def wrong_offset(content: bytes = CONTENT) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}"}
        return web.Response(status=206, body=content, headers=headers)

    return handler


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_download_streams_to_dest_with_checksum(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.always(FILE_PATH, serve_file(etag='"v1"'))
    dest = tmp_path / "files" / "ps" / f"{FILE_ID}.png"
    async with make_client() as client:
        result = await client.download_file(FILE_ID, dest)
    assert dest.read_bytes() == CONTENT
    assert result.size == len(CONTENT)
    assert result.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert result.etag == '"v1"'
    assert result.content_type == "image/png"
    assert not result.not_modified
    assert files_in(dest.parent) == [dest.name]
    (seen,) = server.requests
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept-Encoding"] == "identity"
    assert "Range" not in seen.headers


async def test_interrupted_download_leaves_only_the_part_file(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.always(FILE_PATH, truncated_reply(CONTENT, keep=300_000))
    dest = tmp_path / "a.bin"
    async with make_client(max_retries=0) as client:
        with pytest.raises(TransportError) as caught:
            await client.download_file(FILE_ID, dest)
    assert not dest.exists()
    part = tmp_path / "a.bin.part"
    assert files_in(tmp_path) == ["a.bin.part"]
    assert 0 < part.stat().st_size <= 300_000
    assert CONTENT.startswith(part.read_bytes())
    assert_token_hidden(caught.value)


async def test_next_run_resumes_the_part_file_with_range(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    dest = tmp_path / "a.bin"
    (tmp_path / "a.bin.part").write_bytes(CONTENT[:400_000])
    server.always(FILE_PATH, serve_file())
    async with make_client() as client:
        result = await client.download_file(FILE_ID, dest)
    assert server.requests[0].headers["Range"] == "bytes=400000-"
    assert dest.read_bytes() == CONTENT
    assert result.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert result.size == len(CONTENT)
    assert files_in(tmp_path) == ["a.bin"]
    assert client.stats.bytes_received == len(CONTENT) - 400_000


async def test_a_dropped_download_is_retried_from_where_it_stopped(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.script(FILE_PATH, truncated_reply(CONTENT, keep=500_000))
    server.always(FILE_PATH, serve_file())
    dest = tmp_path / "a.bin"
    async with make_client() as client:
        result = await client.download_file(FILE_ID, dest)
    assert dest.read_bytes() == CONTENT
    assert result.sha256 == hashlib.sha256(CONTENT).hexdigest()
    first, second = server.requests
    assert "Range" not in first.headers
    assert re.fullmatch(r"bytes=\d+-", second.headers["Range"])


async def test_server_without_range_support_restarts_from_zero(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes that must not survive")
    server.always(FILE_PATH, serve_file(ranges=False))
    async with make_client() as client:
        await client.download_file(FILE_ID, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == CONTENT


async def test_resume_at_the_wrong_offset_starts_over(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    (tmp_path / "a.bin.part").write_bytes(CONTENT[:1000])
    server.script(FILE_PATH, wrong_offset())
    server.always(FILE_PATH, serve_file())
    async with make_client() as client:
        await client.download_file(FILE_ID, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == CONTENT
    assert "Range" not in server.requests[1].headers


async def test_part_file_longer_than_the_file_starts_over(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    (tmp_path / "a.bin.part").write_bytes(CONTENT + b"extra")
    server.always(FILE_PATH, serve_file())
    async with make_client() as client:
        await client.download_file(FILE_ID, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == CONTENT


async def test_chunked_download_without_length(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.always(FILE_PATH, serve_chunked(CONTENT))
    async with make_client() as client:
        result = await client.download_file(FILE_ID, tmp_path / "a.bin")
    assert result.size == len(CONTENT)
    assert (tmp_path / "a.bin").read_bytes() == CONTENT


@pytest.mark.parametrize("handler", [serve_file(), serve_chunked(CONTENT)], ids=["announced", "chunked"])
async def test_file_over_the_size_limit_is_not_saved(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path, handler: Handler
) -> None:
    server.always(FILE_PATH, handler)
    async with make_client() as client:
        with pytest.raises(FileTooLarge):
            await client.download_file(FILE_ID, tmp_path / "a.bin", max_bytes=100_000)
    assert files_in(tmp_path) == []


async def test_unchanged_avatar_is_not_downloaded_again(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    user_id = "q1b6tyn3cfgw8mx4b5nhbzn1xe"
    server.always(f"/api/v4/users/{user_id}/image", serve_file(b"\x89PNG avatar", etag="1600000000000"))
    async with make_client() as client:
        fresh = await client.download_user_image(user_id, tmp_path / "new.png")
        again = await client.download_user_image(user_id, tmp_path / "again.png", etag=fresh.etag)
    assert fresh.etag == "1600000000000"
    assert (tmp_path / "new.png").read_bytes() == b"\x89PNG avatar"
    assert again.not_modified
    assert again.sha256 is None
    assert not (tmp_path / "again.png").exists()
    assert server.requests[1].headers["If-None-Match"] == "1600000000000"


async def test_missing_thumbnail_is_none_but_missing_file_is_an_error(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.always(
        f"{FILE_PATH}/thumbnail", error_reply(400, "api.file.get_file_thumbnail.no_thumbnail.app_error")
    )
    server.always(f"{FILE_PATH}/preview", serve_file(b"jpeg"))
    server.always(FILE_PATH, error_reply(404, "api.file.file_not_found.app_error"))
    async with make_client() as client:
        assert await client.download_file_thumbnail(FILE_ID, tmp_path / "t.jpg") is None
        preview = await client.download_file_preview(FILE_ID, tmp_path / "p.jpg")
        with pytest.raises(NotFound) as caught:
            await client.download_file(FILE_ID, tmp_path / "f.bin")
    assert preview is not None and preview.size == 4
    assert caught.value.error_id == "api.file.file_not_found.app_error"
    assert files_in(tmp_path) == ["p.jpg"]


async def test_rate_limited_download_is_retried(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.script(FILE_PATH, rate_limited("0"), rate_limited("0"))
    server.always(FILE_PATH, serve_file())
    async with make_client(max_retries=0) as client:
        await client.download_file(FILE_ID, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == CONTENT
    assert client.stats.rate_limited == 2


class FullDiskClient(MattermostClient):
    """Writes go to /dev/full: the kernel answers every write with ENOSPC."""

    def _open_part_file(self, part: Path, *, append: bool) -> BinaryIO:
        part.touch()
        return Path("/dev/full").open("wb")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
async def test_full_disk_surfaces_as_enospc_and_leaves_no_final_file(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.always(FILE_PATH, serve_file())
    dest = tmp_path / "a.bin"
    async with FullDiskClient(server.url, TOKEN, max_retries=3, backoff_base=0.01) as client:
        with pytest.raises(OSError) as caught:
            await client.download_file(FILE_ID, dest)
    assert caught.value.errno == errno.ENOSPC
    assert not isinstance(caught.value, TransportError | BadResponse)
    assert not dest.exists()
    assert len(server.requests) == 1


async def test_concurrent_downloads_share_the_slots(
    server: ScriptedServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.always(FILE_PATH, serve_file())
    async with make_client(concurrency=2) as client:
        results = await asyncio.gather(
            *(client.download_file(FILE_ID, tmp_path / f"{n}.bin") for n in range(6))
        )
    assert {result.sha256 for result in results} == {hashlib.sha256(CONTENT).hexdigest()}
    assert server.max_in_flight <= 2
