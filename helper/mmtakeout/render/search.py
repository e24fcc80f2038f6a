"""The prebuilt client-side search index.

One shard per conversation part (`site/search/<conversation>-<part>.js`), rewritten together with
that part, plus a small manifest listing shards, conversations and people. A shard holds, per post,
its folded tokens (lowercase, diacritics removed, each once, space-separated so a prefix test is a
substring test on " " + prefix) and a short plain-text snippet for the result list. The browser
loads shards lazily on the first search, only those the filters can match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mmtakeout.render.model import Post, User, as_dict, as_list, as_str
from mmtakeout.render.naming import Conversation
from mmtakeout.render.site import json_for_script, plain_snippet

_TOKEN = re.compile(r"[^\W_]+")
MAX_TOKENS_PER_POST = 2000
SNIPPET_CHARS = 220


def fold(text: str) -> str:
    """Lowercase without diacritics, the same folding search.js applies to queries."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M")).lower()


def tokens_of(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(fold(text)):
        if len(seen) >= MAX_TOKENS_PER_POST:
            break
        seen.setdefault(token[:64], None)
    return list(seen)


def searchable_text(post: Post) -> str:
    pieces = [post.message]
    pieces.extend(file.name for file in post.files)
    for item in as_list(post.props.get("attachments")):
        attachment = as_dict(item)
        pieces.extend(
            as_str(attachment.get(key)) for key in ("pretext", "title", "text", "fallback", "footer")
        )
        for field_item in as_list(attachment.get("fields")):
            field_data = as_dict(field_item)
            pieces.extend((as_str(field_data.get("title")), as_str(field_data.get("value"))))
    for item in as_list(post.metadata.get("embeds")):
        data = as_dict(as_dict(item).get("data"))
        pieces.extend((as_str(data.get("title")), as_str(data.get("description"))))
    return "\n".join(piece for piece in pieces if piece)


def shard_name(directory: str, part: int) -> str:
    return f"{directory}-{part}"


def shard_script(directory: str, part: int, posts: Sequence[Post]) -> str:
    users: dict[str, int] = {}
    rows = []
    for post in posts:
        text = searchable_text(post)
        if not text.strip():
            continue
        user_index = users.setdefault(post.user_id, len(users))
        tokens = " " + " ".join(tokens_of(text))
        rows.append(
            [
                post.id,
                user_index,
                post.create_at,
                tokens,
                plain_snippet(text, SNIPPET_CHARS),
                1 if post.root_id else 0,
            ]
        )
    payload = {"users": list(users), "posts": rows}
    return f"MMT.searchShard({json_for_script(shard_name(directory, part))},{json_for_script(payload)});\n"


@dataclass(frozen=True, slots=True)
class ShardEntry:
    directory: str
    part: int
    post_count: int
    first_at: int
    last_at: int


def manifest_script(
    conversations: Sequence[Conversation],
    shards: Iterable[ShardEntry],
    users: Mapping[str, User],
    zone: str | None,
) -> str:
    conversation_rows = [
        [conv.directory, conv.title, conv.kind, conv.team.display_name if conv.team else ""]
        for conv in conversations
    ]
    shard_rows = [
        [shard.directory, shard.part, shard.post_count, shard.first_at, shard.last_at]
        for shard in shards
        if shard.post_count
    ]
    people = sorted(
        ([user.id, user.display_name, user.username] for user in users.values()),
        key=lambda row: row[1].lower(),
    )
    payload = {"conversations": conversation_rows, "shards": shard_rows, "people": people, "zone": zone}
    return f"MMT.searchManifest({json_for_script(payload)});\n"
