"""Renders an archive into the offline site and the plain formats, rewriting only what changed.

Change detection works at two levels. A conversation whose cheap aggregate fingerprint (post count,
update times, files, reactions, history, its own names) is unchanged is skipped without reading a
post. Otherwise one pass over the conversation's post skeleton (ids and times only) computes a
fingerprint per part, and only parts whose fingerprint changed are rendered again. Posts are read
one part at a time, so memory does not grow with the archive.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from importlib import resources
from pathlib import Path

from pygments.formatters import HtmlFormatter

from mmtakeout.render.clock import Clock
from mmtakeout.render.markdown import build_markdown
from mmtakeout.render.model import ArchiveReader, Post, ThreadInfo, User
from mmtakeout.render.naming import Conversation, describe, order_for_index
from mmtakeout.render.pages import (
    PartSummary,
    index_page,
    nav_script,
    part_page,
    search_page,
    thread_page,
)
from mmtakeout.render.search import ShardEntry, manifest_script, shard_name, shard_script
from mmtakeout.render.site import PageWriter, PostLinks, SiteData, e, json_for_script
from mmtakeout.render.state import PartRecord, RenderState
from mmtakeout.render.text import FORMAT_EXTENSIONS, ExportContext, write_conversation

RENDERER_VERSION = "1"
POSTS_PER_PART = 2000
FORMATS = ("html", *FORMAT_EXTENSIONS)
ASSET_FILES = ("viewer.css", "viewer.js", "theme.js", "search.js")


@dataclass
class RenderStats:
    """What a render did; `files_written` counts every file created or replaced."""

    conversations: int = 0
    conversations_rendered: int = 0
    parts_rendered: int = 0
    posts_rendered: int = 0
    files_written: int = 0
    files_removed: int = 0
    exports_written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        exports = ", ".join(f"{count} {fmt}" for fmt, count in sorted(self.exports_written.items()))
        return (
            f"{self.conversations} conversations, {self.conversations_rendered} re-rendered "
            f"({self.parts_rendered} pages, {self.posts_rendered} posts), {self.files_written} "
            "files written, "
            f"{self.files_removed} removed{f', exports: {exports}' if exports else ''} in "
            f"{self.seconds:.1f} s"
        )


class _Output:
    """Writes files atomically inside the archive folder and counts them."""

    def __init__(self, root: Path, stats: RenderStats) -> None:
        self.root = root
        self.stats = stats

    def write(self, relative: str, content: str) -> None:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(content, encoding="utf-8")
        os.replace(partial, target)
        self.stats.files_written += 1

    def write_if_changed(self, relative: str, content: str) -> None:
        target = self.root / relative
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            return
        self.write(relative, content)

    def remove(self, relative: str) -> None:
        target = self.root / relative
        if target.is_file():
            target.unlink()
            self.stats.files_removed += 1
        elif target.is_dir():
            shutil.rmtree(target)
            self.stats.files_removed += 1


def _digest(*parts: object) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(repr(part).encode("utf-8", "surrogatepass"))
        hasher.update(b"\x1f")
    return hasher.hexdigest()


def _user_digest(user: User) -> str:
    return _digest(
        user.username,
        user.first_name,
        user.last_name,
        user.nickname,
        user.is_bot,
        user.delete_at,
        user.avatar_path,
    )


def _style_rules(style: str, selector: str) -> str:
    formatter: HtmlFormatter[str] = HtmlFormatter(style=style, classprefix="pg-")
    return str(formatter.get_style_defs(selector))  # type: ignore[no-untyped-call]


def code_css() -> str:
    light = _style_rules("default", ".code-block")
    dark = _style_rules("monokai", ":root[data-theme=dark] .code-block")
    dark_auto = _style_rules("monokai", ":root:not([data-theme=light]) .code-block")
    return (
        f"/* Pygments colours for code blocks (light, then dark) */\n{light}\n"
        f"{dark}\n@media (prefers-color-scheme: dark) {{\n{dark_auto}\n}}\n"
        ".code-block .hll, .code-block pre { background: transparent; }\n"
    )


@dataclass
class _PartPlan:
    number: int
    start: tuple[int, str]
    count: int = 0
    first_at: int = 0
    last_at: int = 0
    hasher: hashlib.blake2b | None = None
    roots: list[str] = field(default_factory=list)


class _ConversationPass:
    """One pass over a conversation's skeleton: part boundaries, fingerprints, day index, locations."""

    def __init__(
        self,
        reader: ArchiveReader,
        conversation: Conversation,
        clock: Clock,
        base: str,
        user_digests: dict[str, str],
    ) -> None:
        self.reader = reader
        self.conversation = conversation
        self.clock = clock
        self.base = base
        self.user_digests = user_digests
        self.thread_infos = reader.thread_infos(conversation.id)
        self.details = reader.detail_states(conversation.id)
        self.parts: list[_PartPlan] = []
        self.days: list[tuple[str, int]] = []
        self._root_seen: dict[str, tuple[int, int, str]] = {}
        self._thread_hash: dict[str, hashlib.blake2b] = {}

    def locations(self) -> Iterator[tuple[str, int]]:
        day_end = -1
        current_day = ""
        for index, (post_id, root_id, user_id, create_at, update_at) in enumerate(
            self.reader.post_skeleton(self.conversation.id)
        ):
            number = index // POSTS_PER_PART + 1
            if not self.parts or self.parts[-1].number != number:
                self.parts.append(
                    _PartPlan(
                        number,
                        (create_at, post_id),
                        first_at=create_at,
                        hasher=hashlib.blake2b(digest_size=16),
                    )
                )
            part = self.parts[-1]
            part.count += 1
            part.last_at = create_at
            if create_at >= day_end:
                day = self.clock.day_key(create_at)
                if day != current_day:
                    current_day = day
                    self.days.append((day, number))
                moment = self.clock.at(create_at)
                day_end = (
                    int(moment.replace(hour=23, minute=59, second=59, microsecond=999999).timestamp() * 1000)
                    + 1
                )
            author = self.user_digests.get(user_id, "")
            detail = self.details.get(post_id, "")
            assert part.hasher is not None
            part.hasher.update(
                f"{post_id}|{update_at}|{author}|{detail}|{root_id}".encode("utf-8", "surrogatepass")
            )
            if root_id:
                seen = self._root_seen.get(root_id)
                part.hasher.update(repr(seen).encode())
                thread = self._thread_hash.get(root_id)
                if thread is not None:
                    thread.update(
                        f"{post_id}|{update_at}|{author}|{detail}|{number}".encode("utf-8", "surrogatepass")
                    )
            if post_id in self.thread_infos:
                self._root_seen[post_id] = (number, update_at, author)
                self._thread_hash[post_id] = hashlib.blake2b(digest_size=16)
                part.roots.append(post_id)
            yield post_id, number

    def fingerprints(self) -> dict[int, str]:
        result = {}
        last = len(self.parts)
        for part in self.parts:
            assert part.hasher is not None
            threads = [
                (root, self._thread_hash[root].hexdigest(), self.thread_infos[root]) for root in part.roots
            ]
            result[part.number] = _digest(self.base, part.hasher.hexdigest(), threads, part.number == last)
        return result


