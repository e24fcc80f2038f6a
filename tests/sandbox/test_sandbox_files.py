"""Files, thumbnails, avatars and custom emoji over HTTP (reference §5.9-§5.11)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sandbox_support import Api, assert_app_error, validate

from mmtakeout.sandbox.generator import SandboxSetup
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig
from mmtakeout.sandbox.world import FileInfo, World


def file_named(world: World, name: str) -> FileInfo:
    return next(f for f in world.files.values() if f.name == name and not f.delete_at and f.blob_present)


@pytest.mark.parametrize(
    ("name", "served_type", "disposition"),
    [
        ("screenshot 1.png", "image/png", "inline"),
        ("photo.JPG", "image/jpeg", "inline"),
        ("report.pdf", "application/pdf", "attachment"),
        ("CON.txt", "text/plain", "attachment"),
        ("index.html", "text/plain", "attachment"),
        ("script.js", "text/plain", "attachment"),
        ("../../etc/passwd", "application/octet-stream", "attachment"),
        ("\u202egnp.exe", "application/octet-stream", "attachment"),
        ("nul\x00byte.txt", "text/plain", "attachment"),
    ],
)
async def test_file_download_headers_and_bytes(
    api: Api, world_setup: SandboxSetup, name: str, served_type: str, disposition: str
) -> None:
    world = world_setup.world
    info = file_named(world, name)
    reply = await api.get(f"/api/v4/files/{info.id}")
    assert reply.status == 200
    assert reply.body == world.file_bytes(info.id) and len(reply.body) == info.size
    assert reply.headers["Content-Type"] == served_type
    escaped = quote(name, safe="$&+:=@")
    assert (
        reply.headers["Content-Disposition"]
        == f"{disposition};filename=\"{escaped}\"; filename*=UTF-8''{escaped}"
    )
    assert "/" not in escaped and "\x00" not in reply.headers["Content-Disposition"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert reply.headers["Last-Modified"].endswith(" GMT")


async def test_ranges_like_serve_content(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    info = file_named(world, "big-archive.bin")
    whole = world.file_bytes(info.id)
    assert len(whole) == 1_500_000
    path = f"/api/v4/files/{info.id}"
    for header, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=1000000-", 1_000_000, 1_499_999),
        ("bytes=-10", 1_499_990, 1_499_999),
    ):
        reply = await api.request("GET", path, headers={"Range": header})
        assert reply.status == 206, header
        assert reply.body == whole[start : end + 1]
        assert reply.headers["Content-Range"] == f"bytes {start}-{end}/{len(whole)}"
    beyond = await api.request("GET", path, headers={"Range": "bytes=2000000-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(whole)}"
    fresh = await api.request("GET", path, headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert fresh.status == 304


async def test_file_errors(api: Api, world_setup: SandboxSetup, served: RunningSandbox) -> None:
    world, me = world_setup.world, world_setup.user_id
    lost = next(f for f in world.files.values() if not f.blob_present)
    assert_app_error(await api.get(f"/api/v4/files/{lost.id}"), 404, "api.file.file_reader.app_error")
    assert (await api.get(f"/api/v4/files/{lost.id}/info")).status == 200, "the metadata is still there"
    gone = next(f for f in world.files.values() if f.delete_at)
    assert_app_error(await api.get(f"/api/v4/files/{gone.id}"), 404, "app.file_info.get.app_error")
    assert_app_error(await api.get("/api/v4/files/" + "f" * 26), 404, "app.file_info.get.app_error")
    private = next(c for c in world.channels.values() if c.name == "not-for-alice")
    bob = world.user_by_name("bob").id
    secret = served.call(lambda: world.create_post(private.id, bob, "secret file", file_names=("plans.pdf",)))
    assert not world.can_read_channel(me, private.id)
    for suffix in ("", "/info", "/thumbnail", "/preview"):
        reply = await api.get(f"/api/v4/files/{secret.file_ids[0]}{suffix}")
        assert_app_error(reply, 403, "api.context.permissions.app_error")


async def test_thumbnails_and_previews_are_jpeg_or_400(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    image = file_named(world, "screenshot 1.png")
    for kind, limit in (("thumbnail", (120, 100)), ("preview", (1920, 1080))):
        reply = await api.get(f"/api/v4/files/{image.id}/{kind}")
        assert reply.status == 200 and reply.headers["Content-Type"] == "image/jpeg"
        assert reply.body[:2] == b"\xff\xd8" and reply.body[-2:] == b"\xff\xd9"
        at = reply.body.index(b"\xff\xc0")
        height = int.from_bytes(reply.body[at + 5 : at + 7], "big")
        width = int.from_bytes(reply.body[at + 7 : at + 9], "big")
        assert width <= limit[0] and height <= limit[1]
    document = file_named(world, "report.pdf")
    assert_app_error(
        await api.get(f"/api/v4/files/{document.id}/thumbnail"),
        400,
        "api.file.get_file_thumbnail.no_thumbnail.app_error",
    )
    assert_app_error(
        await api.get(f"/api/v4/files/{document.id}/preview"),
        400,
        "api.file.get_file_preview.no_preview.app_error",
    )
    info = await api.get_json(f"/api/v4/files/{image.id}/info")
    validate(info, "FileInfo")
    assert (
        info["has_preview_image"] is True
        and info["mini_preview"]
        and (info["width"], info["height"]) == (640, 360)
    )
    pdf_info = await api.get_json(f"/api/v4/files/{document.id}/info")
    assert (
        pdf_info["mini_preview"] is None and "width" not in pdf_info and "has_preview_image" not in pdf_info
    )


async def test_avatars_with_etag(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    user = next(u for u in world.users.values() if u.last_picture_update)
    reply = await api.get(f"/api/v4/users/{user.id}/image", _=str(user.last_picture_update))
    assert reply.status == 200 and reply.headers["Content-Type"] == "image/png"
    assert reply.body.startswith(b"\x89PNG") and reply.headers["ETag"] == str(user.last_picture_update)
    assert reply.headers["Cache-Control"] == "max-age=86400, private"
    cached = await api.request(
        "GET", f"/api/v4/users/{user.id}/image", headers={"If-None-Match": str(user.last_picture_update)}
    )
    assert cached.status == 304 and cached.body == b""
    default = await api.get(f"/api/v4/users/{user.id}/image/default")
    assert default.status == 200 and default.body != reply.body


async def test_custom_emoji(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    live = sorted(e.name for e in world.emojis.values() if not e.delete_at)
    listed = await api.get_json("/api/v4/emoji", sort="name", per_page="200")
    validate(listed, "Emoji", array=True)
    assert [e["name"] for e in listed] == live, "deleted emoji are not listed"
    first_page = await api.get_json("/api/v4/emoji", sort="name", per_page="2")
    second_page = await api.get_json("/api/v4/emoji", sort="name", per_page="2", page="1")
    assert [e["name"] for e in first_page + second_page] == live[:4]
    parrot = next(e for e in listed if e["name"] == "party_parrot")
    image = await api.get(f"/api/v4/emoji/{parrot['id']}/image")
    assert (
        image.status == 200
        and image.headers["Content-Type"] == "image/png"
        and image.body.startswith(b"\x89PNG")
    )
    assert (await api.get_json("/api/v4/emoji/name/party_parrot"))["id"] == parrot["id"]
    assert_app_error(await api.get("/api/v4/emoji/name/retired_emoji"), 404, "app.emoji.get.no_result")


@pytest.mark.parametrize("server_config", [SandboxConfig(custom_emoji_enabled=False)])
async def test_custom_emoji_can_be_disabled(api: Api, world_setup: SandboxSetup) -> None:
    assert_app_error(await api.get("/api/v4/emoji"), 501, "api.emoji.disabled.app_error")
    world, me = world_setup.world, world_setup.user_id
    with_parrot = next(
        p
        for p in world.posts.values()
        if ":party_parrot:" in p.message and not p.delete_at and world.can_read_channel(me, p.channel_id)
    )
    post = await api.get_json(f"/api/v4/posts/{with_parrot.id}")
    assert "emojis" not in post["metadata"]
