"""Tokens found in cookie stores, and a record of every place looked at, for a useful failure message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mmtakeout.credentials.cookie_db import SESSION_COOKIE_NAME, StoredCookie
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.os_secrets import SecretUnavailable
from mmtakeout.credentials.token_format import clean_token

_OLDEST = datetime.min.replace(tzinfo=UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FoundToken:
    """A usable token and where it came from; `repr` never shows the token."""

    token: str = field(repr=False)
    source: str
    created: datetime | None = None
    expires: datetime | None = None
    cookie_path: str = "/"

    def rank(self) -> tuple[int, datetime, datetime]:
        """Most specific cookie path first (a site under a sub-path), then the newest login."""
        return (len(self.cookie_path), self.created or _OLDEST, self.expires or _NEVER)


@dataclass
class LookupReport:
    """Every token found and, for each place that gave none, one sentence saying why."""

    tokens: list[FoundToken] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_installed: list[str] = field(default_factory=list)

    def extend(self, other: LookupReport) -> None:
        self.tokens.extend(other.tokens)
        self.notes.extend(other.notes)
        self.not_installed.extend(other.not_installed)

    def ranked(self) -> list[FoundToken]:
        """Best first; the same token found in several places is listed once."""
        seen: set[str] = set()
        ranked = []
        for found in sorted(self.tokens, key=FoundToken.rank, reverse=True):
            if found.token not in seen:
                seen.add(found.token)
                ranked.append(found)
        return ranked

    def add_cookies(
        self,
        source: str,
        cookies: list[StoredCookie],
        now: datetime,
        decrypt: Callable[[StoredCookie], str],
    ) -> None:
        """Turn one profile's rows into tokens, or into one note per distinct reason they are unusable."""
        if not cookies:
            self.notes.append(f"{source}: no {SESSION_COOKIE_NAME} cookie for this server")
            return
        live = [cookie for cookie in cookies if not cookie.is_expired(now)]
        if not live:
            last = max(cookie.expires or _OLDEST for cookie in cookies)
            self.notes.append(f"{source}: the login expired on {last:%Y-%m-%d %H:%M} UTC")
            return
        reasons: list[str] = []
        for cookie in live:
            try:
                token = clean_token(decrypt(cookie))
            except (SecretUnavailable, ValueError, CredentialError) as error:
                if str(error) not in reasons:
                    reasons.append(str(error))
                continue
            self.tokens.append(
                FoundToken(
                    token=token,
                    source=source,
                    created=cookie.created,
                    expires=cookie.expires,
                    cookie_path=cookie.path,
                )
            )
        self.notes.extend(f"{source}: {reason}" for reason in reasons)
