"""Errors raised by the Mattermost client, each with a message a person can act on.

Callers branch on the class and on `error_id` (the server's stable AppError id), never on the message:
the server translates its messages into the user's language.
"""

from __future__ import annotations

import re

_SAFE_ERROR_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


class MattermostError(Exception):
    """Base class: request `what` failed; `status` and `error_id` are the server's, when it sent them."""

    def __init__(
        self,
        message: str,
        *,
        what: str = "",
        status: int | None = None,
        error_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.what = what
        self.status = status
        self.error_id = error_id if error_id is not None and _SAFE_ERROR_ID.match(error_id) else None
        self.request_id = request_id if request_id is not None and _SAFE_ERROR_ID.match(request_id) else None

    def __str__(self) -> str:
        details = [f"HTTP {self.status}"] if self.status is not None else []
        if self.error_id:
            details.append(self.error_id)
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthenticationError(MattermostError):
    """401: the session token is invalid or expired. Nothing more can be fetched with it."""


class PermissionDenied(MattermostError):
    """403: the server refuses this user access to the resource."""


class NotFound(MattermostError):
    """404: the resource does not exist (or is not visible to this user)."""


class BadRequest(MattermostError):
    """400: the server rejected the request's parameters (e.g. a file without a thumbnail)."""


class FeatureDisabled(MattermostError):
    """501: the feature is switched off on this server (e.g. custom emoji)."""


class ServerError(MattermostError):
    """5xx answers kept coming after every retry."""


class RateLimited(MattermostError):
    """The server kept answering 429 for longer than the client is willing to wait."""


class TransportError(MattermostError):
    """The server could not be reached, or the connection kept failing, after every retry."""


class BadResponse(MattermostError):
    """The server's answer was not what the API promises (invalid JSON, wrong shape, wrong size)."""


class FileTooLarge(MattermostError):
    """A download is bigger than the limit the caller set; nothing was saved."""
