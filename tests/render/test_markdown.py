"""The message formatter: Mattermost Markdown in, safe HTML out."""

from __future__ import annotations

import time

import pytest
from html_checks import fragment_problems, parse
from viewer_fixtures import HOSTILE_MESSAGES

from mmtakeout.render.emoji import emoji_text, system_emoji
from mmtakeout.render.markdown import MarkdownContext, MessageFormatter, build_markdown, is_emoji_only
from mmtakeout.render.model import CustomEmoji, User

POST_ID = "abcdefghijkmnopqrstuwxyz13"


@pytest.fixture(scope="module")
def formatter() -> MessageFormatter:
    context = MarkdownContext(
        users_by_username={
            "alice": User("u1", "alice", "Alice", "Liddell"),
            "bob.smith": User("u2", "bob.smith"),
        },
        channel_links={"town-square": "../town/1.html"},
        custom_emoji={
            "shipit": CustomEmoji("e1", "shipit", "emoji/e1.png", False),
            "lost": CustomEmoji("e2", "lost", None, False),
        },
        archive_prefix="../../../",
        site_prefix="../../",
        server_url="https://chat.example.org",
        self_username="alice",
    )
    return MessageFormatter(context)


MARKDOWN_CORPUS = [
    ("*em* and _em_", ["<em>em</em> and <em>em</em>"]),
    ("**strong** __strong__", ["<strong>strong</strong> <strong>strong</strong>"]),
    ("~~gone~~", ["<s>gone</s>"]),
    ("use `x < y`", ["<code>x &lt; y</code>"]),
    ("```python\nprint('hi')\n```", ['<div class="code-lang">python</div>', 'class="pg-nb">print</span>']),
    ("```\nplain <b>\n```", ["<pre><code>plain &lt;b&gt;\n</code></pre>"]),
    ("```nosuchlanguage\nx = 1\n```", ["<pre><code>x = 1\n</code></pre>"]),
    ("> quoted\n> text", ["<blockquote>", "quoted<br>\ntext"]),
    ("- one\n- two", ["<ul>\n<li>one</li>\n<li>two</li>\n</ul>"]),
    ("1. one\n2. two", ["<ol>\n<li>one</li>"]),
    (
        "| a | b |\n|:-|-:|\n| 1 | 2 |",
        [
            '<div class="table-wrap"><table>',
            '<th class="align-left">a</th>',
            '<td class="align-right">2</td>',
        ],
    ),
    (
        "# Title\n## Sub\n###### Six",
        ['<h3 class="md-h1">Title</h3>', '<h4 class="md-h2">Sub</h4>', '<h6 class="md-h6">Six</h6>'],
    ),
    ("line one\nline two", ["line one<br>\nline two"]),
    (
        "[docs](https://docs.example.org/a?b=1&c=2)",
        [
            '<a href="https://docs.example.org/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" '
            'target="_blank">docs</a>'
        ],
    ),
    ("[mail](mailto:someone@example.org)", ['href="mailto:someone@example.org"']),
    (
        "see https://example.org/page.",
        ['<a href="https://example.org/page" rel=', ">https://example.org/page</a>."],
    ),
    ("see www.example.org now", ['<a href="http://www.example.org" rel=']),
    ("wiki https://en.wikipedia.org/wiki/Foo_(bar) ok", ['href="https://en.wikipedia.org/wiki/Foo_(bar)"']),
    ("write to someone@example.org", ['<a href="mailto:someone@example.org"']),
    ("<https://auto.example.org>", ['<a href="https://auto.example.org" rel=']),
    ("hi @alice", ['<span class="mention mention-highlight" title="Alice Liddell">@alice</span>']),
    ("hi @Bob.Smith.", ['<span class="mention" title="bob.smith">@bob.smith</span>.']),
    ("hi @nobody", ["hi @nobody"]),
    ("@channel and @here", ['<span class="mention mention-highlight">@channel</span>']),
    ("mail a@alice.org", ['href="mailto:a@alice.org"']),
    ("go to ~town-square", ['<a class="channel-link" href="../town/1.html">~town-square</a>']),
    ("~unknown-channel", ["~unknown-channel"]),
    ("#release-2.0 notes", ['<a class="hashtag" href="../../search.html?q=%23release-2.0">#release-2.0</a>']),
    ("#ab and #1abc", ["#ab and #1abc"]),
    (":smile: :+1: :thumbsup:", ["😄", "👍"]),
    (":raised_hand_tone3: :raised_hand_medium_skin_tone:", ["✋🏽"]),
    (":shipit:", ['<img class="emoji custom-emoji" src="../../../emoji/e1.png" alt=":shipit:"']),
    (":lost: :notanemoji:", [":lost: :notanemoji:"]),
    ("`:smile:` stays", ["<code>:smile:</code> stays"]),
    ("\\:smile\\: escaped", [":smile: escaped"]),
    ("- [ ] todo\n- [x] done", ["<li>☐ todo</li>", "<li>☑ done</li>"]),
    (
        "https://chat.example.org/acme/pl/" + POST_ID,
        [f'<a class="permalink" href="../../../index.html?post={POST_ID}">'],
    ),
    ("[a](https://chat.example.org/acme/pl/" + POST_ID + ")", [f'href="../../../index.html?post={POST_ID}"']),
    (
        "![diagram](https://example.org/d.png)",
        [
            '<a class="md-image" href="https://example.org/d.png" rel="noopener noreferrer '
            'nofollow" target="_blank">🖼 diagram</a>'
        ],
    ),
    ("<b>bold?</b>", ["&lt;b&gt;bold?&lt;/b&gt;"]),
    ("plain text, with punctuation! and (parens).", ["<p>plain text, with punctuation! and (parens).</p>"]),
]


