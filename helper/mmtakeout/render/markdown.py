"""Mattermost-flavoured Markdown → safe HTML.

markdown-it-py parses CommonMark with tables and strikethrough, raw HTML disabled (it is shown as
text). On top of that, our own rules add what Mattermost adds: bare URLs become links, `@user` and
`~channel` mentions, `#hashtags`, `:emoji:` shortcodes (system emoji as Unicode, archived custom
emoji as local images) and single newlines as line breaks. Fenced code is coloured with Pygments.

Safety: every message is untrusted. Links survive only with an http(s) or mailto scheme (or as a
permalink into the archive itself); images named in Markdown are never loaded, only linked; no
inline `style` attribute is produced (the pages' CSP forbids them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from mmtakeout.render.emoji import emoji_text
from mmtakeout.render.model import CustomEmoji, User

HIGHLIGHT_LIMIT = 20_000
LINK_REL = "noopener noreferrer nofollow"
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
SPECIAL_MENTIONS = frozenset({"all", "channel", "here"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_POST_ID = re.compile(r"[a-z0-9]{26}")
_PERMALINK_PATH = re.compile(r"^/[^/]+/pl/([a-z0-9]{26})/?$")
_TRAILING_PUNCTUATION = ".,;:!?'\"*_-}]>"
_INLINE_EXTRAS = re.compile(
    r"(?P<url>\b(?:https?://|www\.)[^\s<>\"`]+)"
    r"|(?P<email>\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)"
    r"|(?<![\w@./\-])@(?P<mention>[A-Za-z0-9][A-Za-z0-9._\-]*)"
    r"|(?<![\w~])~(?P<channel>[a-z0-9][a-z0-9_\-]*)"
    r"|(?<![\w#&/])#(?P<hashtag>[^\W\d_][\w.\-]*\w)"
    r"|:(?P<emoji>[a-z0-9_+\-]{1,64}):"
)
_ALIGN_STYLE = re.compile(r"text-align:\s*(left|right|center)")
_TASK_MARK = re.compile(r"^\[([ xX])\] ")


@dataclass(frozen=True)
class MarkdownContext:
    """What a message needs to resolve names and links, seen from the page it is rendered into."""

    users_by_username: Mapping[str, User] = field(default_factory=dict)
    channel_links: Mapping[str, str] = field(default_factory=dict)
    custom_emoji: Mapping[str, CustomEmoji] = field(default_factory=dict)
    archive_prefix: str = ""
    site_prefix: str = "site/"
    server_url: str = ""
    self_username: str = ""
    hashtag_search: bool = True


def safe_href(url: str, context: MarkdownContext) -> str | None:
    """The href to emit for a URL from the data, or None when it must not be a link.

    Permalinks to posts on the archived server are sent to the archive's own resolver.
    """
    candidate = url.strip()
    match = _SCHEME.match(candidate.lower())
    if match is None or match.group(1) not in ALLOWED_SCHEMES:
        return None
    permalink = permalink_post_id(candidate, context.server_url)
    if permalink is not None:
        return f"{context.archive_prefix}index.html?post={permalink}"
    return candidate


def permalink_post_id(url: str, server_url: str) -> str | None:
    if not server_url:
        return None
    base = urlsplit(server_url)
    try:
        target = urlsplit(url)
    except ValueError:
        return None
    if target.netloc.lower() != base.netloc.lower() or target.scheme.lower() not in ("http", "https"):
        return None
    path = target.path
    base_path = base.path.rstrip("/")
    if base_path:
        if not path.startswith(base_path + "/"):
            return None
        path = path[len(base_path) :]
    match = _PERMALINK_PATH.match(path)
    return match.group(1) if match else None


def archive_url(prefix: str, relative_path: str) -> str:
    """A URL for a validated archive path, each segment percent-encoded."""
    return prefix + "/".join(quote(segment, safe="") for segment in relative_path.split("/"))


def _trim_url(url: str) -> str:
    while url and url[-1] in _TRAILING_PUNCTUATION + ")":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _text_token(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _link_tokens(href: str, label: str, kind: str) -> list[Token]:
    opening = Token("link_open", "a", 1)
    opening.attrs = {"href": href}
    opening.markup = kind
    opening.meta = {"href": href}
    closing = Token("link_close", "a", -1)
    closing.markup = kind
    closing.meta = {"dropped": False}
    return [opening, _text_token(label), closing]


def _custom_token(kind: str, content: str, **meta: Any) -> Token:
    token = Token(kind, "", 0)
    token.content = content
    token.meta = dict(meta)
    return token


class _Extras:
    """Splits text tokens into links, mentions, hashtags and emoji."""

    def __init__(self, context: MarkdownContext) -> None:
        self.context = context

    def expand(self, text: str) -> list[Token]:
        pieces: list[Token] = []
        position = 0
        for match in _INLINE_EXTRAS.finditer(text):
            replacement, consumed = self._replace(match)
            if replacement is None:
                continue
            start = match.start()
            if start > position:
                pieces.append(_text_token(text[position:start]))
            pieces.extend(replacement)
            position = start + consumed
            if position < match.end():
                pieces.append(_text_token(text[position : match.end()]))
                position = match.end()
        if not pieces:
            return [_text_token(text)]
        if position < len(text):
            pieces.append(_text_token(text[position:]))
        return pieces

    def _replace(self, match: re.Match[str]) -> tuple[list[Token] | None, int]:
        kind = match.lastgroup
        value = match.group(kind) if kind else ""
        if kind == "url":
            url = _trim_url(value)
            href = safe_href(url if "://" in url else f"http://{url}", self.context)
            return (None, 0) if href is None else (_link_tokens(href, url, "autolink"), len(url))
        if kind == "email":
            return _link_tokens(f"mailto:{value}", value, "autolink"), len(value)
        if kind == "mention":
            return self._mention(value)
        if kind == "channel":
            return self._channel(value)
        if kind == "hashtag":
            return self._hashtag(value)
        if kind == "emoji":
            return self._emoji(value, match.group(0))
        return None, 0

    def _mention(self, name: str) -> tuple[list[Token] | None, int]:
        candidate = name
        while candidate:
            lowered = candidate.lower()
            if lowered in SPECIAL_MENTIONS:
                return [_custom_token("mm_mention", "@" + candidate, special=True)], len(candidate) + 1
            user = self.context.users_by_username.get(lowered)
            if user is not None:
                is_self = bool(self.context.self_username) and lowered == self.context.self_username.lower()
                token = _custom_token(
                    "mm_mention", "@" + user.username, title=user.display_name, self=is_self
                )
                return [token], len(candidate) + 1
            if candidate[-1] not in "._-":
                break
            candidate = candidate[:-1]
        return None, 0

    def _channel(self, name: str) -> tuple[list[Token] | None, int]:
        href = self.context.channel_links.get(name)
        if href is None:
            return None, 0
        return _link_tokens(href, "~" + name, "channel"), len(name) + 1

    def _hashtag(self, tag: str) -> tuple[list[Token] | None, int]:
        while tag and tag[-1] in ".-":
            tag = tag[:-1]
        if len(tag) < 3:
            return None, 0
        if self.context.hashtag_search:
            href = f"{self.context.site_prefix}search.html?q={quote('#' + tag, safe='')}"
            return _link_tokens(href, "#" + tag, "hashtag"), len(tag) + 1
        return [_custom_token("mm_hashtag", "#" + tag)], len(tag) + 1

    def _emoji(self, name: str, source: str) -> tuple[list[Token] | None, int]:
        glyph = emoji_text(name)
        if glyph is not None:
            return [_custom_token("mm_emoji", glyph, name=name)], len(source)
        custom = self.context.custom_emoji.get(name)
        if custom is not None and custom.path is not None:
            src = archive_url(self.context.archive_prefix, custom.path)
            return [_custom_token("mm_custom_emoji", source, name=name, src=src)], len(source)
        return None, 0


def _inline_extras(state: StateCore) -> None:
    context: MarkdownContext = state.env["context"]
    extras = _Extras(context)
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        open_links: list[Token] = []
        for child in block.children:
            if child.type == "link_open":
                _resolve_link(child, context)
                open_links.append(child)
            elif child.type == "link_close":
                opening = open_links.pop() if open_links else None
                child.meta["dropped"] = opening is None or opening.meta.get("href") is None
            if child.type == "text" and not open_links:
                children.extend(extras.expand(child.content))
            else:
                children.append(child)
        block.children = children


def _resolve_link(token: Token, context: MarkdownContext) -> None:
    """Decides once, at parse time, what a link may point to (None: shown as plain text)."""
    href = str(token.attrs.get("href", ""))
    if token.markup in ("channel", "hashtag"):
        token.meta["href"] = href
    else:
        token.meta["href"] = safe_href(href, context)


def _task_markers(state: StateCore) -> None:
    """`- [ ] item` / `- [x] item` as ballot boxes (Mattermost shows checkboxes)."""
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type != "inline" or index < 2 or tokens[index - 2].type != "list_item_open":
            continue
        first = token.children[0] if token.children else None
        if first is not None and first.type == "text":
            match = _TASK_MARK.match(first.content)
            if match:
                first.content = ("☑ " if match.group(1) in "xX" else "☐ ") + first.content[match.end() :]


def _render_link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    context: MarkdownContext = env["context"]
    target = token.meta.get("href")
    if target is None:
        return '<span class="unsafe-link">'
    if token.markup in ("channel", "hashtag"):
        css = "channel-link" if token.markup == "channel" else "hashtag"
        return f'<a class="{css}" href="{escape(target)}">'
    title = token.attrs.get("title")
    title_attr = f' title="{escape(str(title))}"' if title else ""
    if target.startswith(context.archive_prefix + "index.html?post="):
        return f'<a class="permalink" href="{escape(target)}"{title_attr}>'
    return f'<a href="{escape(target)}"{title_attr} rel="{LINK_REL}" target="_blank">'


def _render_link_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</span>" if tokens[idx].meta.get("dropped", True) else "</a>"


def _render_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Markdown images are never loaded (they are remote): a link with the alt text instead."""
    token = tokens[idx]
    context: MarkdownContext = env["context"]
    alt = escape(self.renderInlineAsText(token.children or [], options, env)) or "image"
    target = safe_href(str(token.attrs.get("src", "")), context)
    if target is None:
        return f'<span class="md-image">🖼 {alt}</span>'
    return f'<a class="md-image" href="{escape(target)}" rel="{LINK_REL}" target="_blank">🖼 {alt}</a>'


