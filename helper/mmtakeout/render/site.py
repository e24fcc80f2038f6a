"""The offline viewer's HTML: the index, conversation parts, thread views and the search page.

Pages open from file:// with no network: every script is a classic external script (no inline
code, no modules, no fetch), data the scripts need is shipped as `.js` files that register it, and
each page carries a Content-Security-Policy that allows nothing but files from the archive folder.
Every value from the archive is escaped here; names are isolated with <bdi> against bidi spoofing.
"""

from __future__ import annotations

import colorsys
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from mmtakeout import jsoncodec
from mmtakeout.render.clock import Clock
from mmtakeout.render.emoji import emoji_text
from mmtakeout.render.markdown import (
    LINK_REL,
    MarkdownContext,
    MessageFormatter,
    archive_url,
    build_markdown,
    is_emoji_only,
    safe_href,
)
from mmtakeout.render.model import (
    CustomEmoji,
    FileRef,
    Post,
    ThreadInfo,
    User,
    as_dict,
    as_list,
    as_str,
    post_from_json,
    unknown_user,
)
from mmtakeout.render.naming import Conversation

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'"
)
GROUP_WINDOW_MS = 5 * 60 * 1000
SNIPPET_LENGTH = 140
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "svg", "avif", "ico"})
VIDEO_EXTENSIONS = frozenset({"mp4", "webm", "ogv", "m4v", "mov"})
AUDIO_EXTENSIONS = frozenset({"mp3", "ogg", "oga", "wav", "m4a", "aac", "flac", "opus", "weba"})
FILE_STATUS_REASONS = {
    "pending": "not downloaded yet (run an update)",
    "skipped": "skipped by the export options",
    "failed": "could not be downloaded (see report.txt)",
    "unavailable": "no longer available on the server",
}
SYSTEM_TEXTS = {
    "system_join_channel": "joined the channel.",
    "system_leave_channel": "left the channel.",
    "system_join_team": "joined the team.",
    "system_leave_team": "left the team.",
    "system_add_to_channel": "added someone to the channel.",
    "system_remove_from_channel": "removed someone from the channel.",
    "system_header_change": "updated the channel header.",
    "system_purpose_change": "updated the channel purpose.",
    "system_displayname_change": "renamed the channel.",
    "system_channel_deleted": "archived the channel.",
    "system_channel_restored": "restored the channel.",
    "system_convert_channel": "converted the channel.",
}
_HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_NAMED_COLORS = {"good": "att-good", "warning": "att-warning", "danger": "att-danger"}
_WHITESPACE = re.compile(r"\s+")
_SHORTCODE = re.compile(r":([a-z0-9_+\-]{1,64}):")
_MARKUP_PAIRS = re.compile(r"(\*\*|__|~~|`+|(?<![\w*])\*|(?<!\w)_)(\S(?:.*?\S)?)\1(?!\w)")
_MARKUP_LINE_START = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?:\[[ xX]\]\s+)?)", re.MULTILINE)


def _shortcode_glyph(match: re.Match[str]) -> str:
    return emoji_text(match.group(1)) or match.group(0)


def e(value: object) -> str:
    return escape(str(value), quote=True)


def json_for_script(value: Any) -> str:
    """JSON that is also safe inside a JS file (no raw line separators or '</script')."""
    text = jsoncodec.compact(value)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("</", "<\\/")