@pytest.mark.parametrize(
    ("source", "expected"), MARKDOWN_CORPUS, ids=[case[0][:30] for case in MARKDOWN_CORPUS]
)
def test_markdown_constructs(formatter: MessageFormatter, source: str, expected: list[str]) -> None:
    html = formatter.to_html(source)
    for fragment in expected:
        assert fragment in html, html
    assert fragment_problems(html) == []


def test_links_inside_link_text_are_not_nested(formatter: MessageFormatter) -> None:
    html = formatter.to_html("[see https://b.example.org @alice](https://a.example.org)")
    assert html.count("<a ") == 1
    assert "mention" not in html


def test_mentions_and_emoji_are_not_applied_in_code(formatter: MessageFormatter) -> None:
    html = formatter.to_html("```\n@alice :smile: #hashtag https://x.example.org\n```")
    assert "mention" not in html and "😄" not in html and "<a " not in html


def test_plain_fast_path_matches_markdown_it() -> None:
    context = MarkdownContext()
    fast = MessageFormatter(context)
    full = build_markdown()
    for text in (
        "Hello world",
        "two\nlines here",
        "It's done (mostly). Really! Yes",
        "Ünïcödé wörds ok",
        "a/b and c; d? e",
        "multi\n\nparagraph",
    ):
        assert fast.to_html(text) == full.render(text, {"context": context}), text


@pytest.mark.parametrize(
    "message", HOSTILE_MESSAGES, ids=[f"hostile-{index}" for index in range(len(HOSTILE_MESSAGES))]
)
def test_hostile_messages_render_inert(formatter: MessageFormatter, message: str) -> None:
    html = formatter.to_html(message)
    assert fragment_problems(html) == [], html
    assert "<script" not in html.lower()


OBFUSCATED_LINKS = [
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java&#x09;script:alert(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "jav\u0000ascript:x",
    "vbscript:x",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "file:///etc/passwd",
    "//evil.example.net/x",
    "/relative/path",
    "x-javascript:alert(1)",
    "\\\\evil\\share",
]


@pytest.mark.parametrize("target", OBFUSCATED_LINKS)
def test_only_http_and_mailto_links_survive(formatter: MessageFormatter, target: str) -> None:
    for source in (f"[x]({target})", f"<{target}>", f"![x]({target})", f"[x]: {target}\n\n[x]"):
        html = formatter.to_html(source)
        hrefs = [el.attrs.get("href", "") for el in parse(html).elements if el.tag == "a"]
        assert hrefs == [], (source, html)
        assert fragment_problems(html) == []


PATHOLOGICAL = [
    "[" * 20_000,
    "*" * 20_000,
    "_a" * 10_000,
    "`" * 20_000,
    "> " * 10_000,
    "- " * 10_000,
    "a\n" * 20_000,
    "[a](" * 5_000,
    "<" * 20_000,
    ":" * 20_000,
    "@" * 20_000,
    "https://x.org/" + "(" * 10_000,
    "|a" * 5_000 + "\n" + "|-" * 5_000,
    "\u202e" * 5_000 + "x",
    "e" + "\u0301" * 20_000,
]


@pytest.mark.parametrize(
    "message", PATHOLOGICAL, ids=[f"pathological-{index}" for index in range(len(PATHOLOGICAL))]
)
def test_pathological_input_is_fast_and_safe(formatter: MessageFormatter, message: str) -> None:
    started = time.monotonic()
    html = formatter.to_html(message)
    assert time.monotonic() - started < 3.0
    assert fragment_problems(html) == []


def test_hundred_kilobyte_message(formatter: MessageFormatter) -> None:
    message = ("Some **bold** text with `code`, @alice, :smile: and https://example.org/x?y=1 " * 2000)[
        :100_000
    ]
    started = time.monotonic()
    html = formatter.to_html(message)
    assert time.monotonic() - started < 5.0
    assert html.count("<strong>bold</strong>") > 1000
    assert fragment_problems(html) == []


def test_huge_code_block_is_escaped_without_colouring(formatter: MessageFormatter) -> None:
    code = "x = '<script>'\n" * 3000
    html = formatter.to_html(f"```python\n{code}```")
    assert "pg-" not in html and "&lt;script&gt;" in html


def test_rtl_and_combining_characters_pass_through(formatter: MessageFormatter) -> None:
    text = "שלום עולם — مرحبا e\u0301\u0302 \u202eevil"
    html = formatter.to_html(text)
    assert "שלום עולם" in html and "مرحبا" in html and "e\u0301\u0302" in html


def test_inline_html_renders_no_blocks(formatter: MessageFormatter) -> None:
    html = formatter.inline_html("# not a heading **but bold**")
    assert "<h1>" not in html and "<strong>but bold</strong>" in html


def test_emoji_table_covers_mattermost_names() -> None:
    table = system_emoji()
    assert len(table) > 5000
    assert emoji_text("+1") == emoji_text("thumbsup") == "👍"
    assert emoji_text("white_check_mark") == "✅"
    assert emoji_text("flag-de") == "🇩🇪"
    assert emoji_text("raised_hand_tone5") == "✋🏿"
    assert emoji_text("not_an_emoji") is None


def test_emoji_only_detection() -> None:
    assert is_emoji_only(":tada: :tada:")
    assert is_emoji_only("👍🏽 🎉")
    assert not is_emoji_only("ok 👍")
    assert not is_emoji_only(":unknown:")
    assert not is_emoji_only("")
