"""Which teams, conversations and people a conversion carries, under which names.

Every converter starts from the same plan: the conversations selected by the options, each mapped
to a target team and a name the target accepts, and every person referenced mapped to a valid,
unique username and an e-mail address. The naming rules are Mattermost's (the strictest of the
targets, and the ones Zulip's importer inherits); the plan is built in a sorted order so the same
archive always gives the same names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from mmtakeout.convert.names import (
    UniqueNames,
    clean_text,
    placeholder_email,
    slug,
    truncate_runes,
    usable_email,
)
from mmtakeout.convert.report import ConversionReport
from mmtakeout.convert.source import ArchiveSource, Channel, Team, User

ChannelKind = Literal["open", "private", "direct", "group"]
Selected = tuple[Channel, ChannelKind]

TEAM_NAME_MAX = 64
TEAM_DISPLAY_NAME_MAX = 64
TEAM_DESCRIPTION_MAX = 255
CHANNEL_NAME_MAX = 64
CHANNEL_DISPLAY_NAME_MAX = 64
CHANNEL_HEADER_MAX = 1024
CHANNEL_PURPOSE_MAX = 250
USERNAME_MAX = 64
USER_NAME_FIELD_MAX = 64
USER_POSITION_MAX = 128
GROUP_MIN_MEMBERS = 3
GROUP_MAX_MEMBERS = 8

RESERVED_TEAM_PREFIXES = (
    "admin",
    "api",
    "channel",
    "claim",
    "error",
    "files",
    "help",
    "landing",
    "login",
    "mfa",
    "oauth",
    "plug",
    "plugins",
    "post",
    "signup",
    "boards",
    "playbooks",
)
RESTRICTED_USERNAMES = frozenset({"all", "channel", "matterbot", "system"})

_TEAM_NAME = re.compile(r"^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$")
_CHANNEL_NAME = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")
_USERNAME = re.compile(r"^[a-z0-9.\-_]+$")
_GROUP_NAME = re.compile(r"^[a-f0-9]{40}$")
_ID = re.compile(r"^[a-z0-9]{26}$")


class PlanError(ValueError):
    """The options cannot be honoured (e.g. an invalid target team name)."""


def is_valid_team_name(name: str) -> bool:
    lowered = name.lower()
    return (
        2 <= len(lowered) <= TEAM_NAME_MAX
        and bool(_TEAM_NAME.match(lowered))
        and not lowered.startswith(RESERVED_TEAM_PREFIXES)
    )


def is_valid_channel_name(name: str) -> bool:
    lowered = name.lower()
    if not 1 <= len(lowered) <= CHANNEL_NAME_MAX or not _CHANNEL_NAME.match(lowered):
        return False
    if _GROUP_NAME.match(lowered):
        return False
    parts = lowered.split("__")
    return not (len(parts) == 2 and all(_ID.match(part) for part in parts))


def is_valid_username(name: str) -> bool:
    lowered = name.lower()
    return (
        1 <= len(lowered) <= USERNAME_MAX
        and bool(_USERNAME.match(lowered))
        and lowered not in RESTRICTED_USERNAMES
    )


@dataclass(frozen=True)
class ConvertOptions:
    team: str | None = None
    direct_only: bool = False


@dataclass(frozen=True)
class PlannedTeam:
    name: str
    display_name: str
    type: str
    description: str


@dataclass(frozen=True)
class PlannedUser:
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    nickname: str
    position: str
    is_bot: bool
    delete_at: int
    avatar_path: str | None

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True)
class PlannedChannel:
    source: Channel
    kind: ChannelKind
    team: str
    name: str
    display_name: str
    header: str
    purpose: str
    member_ids: tuple[str, ...]
    is_self_dm: bool = False

    @property
    def id(self) -> str:
        return self.source.id


@dataclass
class Plan:
    owner_id: str
    server_url: str
    created_at: int
    teams: list[PlannedTeam]
    channels: list[PlannedChannel]
    users: dict[str, PlannedUser]
    user_teams: dict[str, list[str]] = field(default_factory=dict)

    def username(self, user_id: str) -> str:
        return self.users[user_id].username

    def conversations(self, *kinds: ChannelKind) -> list[PlannedChannel]:
        return [channel for channel in self.channels if channel.kind in kinds]


@dataclass(frozen=True)
class PlanRules:
    """Target knobs on top of Mattermost's naming rules."""

    single_team: bool = False
    display_name_max: int = CHANNEL_DISPLAY_NAME_MAX
    unique_display_names: bool = False
    default_team_name: str = "imported"