def _render_cell(tag: str) -> Callable[[RendererHTML, Sequence[Token], int, OptionsDict, EnvType], str]:
    def render(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        match = _ALIGN_STYLE.search(str(tokens[idx].attrs.get("style", "")))
        return f'<{tag} class="align-{match.group(1)}">' if match else f"<{tag}>"

    return render


def _render_heading(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Message headings sit below the page's own h1/h2 in the outline: `#` becomes h3, and so on."""
    token = tokens[idx]
    level = int(token.tag[1]) if token.tag[1:].isdigit() else 1
    tag = f"h{min(level + 2, 6)}"
    return f'<{tag} class="md-h{level}">' if token.nesting == 1 else f"</{tag}>\n"


def _render_mention(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    classes = "mention"
    if token.meta.get("special") or token.meta.get("self"):
        classes += " mention-highlight"
    title = token.meta.get("title")
    title_attr = f' title="{escape(str(title))}"' if title else ""
    return f'<span class="{classes}"{title_attr}>{escape(token.content)}</span>'


def _render_hashtag(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return f'<span class="hashtag">{escape(tokens[idx].content)}</span>'


def _render_emoji(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    return f'<span class="emoji" title=":{escape(str(token.meta["name"]))}:">{escape(token.content)}</span>'


def _render_custom_emoji(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    name = escape(str(token.meta["name"]))
    return (
        f'<img class="emoji custom-emoji" src="{escape(str(token.meta["src"]))}" alt=":{name}:" '
        f'title=":{name}:" loading="lazy">'
    )


@lru_cache(maxsize=128)
def _lexer_for(language: str) -> Lexer | None:
    """Looking a lexer up costs more than highlighting a short block; one instance serves every block."""
    if not language or len(language) > 40:
        return None
    try:
        return get_lexer_by_name(language.lower(), stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight_code(code: str, language: str) -> str:
    """Escaped HTML for a code block, coloured when the language is known and the code not huge."""
    lexer = _lexer_for(language) if len(code) <= HIGHLIGHT_LIMIT else None
    if lexer is None:
        return escape(code)
    return str(highlight(code, lexer, _code_formatter()))


@cache
def _code_formatter() -> HtmlFormatter[str]:
    return HtmlFormatter(nowrap=True, classprefix="pg-")


def _render_fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    label = f'<div class="code-lang">{escape(language)}</div>' if language else ""
    body = highlight_code(token.content, language)
    return f'<div class="code-block">{label}<pre><code>{body}</code></pre></div>\n'


def _render_code_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return f'<div class="code-block"><pre><code>{escape(tokens[idx].content)}</code></pre></div>\n'


def _validate_link(url: str) -> bool:
    match = _SCHEME.match(url.strip().lower())
    return match is not None and match.group(1) in ALLOWED_SCHEMES


def build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "xhtmlOut": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.core.ruler.before("text_join", "mm_inline_extras", _inline_extras)
    md.core.ruler.push("mm_task_markers", _task_markers)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("th_open", _render_cell("th"))
    md.add_render_rule("td_open", _render_cell("td"))
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("heading_open", _render_heading)
    md.add_render_rule("heading_close", _render_heading)
    md.add_render_rule("mm_mention", _render_mention)
    md.add_render_rule("mm_hashtag", _render_hashtag)
    md.add_render_rule("mm_emoji", _render_emoji)
    md.add_render_rule("mm_custom_emoji", _render_custom_emoji)
    md.add_render_rule("table_open", lambda *_args: '<div class="table-wrap"><table>\n')
    md.add_render_rule("table_close", lambda *_args: "</table></div>\n")
    return md


_NEEDS_MARKDOWN = re.compile(r"[^\s\w,;?'\"()/.!\-]|_|https?:|www\.|^\s|\s$|^[-+*=]|^\d+[.)]", re.MULTILINE)


class MessageFormatter:
    """Renders message Markdown for one context (one page location and archive)."""

    def __init__(self, context: MarkdownContext, md: MarkdownIt | None = None) -> None:
        self.context = context
        self._md = md or build_markdown()
        self._env = {"context": context}

    def to_html(self, text: str) -> str:
        if not text.strip():
            return ""
        if not _NEEDS_MARKDOWN.search(text):
            return "<p>" + escape(text, quote=False).replace('"', "&quot;").replace("\n", "<br>\n") + "</p>\n"
        return str(self._md.render(text, dict(self._env)))

    def inline_html(self, text: str) -> str:
        """A one-line field (attachment title, embed title): inline Markdown only, no blocks."""
        if not text.strip():
            return ""
        return str(self._md.renderInline(text, dict(self._env)))


def is_emoji_only(text: str) -> bool:
    """True for messages made only of emoji (Mattermost shows them larger)."""
    stripped = text.strip()
    if not stripped or len(stripped) > 200:
        return False
    remainder = re.sub(
        r":([a-z0-9_+\-]{1,64}):", lambda m: "" if emoji_text(m.group(1)) else m.group(0), stripped
    )
    remainder = re.sub(r"\s+", "", remainder)
    return all(ord(ch) >= 0x2100 and not ch.isalnum() for ch in remainder)
