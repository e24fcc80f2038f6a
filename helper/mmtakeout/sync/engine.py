"""The export engine: brings an archive folder up to date with everything the user can see.

One function, `export_archive`, does the first export and every later update; the archive's
`sync_channels` rows decide which. Per channel:

* History walk (first time, or when an update cannot be trusted): one plain page finds the newest
  post, the *anchor*; then `before=ANCHOR&page=k&per_page=200` pages are fetched, several at once,
  until a short page. A fixed anchor is not moved by posts arriving meanwhile, and offsets never
  skip posts that share a millisecond (strict `before`/`after` cursors do). The contiguous prefix of
  saved pages is committed with each page (`backfill_page`), so a killed run resumes where it was.
* Reconciliation: `since=<walk start - margin>` returns everything created, edited or deleted
  while the walk ran (the start is read on the server's clock, from its `Date` headers). A post
  deleted during the walk may have shifted the offsets under it and hidden one post at a later page
  boundary; those boundaries are fetched again with a small window.
* Update (history complete): `since=<cursor>` (one request when nothing changed). 1000 results mean
  the server cut the list short, so the channel is walked again.

Files, avatars and emoji are streamed to temporary names and renamed once complete; their sha256 is
recorded. Items that fail after the client's retries become `Problem`s and the run goes on; an
invalid or expired token (`AuthenticationError`) or a full disk stops it, leaving a consistent,
resumable archive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mmtakeout import __version__
from mmtakeout.api.client import DownloadResult, MattermostClient
from mmtakeout.api.errors import (
    AuthenticationError,
    BadRequest,
    FeatureDisabled,
    FileTooLarge,
    MattermostError,
    NotFound,
    PermissionDenied,
    TransportError,
)
from mmtakeout.api.models import CHANNEL_DIRECT, CHANNEL_GROUP, Channel, Post, PostList
from mmtakeout.archive import paths
from mmtakeout.archive.errors import DiskFullError, is_disk_full
from mmtakeout.archive.folder import export_lock, tidy_folder, write_report
from mmtakeout.archive.store import ArchiveStore, FileRow, PostBatchOutcome, SyncState, now_ms
from mmtakeout.sync.options import ExportOptions, ExportResult, Problem, RunStatus
from mmtakeout.sync.progress import ProgressSnapshot, ProgressTracker

log = logging.getLogger(__name__)

PAGE_SIZE = 200
SINCE_CAP = 1000
"""`since` returns at most this many posts; a full answer means it was cut short."""
CURSOR_MARGIN_MS = 60_000
"""Subtracted from the newest `update_at` seen: posts committed late with an older time are still found."""
RECONCILE_MARGIN_MS = 5 * 60_000
"""Subtracted from the walk's start (the server's clock) for the reconciliation: allows for commit delays."""
USERS_PER_REQUEST = 200
POSTS_PER_IDS_REQUEST = 200
MAX_TIE_PAGES = 10
"""How many extra pages one same-millisecond group may need before the walk gives up healing it."""
PAGES_HELD_PER_SLOT = 2
"""Pages all walks together may hold in memory (requested, or waiting for the writer), per request slot."""
SAVES_AHEAD_PER_WALK = 4
"""Pages a walk may have with the writer while it reads on."""
MAX_WALKS_PER_RUN = 2
GROUP_COMMIT_S = 0.5
"""Finished pages are committed together at most this often: one commit per page costs more than the page."""

T = TypeVar("T")


class _RestartWalk(Exception):
    """The walk's anchor vanished or `since` was cut short: walk the channel again."""


@dataclass
class _PageEdges:
    """What the tie check needs to remember about one page of the walk."""

    newest_at: int
    oldest_at: int
    first_older_id: str | None
    newest_group: int
    """How many posts at the top of the page share `newest_at` (and at the bottom, `oldest_at`)."""
    oldest_group: int


@dataclass
class _RunCounters:
    posts_new: int = 0
    posts_changed: int = 0
    history_rows: int = 0
    files_saved: int = 0
    bytes_saved: int = 0
    avatars_saved: int = 0
    emoji_saved: int = 0
    users_saved: int = 0
    channels_synced: int = 0
    channel_walks: int = 0
    heal_requests: int = 0


async def export_archive(
    server_url: str,
    token: str,
    out_dir: Path,
    options: ExportOptions,
    progress: Callable[[ProgressSnapshot], None] | None = None,
    cancel: asyncio.Event | None = None,
) -> ExportResult:
    """Export (or update) the archive in `out_dir`. Raises `AuthenticationError` for an invalid or
    expired token and `DiskFullError` when the disk fills up; the archive stays consistent either way."""
    out_dir = Path(out_dir)
    client = MattermostClient(server_url, token, concurrency=options.concurrency)
    try:
        with export_lock(out_dir):
            return await _export_locked(client, out_dir, options, progress, cancel)
    except OSError as error:
        if is_disk_full(error) and not isinstance(error, DiskFullError):
            raise DiskFullError(out_dir) from error
        raise


