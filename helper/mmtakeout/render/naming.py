"""How conversations are named, grouped and ordered, and the safe names of their output files.

Direct messages have no display name on the server: they are named after the other person (the
self-DM after the owner, as a note to self), group messages after their members (Mattermost pitfalls
§9.14-15). File and folder names come from ids and sanitised names, never from raw server strings.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmtakeout.render.model import Channel, Team, User, unknown_user

_SERVER_ID = re.compile(r"[a-z0-9]{26}")
KIND_LABELS = {
    "public": "Public channel",
    "private": "Private channel",
    "direct": "Direct message",
    "self": "Notes to self",
    "group": "Group message",
    "other": "Conversation",
}


def safe_id(server_id: str) -> str:
    """A server id usable as a file name: itself when well-formed, else a hash of it."""
    if _SERVER_ID.fullmatch(server_id):
        return server_id
    return "x" + hashlib.sha256(server_id.encode("utf-8", "surrogatepass")).hexdigest()[:25]


def slugify(text: str, limit: int = 48) -> str:
    """Lowercase ASCII words joined by '-', for human-friendly file names."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    words = re.findall(r"[a-z0-9]+", folded)
    slug = "-".join(words)[:limit].strip("-")
    return slug or "conversation"


@dataclass(slots=True)
class Conversation:
    channel: Channel
    directory: str
    title: str
    kind: str
    team: Team | None
    members: list[User]
    partner: User | None
    post_count: int = 0
    first_at: int = 0
    last_at: int = 0

    @property
    def id(self) -> str:
        return self.channel.id

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, KIND_LABELS["other"])

    @property
    def last_activity(self) -> int:
        return max(self.last_at, self.channel.last_post_at)

    def export_slug(self) -> str:
        prefix = {"direct": "dm", "self": "dm", "group": "gm"}.get(self.kind, "")
        team = (
            self.team.name if self.team is not None and self.kind not in ("direct", "self", "group") else ""
        )
        words = " ".join(part for part in (prefix, team, self.title) if part)
        return f"{slugify(words)}-{self.directory[:8]}"


def _kind_of(channel: Channel) -> str:
    return {"O": "public", "P": "private", "D": "direct", "G": "group"}.get(channel.type, "other")


def _dm_partner_id(channel: Channel, self_id: str) -> str | None:
    ids = [part for part in channel.name.split("__") if part] if "__" in channel.name else []
    if len(ids) != 2:
        ids = list(channel.member_ids)
    others = [user_id for user_id in ids if user_id != self_id]
    if not others:
        return self_id if self_id in ids else None
    return others[0]


def describe(
    channel: Channel, users: Mapping[str, User], teams: Mapping[str, Team], self_id: str
) -> Conversation:
    kind = _kind_of(channel)
    team = teams.get(channel.team_id)
    members = [users.get(user_id) or unknown_user(user_id) for user_id in channel.member_ids]
    partner: User | None = None
    if kind == "direct":
        partner_id = _dm_partner_id(channel, self_id)
        if partner_id is not None and partner_id == self_id:
            kind = "self"
        partner = users.get(partner_id or "") or unknown_user(partner_id or "")
        title = f"{partner.display_name} (you)" if kind == "self" else partner.display_name
    elif kind == "group":
        others = [user for user in members if user.id != self_id]
        names = sorted((user.display_name for user in others), key=str.lower)
        title = ", ".join(names) or channel.display_name.strip() or channel.name or channel.id
    else:
        title = channel.display_name.strip() or channel.name.strip() or channel.id
    return Conversation(
        channel=channel,
        directory=safe_id(channel.id),
        title=title,
        kind=kind,
        team=team,
        members=members,
        partner=partner,
    )


def order_for_index(conversations: Sequence[Conversation]) -> list[Conversation]:
    """Favourites first, then most recent activity first; names break ties."""
    return sorted(
        conversations,
        key=lambda conv: (not conv.channel.is_favorite, -conv.last_activity, conv.title.lower(), conv.id),
    )
