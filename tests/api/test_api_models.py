"""Parsing untrusted JSON into the typed models."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mmtakeout.api import BadResponse, Channel, FileInfo, Post, PostList, SidebarCategories, User
from mmtakeout.api.models import is_safe_id, parse_list, parse_reactions_by_post

POST_ID = "8xk6r5w7ajd3jgi1o6h4b3iqyc"
USER_ID = "q1b6tyn3cfgw8mx4b5nhbzn1xe"
CHANNEL_ID = "7wu1s4xd9fgwmk3tn5h8oqd1nh"
FILE_ID = "ps8smsjwjfr39fysq4muzk3qbh"

POST: dict[str, Any] = {
    "id": POST_ID,
    "create_at": 1718000000123,
    "update_at": 1718000500456,
    "edit_at": 1718000400000,
    "delete_at": 0,
    "is_pinned": True,
    "user_id": USER_ID,
    "channel_id": CHANNEL_ID,
    "root_id": "",
    "original_id": "",
    "message": "see attached :party_parrot: #release",
    "type": "",
    "props": {"disable_group_highlight": True},
    "hashtags": "#release",
    "pending_post_id": "",
    "reply_count": 2,
    "last_reply_at": 0,
    "participants": None,
    "has_reactions": True,
    "file_ids": [FILE_ID],
    "metadata": {
        "embeds": [{"type": "opengraph", "url": "https://example.com/"}],
        "emojis": [{"id": "x3hbzo8r4jbzzmxuh6b7pxzfxo", "creator_id": USER_ID, "name": "party_parrot"}],
        "files": [
            {
                "id": FILE_ID,
                "user_id": USER_ID,
                "post_id": POST_ID,
                "channel_id": CHANNEL_ID,
                "name": "screenshot 1.png",
                "extension": "png",
                "size": 48213,
                "mime_type": "image/png",
                "width": 1280,
                "height": 720,
                "has_preview_image": True,
                "mini_preview": None,
                "remote_id": None,
                "archived": False,
            }
        ],
        "reactions": [
            {
                "user_id": USER_ID,
                "post_id": POST_ID,
                "emoji_name": "+1",
                "create_at": 1718000100000,
                "remote_id": None,
            }
        ],
    },
    "some_future_field": {"nested": [1, 2, 3]},
}


def test_post_fields_and_metadata() -> None:
    post = Post.from_json(copy.deepcopy(POST))
    assert post.id == POST_ID
    assert post.is_pinned
    assert post.file_ids == (FILE_ID,)
    assert post.files[0].name == "screenshot 1.png"
    assert post.files[0].mini_preview is None
    assert post.reactions[0].emoji_name == "+1"
    assert post.emojis[0].name == "party_parrot"
    assert post.raw["some_future_field"] == {"nested": [1, 2, 3]}
    assert post.raw["metadata"]["embeds"][0]["type"] == "opengraph"
    assert not post.is_deleted


def test_deleted_post_with_empty_metadata() -> None:
    deleted = {**POST, "message": "", "delete_at": 1718000600000, "metadata": {}, "file_ids": None}
    post = Post.from_json(deleted)
    assert post.is_deleted
    assert post.files == () and post.reactions == () and post.file_ids == ()


def test_edit_history_copy_is_not_a_deletion() -> None:
    copy_of_old = {
        **POST,
        "id": "d1ocz8y5abfm7qhw9n3xkr4sxe",
        "original_id": POST_ID,
        "delete_at": 1718000400000,
    }
    post = Post.from_json(copy_of_old)
    assert post.is_edit_history
    assert not post.is_deleted


def test_unknown_post_and_channel_types_are_kept() -> None:
    assert Post.from_json({**POST, "type": "burn_on_read"}).type == "burn_on_read"
    channel = Channel.from_json({"id": CHANNEL_ID, "type": "BO", "props": None, "scheme_id": None})
    assert channel.type == "BO"
    assert not channel.is_chat


def test_missing_and_null_fields_read_as_zero_values() -> None:
    post = Post.from_json({"id": POST_ID, "props": None, "metadata": None, "hashtags": None})
    assert (post.create_at, post.message, post.props, post.files, post.root_id) == (0, "", {}, (), "")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("create_at", "1718000000123", "create_at"),
        ("create_at", True, "create_at"),
        ("create_at", 1.5, "create_at"),
        ("is_pinned", "true", "is_pinned"),
        ("message", 42, "message"),
        ("props", [], "props"),
        ("file_ids", "abc", "file_ids"),
        ("file_ids", ["../../etc/passwd"], "file_ids"),
        ("metadata", [], "metadata"),
        ("root_id", "../evil", "root_id"),
    ],
)
def test_wrong_types_and_unsafe_ids_name_the_field(field: str, value: object, expected: str) -> None:
    with pytest.raises(BadResponse, match=expected):
        Post.from_json({**POST, field: value})


def test_hostile_file_info_inside_metadata_is_rejected() -> None:
    hostile = copy.deepcopy(POST)
    hostile["metadata"]["files"][0]["size"] = -5
    with pytest.raises(BadResponse, match="size"):
        Post.from_json(hostile)
    hostile["metadata"]["files"][0] = {"id": "a/b"}
    with pytest.raises(BadResponse, match="id"):
        Post.from_json(hostile)


@pytest.mark.parametrize("payload", [None, [], "post", 5])
def test_non_object_is_rejected(payload: object) -> None:
    with pytest.raises(BadResponse, match="expected a post object"):
        Post.from_json(payload)


def test_post_list_keeps_extra_context_posts() -> None:
    reply = {**POST, "id": "d1ocz8y5abfm7qhw9n3xkr4sxe", "root_id": POST_ID}
    page = PostList.from_json(
        {
            "order": [reply["id"]],
            "posts": {POST_ID: POST, reply["id"]: reply},
            "next_post_id": "",
            "prev_post_id": "kbg7w6m8zjrqdyz5w1pa3ex4yo",
            "first_inaccessible_post_time": 0,
        }
    )
    assert page.order == (reply["id"],)
    assert set(page.posts) == {POST_ID, reply["id"]}
    assert [post.id for post in page.ordered_posts()] == [reply["id"]]
    assert page.has_next is None
    assert page.prev_post_id == "kbg7w6m8zjrqdyz5w1pa3ex4yo"


def test_post_list_must_be_consistent() -> None:
    with pytest.raises(BadResponse, match="order"):
        PostList.from_json({"order": [POST_ID], "posts": {}})
    with pytest.raises(BadResponse, match="filed under"):
        PostList.from_json({"order": [], "posts": {"d1ocz8y5abfm7qhw9n3xkr4sxe": POST}})


def test_empty_post_list_with_nulls() -> None:
    page = PostList.from_json({"order": None, "posts": None, "has_next": False})
    assert page.order == () and page.posts == {} and page.has_next is False


def test_user_sanitized_by_the_server() -> None:
    user = User.from_json(
        {"id": USER_ID, "username": "alice", "email": "", "first_name": "", "timezone": None}
    )
    assert (user.username, user.email, user.timezone, user.is_bot) == ("alice", "", {}, False)


def test_favourites_from_sidebar_categories() -> None:
    categories = SidebarCategories.from_json(
        {
            "categories": [
                {"id": f"favorites_{USER_ID}_team", "type": "favorites", "channel_ids": [CHANNEL_ID]},
                {"id": "channels_x", "type": "channels", "channel_ids": ["kbg7w6m8zjrqdyz5w1pa3ex4yo"]},
            ],
            "order": [f"favorites_{USER_ID}_team", "channels_x"],
        }
    )
    assert categories.favorite_channel_ids == frozenset({CHANNEL_ID})


def test_lists_and_reaction_maps() -> None:
    files = parse_list([POST["metadata"]["files"][0]], FileInfo.from_json, "file")
    assert files[0].width == 1280
    with pytest.raises(BadResponse, match="list of file"):
        parse_list({"id": FILE_ID}, FileInfo.from_json, "file")
    reactions = parse_reactions_by_post(
        {POST_ID: POST["metadata"]["reactions"], "kbg7w6m8zjrqdyz5w1pa3ex4yo": None}
    )
    assert reactions[POST_ID][0].user_id == USER_ID
    assert reactions["kbg7w6m8zjrqdyz5w1pa3ex4yo"] == ()


def test_integral_floats_are_accepted_as_numbers() -> None:
    assert Post.from_json({**POST, "create_at": 1718000000123.0}).create_at == 1718000000123


@pytest.mark.parametrize("value", ["abc\n", "abc\r\n", "../abc", "abc/def", "", "a" * 129, "-abc"])
def test_unsafe_ids_are_refused_whole(value: str) -> None:
    assert not is_safe_id(value)


@pytest.mark.parametrize("value", ["8xk6r5w7ajd3jgi1o6h4b3iqyc", "favorites_abc-def", "A1"])
def test_real_id_shapes_are_safe(value: str) -> None:
    assert is_safe_id(value)