async def _export_locked(
    client: MattermostClient,
    out_dir: Path,
    options: ExportOptions,
    progress: Callable[[ProgressSnapshot], None] | None,
    cancel: asyncio.Event | None,
) -> ExportResult:
    started = time.monotonic()
    store = ArchiveStore.open(out_dir)
    store.group_commit(GROUP_COMMIT_S)
    exporter: _Exporter | None = None
    committer = asyncio.ensure_future(_keep_committing(store))
    try:
        tracker = ProgressTracker(progress, include_files=options.include_files)
        async with client:
            exporter = _Exporter(client, store, options, tracker)
            status = await _run_cancellable(exporter.run(), cancel)
            exporter.finish(status, started)
        tracker.set_phase("done")
        return ExportResult(
            status="incomplete" if status == "complete" and exporter.problems else status,
            archive_dir=out_dir,
            stats=exporter.stats(),
            problems=list(exporter.problems.values()),
            elapsed_s=time.monotonic() - started,
        )
    except BaseException as error:
        if exporter is not None:
            exporter.abandon(error)
        if is_disk_full(error) and not isinstance(error, DiskFullError):
            raise DiskFullError(out_dir) from error
        raise
    finally:
        committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await committer
        if exporter is not None:
            exporter.close()
        store.close()


async def _keep_committing(store: ArchiveStore) -> None:
    """Finished work becomes durable within GROUP_COMMIT_S even while the export waits on the network."""
    while True:
        await asyncio.sleep(GROUP_COMMIT_S)
        store.flush_if_due()


async def _run_cancellable(work: Awaitable[None], cancel: asyncio.Event | None) -> RunStatus:
    task = asyncio.ensure_future(work)
    if cancel is None:
        await task
        return "complete"
    watcher = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not watcher.done():
            watcher.cancel()
    if task in done:
        task.result()
        return "complete"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return "cancelled"


class _StoredPages:
    """Which pages of one walk the archive holds. Used on the writer thread only, where saves commit
    in order: `prefix` is the first page not stored, the value `backfill_page` may safely name."""

    def __init__(self, first_page: int) -> None:
        self.prefix = first_page
        self._stored: set[int] = set()

    def prefix_with(self, page: int) -> int:
        """What `prefix` becomes once `page` is stored too."""
        upto = self.prefix
        while upto == page or upto in self._stored:
            upto += 1
        return upto

    def record(self, page: int, prefix: int) -> None:
        self._stored.add(page)
        self.prefix = prefix


def _unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception that matters most in a task group's failure."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    for kind in (AuthenticationError, DiskFullError, KeyboardInterrupt):
        for error in leaves:
            if isinstance(error, kind) or (kind is DiskFullError and is_disk_full(error)):
                return error
    return leaves[0]


async def _gather_all(tasks: Iterable[Awaitable[None]]) -> None:
    """Run tasks together; the first fatal error cancels the rest and is raised on its own."""
    try:
        async with asyncio.TaskGroup() as group:
            for task in tasks:
                group.create_task(_as_coroutine(task))
    except BaseExceptionGroup as failure:
        raise _unwrap(failure) from None


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _page_raws(page: PostList) -> list[dict[str, Any]]:
    return [post.raw for post in page.posts.values()]


def _edges(page: PostList) -> _PageEdges | None:
    ordered = page.ordered_posts()
    if not ordered:
        return None
    newest_at, oldest_at = ordered[0].create_at, ordered[-1].create_at
    first_older = next((p.id for p in ordered if p.create_at < newest_at), None)
    newest_group = sum(1 for p in ordered if p.create_at == newest_at)
    oldest_group = sum(1 for p in ordered if p.create_at == oldest_at)
    return _PageEdges(newest_at, oldest_at, first_older, newest_group, oldest_group)


def _heal_window(deletions: int) -> int | None:
    """The smallest page size dividing PAGE_SIZE that covers `deletions` shifted positions."""
    for size in (1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 200):
        if size >= deletions:
            return size
    return None


