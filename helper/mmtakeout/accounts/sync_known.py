"""Update every known archive, one after the other, for cron, systemd timers, launchd or Task Scheduler.

One archive's failure never stops the others. Archives of the same server share its stored login;
when the server refuses it, the other archives of that server are not tried again with it (they are
reported the same way), and — when the caller allows a browser as a second source — a fresh login
from the browser is tried and, when it works, stored in place of the expired one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mmtakeout.accounts.config import KnownArchive, LastRun, Outcome
from mmtakeout.api import AuthenticationError, MattermostError
from mmtakeout.archive.store import ArchiveError
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.found import FoundToken
from mmtakeout.credentials.keyring_store import KeyringUnavailable
from mmtakeout.credentials.server import ServerAddress
from mmtakeout.sync.options import ExportOptions, ExportResult

SEVERITY: dict[Outcome, int] = {"ok": 0, "incomplete": 1, "failed": 2, "no-login": 3, "login-expired": 3}
KEYRING_SOURCE = "the keyring"

ExportFunction = Callable[[str, str, Path, ExportOptions], Awaitable[ExportResult]]


@dataclass(frozen=True)
class ArchiveOutcome:
    archive: KnownArchive
    outcome: Outcome
    message: str

    def as_last_run(self) -> LastRun:
        return LastRun(
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            outcome=self.outcome,
            message=self.message,
        )


@dataclass(frozen=True)
class TokenSources:
    """Where scheduled runs get tokens: the keyring, and optionally a browser when the stored one fails."""

    stored: Callable[[ServerAddress], str | None]
    """Raises KeyringUnavailable when the keyring cannot be used."""
    from_browser: Callable[[ServerAddress], list[FoundToken]] | None = None
    """Raises CredentialError when the browser has no usable login."""
    save: Callable[[ServerAddress, str], None] | None = None


def worst(outcomes: Sequence[ArchiveOutcome]) -> Outcome:
    return max((item.outcome for item in outcomes), key=SEVERITY.__getitem__, default="ok")


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """Last line of defence: whatever an error says, a token never reaches a log, the config or a screen."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[token]")
    return text


def _describe_result(result: ExportResult) -> tuple[Outcome, str]:
    stats = result.stats
    summary = (
        f"{stats.get('posts_new', 0)} new and {stats.get('posts_changed', 0)} changed posts, "
        f"{stats.get('files_saved', 0)} files, in {result.elapsed_s:.0f} s"
    )
    if result.status == "complete":
        return "ok", f"up to date: {summary}"
    if result.status == "incomplete":
        return "incomplete", (
            f"updated, but {len(result.problems)} items could not be fetched "
            f"(see report.txt in the archive); {summary}"
        )
    return "failed", "the run was cancelled before it finished"


class _ServerLogin:
    """The candidate tokens for one server, best first, and which of them the server refused."""

    def __init__(self, server: ServerAddress, sources: TokenSources) -> None:
        self.server = server
        self._sources = sources
        self._candidates: list[FoundToken] | None = None
        self._problems: list[str] = []
        self._refused: list[str] = []
        self.stored: str | None = None

    def candidates(self) -> list[FoundToken]:
        if self._candidates is None:
            self._candidates = []
            try:
                self.stored = self._sources.stored(self.server)
            except KeyringUnavailable as error:
                self._problems.append(str(error))
            if self.stored:
                self._candidates.append(FoundToken(token=self.stored, source=KEYRING_SOURCE))
            if self._sources.from_browser is not None:
                try:
                    found = self._sources.from_browser(self.server)
                except CredentialError as error:
                    self._problems.append(str(error))
                else:
                    self._candidates.extend(item for item in found if item.token != self.stored)
        return self._candidates

    def refused(self, candidate: FoundToken) -> None:
        assert self._candidates is not None
        self._candidates.remove(candidate)
        self._refused.append(candidate.token)

    def secrets(self) -> list[str]:
        return [candidate.token for candidate in self._candidates or []] + self._refused + [self.stored or ""]

    def missing_message(self) -> tuple[Outcome, str]:
        url = self.server.url
        if self._refused:
            headline = (
                f"The server refused the saved login for {url}: it has expired or was signed out. "
                f"Log in to {url} in your browser, then run `mmtakeout login {url} --browser auto`."
            )
            return "login-expired", headline
        headline = f"No saved login for {url}: run `mmtakeout login {url} --browser auto` once."
        details = "".join(f"\n{problem}" for problem in self._problems)
        return "no-login", headline + details

    def adopt(self, candidate: FoundToken) -> str:
        """Keep a browser token that worked in the keyring, so the next run does not need the browser."""
        if candidate.source == KEYRING_SOURCE or self._sources.save is None:
            return ""
        try:
            self._sources.save(self.server, candidate.token)
        except KeyringUnavailable as error:
            return f" (used the login from {candidate.source}; it could not be saved: {error})"
        self.stored = candidate.token
        return f" (the expired login was replaced by the one from {candidate.source})"


def _folder_problem(archive: KnownArchive) -> str | None:
    """Never re-create an archive that has run before and is gone: its drive may just be unplugged."""
    ran_before = archive.last_run is not None and archive.last_run.outcome in ("ok", "incomplete")
    if ran_before and not archive.folder.is_dir():
        return (
            f"the archive folder {archive.folder} is missing (is its drive connected?); "
            f"it was not re-created. If it moved, run `mmtakeout sync --remove {archive.folder}` "
            "and register the new place."
        )
    return None


async def _sync_one(archive: KnownArchive, login: _ServerLogin, export: ExportFunction) -> ArchiveOutcome:
    folder_problem = _folder_problem(archive)
    if folder_problem:
        return ArchiveOutcome(archive, "failed", folder_problem)
    while login.candidates():
        candidate = login.candidates()[0]
        try:
            result = await export(
                login.server.url, candidate.token, archive.folder, archive.selection.to_options()
            )
        except AuthenticationError:
            login.refused(candidate)
            continue
        except (MattermostError, ArchiveError, OSError, ValueError) as error:
            return ArchiveOutcome(archive, "failed", _scrub(str(error), login.secrets()))
        outcome, message = _describe_result(result)
        return ArchiveOutcome(archive, outcome, message + login.adopt(candidate))
    outcome, message = login.missing_message()
    return ArchiveOutcome(archive, outcome, message)


async def sync_known_archives(
    archives: Sequence[KnownArchive],
    sources: TokenSources,
    export: ExportFunction,
    on_outcome: Callable[[ArchiveOutcome], None],
) -> list[ArchiveOutcome]:
    """Update each archive in turn; `on_outcome` hears about each one as soon as it is done."""
    logins: dict[str, _ServerLogin] = {}
    outcomes = []
    for archive in archives:
        try:
            server = ServerAddress.parse(archive.server_url)
        except CredentialError as error:
            outcome = ArchiveOutcome(archive, "failed", str(error))
        else:
            login = logins.setdefault(server.url, _ServerLogin(server, sources))
            try:
                outcome = await _sync_one(archive, login, export)
            except Exception as error:
                outcome = ArchiveOutcome(
                    archive,
                    "failed",
                    _scrub(f"unexpected error: {type(error).__name__}: {error}", login.secrets()),
                )
        outcomes.append(outcome)
        on_outcome(outcome)
    return outcomes
