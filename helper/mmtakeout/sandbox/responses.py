"""Response helpers that reproduce the server's wire format: Go-style JSON and AppError bodies."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mmtakeout import jsoncodec

JSON_CONTENT_TYPE = "application/json"

ERROR_MESSAGES = {
    "api.context.404.app_error": "Sorry, we could not find the page.",
    "api.context.session_expired.app_error": "Invalid or expired session, please login again.",
    "api.context.token_provided.app_error": (
        "Session is not OAuth but token was provided in the query string."
    ),
    "api.context.permissions.app_error": "You do not have the appropriate permissions.",
    "api.context.invalid_url_param.app_error": "Invalid or missing {name} parameter in request URL.",
    "api.context.invalid_param.app_error": "Invalid {name} parameter.",
    "api.context.invalid_body_param.app_error": "Invalid or missing {name} in request body.",
    "api.user.login.invalid_credentials_email_username": "Enter a valid email or username and/or password.",
    "api.user.login.inactive.app_error": "Login failed because your account has been deactivated.",
    "api.user.login.bot_login_forbidden.app_error": "Bot login is forbidden.",
    "api.user.view_archived_channels.get_users_in_channel.app_error": (
        "Cannot retrieve users in an archived channel."
    ),
    "api.emoji.disabled.app_error": "Custom emoji have been disabled by the system admin.",
    "api.file.get_file_thumbnail.no_thumbnail.app_error": "File doesn't have a thumbnail image.",
    "api.file.get_file_preview.no_preview.app_error": "File doesn't have a preview image.",
    "api.post.posts_by_ids.invalid_body.request_error": (
        "The number of posts requested exceeds the limit of 1000."
    ),
    "app.channel.get.existing.app_error": "Unable to find the existing channel.",
    "app.post.get.app_error": "Unable to get post.",
    "app.user.missing_account.const": "Unable to find the user.",
    "app.team.get.find.app_error": "Unable to find the existing team.",
    "app.file_info.get.app_error": "Unable to get the file info.",
    "api.file.file_reader.app_error": "Encountered an error opening a reader from the file backend.",
    "app.emoji.get.no_result": "Unable to find the emoji.",
    "api.channel.get_channels_for_user.app_error": "Error while streaming the channel list.",
    "app.sandbox.injected_fault.app_error": "An injected server error (sandbox fault injection).",
    "model.utils.decode_json.app_error": "could not decode.",
}


def go_json(data: Any, *, newline: bool = True) -> bytes:
    """JSON as Go's encoder writes it: compact, UTF-8, HTML characters escaped, trailing newline."""
    text = jsoncodec.compact(data)
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    if newline:
        text += "\n"
    return text.encode("utf-8", errors="replace")


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json`, like the server's."""
    response = web.Response(body=go_json(data), status=status, headers=headers)
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    return response


class ApiError(Exception):
    """An AppError the handler wants to send: status, translation id, and the parameter it concerns."""

    def __init__(self, status: int, error_id: str, *, param: str = "", detailed: str = "") -> None:
        super().__init__(error_id)
        self.status = status
        self.error_id = error_id
        self.param = param
        self.detailed = detailed

    def body(self, request_id: str) -> dict[str, Any]:
        message = ERROR_MESSAGES.get(self.error_id, self.error_id).replace("{name}", self.param)
        return {
            "id": self.error_id,
            "message": message,
            "detailed_error": "",
            "request_id": request_id,
            "status_code": self.status,
        }


def invalid_url_param(name: str) -> ApiError:
    return ApiError(400, "api.context.invalid_url_param.app_error", param=name)


def invalid_param(name: str) -> ApiError:
    return ApiError(400, "api.context.invalid_param.app_error", param=name)


def forbidden() -> ApiError:
    return ApiError(403, "api.context.permissions.app_error")


def session_expired() -> ApiError:
    return ApiError(401, "api.context.session_expired.app_error")