def validate_team_option(name: str) -> str:
    if not is_valid_team_name(name):
        raise PlanError(
            f"--team {name!r} is not a valid team name: use 2-64 lowercase letters, digits and hyphens, "
            f"not starting with a reserved word ({', '.join(RESERVED_TEAM_PREFIXES)})."
        )
    return name.lower()


def _clean_field(value: str, limit: int, report: ConversionReport, what: str) -> str:
    value, had_nul = clean_text(value)
    if had_nul:
        report.add("control_characters", what)
    value, cut = truncate_runes(value, limit)
    if cut:
        report.add("truncated_field", what)
    return value


def _team_name_for(team: Team, names: UniqueNames, report: ConversionReport) -> str:
    wanted = team.name.lower()
    if not is_valid_team_name(wanted):
        wanted = slug(team.name, "a-z0-9-")
        if not is_valid_team_name(wanted):
            wanted = f"team-{wanted}".strip("-") if wanted else f"team-{team.id[:8]}"
        if not is_valid_team_name(wanted):
            wanted = f"team-{team.id[:8]}"
    name = names.claim(wanted)
    if name != team.name:
        report.add("renamed_team", f"{team.name} -> {name}")
    return name


def _plan_teams(
    source_teams: list[Team],
    used_team_ids: set[str],
    options: ConvertOptions,
    rules: PlanRules,
    report: ConversionReport,
) -> tuple[list[PlannedTeam], dict[str, str]]:
    """The target teams and, for every archive team id, the target team name."""
    involved = [team for team in source_teams if team.id in used_team_ids]
    forced = validate_team_option(options.team) if options.team else None
    if forced is None and rules.single_team:
        candidates = involved or source_teams
        if candidates:
            forced = _team_name_for(candidates[0], UniqueNames(TEAM_NAME_MAX), report)
        else:
            forced = rules.default_team_name
    if forced is not None:
        if len(involved) > 1:
            report.add(
                "teams_merged", ", ".join(team.name for team in involved) + f" -> {forced}", len(involved)
            )
        single = involved[0] if len(involved) == 1 else None
        display = single.display_name if single else forced
        planned = PlannedTeam(
            name=forced,
            display_name=_clean_field(display or forced, TEAM_DISPLAY_NAME_MAX, report, f"team {forced}")
            or forced,
            type=single.type if single and single.type in ("O", "I") else "I",
            description=_clean_field(
                single.description if single else "", TEAM_DESCRIPTION_MAX, report, forced
            ),
        )
        return [planned], {team.id: forced for team in source_teams}
    names = UniqueNames(TEAM_NAME_MAX)
    mapping: dict[str, str] = {}
    planned_teams = []
    for team in involved:
        name = _team_name_for(team, names, report)
        mapping[team.id] = name
        planned_teams.append(
            PlannedTeam(
                name=name,
                display_name=_clean_field(team.display_name or name, TEAM_DISPLAY_NAME_MAX, report, name)
                or name,
                type=team.type if team.type in ("O", "I") else "I",
                description=_clean_field(team.description, TEAM_DESCRIPTION_MAX, report, name),
            )
        )
    return planned_teams, mapping


def _plan_users(needed: set[str], users: dict[str, User], report: ConversionReport) -> dict[str, PlannedUser]:
    names = UniqueNames(USERNAME_MAX, taken=set(RESTRICTED_USERNAMES))
    emails: set[str] = set()
    planned: dict[str, PlannedUser] = {}
    known = sorted((users[uid] for uid in needed if uid in users), key=lambda u: (u.username.lower(), u.id))
    for user in known:
        wanted = user.username.lower()
        if not is_valid_username(wanted):
            wanted = slug(user.username, "a-z0-9._-") or f"user-{user.id[:8]}"
            if wanted in RESTRICTED_USERNAMES:
                wanted = f"{wanted}-user"
        username = names.claim(wanted)
        if username != user.username.lower():
            report.add("renamed_user", f"{user.username} -> {username}")
        email = usable_email(user.email)
        if email is None or email in emails:
            email = placeholder_email(username)
            report.add("placeholder_email", username)
        emails.add(email)
        if user.is_bot:
            report.add("bot_as_user", username)
        planned[user.id] = PlannedUser(
            id=user.id,
            username=username,
            email=email,
            first_name=_clean_field(
                user.first_name, USER_NAME_FIELD_MAX, report, f"first name of {username}"
            ),
            last_name=_clean_field(user.last_name, USER_NAME_FIELD_MAX, report, f"last name of {username}"),
            nickname=_clean_field(user.nickname, USER_NAME_FIELD_MAX, report, f"nickname of {username}"),
            position=_clean_field(user.position, USER_POSITION_MAX, report, f"position of {username}"),
            is_bot=user.is_bot,
            delete_at=user.delete_at,
            avatar_path=user.avatar_path,
        )
    for user_id in sorted(uid for uid in needed if uid not in users):
        username = names.claim(f"unknown-{slug(user_id, 'a-z0-9')[:8] or 'user'}")
        report.add("unknown_user", f"{user_id} -> {username}")
        planned[user_id] = PlannedUser(
            id=user_id,
            username=username,
            email=placeholder_email(username),
            first_name="",
            last_name="",
            nickname="",
            position="",
            is_bot=False,
            delete_at=0,
            avatar_path=None,
        )
    return planned