def _thread_groups(replies: Iterable[Post]) -> dict[str, list[Post]]:
    grouped: dict[str, list[Post]] = {}
    for reply in replies:
        grouped.setdefault(reply.root_id, []).append(reply)
    return grouped


class SiteRenderer:
    def __init__(
        self,
        reader: ArchiveReader,
        archive_dir: Path,
        state: RenderState,
        clock: Clock,
        stats: RenderStats,
        force: bool,
    ) -> None:
        self.reader = reader
        self.archive_dir = archive_dir
        self.state = state
        self.clock = clock
        self.stats = stats
        self.force = force
        self.out = _Output(archive_dir, stats)
        meta = reader.meta()
        self.users = reader.users()
        self.self_id = meta.get("user_id", "")
        self.server_url = meta.get("server_url", "").rstrip("/")
        teams = reader.teams()
        channels = reader.channels()
        self.conversations = [describe(channel, self.users, teams, self.self_id) for channel in channels]
        for conversation in self.conversations:
            summary = reader.channel_summary(conversation.id)
            conversation.post_count, conversation.first_at, conversation.last_at = summary
        by_name: dict[str, str] = {}
        for conversation in sorted(self.conversations, key=lambda conv: conv.channel.type not in ("O", "P")):
            if conversation.channel.type in ("O", "P"):
                by_name.setdefault(conversation.channel.name, conversation.id)
        owner = self.users.get(self.self_id)
        title = f"{owner.display_name} on {self.server_url}" if owner is not None else self.server_url
        self.data = SiteData(
            archive_dir=archive_dir,
            users=self.users,
            custom_emoji=reader.custom_emoji(),
            conversations={conv.id: conv for conv in self.conversations},
            self_id=self.self_id,
            server_url=self.server_url,
            clock=clock,
            channel_ids_by_name=by_name,
            archive_title=title,
        )
        self.meta = meta
        self.user_digests = {user_id: _user_digest(user) for user_id, user in self.users.items()}
        self.global_digest = self._global_digest()
        self.md = build_markdown()

    def _global_digest(self) -> str:
        users_changed = self.state.update_names("user", self.user_digests)
        channels_changed = self.state.update_names(
            "channel", {conv.id: _digest(conv.channel.name, conv.channel.type) for conv in self.conversations}
        )
        emoji = sorted(
            (emoji.name, emoji.id, emoji.path, emoji.deleted) for emoji in self.data.custom_emoji.values()
        )
        generation = int(self.state.get_meta("names_generation") or "0")
        if users_changed or channels_changed:
            generation += 1
            self.state.set_meta("names_generation", str(generation))
        return _digest(
            RENDERER_VERSION,
            POSTS_PER_PART,
            self.clock.zone_name,
            generation,
            emoji,
            self.server_url,
            self.self_id,
        )

    def _display_digest(self, conversation: Conversation) -> str:
        channel = conversation.channel
        partner = conversation.partner
        return _digest(
            conversation.title,
            conversation.kind,
            conversation.team.display_name if conversation.team else "",
            channel.header,
            channel.purpose,
            channel.delete_at,
            channel.is_favorite,
            [user.display_name for user in conversation.members],
            _user_digest(partner) if partner else "",
            conversation.directory,
        )

    # ----- whole site -----

    def render(self) -> None:
        self._write_assets()
        known = self.state.conversation_ids()
        dirty_buckets: set[str] = set()
        parts_count: dict[str, int] = {}
        for conversation in self.conversations:
            dirty_buckets |= self._render_conversation(conversation)
            saved = self.state.conversation(conversation.id)
            parts_count[conversation.id] = saved[2] if saved else 1
            self.state.commit()
        current = {conv.id for conv in self.conversations}
        for channel_id, directory in known.items():
            if channel_id not in current:
                dirty_buckets |= self.state.forget_conversation(channel_id)
                self.out.remove(f"site/c/{directory}")
                for entry in (self.archive_dir / "site" / "search").glob(f"{directory}-*.js"):
                    self.out.remove(entry.relative_to(self.archive_dir).as_posix())
        self._write_map(dirty_buckets)
        self._write_index(parts_count)
        self._write_search(parts_count)
        self.state.commit()

    def _write_assets(self) -> None:
        package = resources.files(__package__).joinpath("assets")
        for name in ASSET_FILES:
            self.out.write_if_changed(
                f"site/assets/{name}", package.joinpath(name).read_text(encoding="utf-8")
            )
        self.out.write_if_changed("site/assets/code.css", code_css())

    def _write_map(self, buckets: set[str]) -> None:
        dirs = {conv.id: conv.directory for conv in self.conversations}
        for bucket in sorted(buckets):
            entries = self.state.bucket_entries(bucket)
            relative = f"site/map/{bucket}.js"
            if not entries:
                self.out.remove(relative)
                continue
            table = {post_id: [dirs.get(channel_id, ""), part] for post_id, channel_id, part in entries}
            self.out.write(relative, f"MMT.mapChunk({json_for_script(bucket)},{json_for_script(table)});\n")

    def _write_index(self, parts_count: dict[str, int]) -> None:
        writer = PageWriter(self.data, "", "site/", self.md)
        owner = self.users.get(self.self_id)
        updated = int(self.meta.get("updated_at", "0") or 0)
        pieces = []
        if owner is not None:
            pieces.append(f"Archive of <bdi>{e(owner.display_name)}</bdi> (@<bdi>{e(owner.username)}</bdi>)")
        if self.server_url:
            pieces.append(f"from <bdi>{e(self.server_url)}</bdi>")
        if updated:
            pieces.append(f"last updated {e(self.clock.full(updated))}")
        total = sum(conv.post_count for conv in self.conversations)
        pieces.append(f"{len(self.conversations)} conversations, {total:,} messages")
        problems = ""
        if (self.archive_dir / "report.txt").is_file():
            problems = (
                '<p class="notice">Some items could not be fetched in the last run: see '
                '<a href="report.txt">report.txt</a>.</p>'
            )
        html = index_page(
            writer, order_for_index(self.conversations), parts_count, " · ".join(pieces), problems
        )
        self.out.write("index.html", html)

    def _write_search(self, parts_count: dict[str, int]) -> None:
        writer = PageWriter(self.data, "../", "", self.md)
        self.out.write_if_changed("site/search.html", search_page(writer))
        dirs = {conv.id: conv.directory for conv in self.conversations}
        shards = [
            ShardEntry(dirs[channel_id], record.part, record.post_count, record.first_at, record.last_at)
            for channel_id, record in self.state.all_parts()
            if channel_id in dirs
        ]
        self.out.write(
            "site/search/manifest.js",
            manifest_script(order_for_index(self.conversations), shards, self.users, self.clock.iana_name),
        )

    # ----- one conversation -----

    def conversation_fingerprint(self, conversation: Conversation) -> str:
        return _digest(
            self.global_digest,
            self._display_digest(conversation),
            self.reader.channel_fingerprint_facts(conversation.id),
        )

    def _render_conversation(self, conversation: Conversation) -> set[str]:
        fingerprint = self.conversation_fingerprint(conversation)
        saved = self.state.conversation(conversation.id)
        directory = f"site/c/{conversation.directory}"
        if (
            not self.force
            and saved is not None
            and saved[1] == fingerprint
            and (self.archive_dir / directory / f"{max(saved[2], 1)}.html").is_file()
        ):
            return set()
        self.stats.conversations_rendered += 1
        base = _digest(self.global_digest, self._display_digest(conversation))
        plan = _ConversationPass(self.reader, conversation, self.clock, base, self.user_digests)
        dirty = self.state.replace_locations(conversation.id, plan.locations())
        fingerprints = plan.fingerprints()
        previous = {} if self.force else self.state.parts(conversation.id)
        parts = plan.parts or [_PartPlan(1, (0, ""))]
        last = len(parts)
        for part in parts:
            old = previous.get(part.number)
            up_to_date = (
                old is not None
                and old.fingerprint == fingerprints.get(part.number)
                and (self.archive_dir / directory / f"{part.number}.html").is_file()
            )
            if not up_to_date:
                self._render_part(conversation, part, last, plan.thread_infos)
        self._remove_parts_beyond(conversation, last)
        labels = {
            part.number: (self.clock.short_date(part.first_at), self.clock.short_date(part.last_at))
            for part in parts
        }
        summaries = [PartSummary(part.number, part.count, part.first_at, part.last_at) for part in parts]
        self.out.write(f"{directory}/nav.js", nav_script(conversation, summaries, plan.days, labels))
        self.state.replace_parts(
            conversation.id,
            [
                PartRecord(
                    part.number, fingerprints.get(part.number, ""), part.count, part.first_at, part.last_at
                )
                for part in parts
            ],
        )
        self.state.save_conversation(conversation.id, conversation.directory, fingerprint, last)
        return dirty

    def _remove_parts_beyond(self, conversation: Conversation, last: int) -> None:
        """Pages, thread views and shards of parts that no longer exist (found on disk, not in state)."""
        directory = self.archive_dir / "site" / "c" / conversation.directory
        pattern = re.compile(r"t?(\d+)\.html")
        stale = [
            path
            for path in (directory.iterdir() if directory.is_dir() else [])
            if (match := pattern.fullmatch(path.name)) and int(match.group(1)) > last
        ]
        shards = re.compile(re.escape(conversation.directory) + r"-(\d+)\.js")
        search = self.archive_dir / "site" / "search"
        stale += [
            path
            for path in (search.iterdir() if search.is_dir() else [])
            if (match := shards.fullmatch(path.name)) and int(match.group(1)) > last
        ]
        for path in stale:
            self.out.remove(path.relative_to(self.archive_dir).as_posix())

    def _render_part(
        self, conversation: Conversation, part: _PartPlan, last: int, thread_infos: dict[str, ThreadInfo]
    ) -> None:
        posts = (
            list(self.reader.iter_posts(conversation.id, start=part.start, limit=POSTS_PER_PART))
            if part.count
            else []
        )
        writer = PageWriter(self.data, "../../../", "../../", self.md)
        here = {post.id: part.number for post in posts}
        root_ids = {post.root_id for post in posts if post.root_id}
        roots = self.reader.posts_by_id(root_ids - here.keys())
        roots.update({post.id: post for post in posts if post.id in root_ids})
        outside = {
            root_id: location[1]
            for root_id, location in self.state.locations(root_ids - here.keys()).items()
            if location[0] == conversation.id
        }
        links = PostLinks("p-", part.number, {**outside, **here}, thread_infos, roots)
        directory = f"site/c/{conversation.directory}"
        self.out.write(
            f"{directory}/{part.number}.html",
            part_page(writer, conversation, part.number, part.number == last, posts, links),
        )
        thread_roots = [post for post in posts if post.id in thread_infos and not post.root_id]
        replies = _thread_groups(self.reader.thread_posts([root.id for root in thread_roots]))
        reply_parts = {
            post_id: location[1]
            for post_id, location in self.state.locations(
                reply.id for group in replies.values() for reply in group
            ).items()
        }
        thread_links = PostLinks(
            "tp-", part.number, {**reply_parts, **here}, thread_infos, roots, in_thread_view=True
        )
        threads = [(root, replies.get(root.id, [])) for root in thread_roots]
        if threads:
            self.out.write(
                f"{directory}/t{part.number}.html",
                thread_page(writer, conversation, part.number, threads, thread_links),
            )
        else:
            self.out.remove(f"{directory}/t{part.number}.html")
        self.out.write(
            f"site/search/{shard_name(conversation.directory, part.number)}.js",
            shard_script(conversation.directory, part.number, posts),
        )
        self.stats.parts_rendered += 1
        self.stats.posts_rendered += len(posts)