def human_size(size: int) -> str:
    value = float(max(size, 0))
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def plain_snippet(text: str, limit: int = SNIPPET_LENGTH) -> str:
    """One line of plain text (Markdown marks dropped, emoji shortcodes as emoji), cut at `limit`."""
    plain = _MARKUP_PAIRS.sub(r"\2", text[: limit * 4])
    plain = _MARKUP_LINE_START.sub("", plain)
    flat = _WHITESPACE.sub(" ", _SHORTCODE.sub(_shortcode_glyph, plain)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def attachment_color_class(color: str) -> str:
    """A CSS class for a message attachment's colour bar (the CSP forbids inline styles)."""
    named = _NAMED_COLORS.get(color.strip().lower())
    if named:
        return named
    match = _HEX_COLOR.fullmatch(color.strip())
    if not match:
        return "att-neutral"
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    red, green, blue = (int(digits[index : index + 2], 16) / 255 for index in (0, 2, 4))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    if saturation < 0.2 or lightness < 0.12 or lightness > 0.92:
        return "att-neutral"
    return f"att-hue-{round(hue * 12) % 12}"


def avatar_color_class(user_id: str) -> str:
    return f"avc-{sum(user_id.encode('utf-8', 'replace')) % 8}"


@dataclass
class SiteData:
    """What every page of one render shares."""

    archive_dir: Path
    users: Mapping[str, User]
    custom_emoji: Mapping[str, CustomEmoji]
    conversations: Mapping[str, Conversation]
    self_id: str
    server_url: str
    clock: Clock
    channel_ids_by_name: Mapping[str, str]
    archive_title: str
    _users_by_username: dict[str, User] = field(default_factory=dict)
    _exists: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for user in self.users.values():
            self._users_by_username.setdefault(user.username.lower(), user)

    def user(self, user_id: str) -> User:
        return self.users.get(user_id) or unknown_user(user_id)

    @property
    def self_user(self) -> User:
        return self.user(self.self_id)

    def exists(self, relative_path: str | None) -> bool:
        if relative_path is None:
            return False
        known = self._exists.get(relative_path)
        if known is None:
            known = (self.archive_dir / relative_path).is_file()
            self._exists[relative_path] = known
        return known

    def markdown_context(self, archive_prefix: str, site_prefix: str) -> MarkdownContext:
        links = {
            name: f"{site_prefix}c/{self.conversations[channel_id].directory}/1.html"
            for name, channel_id in self.channel_ids_by_name.items()
            if channel_id in self.conversations
        }
        return MarkdownContext(
            users_by_username=self._users_by_username,
            channel_links=links,
            custom_emoji=self.custom_emoji,
            archive_prefix=archive_prefix,
            site_prefix=site_prefix,
            server_url=self.server_url,
            self_username=self.self_user.username,
        )


@dataclass(frozen=True)
class PostLinks:
    """Where other posts live, relative to the page being written."""

    anchor_prefix: str
    current_part: int
    part_of: Mapping[str, int]
    thread_infos: Mapping[str, ThreadInfo]
    roots: Mapping[str, Post]
    in_thread_view: bool = False

    def post_href(self, post_id: str) -> str | None:
        part = self.part_of.get(post_id)
        if part is None:
            return None
        if part == self.current_part and not self.in_thread_view:
            return f"#p-{post_id}"
        return f"{part}.html#p-{post_id}"

    def thread_href(self, root_id: str) -> str | None:
        part = self.part_of.get(root_id)
        return None if part is None else f"t{part}.html#t-{root_id}"


class PageWriter:
    """Renders pages for one location depth in the site (the prefixes to the archive and site roots)."""

    def __init__(self, data: SiteData, archive_prefix: str, site_prefix: str, md: Any = None) -> None:
        self.data = data
        self.archive_prefix = archive_prefix
        self.site_prefix = site_prefix
        self.formatter = MessageFormatter(
            data.markdown_context(archive_prefix, site_prefix), md or build_markdown()
        )
        self._message_html: dict[str, str] = {}

    # ----- page frame -----

    def page(
        self,
        title: str,
        body: str,
        *,
        scripts: Sequence[str] = (),
        body_attrs: str = "",
        main_label: str = "Messages",
    ) -> str:
        asset = f"{self.site_prefix}assets/"
        script_tags = "".join(
            f'<script src="{e(src)}" defer></script>' for src in (f"{asset}viewer.js", *scripts)
        )
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f"<title>{e(title)}</title>\n"
            f'<link rel="stylesheet" href="{asset}viewer.css">\n'
            f'<link rel="stylesheet" href="{asset}code.css">\n'
            f'<script src="{asset}theme.js"></script>\n'
            f"{script_tags}\n</head>\n"
            f"<body{body_attrs}>\n"
            '<a class="skip-link" href="#main">Skip to content</a>\n'
            '<header class="topbar" role="banner">'
            f'<a class="brand" href="{self.archive_prefix}index.html">Mattermost archive</a>'
            f'<span class="archive-name"><bdi>{e(self.data.archive_title)}</bdi></span>'
            f'<form class="topsearch" role="search" action="{self.site_prefix}search.html" method="get">'
            '<label class="visually-hidden" for="topsearch-q">Search all conversations</label>'
            '<input id="topsearch-q" name="q" type="search" placeholder="Search all conversations">'
            '<button type="submit">Search</button></form>'
            '<button type="button" class="theme-toggle" id="theme-toggle" '
            'title="Switch between the light and the dark theme" hidden>Theme</button>'
            "</header>\n"
            f'<main id="main" tabindex="-1" aria-label="{e(main_label)}">\n{body}\n</main>\n'
            f'<footer class="footer">Times are shown in {e(self.data.clock.zone_name)}. '
            "Made by mmtakeout from your own archive; nothing here is loaded from the internet.</footer>\n"
            "</body>\n</html>\n"
        )

    # ----- people -----

    def avatar(self, user: User, size: int = 36, override_name: str | None = None) -> str:
        if override_name is None and user.avatar_path and self.data.exists(user.avatar_path):
            src = archive_url(self.archive_prefix, user.avatar_path)
            return (
                f'<img class="avatar" src="{e(src)}" alt="" width="{size}" height="{size}" '
                'loading="lazy" decoding="async">'
            )
        name = override_name or user.display_name
        initial = next((ch for ch in name if ch.isalnum()), "?").upper()
        css = f"avatar avatar-initials {avatar_color_class(user.id)}"
        return f'<span class="{css}" aria-hidden="true">{e(initial)}</span>'

    def user_badges(self, user: User) -> str:
        badges = ""
        if user.is_bot:
            badges += '<span class="badge">BOT</span>'
        if user.deactivated:
            badges += '<span class="badge badge-muted">deactivated</span>'
        if user.id and user.id not in self.data.users:
            badges += '<span class="badge badge-muted">unknown user</span>'
        return badges

    def person_name(self, user: User) -> str:
        name = f'<bdi class="author-name">{e(user.display_name)}</bdi>'
        if user.username and user.display_name != user.username:
            name += f' <span class="username">@<bdi>{e(user.username)}</bdi></span>'
        return name

    # ----- posts -----

    def post(self, post: Post, links: PostLinks, *, continuation: bool, show_reply_context: bool) -> str:
        user = self.data.user(post.user_id)
        override = self._override_name(post)
        classes = ["post"]
        if continuation:
            classes.append("continuation")
        if post.is_system:
            classes.append("system")
        if post.is_reply:
            classes.append("reply")
        if post.is_pinned:
            classes.append("pinned")
        if post.delete_at:
            classes.append("deleted")
        anchor = f"{links.anchor_prefix}{post.id}"
        time_html = (
            f'<a class="post-time" href="#{e(anchor)}" title="{e(self.data.clock.full(post.create_at))}">'
            f'<time datetime="{e(self.data.clock.iso(post.create_at))}">'
            f"{e(self.data.clock.time_of_day(post.create_at))}</time></a>"
        )
        if post.is_system:
            return (
                f'<article class="{" ".join(classes)}" id="{e(anchor)}">'
                f'<div class="post-gutter">{time_html}</div>'
                f'<div class="post-body"><div class="message system-message">{self._system_text(post, user)}'
                f"</div>{self._markers(post)}</div></article>\n"
            )
        header = ""
        if not continuation:
            display = (
                f'<bdi class="author-name">{e(override)}</bdi> <span class="badge">webhook</span>'
                if override
                else self.person_name(user) + self.user_badges(user)
            )
            header = f'<header class="post-header">{display} {time_html}</header>'
            gutter = f'<div class="post-gutter">{self.avatar(user, override_name=override)}</div>'
        else:
            gutter = f'<div class="post-gutter">{time_html}</div>'
        parts = [header]
        if post.is_reply and show_reply_context:
            parts.append(self._reply_context(post, links))
        parts.append(self._message(post))
        parts.append(self._markers(post))
        parts.append(self._history(post))
        parts.append(self._attachments(post))
        parts.append(self._files(post))
        parts.append(self._embeds(post, links))
        parts.append(self._reactions(post))
        parts.append(self._thread_link(post, links))
        label = f"{override or user.display_name}, {self.data.clock.full(post.create_at)}"
        return (
            f'<article class="{" ".join(classes)}" id="{e(anchor)}" aria-label="{e(label)}">{gutter}'
            f'<div class="post-body">{"".join(parts)}</div></article>\n'
        )

    @staticmethod
    def _override_name(post: Post) -> str | None:
        from_webhook = str(post.props.get("from_webhook", "")).lower() == "true"
        name = as_str(post.props.get("override_username")).strip()
        return name[:64] if from_webhook and name else None

    def _system_text(self, post: Post, user: User) -> str:
        if post.message.strip():
            return self.formatter.inline_html(post.message)
        text = SYSTEM_TEXTS.get(post.type, f"system event ({post.type})")
        return f"<bdi>{e(user.display_name)}</bdi> {e(text)}"

    def _message(self, post: Post) -> str:
        if not post.message.strip():
            if post.delete_at:
                return '<div class="message message-missing">(deleted before it was archived)</div>'
            return ""
        cached = self._message_html.get(post.id)
        if cached is not None:
            return cached
        classes = "message"
        if post.type == "me":
            classes += " me-message"
        if is_emoji_only(post.message):
            classes += " emoji-only"
        html = f'<div class="{classes}" dir="auto">{self.formatter.to_html(post.message)}</div>'
        self._message_html[post.id] = html
        return html

    def _markers(self, post: Post) -> str:
        markers = []
        if post.is_pinned:
            markers.append('<span class="marker marker-pinned">📌 Pinned</span>')
        if post.edit_at:
            markers.append(
                f'<span class="marker marker-edited" title="Edited {e(self.data.clock.full(post.edit_at))}">'
                "(edited)</span>"
            )
        if post.delete_at:
            markers.append(
                f'<span class="marker marker-deleted" title="{e(self.data.clock.full(post.delete_at))}">'
                f"Deleted on the server on {e(self.data.clock.short_date(post.delete_at))}</span>"
            )
        return f'<div class="markers">{"".join(markers)}</div>' if markers else ""

    def _history(self, post: Post) -> str:
        if not post.history:
            return ""
        items = []
        for revision in reversed(post.history):
            label = "original" if not revision.edit_at else f"edited {self.data.clock.full(revision.edit_at)}"
            items.append(
                f'<li><div class="history-when">{e(label)} (replaced '
                f"{e(self.data.clock.full(revision.replaced_at))})"
                '</div><div class="message" '
                f'dir="auto">{self.formatter.to_html(revision.message) or "<p>(empty)</p>"}'
                f"</div></li>"
            )
        count = len(post.history)
        return (
            f'<details class="history"><summary>Earlier version{"s" if count > 1 else ""} ({count})</summary>'
            f'<ol class="history-list">{"".join(items)}</ol></details>'
        )

    def _reply_context(self, post: Post, links: PostLinks) -> str:
        root = links.roots.get(post.root_id)
        href = links.post_href(post.root_id) or f"{self.archive_prefix}index.html?post={post.root_id}"
        if root is None:
            return (
                f'<p class="reply-to">↪ Reply to <a href="{e(href)}">a message that is not in this '
                "archive</a>"
                "</p>"
            )
        author = self.data.user(root.user_id)
        snippet = plain_snippet(root.message, 90) or "a message"
        return (
            f'<p class="reply-to">↪ Replied to <a href="{e(href)}"><bdi class="reply-author">'
            f"{e(author.display_name)}</bdi>: <bdi>{e(snippet)}</bdi></a></p>"
        )

    def _thread_link(self, post: Post, links: PostLinks) -> str:
        if links.in_thread_view:
            context = links.post_href(post.id)
            if context is None:
                return ""
            return f'<p class="thread-link"><a href="{e(context)}">Show in conversation</a></p>'
        info = links.thread_infos.get(post.id)
        if post.is_reply or info is None or info.reply_count == 0:
            return ""
        count = info.reply_count
        last = self.data.clock.full(info.last_reply_at) if info.last_reply_at else ""
        href = links.thread_href(post.id)
        if href is None:
            return ""
        return (
            f'<p class="thread-link"><a href="{e(href)}">💬 {count} repl{"y" if count == 1 else "ies"}</a>'
            f"{f' <span class=muted>last {e(last)}</span>' if last else ''}</p>"
        )

    def _reactions(self, post: Post) -> str:
        if not post.reactions:
            return ""
        grouped: dict[str, list[str]] = {}
        for reaction in post.reactions:
            grouped.setdefault(reaction.emoji_name, []).append(reaction.user_id)
        chips = []
        for name, user_ids in grouped.items():
            who = ", ".join(self.data.user(user_id).display_name for user_id in user_ids)
            mine = " reaction-mine" if self.data.self_id in user_ids else ""
            chips.append(
                f'<span class="reaction{mine}" title="{e(who)} reacted with :{e(name)}:">'
                f'{self.emoji_html(name)}<span class="reaction-count">{len(user_ids)}</span></span>'
            )
        return f'<div class="reactions" aria-label="Reactions">{"".join(chips)}</div>'

    def emoji_html(self, name: str) -> str:
        glyph = emoji_text(name)
        if glyph is not None:
            return f'<span class="emoji">{e(glyph)}</span>'
        custom = self.data.custom_emoji.get(name)
        if custom is not None and custom.path is not None and self.data.exists(custom.path):
            src = archive_url(self.archive_prefix, custom.path)
            return f'<img class="emoji custom-emoji" src="{e(src)}" alt=":{e(name)}:" loading="lazy">'
        return f'<span class="emoji-name">:{e(name)}:</span>'

    # ----- files -----

    def _files(self, post: Post) -> str:
        items = [self.file(file) for file in post.files]
        known = {file.id for file in post.files}
        missing = [file_id for file_id in post.file_ids if file_id not in known]
        if missing:
            count = len(missing)
            items.append(
                f'<div class="file file-missing">{count} attachment{"s" if count > 1 else ""} '
                "not in the archive</div>"
            )
        return f'<div class="files">{"".join(items)}</div>' if items else ""

    def file(self, file: FileRef) -> str:
        name = file.name or file.id
        extension = (file.extension or name.rsplit(".", 1)[-1]).lower()
        size = human_size(file.size)
        saved = file.saved and self.data.exists(file.path)
        if not saved:
            reason = FILE_STATUS_REASONS.get(file.status, "missing from the archive folder")
            if file.status == "saved":
                reason = "missing from the archive folder"
            return (
                f'<div class="file file-missing"><span class="file-icon" aria-hidden="true">⚠</span>'
                f'<span class="file-name"><bdi>{e(name)}</bdi></span> <span class="file-meta">{e(size)} · '
                f"not saved: {e(reason)}</span></div>"
            )
        assert file.path is not None
        href = archive_url(self.archive_prefix, file.path)
        link = (
            f'<a class="file-name" href="{e(href)}" download="{e(name)}"><bdi>{e(name)}</bdi></a> '
            f'<span class="file-meta">{e(size)}</span>'
        )
        mime = file.mime_type.lower()
        if mime.startswith("image/") or extension in IMAGE_EXTENSIONS:
            shown = next(
                (
                    path
                    for path in (file.preview_path, file.thumbnail_path)
                    if path and self.data.exists(path)
                ),
                file.path,
            )
            width, height = self._image_box(file)
            size_attrs = f' width="{width}" height="{height}"' if width and height else ""
            return (
                f'<figure class="file file-image"><a href="{e(href)}" title="Open the original">'
                f'<img src="{e(archive_url(self.archive_prefix, shown))}" alt="{e(name)}"{size_attrs} '
                f'loading="lazy" decoding="async"></a><figcaption>{link}</figcaption></figure>'
            )
        if mime.startswith("video/") or extension in VIDEO_EXTENSIONS:
            poster = next(
                (path for path in (file.preview_path, file.thumbnail_path) if self.data.exists(path)), None
            )
            poster_attr = f' poster="{e(archive_url(self.archive_prefix, poster))}"' if poster else ""
            return (
                f'<figure class="file file-video"><video controls preload="metadata"{poster_attr} '
                f'src="{e(href)}"></video><figcaption>{link}</figcaption></figure>'
            )
        if mime.startswith("audio/") or extension in AUDIO_EXTENSIONS:
            return (
                f'<figure class="file file-audio"><audio controls preload="metadata" src="{e(href)}"></audio>'
                f"<figcaption>{link}</figcaption></figure>"
            )
        icon = '<span class="file-icon" aria-hidden="true">📄</span>'
        return f'<div class="file file-download">{icon}{link}</div>'

    @staticmethod
    def _image_box(file: FileRef, max_width: int = 480, max_height: int = 360) -> tuple[int, int]:
        width, height = file.width or 0, file.height or 0
        if width <= 0 or height <= 0:
            return 0, 0
        scale = min(1.0, max_width / width, max_height / height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    # ----- message attachments and link previews -----

    def _attachments(self, post: Post) -> str:
        cards = [self.attachment_card(as_dict(item)) for item in as_list(post.props.get("attachments"))[:20]]
        return "".join(card for card in cards if card)

    def attachment_card(self, attachment: dict[str, Any]) -> str:
        if not attachment:
            return ""
        parts = []
        pretext = as_str(attachment.get("pretext"))
        if pretext:
            parts.append(f'<div class="att-pretext" dir="auto">{self.formatter.to_html(pretext)}</div>')
        author = as_str(attachment.get("author_name"))
        if author:
            author_html = f"<bdi>{e(author)}</bdi>"
            author_href = safe_href(as_str(attachment.get("author_link")), self.formatter.context)
            if author_href:
                author_html = f'<a href="{e(author_href)}" rel="{LINK_REL}" target="_blank">{author_html}</a>'
            parts.append(f'<div class="att-author">{author_html}</div>')
        title = as_str(attachment.get("title"))
        if title:
            title_html = f"<bdi>{e(title)}</bdi>"
            title_href = safe_href(as_str(attachment.get("title_link")), self.formatter.context)
            if title_href:
                title_html = f'<a href="{e(title_href)}" rel="{LINK_REL}" target="_blank">{title_html}</a>'
            parts.append(f'<div class="att-title">{title_html}</div>')
        text = as_str(attachment.get("text")) or (as_str(attachment.get("fallback")) if not title else "")
        if text:
            parts.append(f'<div class="att-text message" dir="auto">{self.formatter.to_html(text)}</div>')
        fields = []
        for item in as_list(attachment.get("fields"))[:50]:
            field_data = as_dict(item)
            field_title = as_str(field_data.get("title"))
            value = field_data.get("value")
            value_text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
            short = " att-field-short" if field_data.get("short") is True else ""
            fields.append(
                f'<div class="att-field{short}"><div '
                f'class="att-field-title"><bdi>{e(field_title)}</bdi></div>'
                f'<div class="att-field-value message">{self.formatter.to_html(value_text)}</div></div>'
            )
        if fields:
            parts.append(f'<div class="att-fields">{"".join(fields)}</div>')
        image_href = safe_href(as_str(attachment.get("image_url")), self.formatter.context)
        if image_href:
            parts.append(
                f'<div class="att-image"><a href="{e(image_href)}" rel="{LINK_REL}" target="_blank">'
                "🖼 Image (not stored in the archive)</a></div>"
            )
        actions = [as_str(as_dict(action).get("name")) for action in as_list(attachment.get("actions"))[:10]]
        if any(actions):
            buttons = "".join(
                f'<span class="att-action"><bdi>{e(name)}</bdi></span>' for name in actions if name
            )
            parts.append(
                f'<div class="att-actions" title="Buttons do not work in the archive">{buttons}</div>'
            )
        footer = as_str(attachment.get("footer"))
        if footer:
            parts.append(f'<div class="att-footer"><bdi>{e(footer)}</bdi></div>')
        if not parts:
            return ""
        color = attachment_color_class(as_str(attachment.get("color")))
        return f'<div class="attachment {color}">{"".join(parts)}</div>'

    def _embeds(self, post: Post, links: PostLinks) -> str:
        cards = []
        for item in as_list(post.metadata.get("embeds"))[:10]:
            embed = as_dict(item)
            kind = as_str(embed.get("type"))
            if kind == "opengraph":
                cards.append(self._opengraph(embed))
            elif kind == "permalink":
                cards.append(self._permalink(embed))
            elif kind in ("image", "link"):
                href = safe_href(as_str(embed.get("url")), self.formatter.context)
                if href:
                    label = "Image" if kind == "image" else "Link"
                    cards.append(
                        f'<div class="embed embed-link">{label}: <a href="{e(href)}" rel="{LINK_REL}" '
                        f'target="_blank"><bdi>{e(plain_snippet(href, 120))}</bdi></a></div>'
                    )
        return "".join(cards)

    def _opengraph(self, embed: dict[str, Any]) -> str:
        data = as_dict(embed.get("data"))
        url = as_str(data.get("url")) or as_str(embed.get("url"))
        href = safe_href(url, self.formatter.context)
        site = plain_snippet(as_str(data.get("site_name")), 80)
        title = plain_snippet(as_str(data.get("title")), 200)
        description = plain_snippet(as_str(data.get("description")), 400)
        if not (title or description or href):
            return ""
        parts = []
        if site:
            parts.append(f'<div class="embed-site"><bdi>{e(site)}</bdi></div>')
        label = title or plain_snippet(url, 120)
        if href:
            parts.append(
                f'<div class="embed-title"><a href="{e(href)}" rel="{LINK_REL}" target="_blank">'
                f"<bdi>{e(label)}</bdi></a></div>"
            )
        elif label:
            parts.append(f'<div class="embed-title"><bdi>{e(label)}</bdi></div>')
        if description:
            parts.append(f'<div class="embed-description" dir="auto">{e(description)}</div>')
        return f'<div class="embed embed-opengraph">{"".join(parts)}</div>'

    def _permalink(self, embed: dict[str, Any]) -> str:
        data = as_dict(embed.get("data"))
        quoted = post_from_json(as_dict(data.get("post")))
        post_id = quoted.id or as_str(data.get("post_id"))
        if not post_id:
            return ""
        author = self.data.user(quoted.user_id)
        channel_name = plain_snippet(as_str(data.get("channel_display_name")), 80)
        href = f"{self.archive_prefix}index.html?post={post_id}"
        body = self.formatter.to_html(quoted.message) if quoted.message else "<p>(message not included)</p>"
        where = f" in <bdi>{e(channel_name)}</bdi>" if channel_name else ""
        return (
            f'<blockquote class="embed embed-permalink"><div class="embed-site">Message from '
            f"<bdi>{e(author.display_name)}</bdi>{where}</div>"
            f'<div class="message" dir="auto">{body}</div>'
            f'<a class="permalink" href="{e(href)}">Jump to the message</a></blockquote>'
        )


def group_posts(posts: Iterable[Post], clock: Clock) -> Iterable[tuple[Post, bool, str | None]]:
    """Yields (post, continues the previous author's group, day key when a new day starts)."""
    previous: Post | None = None
    current_day: str | None = None
    day_end = -1
    for post in posts:
        new_day: str | None = None
        if post.create_at >= day_end or current_day is None:
            key = clock.day_key(post.create_at)
            if key != current_day:
                new_day = key
                current_day = key
            moment = clock.at(post.create_at)
            next_midnight = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
            day_end = int(next_midnight.timestamp() * 1000) + 1
        continuation = (
            previous is not None
            and new_day is None
            and not post.is_system
            and not previous.is_system
            and previous.user_id == post.user_id
            and PageWriter._override_name(previous) == PageWriter._override_name(post)
            and post.create_at - previous.create_at <= GROUP_WINDOW_MS
            and _same_thread_context(previous, post)
        )
        yield post, continuation, new_day
        previous = post


def _same_thread_context(previous: Post, post: Post) -> bool:
    if not post.root_id:
        return not previous.root_id
    return post.root_id in (previous.root_id, previous.id)