def _direct_members(channel: Channel, known_members: set[str]) -> tuple[list[str], bool]:
    """The two members of a DM from its name (`a__b`), falling back to what the archive lists."""
    parts = channel.name.split("__")
    if len(parts) == 2 and all(parts):
        return [parts[0], parts[1]], parts[0] == parts[1]
    members = sorted(known_members)
    if len(members) == 1:
        return [members[0], members[0]], True
    return (members, False) if len(members) == 2 else ([], False)


def _claim(names: UniqueNames, wanted: str, alternative: str | None) -> str:
    """`wanted` if free, else `alternative` (e.g. prefixed with the old team) if free, else numbered."""
    if names.is_taken(wanted) and alternative and not names.is_taken(alternative[: names.max_length]):
        return names.claim(alternative)
    return names.claim(wanted)


def _channel_label(channel: Channel) -> str:
    return channel.display_name or channel.name or channel.id


def _select(channels: list[Channel], options: ConvertOptions, report: ConversionReport) -> list[Selected]:
    """The conversations the options ask for, in the archive's (team, name) order."""
    selected: list[Selected] = []
    skipped_for_option = 0
    for channel in channels:
        if channel.type in ("D", "G"):
            selected.append((channel, "direct" if channel.type == "D" else "group"))
        elif channel.type in ("O", "P"):
            if options.direct_only:
                skipped_for_option += 1
                continue
            selected.append((channel, "open" if channel.type == "O" else "private"))
        else:
            report.add("skipped_channel_type", f"{_channel_label(channel)} (type {channel.type})")
    if skipped_for_option:
        report.note(f"--direct-only: {skipped_for_option} team channels were not included, as asked.")
    return selected


@dataclass
class _Membership:
    members_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    self_dms: set[str] = field(default_factory=set)
    odd_groups: set[str] = field(default_factory=set)


def _memberships(
    selected: list[Selected], known: dict[str, set[str]], owner_id: str, report: ConversionReport
) -> _Membership:
    """Who is in each conversation; DMs whose members are unknown are left out (and reported)."""
    result = _Membership()
    for channel, kind in selected:
        members = set(known.get(channel.id, set()))
        if kind == "direct":
            pair, is_self = _direct_members(channel, members)
            if not pair:
                report.add("unknown_members", _channel_label(channel))
                continue
            if is_self:
                result.self_dms.add(channel.id)
            result.members_of[channel.id] = tuple(pair)
        elif kind == "group":
            result.members_of[channel.id] = tuple(sorted(members))
            if not GROUP_MIN_MEMBERS <= len(members) <= GROUP_MAX_MEMBERS:
                result.odd_groups.add(channel.id)
        else:
            result.members_of[channel.id] = tuple(sorted(members | ({owner_id} if owner_id else set())))
    return result


def _with_stand_in_teams(teams: list[Team], used_team_ids: set[str], report: ConversionReport) -> list[Team]:
    """The archive's teams plus a stand-in for every team its channels name but its team list lacks."""
    known = {team.id for team in teams}
    stand_ins = []
    for team_id in sorted(used_team_ids - known):
        name = f"team-{slug(team_id, 'a-z0-9')[:8] or 'unknown'}"
        stand_ins.append(
            Team(id=team_id, name=name, display_name=name, type="I", description="", delete_at=0)
        )
        report.add("unknown_team", f"{team_id} -> {name}")
    return teams + stand_ins


