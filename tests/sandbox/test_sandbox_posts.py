"""Post endpoints over real HTTP: paging, cursors, `since`, threads and their pitfalls (reference §5.6-§7)."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import Api, assert_app_error, validate

from mmtakeout.sandbox.generator import SandboxSetup
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig
from mmtakeout.sandbox.world import Channel, World


def channel_named(world: World, name: str) -> Channel:
    return next(c for c in world.channels.values() if c.name == name and c.team_id)


def posts_path(channel: Channel) -> str:
    return f"/api/v4/channels/{channel.id}/posts"


async def test_per_page_is_clamped_like_the_server(api: Api, world_setup: SandboxSetup) -> None:
    big = channel_named(world_setup.world, "big-channel")
    expectations = {"0": 0, "500": 200, "abc": 60, "-5": 60, "7": 7}
    for per_page, expected in expectations.items():
        page = await api.get_json(posts_path(big), per_page=per_page)
        assert len(page["order"]) == expected, per_page
    assert len((await api.get_json(posts_path(big)))["order"]) == 60
    empty = await api.get_json(posts_path(big), per_page="0")
    assert empty["posts"] == {} and empty["first_inaccessible_post_time"] == 0


async def test_strict_before_cursor_skips_same_millisecond_posts(api: Api, world_setup: SandboxSetup) -> None:
    """The pitfall exists: walking with `before=<oldest id>` loses posts sharing the cursor's millisecond."""
    world = world_setup.world
    big = channel_named(world, "big-channel")
    truth = [post.id for post in world.posts_in_channel(big.id)]
    seen: list[str] = []
    cursors: list[str] = []
    params = {"per_page": "200", "skipFetchThreads": "true"}
    while True:
        page = await api.get_json(posts_path(big), **params)
        seen += page["order"]
        if not page["prev_post_id"]:
            break
        cursors.append(page["order"][-1])
        params["before"] = cursors[-1]
    missed = set(truth) - set(seen)
    assert missed, "same-millisecond posts at the page boundary must be skipped"
    cursor_times = {world.posts[cursor].create_at for cursor in cursors}
    assert {world.posts[post_id].create_at for post_id in missed} <= cursor_times

    offset_walk: list[str] = []
    for page_number in range(len(truth) // 200 + 1):
        page = await api.get_json(posts_path(big), per_page="200", page=str(page_number))
        offset_walk += page["order"]
    assert offset_walk == truth[::-1], "plain offset paging sees every post, newest first"


async def test_cursor_fields_follow_add_cursor_ids(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    town = channel_named(world, "town-square")
    live = world.posts_in_channel(town.id)
    first = await api.get_json(posts_path(town), per_page="10")
    assert first["next_post_id"] == ""
    oldest = world.posts[first["order"][-1]]
    older = [p for p in live if p.create_at < oldest.create_at]
    assert first["prev_post_id"] == older[-1].id

    anchor = live[len(live) // 2]
    before = await api.get_json(posts_path(town), per_page="10", before=anchor.id)
    assert before["next_post_id"] == anchor.id
    assert all(world.posts[i].create_at < anchor.create_at for i in before["order"])
    after = await api.get_json(posts_path(town), per_page="10", after=anchor.id)
    assert after["prev_post_id"] == anchor.id
    times = [world.posts[i].create_at for i in after["order"]]
    assert times == sorted(times, reverse=True), "order is newest first even for after="
    closest = [p.id for p in live if p.create_at > anchor.create_at][:10]
    assert set(after["order"]) == set(closest)

    newest = live[-1]
    tail = await api.get_json(posts_path(town), per_page="10", after=live[-3].id)
    assert newest.id in tail["order"] and tail["next_post_id"] == ""
    unknown = await api.get_json(posts_path(town), before="x" * 26)
    assert unknown["order"] == [] and unknown["prev_post_id"] == ""


async def test_bad_cursor_and_since_are_rejected(api: Api, world_setup: SandboxSetup) -> None:
    town = channel_named(world_setup.world, "town-square")
    for name, value in (("before", "short"), ("after", "x" * 25 + "!"), ("since", "yesterday")):
        reply = await api.get(posts_path(town), **{name: value})
        assert_app_error(reply, 400, "api.context.invalid_param.app_error")
    reply = await api.get(posts_path(town), include_deleted="true")
    assert_app_error(reply, 403, "api.context.permissions.app_error")
    reply = await api.get("/api/v4/channels/" + "z" * 26 + "/posts")
    assert_app_error(reply, 404, "app.channel.get.existing.app_error")


async def test_thread_context_lands_in_posts_but_not_in_order(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    big = channel_named(world, "big-channel")
    newest_first = world.posts_in_channel(big.id)[::-1]
    per_page = 5

    def others_outside(root_id: str, page_ids: set[str]) -> set[str]:
        return {p.id for p in world.thread_posts(root_id)} - page_ids - {root_id}

    for number in range(len(newest_first) // per_page):
        page_ids = {p.id for p in newest_first[number * per_page : (number + 1) * per_page]}
        candidates = [
            p.root_id
            for p in newest_first[number * per_page : (number + 1) * per_page]
            if p.root_id and p.root_id not in page_ids and others_outside(p.root_id, page_ids)
        ]
        if candidates:
            root_id = candidates[0]
            break
    else:
        raise AssertionError("no page with a reply whose thread reaches outside the page")
    params = {"per_page": str(per_page), "page": str(number)}
    plain = await api.get_json(posts_path(big), **params)
    assert set(plain["order"]) == page_ids
    assert root_id in plain["posts"] and root_id not in page_ids
    assert others_outside(root_id, page_ids) <= set(plain["posts"]), (
        "skipFetchThreads=false brings the thread"
    )
    assert all(p["reply_count"] == 0 for i, p in plain["posts"].items() if i in page_ids)

    skipped = await api.get_json(posts_path(big), skipFetchThreads="true", **params)
    assert root_id in skipped["posts"], "roots of replies are always added"
    assert not others_outside(root_id, page_ids) & set(skipped["posts"])
    assert skipped["posts"][root_id]["reply_count"] == world.live_reply_count(world.posts[root_id]) > 0
    validate(plain, "PostList")
    validate(skipped, "PostList")


async def test_collapsed_threads_list_roots_with_thread_fields(api: Api, world_setup: SandboxSetup) -> None:
    town = channel_named(world_setup.world, "town-square")
    page = await api.get_json(posts_path(town), per_page="200", collapsedThreads="true")
    posts = [page["posts"][i] for i in page["order"]]
    assert posts and all(p["root_id"] == "" for p in posts)
    threaded = [p for p in posts if p["reply_count"]]
    assert threaded and all(p["participants"] and p["last_reply_at"] > p["create_at"] for p in threaded)
    validate(page, "PostList")


async def test_since_returns_changes_blanked_deletions_history_copies_and_roots(
    api: Api, served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    world = world_setup.world
    town = channel_named(world, "town-square")
    live = world.posts_in_channel(town.id)
    roots_with_old_replies = [
        p for p in live if p.root_id and world.posts[p.root_id].update_at <= p.create_at
    ]
    reply = roots_with_old_replies[0]
    edited, deleted = [p for p in live if not p.root_id and not p.file_ids][-2:]
    since = world.now()
    served.call(lambda: world.edit_post(edited.id, "changed text"))
    served.call(lambda: world.delete_post(deleted.id))
    served.call(lambda: world.add_reaction(reply.id, world_setup.user_id, "eyes"))
    root = world.posts[reply.root_id]
    assert root.update_at <= since, "a reaction on a reply does not move its root"

    result = await api.get_json(posts_path(town), since=str(since), skipFetchThreads="true")
    validate(result, "PostList")
    assert result["next_post_id"] == result["prev_post_id"] == ""
    order = set(result["order"])
    assert {edited.id, deleted.id, reply.id} <= order
    assert result["posts"][edited.id]["message"] == "changed text"
    gone = result["posts"][deleted.id]
    assert gone["delete_at"] > 0 and gone["message"] == "" and gone["metadata"] == {}
    copies = [p for p in result["posts"].values() if p["original_id"] == edited.id]
    assert len(copies) == 1 and copies[0]["id"] in order and copies[0]["delete_at"] == copies[0]["update_at"]
    assert copies[0]["message"] == "", "history copies are deleted rows, so their text is blanked too"
    assert root.id in result["posts"] and root.id not in order


async def test_since_is_capped_at_1000(api: Api, served: RunningSandbox, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    channel = channel_named(world, "off-topic")
    since = world.now()

    def flood() -> list[str]:
        return [world.create_post(channel.id, world_setup.user_id, f"flood {n}").id for n in range(1100)]

    created = served.call(flood)
    result = await api.get_json(posts_path(channel), since=str(since))
    assert len(result["order"]) == 1000
    assert created[-1] in result["order"], "the newest change is in, so max(update_at) would skip the rest"
    assert set(created) - set(result["order"]), "an arbitrary subset, not everything"


@pytest.mark.parametrize("server_config", [SandboxConfig(since_truncation="oldest")])
async def test_since_truncation_can_keep_the_oldest_changes(
    api: Api, served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    world = world_setup.world
    channel = channel_named(world, "off-topic")
    since = world.now()
    created = served.call(
        lambda: [world.create_post(channel.id, world_setup.user_id, f"n{n}").id for n in range(1010)]
    )
    order = (await api.get_json(posts_path(channel), since=str(since)))["order"]
    assert set(order) == set(created[:1000])


async def test_etag_and_if_none_match(api: Api, served: RunningSandbox, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    town = channel_named(world, "town-square")
    first = await api.get(posts_path(town), per_page="5")
    etag = first.headers["ETag"]
    cached = await api.request(
        "GET", posts_path(town), params={"per_page": "5"}, headers={"If-None-Match": etag}
    )
    assert cached.status == 304 and cached.body == b""
    post_id = first.json["order"][0]
    served.call(lambda: world.add_reaction(post_id, world_setup.user_id, "smile"))
    fresh = await api.request(
        "GET", posts_path(town), params={"per_page": "5"}, headers={"If-None-Match": etag}
    )
    assert fresh.status == 200 and fresh.headers["ETag"] != etag


async def test_thread_paging_is_tie_safe(api: Api, served: RunningSandbox, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    town = channel_named(world, "town-square")
    root = max((p for p in world.posts_in_channel(town.id) if not p.root_id), key=world.live_reply_count)
    same_ms = world.now()

    def add_burst() -> None:
        for n in range(7):
            world.create_post(
                town.id, world_setup.user_id, f"same-ms reply {n}", root_id=root.id, create_at=same_ms
            )

    served.call(add_burst)
    whole = await api.get_json(f"/api/v4/posts/{root.id}/thread")
    validate(whole, "PostList")
    expected = {p.id for p in world.thread_posts(root.id)}
    assert set(whole["order"]) == expected and whole["order"][0] == root.id

    collected: list[str] = []
    params: dict[str, str] = {"perPage": "4", "direction": "down"}
    pages = 0
    while True:
        page = await api.get_json(f"/api/v4/posts/{root.id}/thread", **params)
        pages += 1
        window = [i for i in page["order"] if i != root.id or not collected]
        collected += window
        if not page["has_next"]:
            break
        last = page["posts"][page["order"][-1]]
        params.update(fromPost=last["id"], fromCreateAt=str(last["create_at"]))
    assert set(collected) == expected and len(collected) == len(expected) and pages > 2

    too_many = await api.get(f"/api/v4/posts/{root.id}/thread", perPage="201")
    assert_app_error(too_many, 400, "api.context.invalid_param.app_error")
    half_cursor = await api.get(f"/api/v4/posts/{root.id}/thread", fromPost=root.id)
    assert_app_error(half_cursor, 400, "api.context.invalid_param.app_error")


async def test_posts_by_ids(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    me = world_setup.user_id
    readable = [
        p for p in world.posts.values() if not p.original_id and world.can_read_channel(me, p.channel_id)
    ]
    hidden = next(p for p in world.posts.values() if not world.can_read_channel(me, p.channel_id))
    deleted = next(p for p in readable if p.delete_at)
    wanted = [readable[0].id, deleted.id, hidden.id, "q" * 26]
    reply = await api.post_json("/api/v4/posts/ids", wanted)
    assert reply.status == 200 and reply.headers["First-Inaccessible-Post-Time"] == "0"
    body: list[dict[str, Any]] = reply.json
    validate(body, "Post", array=True)
    assert {p["id"] for p in body} == {readable[0].id, deleted.id}
    assert next(p for p in body if p["id"] == deleted.id)["message"] == ""
    assert_app_error(await api.post_json("/api/v4/posts/ids", []), 400, "api.context.invalid_param.app_error")
    too_many = [f"{n:026d}" for n in range(1001)]
    assert_app_error(
        await api.post_json("/api/v4/posts/ids", too_many),
        400,
        "api.post.posts_by_ids.invalid_body.request_error",
    )
    garbage = await api.request("POST", "/api/v4/posts/ids", body={"not": "a list"})
    assert_app_error(garbage, 400, "api.context.invalid_body_param.app_error")


async def test_single_post_reactions_and_files(api: Api, world_setup: SandboxSetup) -> None:
    world = world_setup.world
    me = world_setup.user_id
    with_reactions = next(
        p
        for p in world.posts.values()
        if world.reactions.get(p.id) and not p.delete_at and world.can_read_channel(me, p.channel_id)
    )
    post = await api.get_json(f"/api/v4/posts/{with_reactions.id}")
    validate(post, "Post")
    assert post["has_reactions"] is True
    assert {r["emoji_name"] for r in post["metadata"]["reactions"]} == {
        r.emoji_name for r in world.reactions[with_reactions.id]
    }
    reactions = await api.get_json(f"/api/v4/posts/{with_reactions.id}/reactions")
    validate(reactions, "Reaction", array=True)
    bulk = (await api.post_json("/api/v4/posts/ids/reactions", [with_reactions.id])).json
    assert bulk == {with_reactions.id: reactions}
    with_files = next(
        p
        for p in world.posts.values()
        if p.file_ids and not p.delete_at and world.can_read_channel(me, p.channel_id)
    )
    infos = await api.get_json(f"/api/v4/posts/{with_files.id}/files/info")
    validate(infos, "FileInfo", array=True)
    assert [i["id"] for i in infos] == list(with_files.file_ids)
    gone = next(p for p in world.posts.values() if p.delete_at and not p.original_id)
    assert_app_error(await api.get(f"/api/v4/posts/{gone.id}"), 404, "app.post.get.app_error")
    hidden = next(p for p in world.posts.values() if not world.can_read_channel(me, p.channel_id))
    assert_app_error(await api.get(f"/api/v4/posts/{hidden.id}"), 403, "api.context.permissions.app_error")
