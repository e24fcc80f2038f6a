"""The archive in the variant of the Mattermost bulk format that Zulip's importer reads.

Zulip's `manage.py convert_mattermost_data DIR` (reference: formats-and-viewers.md §2.2) wants
`export.json` (the JSONL under another name) at the top of DIR, attachments under `data/`, custom
emoji where the emoji line's `image` points relative to DIR (`exported_emoji/<id>/image`), only the
line types it knows (no bot/role/scheme lines), every user with `teams[].channels[]` so they are
subscribed, and direct messages only from a single-team export — so everything goes into one team.
It runs each message through html2text, which would read Markdown as HTML (collapsing line breaks
and swallowing `<...>`), so texts are written HTML-escaped with explicit line breaks.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from mmtakeout.convert.mattermost_bulk import BulkProfile, write_bulk
from mmtakeout.convert.plan import ConvertOptions, PlanRules
from mmtakeout.convert.report import ConversionReport
from mmtakeout.convert.source import ArchiveSource

ZULIP_MESSAGE_LIMIT = 10000
SPLIT_AT = 8000
STREAM_NAME_MAX = 60

_LEADING_SPACE = re.compile(r"^[ \t]+", re.MULTILINE)


def _keep_indent(match: re.Match[str]) -> str:
    return match.group(0).replace("\t", "    ").replace(" ", "&nbsp;")


def html_safe_message(text: str) -> str:
    """Text that html2text turns back into the same lines: escaped markup, explicit breaks and indents."""
    escaped = html.escape(text, quote=False)
    escaped = _LEADING_SPACE.sub(_keep_indent, escaped)
    return escaped.replace("\r\n", "\n").replace("\n", "<br>\n")


ZULIP = BulkProfile(
    target="Zulip (import from Mattermost)",
    jsonl_name="export.json",
    max_message_runes=SPLIT_AT,
    emoji_image_field=lambda emoji_id: f"exported_emoji/{emoji_id}/image",
    emoji_zip_path=lambda emoji_id: f"exported_emoji/{emoji_id}/image",
    include_avatars=False,
    include_archived_flag=False,
    rules=PlanRules(
        single_team=True,
        display_name_max=STREAM_NAME_MAX,
        unique_display_names=True,
        default_team_name="mattermost",
    ),
    transform_message=html_safe_message,
)


def convert(source: ArchiveSource, destination: Path, options: ConvertOptions) -> ConversionReport:
    report = write_bulk(source, destination, options, ZULIP)
    report.note(
        "Zulip imports one organisation per team; this file has exactly one team, so direct and group "
        "messages are included (Zulip drops them from exports with several teams)."
    )
    report.note(
        "Zulip puts each channel's messages in one topic ('imported from mattermost'): replies follow "
        "their thread start without a visible link, and reactions with emoji names Zulip does not know "
        "are dropped by its importer."
    )
    return report