@dataclass
class _ChannelNamer:
    """Names team channels uniquely per target team, preferring the archive's names."""

    rules: PlanRules
    report: ConversionReport
    source_team_names: dict[str, str]
    names: dict[str, UniqueNames] = field(default_factory=dict)
    display_names: dict[str, UniqueNames] = field(default_factory=dict)

    def name(self, channel: Channel, team: str, member_names: list[str]) -> str:
        wanted = channel.name.lower()
        if channel.type == "G":
            wanted = ("group-" + slug("-".join(sorted(member_names)), "a-z0-9_-"))[:CHANNEL_NAME_MAX].strip(
                "-_"
            )
        elif not is_valid_channel_name(wanted):
            wanted = slug(channel.display_name or channel.name, "a-z0-9_-")[:CHANNEL_NAME_MAX] or "channel"
            if not is_valid_channel_name(wanted):
                wanted = f"channel-{channel.id[:8]}"
        source_team = self.source_team_names.get(channel.team_id, "")
        prefixed = f"{slug(source_team, 'a-z0-9-')}-{wanted}" if source_team else None
        name = _claim(self.names.setdefault(team, UniqueNames(CHANNEL_NAME_MAX)), wanted, prefixed)
        if name != channel.name:
            self.report.add("renamed_channel", f"{channel.name} -> {name}")
        return name

    def display_name(self, channel: Channel, team: str, label: str, name: str) -> str:
        display = (
            _clean_field(label, self.rules.display_name_max, self.report, f"display name of {name}") or name
        )
        if not self.rules.unique_display_names:
            return display
        source_team = self.source_team_names.get(channel.team_id, "")
        unique = self.display_names.setdefault(team, UniqueNames(self.rules.display_name_max))
        unique_display = _claim(unique, display, f"{display} ({source_team})" if source_team else None)
        if unique_display != display:
            self.report.add("renamed_channel", f"{display} -> {unique_display}")
        return unique_display


def build_plan(
    source: ArchiveSource, options: ConvertOptions, rules: PlanRules, report: ConversionReport
) -> Plan:
    meta = source.meta()
    owner_id = meta.get("user_id", "")
    selected = _select(source.channels(), options, report)
    membership = _memberships(selected, source.channel_members(), owner_id, report)
    used_team_ids = {channel.team_id for channel, kind in selected if kind in ("open", "private")}
    source_teams = _with_stand_in_teams(source.teams(), used_team_ids, report)
    teams, team_of = _plan_teams(source_teams, used_team_ids, options, rules, report)
    fallback_team = teams[0].name if teams else None
    needed = {uid for members in membership.members_of.values() for uid in members if uid}
    users = _plan_users(needed | ({owner_id} if owner_id else set()), source.users(), report)
    namer = _ChannelNamer(rules, report, {team.id: team.name for team in source_teams})
    planned: list[PlannedChannel] = []
    for channel, kind in selected:
        member_ids = membership.members_of.get(channel.id)
        if member_ids is None:
            continue
        member_names = [users[uid].username for uid in member_ids]
        label = (
            ", ".join(sorted(set(member_names))) if kind in ("direct", "group") else _channel_label(channel)
        )
        team = team_of[channel.team_id] if kind in ("open", "private") else ""
        if channel.id in membership.odd_groups:
            if fallback_team is None:
                report.add("skipped_group", f"{label} ({len(member_ids)} members)")
                continue
            report.add("group_as_channel", f"{label} ({len(member_ids)} members)")
            kind, team = "private", fallback_team
        if kind in ("open", "private"):
            name = namer.name(channel, team, member_names)
            display = namer.display_name(channel, team, label, name)
        else:
            name, display = channel.name, label
        planned.append(
            PlannedChannel(
                source=channel,
                kind=kind,
                team=team,
                name=name,
                display_name=display,
                header=_clean_field(channel.header, CHANNEL_HEADER_MAX, report, f"header of {label}"),
                purpose=_clean_field(channel.purpose, CHANNEL_PURPOSE_MAX, report, f"purpose of {label}"),
                member_ids=member_ids,
                is_self_dm=channel.id in membership.self_dms,
            )
        )
    planned.sort(key=lambda c: (c.kind in ("direct", "group"), c.team, c.name, c.id))
    plan = Plan(
        owner_id=owner_id,
        server_url=meta.get("server_url", ""),
        created_at=_meta_time(meta),
        teams=sorted(teams, key=lambda team: team.name),
        channels=planned,
        users=users,
    )
    plan.user_teams = _user_teams(plan, rules, options)
    return plan


def _meta_time(meta: dict[str, str]) -> int:
    for key in ("updated_at", "created_at"):
        value = meta.get(key, "")
        if value.isdigit():
            return int(value)
    return 0


def _user_teams(plan: Plan, rules: PlanRules, options: ConvertOptions) -> dict[str, list[str]]:
    """Teams each user joins: where they take part, or every planned team when all were merged into one."""
    everyone_everywhere = rules.single_team or options.team is not None
    teams_of: dict[str, set[str]] = {user_id: set() for user_id in plan.users}
    if everyone_everywhere:
        for user_id in teams_of:
            teams_of[user_id] = {team.name for team in plan.teams}
    for channel in plan.conversations("open", "private"):
        for user_id in channel.member_ids:
            if user_id in teams_of:
                teams_of[user_id].add(channel.team)
    return {user_id: sorted(teams) for user_id, teams in teams_of.items()}