class _Exporter:
    def __init__(
        self, client: MattermostClient, store: ArchiveStore, options: ExportOptions, tracker: ProgressTracker
    ) -> None:
        self.client = client
        self.server_url = client.server_url
        self.store = store
        self.options = options
        self.tracker = tracker
        self.problems: dict[tuple[str, str], Problem] = {}
        self.counters = _RunCounters()
        self.run_id = 0
        self.run_started_ms = now_ms()
        self._open_problems = {(p.kind, p.item_id) for p in store.problems()}
        self._writer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="mmtakeout-writer"
        )
        self.channel_labels: dict[str, str] = {}
        self.me_id = ""
        self._walks_done = asyncio.Event()
        self._new_files = asyncio.Event()
        self._files_without_info: list[tuple[str, str, str]] = []
        self._paths = paths.InsideResolver(store.folder)
        self._page_budget = asyncio.Semaphore(PAGES_HELD_PER_SLOT * max(1, options.concurrency))
        """Bounds the pages all walks hold at once (in flight or waiting for the writer): memory stays
        flat however many channels are walked side by side."""

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        server_version = await self._ping()
        me = await self.client.get_me()
        self.me_id = me.id
        self.store.claim_owner(self.server_url, me.id, me.username)
        if server_version:
            self.store.set_meta({"server_version": server_version})
        self.store.save_users([me.raw])
        self.run_id = self.store.start_run(self.options.selection(), __version__)
        self.tracker.set_phase("listing")
        channels = await self._list_channels()
        await self._fetch_users(only_pending=True)
        self._label_channels(channels)
        self.tracker.set_phase("messages")
        await _gather_all([self._sync_all_channels(channels), self._download_files(), self._sync_emoji()])
        self.tracker.set_phase("users")
        await self._fetch_users(only_pending=False)
        await self._download_avatars()
        self.tracker.set_phase("finishing")

    async def _ping(self) -> str | None:
        """The server's version, when it says; an unreachable server fails here with a clear message."""
        try:
            ping = await self.client.ping()
        except TransportError:
            raise
        except MattermostError as error:
            log.info("ping: %s", error)
            return None
        return ping.server_version

    def finish(self, status: RunStatus, started: float) -> None:
        self.close()
        self.store.group_commit(None)
        if status == "complete":
            self.store.clear_problems_older_than(self.run_started_ms)
            status_text = "incomplete" if self.problems else "complete"
            self.store.set_meta(
                {"updated_at": str(now_ms()), "selection": _json_text(self.options.selection())}
            )
        else:
            status_text = status
        write_report(self.store.folder, self.store.problems(), server_url=self.server_url)
        tidy_folder(self.store.folder, self.store.referenced_paths())
        if self.run_id:
            self.store.finish_run(self.run_id, status_text, self.stats(elapsed=time.monotonic() - started))

    def abandon(self, error: BaseException) -> None:
        """Close the run record after a fatal error; never hide the original error."""
        self.close()
        with contextlib.suppress(Exception):
            write_report(self.store.folder, self.store.problems(), server_url=self.server_url)
        with contextlib.suppress(Exception):
            tidy_folder(self.store.folder, self.store.referenced_paths())
        if self.run_id:
            with contextlib.suppress(Exception):
                status = (
                    "cancelled" if isinstance(error, asyncio.CancelledError | KeyboardInterrupt) else "failed"
                )
                self.store.finish_run(self.run_id, status, self.stats())

    def stats(self, elapsed: float | None = None) -> dict[str, int]:
        c = self.counters
        values = {
            "channels": self.tracker.channels_total,
            "channels_synced": c.channels_synced,
            "channel_walks": c.channel_walks,
            "posts_new": c.posts_new,
            "posts_changed": c.posts_changed,
            "history_rows": c.history_rows,
            "files_saved": c.files_saved,
            "bytes_saved": c.bytes_saved,
            "users_saved": c.users_saved,
            "avatars_saved": c.avatars_saved,
            "emoji_saved": c.emoji_saved,
            "heal_requests": c.heal_requests,
            "problems": len(self.problems),
            "requests": self.client.stats.requests,
        }
        if elapsed is not None:
            values["elapsed_ms"] = int(elapsed * 1000)
        return values

    # ------------------------------------------------------------------ problems

    def problem(self, kind: str, item_id: str, message: str) -> None:
        log.warning("could not fetch %s %s: %s", kind, item_id, message)
        self.problems[(kind, item_id)] = Problem(kind, item_id, message)
        self.store.record_problem(kind, item_id, message, now_ms())

    def solved(self, kind: str, item_id: str) -> None:
        key = (kind, item_id)
        if key in self.problems or key in self._open_problems:
            self.problems.pop(key, None)
            self._open_problems.discard(key)
            self.store.clear_problem(kind, item_id)

    async def _in_writer(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, work)

    def close(self) -> None:
        """Wait for the writer thread's last unit, so the store is closed only after it."""
        self._writer.shutdown(wait=True)

    # ------------------------------------------------------------------ listing

    async def _list_channels(self) -> list[Channel]:
        teams = await self.client.get_my_teams()
        self.store.save_teams(team.raw for team in teams)
        listed = await self.client.get_my_channels(include_deleted=True)
        by_id: dict[str, Channel] = {}
        for channel in listed:
            if self.options.scope == "direct" and channel.type not in (CHANNEL_DIRECT, CHANNEL_GROUP):
                continue
            by_id.setdefault(channel.id, channel)
        channels = list(by_id.values())
        self.store.save_channels(channel.raw for channel in channels)
        for channel in channels:
            if channel.type == CHANNEL_DIRECT:
                self.store.add_channel_members(channel.id, _dm_member_ids(channel))
        favorites: set[str] = set()
        categories_known = True
        for team in teams:
            try:
                categories = await self.client.get_sidebar_categories(team.id)
            except (NotFound, PermissionDenied, FeatureDisabled, BadRequest):
                categories_known = False
                continue
            except AuthenticationError:
                raise
            except MattermostError as error:
                log.warning("sidebar categories of team %s: %s", team.id, error)
                categories_known = False
                continue
            favorites |= categories.favorite_channel_ids
        if categories_known and teams:
            self.store.set_favorites(favorites & set(by_id))
        await self._fetch_group_members(channels)
        return channels

    async def _fetch_group_members(self, channels: Sequence[Channel]) -> None:
        for channel in channels:
            if channel.type != CHANNEL_GROUP or self.store.channel_member_ids(channel.id):
                continue
            try:
                users = await self.client.get_users_in_channel(channel.id)
            except AuthenticationError:
                raise
            except MattermostError as error:
                self.problem("members", channel.id, f"the members of this group message: {error}")
                continue
            self.store.save_users(user.raw for user in users)
            self.store.add_channel_members(channel.id, (user.id for user in users))
            self.solved("members", channel.id)

    def _label_channels(self, channels: Sequence[Channel]) -> None:
        usernames = self.store.usernames()
        for channel in channels:
            label = channel.display_name
            if channel.type == CHANNEL_DIRECT:
                others = [uid for uid in _dm_member_ids(channel) if uid != self.me_id] or [self.me_id]
                label = f"@{usernames.get(others[0], 'someone')}"
            self.channel_labels[channel.id] = label or channel.name or channel.id

    # ------------------------------------------------------------------ channels

    async def _sync_all_channels(self, channels: Sequence[Channel]) -> None:
        plans: list[tuple[int, Channel]] = []
        for channel in channels:
            state = self.store.sync_state(channel.id)
            expected = (
                0
                if state.history_complete
                else max(channel.total_msg_count - self.store.count_posts(channel.id), 1)
            )
            self.tracker.add_channel(channel.id, expected)
            plans.append((expected, channel))
        plans.sort(key=lambda plan: -plan[0])
        limit = asyncio.Semaphore(max(2, self.options.concurrency))

        async def one(channel: Channel) -> None:
            async with limit:
                await self._sync_channel(channel)

        try:
            await _gather_all(one(channel) for _, channel in plans)
        finally:
            self._walks_done.set()
            self._new_files.set()
        self.tracker.set_current("")
        if self.options.include_files:
            self.tracker.set_phase("files")

    async def _sync_channel(self, channel: Channel) -> None:
        self.tracker.set_current(self.channel_labels.get(channel.id, channel.id))
        try:
            walks = 0
            while True:
                state = self.store.sync_state(channel.id)
                try:
                    if state.history_complete:
                        await self._catch_up(channel, state)
                    else:
                        walks += 1
                        self.counters.channel_walks += 1
                        await self._walk_history(channel, state, last_try=walks >= MAX_WALKS_PER_RUN)
                    break
                except _RestartWalk as reason:
                    log.info("channel %s: walking its history again (%s)", channel.id, reason)
                    self.store.update_sync(
                        channel.id,
                        history_complete=0,
                        backfill_anchor=None,
                        backfill_page=0,
                        backfill_started_at=0,
                    )
                    if walks >= MAX_WALKS_PER_RUN:
                        raise
            self.store.update_sync(channel.id, synced_at=now_ms())
            self.counters.channels_synced += 1
            self.solved("channel", channel.id)
        except AuthenticationError:
            raise
        except _RestartWalk as reason:
            self.problem(
                "channel", channel.id, f"the channel changed too fast to copy it completely ({reason})"
            )
        except (BadRequest, NotFound, PermissionDenied) as error:
            if channel.is_chat:
                self.problem("channel", channel.id, _channel_error_text(channel, error))
            else:
                log.info(
                    "channel %s of unknown type %r has no readable posts: %s", channel.id, channel.type, error
                )
        except MattermostError as error:
            self.problem("channel", channel.id, _channel_error_text(channel, error))
        finally:
            self.tracker.channel_done(channel.id)

    async def _save(self, channel_id: str, raws: Sequence[dict[str, Any]], **sync: Any) -> int:
        """Merge a page into the archive on the writer thread (SQLite works while the next page is parsed)."""
        return await self._store_posts(
            channel_id,
            functools.partial(self.store.save_posts, raws, sync=sync or None, sync_channel_id=channel_id),
        )

    async def _store_posts(self, channel_id: str, write: Callable[[], PostBatchOutcome]) -> int:
        """Run `write` on the writer thread and count what it changed; returns the newest `update_at`."""
        outcome = await self._in_writer(write)
        self.counters.posts_new += outcome.new_posts
        self.counters.posts_changed += outcome.changed_posts
        self.counters.history_rows += outcome.history_rows
        self.tracker.channel_posts(channel_id, outcome.new_posts)
        if outcome.new_files:
            self.tracker.files_found(outcome.new_files)
            self._new_files.set()
        for post_id, file_id in outcome.file_ids_without_info:
            self._files_without_info.append((channel_id, post_id, file_id))
        if outcome.file_ids_without_info:
            self._new_files.set()
        return outcome.max_update_at

    async def _walk_history(self, channel: Channel, state: SyncState, *, last_try: bool) -> None:
        anchor = state.backfill_anchor
        started = state.backfill_started_at
        if anchor is None:
            started = self.client.server_clock.now_ms()
            first = await self.client.get_posts(channel.id, page=0, per_page=PAGE_SIZE)
            if not first.order:
                await self._save(channel.id, _page_raws(first), backfill_started_at=started)
                await self._reconcile(channel, None, 0, started, last_try=last_try)
                return
            anchor = first.order[0]
            newest_at = first.posts[anchor].create_at
            history_in_one_page = len(first.order) < PAGE_SIZE
            await self._save(
                channel.id,
                _page_raws(first),
                backfill_anchor=anchor,
                backfill_page=0,
                backfill_started_at=started,
            )
            if not history_in_one_page and first.posts[first.order[-1]].create_at == newest_at:
                await self._fetch_anchor_millisecond(channel.id, newest_at)
            if history_in_one_page:
                await self._reconcile(channel, anchor, 0, started, last_try=last_try)
                return
        anchor_at = self.store.post_create_at(anchor)
        if anchor_at is None:
            raise _RestartWalk("the walk's anchor post is missing from the archive")
        pages = await self._walk_pages(channel, anchor, state.backfill_page if state.backfill_anchor else 0)
        await self._reconcile(channel, anchor, pages, started, last_try=last_try, anchor_at=anchor_at)

    async def _fetch_anchor_millisecond(self, channel_id: str, anchor_at: int) -> None:
        """More than a page of posts share the newest millisecond; `before=ANCHOR` would skip them."""
        for page in range(1, MAX_TIE_PAGES + 1):
            result = await self.client.get_posts(channel_id, page=page, per_page=PAGE_SIZE)
            await self._save(channel_id, _page_raws(result))
            ordered = result.ordered_posts()
            if len(ordered) < PAGE_SIZE or ordered[-1].create_at < anchor_at:
                return
        log.warning("channel %s: over %d pages share one millisecond", channel_id, MAX_TIE_PAGES)

    async def _walk_pages(self, channel: Channel, anchor: str, first_page: int) -> int:
        """Fetch `before=anchor` pages from `first_page` on, several at a time; returns the page count."""
        expected_pages = math.ceil(max(channel.total_msg_count, 1) / PAGE_SIZE) + 1
        window = max(1, self.options.concurrency)
        in_flight: dict[asyncio.Task[PostList], int] = {}
        edges: dict[int, _PageEdges | None] = {}
        healed: set[int] = set()
        stored = _StoredPages(first_page)
        next_page = first_page
        end_page: int | None = None
        held = 0
        """Pages of the shared budget this walk holds: requested, or arrived and not yet saved."""

        def give_back(pages: int = 1) -> None:
            nonlocal held
            held -= pages
            for _ in range(pages):
                self._page_budget.release()

        saving: deque[asyncio.Future[int]] = deque()
        """Pages handed to the writer, oldest first; the walk reads on while they are stored."""

        def store_page(page: int, raws: Sequence[dict[str, Any]]) -> PostBatchOutcome:
            """On the writer thread: `backfill_page` is decided as the page commits, from the pages
            that did commit, so a failed or cancelled save of an earlier page holds it back."""
            upto = stored.prefix_with(page)
            sync = {"backfill_page": upto} if upto != stored.prefix else None
            outcome = self.store.save_posts(raws, sync=sync, sync_channel_id=channel.id)
            stored.record(page, upto)
            return outcome

        async def settle(keep: int) -> None:
            while len(saving) > keep:
                await saving.popleft()
                give_back()

        async def refill(*, may_wait: bool) -> None:
            nonlocal next_page, held
            while (end_page is None and len(in_flight) < window) and (
                next_page < first_page + 1 or next_page <= expected_pages or not in_flight
            ):
                if self._page_budget.locked():
                    if in_flight or not may_wait:
                        return
                    # Waiting while holding pages the writer has could leave every walk waiting.
                    await settle(0)
                await self._page_budget.acquire()
                held += 1
                task = asyncio.ensure_future(
                    self.client.get_posts(channel.id, page=next_page, per_page=PAGE_SIZE, before=anchor)
                )
                in_flight[task] = next_page
                next_page += 1

        try:
            while True:
                await refill(may_wait=True)
                if not in_flight:
                    break
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                completed = sorted(((in_flight.pop(task), task) for task in done), key=lambda item: item[0])
                arrived: list[tuple[int, PostList]] = []
                for page, task in completed:
                    if end_page is not None and page > end_page:
                        give_back()
                        continue
                    try:
                        result = task.result()
                    except NotFound as error:
                        raise _RestartWalk("the anchor post is gone") from error
                    if len(result.order) < PAGE_SIZE:
                        end_page = page if end_page is None else min(end_page, page)
                        for other, other_page in list(in_flight.items()):
                            if other_page > end_page:
                                other.cancel()
                                del in_flight[other]
                                give_back()
                    arrived.append((page, result))
                # The next requests go out before these pages are saved: the writer thread then
                # works while the network waits, instead of the window standing idle. Waiting for
                # budget here, while holding unsaved pages, could leave every walk waiting on the others.
                await refill(may_wait=False)
                for page, result in arrived:
                    edges[page] = _edges(result)
                    write = functools.partial(store_page, page, _page_raws(result))
                    saving.append(asyncio.ensure_future(self._store_posts(channel.id, write)))
                    await self._heal_ties(channel.id, page, edges, healed)
                    await settle(SAVES_AHEAD_PER_WALK)
            await settle(0)
        finally:
            try:
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, *saving, return_exceptions=True)
            finally:
                give_back(held)
        return stored.prefix

    async def _heal_ties(
        self, channel_id: str, page: int, edges: dict[int, _PageEdges | None], healed: set[int]
    ) -> None:
        """Where a page boundary splits posts of one millisecond, fetch that millisecond again from below.

        Offsets are stable only while the server orders equal times the same way every time; a real
        database may not (an updated row can move). `after=Y`, with Y the next older post, returns
        the group whole."""
        for newer, older in ((page - 1, page), (page, page + 1)):
            upper, lower = edges.get(newer), edges.get(older)
            if newer in healed or upper is None or lower is None or upper.oldest_at != lower.newest_at:
                continue
            healed.add(newer)
            tie_at = lower.newest_at
            below = lower.first_older_id
            if below is None:
                log.warning("channel %s: a page holds only posts of one millisecond", channel_id)
                continue
            size = min(PAGE_SIZE, upper.oldest_group + lower.newest_group + 1)
            for offset in range(MAX_TIE_PAGES):
                self.counters.heal_requests += 1
                result = await self.client.get_posts(channel_id, page=offset, per_page=size, after=below)
                await self._save(channel_id, _page_raws(result))
                ordered = result.ordered_posts()
                if len(ordered) < size or ordered[0].create_at > tie_at:
                    break

    async def _reconcile(
        self,
        channel: Channel,
        anchor: str | None,
        pages: int,
        started: int,
        *,
        last_try: bool,
        anchor_at: int = 0,
    ) -> None:
        """Catch what changed while the walk ran, repair offset shifts, then mark the history complete.

        If more than `since` can return changed meanwhile, the walk still holds every post as it was
        when its page was read; the cursor then stays at the walk's start, so the next update (cut
        short again) walks the channel anew."""
        since = max(started - RECONCILE_MARGIN_MS, 0)
        result = await self.client.get_posts(channel.id, since=since)
        truncated = len(result.order) >= SINCE_CAP
        vanished = [
            post
            for post in result.posts.values()
            if post.is_deleted
            and anchor is not None
            and post.create_at < anchor_at
            and post.delete_at >= since
        ]
        max_update_at = await self._save(channel.id, _page_raws(result))
        if vanished and pages > 1:
            await self._heal_deletion_shifts(
                channel, anchor or "", pages, vanished, anchor_at, last_try=last_try
            )
        cursor = max_update_at - CURSOR_MARGIN_MS if result.order and not truncated else since
        await self._save(
            channel.id,
            [],
            history_complete=1,
            backfill_anchor=None,
            backfill_page=0,
            since_cursor=cursor,
        )
        await self._fetch_missing_roots(channel.id, self.store.missing_root_ids(channel.id))

    async def _heal_deletion_shifts(
        self,
        channel: Channel,
        anchor: str,
        pages: int,
        vanished: Sequence[Post],
        anchor_at: int,
        *,
        last_try: bool,
    ) -> None:
        """Posts deleted during the walk move every older post one offset up; a post sitting at a
        page boundary fetched after that moved into the page already fetched and was not seen.
        Fetch the last positions before each later boundary again (with m deletions, the missed
        posts sit in the last m positions before a boundary)."""
        window = _heal_window(len(vanished))
        if window is None:
            if not last_try:
                raise _RestartWalk(f"{len(vanished)} posts were deleted during the walk")
            log.warning("channel %s: %d posts deleted during the walk", channel.id, len(vanished))
            window = PAGE_SIZE
        newest_gone = max(post.create_at for post in vanished)
        newer_posts = self.store.posts_created_between(channel.id, anchor_at, newest_gone)
        first_boundary = max(1, (newer_posts - len(vanished)) // PAGE_SIZE)
        per_boundary = PAGE_SIZE // window
        boundaries = list(range(first_boundary, pages))
        self.counters.heal_requests += len(boundaries)
        for batch in _chunks(boundaries, max(1, self.options.concurrency)):
            results = await asyncio.gather(
                *(
                    self.client.get_posts(
                        channel.id, page=boundary * per_boundary - 1, per_page=window, before=anchor
                    )
                    for boundary in batch
                )
            )
            for result in results:
                await self._save(channel.id, _page_raws(result))

    async def _catch_up(self, channel: Channel, state: SyncState) -> None:
        result = await self.client.get_posts(channel.id, since=state.since_cursor)
        max_update_at = await self._save(channel.id, _page_raws(result))
        if len(result.order) >= SINCE_CAP:
            raise _RestartWalk("more than 1000 posts changed since the last update")
        if result.order:
            self.store.update_sync(channel.id, since_cursor=max_update_at - CURSOR_MARGIN_MS)
        roots = {post.root_id for post in result.posts.values() if post.root_id}
        await self._fetch_missing_roots(
            channel.id, [r for r in sorted(roots) if not self.store.post_exists(r)]
        )

    async def _fetch_missing_roots(self, channel_id: str, root_ids: Sequence[str]) -> None:
        for chunk in _chunks(root_ids, POSTS_PER_IDS_REQUEST):
            try:
                posts = await self.client.get_posts_by_ids(list(chunk))
            except (NotFound, PermissionDenied):
                continue
            await self._save(channel_id, [post.raw for post in posts if post.channel_id == channel_id])

    # ------------------------------------------------------------------ files

    async def _download_files(self) -> None:
        """Download wanted files as the walks discover them, until the walks are over and none is left.

        The database is the queue: a killed run leaves the rest `pending` for the next one."""
        if not self.options.include_files:
            await self._walks_done.wait()
            self.store.skip_wanted_files()
            return
        wanted, _ = self.store.count_files_to_fetch()
        self.tracker.files_found(wanted)
        # Downloads wait for the request slots the page walks leave free (the client serves walks
        # first). Twice as many downloads as slots are under way, so that while some are written to
        # disk and recorded, others are on the network: the slots never stand idle.
        slots = asyncio.Semaphore(2 * max(1, self.options.concurrency))
        after_rowid = 0

        async def one(row: FileRow) -> None:
            try:
                await self._download_file(row)
            finally:
                slots.release()

        try:
            async with asyncio.TaskGroup() as group:
                while True:
                    self._new_files.clear()
                    await self._describe_files_without_info()
                    rows = self.store.files_to_fetch(after_rowid=after_rowid, limit=PAGE_SIZE)
                    if not rows:
                        if self._walks_done.is_set() and not self._files_without_info:
                            break
                        await self._new_files.wait()
                        continue
                    for rowid, row in rows:
                        after_rowid = rowid
                        if self.options.max_file_size is not None and row.size > self.options.max_file_size:
                            self.store.mark_file_status(row.id, "skipped")
                            self.tracker.file_done(0)
                            continue
                        await slots.acquire()
                        group.create_task(one(row))
        except BaseExceptionGroup as failure:
            raise _unwrap(failure) from None

    async def _describe_files_without_info(self) -> None:
        """Posts that name files without describing them (old servers): ask for each file's info."""
        while self._files_without_info:
            channel_id, post_id, file_id = self._files_without_info.pop()
            try:
                info = await self.client.get_file_info(file_id)
            except AuthenticationError:
                raise
            except MattermostError as error:
                self.problem("file", file_id, f"its description could not be fetched: {error}")
                continue
            if self.store.save_file_info(info.raw, post_id=post_id, channel_id=channel_id):
                self.tracker.files_found(1)

    async def _download_file(self, row: FileRow) -> None:
        try:
            relative = paths.attachment_path(row.id, paths.safe_extension(row.name, row.extension))
        except paths.UnsafePathError:
            self.store.mark_file_status(row.id, "failed")
            self.problem("file", row.id, "the server gave this file an id that cannot be used as a file name")
            self.tracker.file_done(0)
            return
        try:
            result = await self._fetch_staged(
                relative,
                lambda staged: self.client.download_file(
                    row.id, staged, max_bytes=self.options.max_file_size
                ),
            )
        except AuthenticationError:
            raise
        except FileTooLarge:
            self.store.mark_file_status(row.id, "skipped")
            self.tracker.file_done(0)
            return
        except NotFound:
            self.store.mark_file_status(row.id, "unavailable")
            self.problem("file", row.id, f"{_shown(row.name)}: the server no longer has this file")
            self.tracker.file_done(0)
            return
        except MattermostError as error:
            self.store.mark_file_status(row.id, "failed")
            self.problem("file", row.id, f"{_shown(row.name)}: {error}")
            self.tracker.file_done(0)
            return
        await self._in_writer(functools.partial(self._record_file, row.id, relative, result))
        self.solved("file", row.id)
        self.counters.files_saved += 1
        self.counters.bytes_saved += result.size
        self.tracker.file_done(result.size)
        if row.has_preview_image and self.options.include_previews:
            await self._optional_image(row.id, "thumbnail", self.client.download_file_thumbnail)
            await self._optional_image(row.id, "preview", self.client.download_file_preview)

    async def _optional_image(
        self, file_id: str, kind: str, fetch: Callable[[str, Path], Awaitable[DownloadResult | None]]
    ) -> None:
        """Thumbnails and previews are a convenience: absent ones are normal, failures are only logged."""
        relative = paths.thumbnail_path(file_id) if kind == "thumbnail" else paths.preview_path(file_id)
        try:
            result = await self._fetch_staged(relative, functools.partial(fetch, file_id))
        except AuthenticationError:
            raise
        except MattermostError as error:
            if not isinstance(error, BadRequest | NotFound):
                log.warning("%s: %s", relative, error)
            return
        if result is not None:
            self._publish(relative)
            self.store.mark_file_image(file_id, kind, relative)

    async def _fetch_staged(self, relative: str, fetch: Callable[[Path], Awaitable[T]]) -> T:
        """Let the client stream the bytes meant for `relative` to `<relative>.part` (through its own
        temporary name); `_publish` then renames it into place right before the database records it,
        with no pause in between, so a cancelled run never leaves bytes the database does not know."""
        try:
            staged = paths.temp_path_for(self._paths.prepare(relative))
            return await fetch(staged)
        except OSError as error:
            if is_disk_full(error):
                raise DiskFullError(self.store.folder) from error
            raise

    def _record_file(self, file_id: str, relative: str, result: DownloadResult) -> None:
        """Rename into place and record, on the writer thread: a cancelled task cannot split the two."""
        self._publish(relative)
        self.store.mark_file_saved(file_id, path=relative, sha256=result.sha256 or "", size=result.size)

    def _publish(self, relative: str, staged_as: str | None = None) -> None:
        target = self._paths.resolve(relative)
        staged = paths.temp_path_for(self._paths.resolve(staged_as or relative))
        os.replace(staged, target)

    # ------------------------------------------------------------------ users, avatars, emoji

    async def _fetch_users(self, *, only_pending: bool) -> None:
        pending = self.store.pending_user_ids()
        wanted = pending if only_pending else sorted(set(pending) | set(self.store.user_ids()))
        self.tracker.users_step(0, len(wanted))
        done = 0
        for chunk in _chunks(wanted, USERS_PER_REQUEST):
            try:
                users = await self.client.get_users_by_ids(list(chunk))
            except AuthenticationError:
                raise
            except MattermostError as error:
                self.problem("users", chunk[0], f"{len(chunk)} user profiles could not be fetched: {error}")
                continue
            self.counters.users_saved += self.store.save_users(user.raw for user in users)
            self.solved("users", chunk[0])
            returned = {user.id for user in users}
            unknown = [uid for uid in chunk if uid not in returned and uid in pending]
            if unknown:
                log.info("%d referenced users are unknown to the server", len(unknown))
                self.store.drop_pending_users(unknown)
            done += len(chunk)
            self.tracker.users_step(done, len(wanted))

    async def _download_avatars(self) -> None:
        slots = asyncio.Semaphore(max(1, self.options.concurrency))

        async def one(user_id: str, version: int, saved: bool) -> None:
            try:
                relative = paths.avatar_path(user_id)
            except paths.UnsafePathError:
                return
            etag = str(version) if saved and self._paths.resolve(relative).is_file() else None
            async with slots:
                try:
                    result = await self._fetch_staged(
                        relative, lambda staged: self.client.download_user_image(user_id, staged, etag)
                    )
                except AuthenticationError:
                    raise
                except MattermostError as error:
                    self.problem("avatar", user_id, str(error))
                    return
            if result.not_modified:
                self.store.mark_avatar_current(user_id, str(version))
            else:
                self._publish(relative)
                self.store.mark_avatar_saved(
                    user_id, path=relative, sha256=result.sha256 or "", etag=str(version)
                )
                self.counters.avatars_saved += 1
            self.solved("avatar", user_id)

        await _gather_all(
            one(row.id, row.last_picture_update, row.avatar_path is not None and row.avatar_etag is not None)
            for row in self.store.avatars_to_fetch()
        )

    async def _sync_emoji(self) -> None:
        emoji: list[Any] = []
        try:
            for page in range(10_000):
                batch = await self.client.list_custom_emoji(page=page, per_page=PAGE_SIZE)
                emoji.extend(batch)
                if len(batch) < PAGE_SIZE:
                    break
        except FeatureDisabled:
            return
        except AuthenticationError:
            raise
        except MattermostError as error:
            self.problem("emoji", "list", f"the list of custom emoji: {error}")
            return
        self.solved("emoji", "list")
        self.store.save_emoji(item.raw for item in emoji)
        for row in self.store.emoji_to_fetch():
            try:
                download_path = paths.emoji_path(row.id, "")
            except paths.UnsafePathError:
                continue
            try:
                result = await self._fetch_staged(
                    download_path, functools.partial(self.client.download_emoji_image, row.id)
                )
            except AuthenticationError:
                raise
            except MattermostError as error:
                self.problem("emoji", row.id, f":{row.name}: {error}")
                continue
            staged = paths.temp_path_for(self._paths.resolve(download_path))
            with staged.open("rb") as handle:
                relative = paths.emoji_path(row.id, paths.sniff_image_extension(handle.read(16)))
            self._publish(relative, staged_as=download_path)
            self.store.mark_emoji_saved(row.id, path=relative, sha256=result.sha256 or "")
            self.counters.emoji_saved += 1
            self.solved("emoji", row.id)


def _dm_member_ids(channel: Channel) -> list[str]:
    parts = channel.name.split("__")
    return [part for part in parts if part and paths.is_safe_id(part)] if len(parts) == 2 else []


def _shown(name: str) -> str:
    """A server-sent file name made safe to print: no control characters, bounded length."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in name)
    return repr(cleaned[:80] + ("…" if len(cleaned) > 80 else ""))


def _channel_error_text(channel: Channel, error: MattermostError) -> str:
    name = channel.display_name or channel.name or channel.id
    if isinstance(error, PermissionDenied) and channel.is_archived:
        return f"{name!r}: the server does not let members read archived channels ({error})"
    if isinstance(error, PermissionDenied):
        return f"{name!r}: the server refused access ({error})"
    return f"{name!r}: {error}"


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
