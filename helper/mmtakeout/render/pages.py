"""Whole pages of the viewer, assembled from the pieces in `site`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmtakeout.render.model import Post
from mmtakeout.render.naming import Conversation
from mmtakeout.render.site import PageWriter, PostLinks, e, group_posts, json_for_script, plain_snippet

KIND_ICONS = {"public": "#", "private": "🔒", "direct": "@", "self": "@", "group": "👥", "other": "•"}


@dataclass(frozen=True, slots=True)
class PartSummary:
    number: int
    post_count: int
    first_at: int
    last_at: int


def conversation_href(conversation: Conversation, parts: int, site_prefix: str) -> str:
    last = max(parts, 1)
    return f"{site_prefix}c/{conversation.directory}/{last}.html#latest"


def _conversation_icon(writer: PageWriter, conversation: Conversation, size: int = 28) -> str:
    if conversation.partner is not None:
        return writer.avatar(conversation.partner, size)
    icon = KIND_ICONS.get(conversation.kind, "•")
    return f'<span class="conv-icon conv-icon-{e(conversation.kind)}" aria-hidden="true">{e(icon)}</span>'


def _badges(conversation: Conversation) -> str:
    badges = ""
    if conversation.channel.archived:
        badges += '<span class="badge badge-archived">archived</span>'
    if conversation.channel.is_favorite:
        badges += '<span class="badge badge-favorite" title="Favourite">★</span>'
    if conversation.partner is not None and conversation.partner.deactivated:
        badges += '<span class="badge badge-muted">deactivated</span>'
    if conversation.partner is not None and conversation.partner.is_bot:
        badges += '<span class="badge">BOT</span>'
    return badges


def conversation_header(writer: PageWriter, conversation: Conversation, subtitle: str = "") -> str:
    clock = writer.data.clock
    channel = conversation.channel
    details = [e(conversation.kind_label)]
    if conversation.team is not None:
        details.append(f"team <bdi>{e(conversation.team.display_name or conversation.team.name)}</bdi>")
    if conversation.post_count:
        details.append(f"{conversation.post_count:,} messages archived")
        details.append(
            f"{e(clock.short_date(conversation.first_at))} – {e(clock.short_date(conversation.last_at))}"
        )
    blocks = []
    if conversation.kind == "group" and conversation.members:
        names = ", ".join(f"<bdi>{e(user.display_name)}</bdi>" for user in conversation.members)
        blocks.append(f'<p class="conv-members">Members: {names}</p>')
    for label, text in (("Purpose", channel.purpose), ("Header", channel.header)):
        if text.strip():
            blocks.append(
                f'<div class="conv-meta"><span class="conv-meta-label">{label}</span>'
                f'<div class="message" dir="auto">{writer.formatter.to_html(text)}</div></div>'
            )
    title = f"<bdi>{e(conversation.title)}</bdi>"
    return (
        f'<header class="conv-header">{_conversation_icon(writer, conversation, 40)}'
        f'<div class="conv-heading"><h1>{title}{_badges(conversation)}</h1>'
        f'<p class="conv-details">{" · ".join(details)}{e(subtitle)}</p>{"".join(blocks)}</div></header>'
    )


def _breadcrumbs(writer: PageWriter, conversation: Conversation, extra: str = "") -> str:
    team = ""
    if conversation.team is not None:
        name = conversation.team.display_name or conversation.team.name
        team = f' <span aria-hidden="true">›</span> <bdi>{e(name)}</bdi>'
    return (
        f'<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="{writer.archive_prefix}index.html">'
        f"All conversations</a>{team}{extra}</nav>"
    )


def _part_nav(number: int, is_last: bool, position: str) -> str:
    earlier = (
        f'<a class="part-link" rel="prev" href="{number - 1}.html">← Earlier messages</a>'
        if number > 1
        else '<span class="part-link disabled">Beginning of the conversation</span>'
    )
    later = (
        f'<a class="part-link" rel="next" href="{number + 1}.html">Later messages →</a>'
        if not is_last
        else '<span class="part-link disabled">Latest messages</span>'
    )
    jump = '<div class="jump" data-jump></div>' if position == "top" else ""
    return (
        f'<nav class="part-nav" aria-label="Pages of this conversation ({position})">{earlier}'
        f'<span class="part-number">Part {number}</span>{later}{jump}</nav>'
    )


def part_page(
    writer: PageWriter,
    conversation: Conversation,
    number: int,
    is_last: bool,
    posts: Sequence[Post],
    links: PostLinks,
) -> str:
    clock = writer.data.clock
    rows: list[str] = []
    previous: Post | None = None
    for post, continuation, new_day in group_posts(posts, clock):
        if new_day is not None:
            rows.append(
                f'<h2 class="day-separator" id="d-{e(new_day)}">'
                f"<span>{e(clock.day_label(post.create_at))}</span></h2>\n"
            )
        # Like Mattermost, say what a reply answers unless it directly follows its own thread.
        follows_thread = previous is not None and post.root_id in (previous.id, previous.root_id)
        context = new_day is not None or not follows_thread
        rows.append(writer.post(post, links, continuation=continuation, show_reply_context=context))
        previous = post
    if not rows:
        rows.append('<p class="empty">No messages of this conversation are in the archive.</p>')
    latest = '<div id="latest" class="latest-anchor" tabindex="-1"></div>' if is_last else ""
    body = (
        _breadcrumbs(writer, conversation)
        + conversation_header(writer, conversation)
        + _part_nav(number, is_last, "top")
        + f'<section class="timeline" aria-label="Messages">{"".join(rows)}{latest}</section>'
        + _part_nav(number, is_last, "bottom")
    )
    title = f"{conversation.title} — part {number}" if number > 1 or not is_last else conversation.title
    attrs = f' data-conversation="{e(conversation.directory)}" data-part="{number}"'
    return writer.page(
        title, body, scripts=("nav.js",), body_attrs=attrs, main_label=f"{conversation.title} messages"
    )


def thread_page(
    writer: PageWriter,
    conversation: Conversation,
    number: int,
    threads: Sequence[tuple[Post, Sequence[Post]]],
    links: PostLinks,
) -> str:
    sections = []
    for root, replies in threads:
        author = writer.data.user(root.user_id)
        snippet = plain_snippet(root.message, 80) or "(no text)"
        rows = [writer.post(root, links, continuation=False, show_reply_context=False)]
        for post, continuation, _day in group_posts(replies, writer.data.clock):
            rows.append(writer.post(post, links, continuation=continuation, show_reply_context=False))
        count = len(replies)
        sections.append(
            f'<section class="thread" id="t-{e(root.id)}" aria-label="Thread started by '
            f'{e(author.display_name)}">'
            f'<h2 class="thread-title">Thread: <bdi>{e(snippet)}</bdi> '
            f'<span class="muted">({count} repl{"y" if count == 1 else "ies"})</span></h2>'
            f"{''.join(rows)}</section>\n"
        )
    if not sections:
        sections.append('<p class="empty">No threads start in this part of the conversation.</p>')
    crumbs = _breadcrumbs(
        writer,
        conversation,
        f' <span aria-hidden="true">›</span> <a href="{number}.html"><bdi>{e(conversation.title)}</bdi></a>'
        ' <span aria-hidden="true">›</span> Threads',
    )
    body = (
        crumbs + f'<h1 class="threads-title">Threads in <bdi>{e(conversation.title)}</bdi></h1>'
        '<p class="hint">Each thread shows its first message and every reply. '
        f'<a href="{number}.html">Back to the conversation</a></p>' + "".join(sections)
    )
    return writer.page(f"Threads — {conversation.title}", body, main_label="Threads")


def nav_script(
    conversation: Conversation,
    parts: Sequence[PartSummary],
    days: Sequence[tuple[str, int]],
    clock_labels: Mapping[int, tuple[str, str]],
) -> str:
    data = {
        "conversation": conversation.directory,
        "parts": [[part.number, *clock_labels[part.number], part.post_count] for part in parts],
        "days": [list(day) for day in days],
    }
    return f"MMT.registerNav({json_for_script(data)});\n"


def index_page(
    writer: PageWriter,
    conversations: Sequence[Conversation],
    parts_count: Mapping[str, int],
    owner_line: str,
    problems_note: str,
) -> str:
    clock = writer.data.clock
    sections: dict[str, list[str]] = {}
    titles: dict[str, str] = {"favorites": "Favourites"}
    order: list[str] = ["favorites"]
    for conversation in conversations:
        if conversation.channel.is_favorite:
            key = "favorites"
        elif conversation.kind in ("direct", "self", "group"):
            key = "direct"
            titles[key] = "Direct and group messages"
        else:
            team = conversation.team
            key = f"team-{conversation.channel.team_id}"
            titles[key] = f"{team.display_name or team.name}" if team is not None else "Other channels"
        if key not in order:
            order.append(key)
        href = conversation_href(conversation, parts_count.get(conversation.id, 1), writer.site_prefix)
        activity = conversation.last_activity
        when = (
            f'<time datetime="{e(clock.iso(activity))}">{e(clock.short_date(activity))}</time>'
            if activity
            else "no activity"
        )
        team_note = ""
        if key == "favorites" and conversation.team is not None:
            team_note = f' <span class="conv-team"><bdi>{e(conversation.team.display_name)}</bdi></span>'
        count = f"{conversation.post_count:,} message{'s' if conversation.post_count != 1 else ''}"
        sections.setdefault(key, []).append(
            f'<li class="conv-item" data-name="{e(conversation.title.lower())}">'
            f'<a class="conv-link" href="{e(href)}">{_conversation_icon(writer, conversation)}'
            f'<span class="conv-name"><bdi>{e(conversation.title)}</bdi>{team_note}'
            f"{_badges(conversation)}</span>"
            f'<span class="conv-kind">{e(conversation.kind_label)}</span>'
            f'<span class="conv-stats">{count} · {when}</span></a></li>'
        )
    blocks: list[str] = []
    for key in order:
        items = sections.get(key)
        if not items:
            continue
        heading_id = f"section-{len(blocks)}"
        blocks.append(
            f'<section class="conv-section" aria-labelledby="{heading_id}">'
            f'<h2 id="{heading_id}"><bdi>{e(titles.get(key, key))}</bdi></h2>'
            f'<ul class="conv-list">{"".join(items)}</ul></section>'
        )
    if not blocks:
        blocks.append('<p class="empty">This archive has no conversations yet.</p>')
    body = (
        '<div class="index-intro"><h1>Your conversations</h1><p '
        f'class="owner">{owner_line}</p>{problems_note}'
        '<div class="conv-filter"><label for="conv-filter">Filter by name</label>'
        '<input id="conv-filter" type="search" autocomplete="off" placeholder="Type to filter" '
        "disabled></div>"
        '<p class="resolver-status" id="resolver-status" role="status"></p></div>' + "".join(blocks)
    )
    return writer.page("Mattermost archive", body, main_label="Conversations")


def search_page(writer: PageWriter) -> str:
    body = (
        "<h1>Search</h1>"
        '<form class="search-form" id="search-form" role="search" action="search.html" method="get">'
        '<div class="search-row"><label for="q">Words</label>'
        '<input id="q" name="q" type="search" autocomplete="off" placeholder="Words or word beginnings">'
        '<button type="submit">Search</button></div>'
        '<div class="search-filters">'
        '<label>Conversation <select id="f-conv" name="in"><option value="">All '
        "conversations</option></select></label>"
        '<label>Person <select id="f-person" name="from"><option value="">Anyone</option></select></label>'
        '<label>From <input id="f-after" name="after" type="date"></label>'
        '<label>To <input id="f-before" name="before" type="date"></label>'
        "</div></form>"
        '<p id="search-status" class="search-status" role="status" aria-live="polite">'
        "Search needs JavaScript; everything stays on this computer.</p>"
        '<ol id="search-results" class="search-results"></ol>'
        '<button type="button" id="search-more" class="search-more" hidden>Show more results</button>'
    )
    return writer.page(
        "Search — Mattermost archive",
        body,
        scripts=("search/manifest.js", "assets/search.js"),
        main_label="Search",
    )
