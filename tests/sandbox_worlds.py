"""Hand-built sandbox worlds holding every case an export must get right, with the ids to check them by.

`scenario_world` gives one person ("me") two teams, public, private and archived channels, a direct
message with a friend, with themself, with a user deactivated later and with a bot, a group message,
threads, reactions, pins, an edited post, custom emoji, a burst of posts sharing one millisecond
across a page boundary, and attachments with hostile names. Tests compare archives against
`World`'s truth accessors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmtakeout.sandbox.world import Team, TeamMember, User, World

HOSTILE_FILE_NAMES = (
    "../../../../etc/passwd",
    "/absolute/path/evil.sh",
    "..\\..\\windows\\system32\\drivers\\etc\\hosts",
    "CON.txt",
    "NUL",
    "x" * 300 + ".txt",
    "duplicate.txt",
    "duplicate.txt",
    "nul\x00byte.png",
    "bell\x07and\ttab.jpg",
    "spaces and ünïcödé 😀.pdf",
    ".hidden",
    "archive.tar.gz",
)


@dataclass
class Scenario:
    world: World
    token: str
    me: str
    bob: str
    carol: str
    dave: str
    bot: str
    team_a: str
    team_b: str
    town: str
    private: str
    archived: str
    other_team: str
    dm_bob: str
    self_dm: str
    dm_dave: str
    dm_bot: str
    gm: str
    burst_time: int = 0
    thread_root: str = ""
    edited_post: str = ""
    hostile_post: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def channel_ids(self) -> list[str]:
        return [
            self.town,
            self.private,
            self.archived,
            self.other_team,
            self.dm_bob,
            self.self_dm,
            self.dm_dave,
            self.dm_bot,
            self.gm,
        ]


def _user(world: World, user_id: str, username: str, *, is_bot: bool = False) -> User:
    at = world.now()
    return world.add_user(
        User(
            user_id,
            username,
            f"{username}@example.org",
            username.title(),
            "Example",
            at,
            at,
            is_bot=is_bot,
            last_picture_update=at,
        )
    )


def scenario_world(*, seed: int = 5, town_posts: int = 450, burst: int = 260) -> Scenario:
    world = World(seed=seed)
    me = _user(world, "me" + "0" * 24, "me")
    world.primary_user_id = me.id
    bob = _user(world, "bob" + "0" * 23, "bob")
    carol = _user(world, "carol" + "0" * 21, "carol")
    dave = _user(world, "dave" + "0" * 22, "dave")
    bot = _user(world, "bot" + "0" * 23, "helper-bot", is_bot=True)
    teams = []
    for team_id, name in (("teama" + "0" * 21, "alpha"), ("teamb" + "0" * 21, "beta")):
        at = world.now()
        team = world.add_team(Team(team_id, name, name.title(), at, at))
        for user in (me, bob, carol, dave):
            world.add_team_member(TeamMember(team.id, user.id, at))
        teams.append(team)
    team_a, team_b = teams

    town = world.create_channel(team_a.id, "town-square", "Town Square", "O", me.id)
    private = world.create_channel(team_a.id, "secret", "Secret Plans", "P", me.id)
    archived = world.create_channel(team_a.id, "old-project", "Old Project", "O", me.id)
    other = world.create_channel(team_b.id, "beta-talk", "Beta Talk", "O", me.id)
    for channel in (town, private, archived, other):
        world.add_channel_member(channel.id, bob.id)
    world.add_channel_member(town.id, carol.id)
    not_mine = world.create_channel(team_a.id, "not-mine", "Not Mine", "O", bob.id)
    world.create_post(not_mine.id, bob.id, "you never joined this channel")

    emoji = world.create_emoji("partyparrot", bob.id)
    world.create_emoji("shipit", carol.id)

    scenario = Scenario(
        world=world,
        token="",
        me=me.id,
        bob=bob.id,
        carol=carol.id,
        dave=dave.id,
        bot=bot.id,
        team_a=team_a.id,
        team_b=team_b.id,
        town=town.id,
        private=private.id,
        archived=archived.id,
        other_team=other.id,
        dm_bob="",
        self_dm="",
        dm_dave="",
        dm_bot="",
        gm="",
    )
    half = town_posts // 2
    thread_root = ""
    for index in range(town_posts):
        author = (me.id, bob.id, carol.id)[index % 3]
        files = ("photo.png",) if index % 60 == 5 else ("notes.txt",) if index % 90 == 7 else ()
        post = world.create_post(town.id, author, f"town message {index} :{emoji.name}:", file_names=files)
        if index % 9 == 0:
            world.create_post(town.id, carol.id, f"reply to {index}", root_id=post.id)
        if index % 11 == 0:
            world.add_reaction(post.id, bob.id, "+1")
        if index == 10:
            thread_root = post.id
        if index == half:
            scenario.burst_time = world.now()
            for burst_index in range(burst):
                world.create_post(
                    town.id, bob.id, f"bulk import {burst_index}", create_at=scenario.burst_time
                )
    scenario.thread_root = thread_root
    pinned = world.create_post(town.id, me.id, "pinned announcement")
    world.set_pinned(pinned.id, True)
    edited = world.create_post(town.id, me.id, "first version")
    world.edit_post(edited.id, "second version")
    scenario.edited_post = edited.id
    world.create_post(
        town.id,
        me.id,
        "welcome",
        post_type="system_add_to_channel",
        props={"addedUserId": carol.id, "userId": me.id, "username": "me"},
    )
    world.create_post(town.id, me.id, "a post of a type from the future", post_type="burn_on_read")

    for index in range(30):
        world.create_post(private.id, (me.id, bob.id)[index % 2], f"secret {index}")
    for index in range(25):
        world.create_post(archived.id, bob.id, f"old project note {index}")
    world.archive_channel(archived.id)
    for index in range(12):
        world.create_post(other.id, bob.id, f"beta {index}")
    hostile = world.create_post(other.id, bob.id, "look at these files", file_names=HOSTILE_FILE_NAMES)
    scenario.hostile_post = hostile.id

    dm_bob = world.create_direct_channel(me.id, bob.id)
    self_dm = world.create_direct_channel(me.id, me.id)
    dm_dave = world.create_direct_channel(dave.id, me.id)
    dm_bot = world.create_direct_channel(me.id, bot.id)
    gm = world.create_group_channel([me.id, bob.id, carol.id])
    for index in range(15):
        world.create_post(dm_bob.id, (me.id, bob.id)[index % 2], f"dm {index}")
    world.create_post(self_dm.id, me.id, "note to self", file_names=("todo.txt",))
    world.create_post(dm_dave.id, dave.id, "I am leaving the company")
    world.create_post(dm_bot.id, bot.id, "Your build passed")
    world.create_post(gm.id, carol.id, "group hello")
    world.add_reaction(world.create_post(gm.id, bob.id, "group reply").id, me.id, "partyparrot")
    world.deactivate_user(dave.id)
    scenario.dm_bob, scenario.self_dm, scenario.dm_dave, scenario.dm_bot, scenario.gm = (
        dm_bob.id,
        self_dm.id,
        dm_dave.id,
        dm_bot.id,
        gm.id,
    )
    scenario.token = world.create_session(me.id)
    return scenario