def _render_exports(renderer: SiteRenderer, formats: Sequence[str], stats: RenderStats) -> None:
    context = ExportContext(users=renderer.users, clock=renderer.clock, server_url=renderer.server_url)
    for fmt in formats:
        extension = FORMAT_EXTENSIONS[fmt]
        written = 0
        previous = renderer.state.export_records(fmt)
        current = set()
        for conversation in renderer.conversations:
            current.add(conversation.id)
            relative = f"exports/{fmt}/{conversation.export_slug()}.{extension}"
            fingerprint = renderer.conversation_fingerprint(conversation)
            record = renderer.state.export_record(fmt, conversation.id)
            if (
                not renderer.force
                and record == (fingerprint, relative)
                and (renderer.archive_dir / relative).is_file()
            ):
                continue
            if record is not None and record[1] != relative:
                renderer.out.remove(record[1])
            target = renderer.archive_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            write_conversation(fmt, renderer.reader, conversation, context, target)
            renderer.state.save_export(fmt, conversation.id, fingerprint, relative)
            stats.files_written += 1
            written += 1
        for channel_id, relative in previous.items():
            if channel_id not in current:
                renderer.out.remove(relative)
                renderer.state.forget_export(fmt, channel_id)
        stats.exports_written[fmt] = written
        renderer.state.commit()


def render_archive(
    archive_dir: Path,
    *,
    formats: Sequence[str] = ("html",),
    force: bool = False,
    timezone: tzinfo | None = None,
) -> RenderStats:
    """Writes the offline viewer (`index.html`, `site/`) and/or plain exports (`exports/<format>/`).

    Only what changed since the last render is rewritten unless `force`. Raises `ArchiveError` when
    the folder is not a readable archive, `ValueError` for an unknown format.
    """
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    started = time.monotonic()
    stats = RenderStats()
    archive_dir = Path(archive_dir)
    with ArchiveReader(archive_dir) as reader:
        state = RenderState(archive_dir / "site" / ".render-state.sqlite")
        try:
            if force or state.get_meta("renderer_version") != RENDERER_VERSION:
                state.reset()
                state.set_meta("renderer_version", RENDERER_VERSION)
                force = True
            renderer = SiteRenderer(reader, archive_dir, state, Clock(timezone), stats, force)
            stats.conversations = len(renderer.conversations)
            if "html" in formats:
                renderer.render()
            plain = [fmt for fmt in dict.fromkeys(formats) if fmt != "html"]
            if plain:
                _render_exports(renderer, plain, stats)
        finally:
            state.close()
    stats.seconds = time.monotonic() - started
    return stats
