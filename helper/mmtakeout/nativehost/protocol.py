"""The native-messaging wire protocol between the browser extension and the helper.

A frame is a 4-byte length in native byte order followed by that many bytes of UTF-8 JSON (the
browser's native-messaging format). Every message is an object with `"v"` (the protocol version)
and `"type"`. Everything that arrives is untrusted: it is size-capped, parsed strictly and validated
field by field into the dataclasses below; anything else becomes a `ProtocolError` whose code and
plain-words message go back to the extension in an `error` frame.

Browser → helper: `hello`, `start`, `cancel`, `open-archive`, `remember`.
Helper → browser: `hello`, `progress`, `done`, `opened`, `remembered`, `error`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO
from urllib.parse import urlsplit

PROTOCOL_VERSION = 1
HOST_NAME = "org.mmtakeout.helper"

# Who may start the helper. The Chromium id follows from the public key in extension/manifest.json;
# store ids (Chrome Web Store, Edge Add-ons) join the list when published, or via the host config.
DEV_CHROMIUM_EXTENSION_ID = "lfeblhiidpimbgcbpolmdiepokhahgdn"
STORE_CHROMIUM_EXTENSION_IDS: tuple[str, ...] = ()
FIREFOX_ADDON_ID = "takeout@mmtakeout.example"

# Incoming messages are small control messages (the largest, `start`, is well under 1 KiB).
MAX_INCOMING_FRAME = 64 * 1024
# The browser drops the connection above 1 MiB from the helper; stay far below it.
MAX_OUTGOING_FRAME = 256 * 1024

_HEADER = struct.Struct("=I")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,1024}$")
_TOKEN_FORBIDDEN = set(';,"\\')
_MAX_URL_LENGTH = 2048
_MAX_SHORT_TEXT = 200


class ErrorCode(StrEnum):
    BAD_FRAME = "bad-frame"
    BAD_MESSAGE = "bad-message"
    UNSUPPORTED_VERSION = "unsupported-version"
    UNKNOWN_TYPE = "unknown-type"
    FORBIDDEN_CALLER = "forbidden-caller"
    ORIGIN_MISMATCH = "origin-mismatch"
    SESSION_EXPIRED = "session-expired"
    UNREACHABLE = "unreachable"
    DISK_FULL = "disk-full"
    BUSY = "busy"
    NO_ARCHIVE = "no-archive"
    KEYRING_UNAVAILABLE = "keyring-unavailable"
    NOT_AVAILABLE = "not-available"
    INTERNAL = "internal"


class ProtocolError(Exception):
    """A message the helper refuses; `fatal` means the stream cannot be trusted any more."""

    def __init__(self, code: ErrorCode, message: str, *, job: str | None = None, fatal: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.job = job
        self.fatal = fatal


class ExportScope(StrEnum):
    ALL = "all"
    DIRECT = "direct"


class ArchiveTarget(StrEnum):
    VIEWER = "viewer"
    FOLDER = "folder"


@dataclass(frozen=True)
class SiteSession:
    """A server and the session cookie the extension read for it.

    `cookie_site` is the origin the cookie was read for and `cookie_domain`/`cookie_secure` are the
    cookie's own attributes, so the helper can check that the token goes back only where it came from.
    """

    server: str
    cookie_site: str
    cookie_domain: str
    cookie_secure: bool
    token: str = field(repr=False)


@dataclass(frozen=True)
class Hello:
    extension_version: str | None


@dataclass(frozen=True)
class Start:
    job: str
    session: SiteSession
    scope: ExportScope
    include_files: bool


@dataclass(frozen=True)
class Cancel:
    job: str


@dataclass(frozen=True)
class OpenArchive:
    server: str
    target: ArchiveTarget


@dataclass(frozen=True)
class Remember:
    """The popup's "Keep me backed up": keep the login in the OS keyring, register the archive for sync."""

    session: SiteSession
    scope: ExportScope
    include_files: bool


IncomingMessage = Hello | Start | Cancel | OpenArchive | Remember


# ---------------------------------------------------------------------------------------------- framing


def read_frame(stream: BinaryIO, max_size: int = MAX_INCOMING_FRAME) -> bytes | None:
    """Read one frame's payload; None on a clean end of stream (EOF between frames)."""
    header = _read_exactly(stream, _HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise ProtocolError(ErrorCode.BAD_FRAME, "The message ended in the middle of its length.", fatal=True)
    (length,) = _HEADER.unpack(header)
    if length > max_size:
        raise ProtocolError(
            ErrorCode.BAD_FRAME,
            f"A message of {length} bytes is larger than the {max_size} bytes the helper accepts.",
            fatal=True,
        )
    payload = _read_exactly(stream, length)
    if len(payload) < length:
        raise ProtocolError(
            ErrorCode.BAD_FRAME,
            f"The message ended after {len(payload)} of its {length} bytes.",
            fatal=True,
        )
    return payload


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    """Pipes may return short reads; keep reading until `count` bytes or EOF."""
    chunks: list[bytes] = []
    remaining = count
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def encode_frame(message: Mapping[str, object]) -> bytes:
    payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(payload) > MAX_OUTGOING_FRAME:
        raise ValueError(f"outgoing {message.get('type')!r} frame of {len(payload)} bytes is too large")
    return _HEADER.pack(len(payload)) + payload


# ---------------------------------------------------------------------------------------------- decoding


_SESSION_FIELDS = frozenset({"server", "cookie_site", "cookie_domain", "cookie_secure", "token"})
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # type: (required fields, optional fields), besides "v" and "type"
    "hello": (frozenset(), frozenset({"extension_version"})),
    "start": (_SESSION_FIELDS | {"job", "options"}, frozenset()),
    "cancel": (frozenset({"job"}), frozenset()),
    "open-archive": (frozenset({"server", "target"}), frozenset()),
    "remember": (_SESSION_FIELDS, frozenset({"options"})),
}
_OPTION_FIELDS = frozenset({"scope", "include_files"})


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed in JSON")


def decode_message(payload: bytes) -> IncomingMessage:
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, "The message is not UTF-8 text.") from exc
    except ValueError as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, "The message is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "A message must be a JSON object.")
    job = data.get("job") if isinstance(data.get("job"), str) and _JOB_ID.match(data["job"]) else None
    version = data.get("v")
    if type(version) is not int:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, 'The message has no protocol version ("v").', job=job)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"The extension speaks protocol version {version}; this helper speaks version "
            f"{PROTOCOL_VERSION}. Update both to the same release.",
            job=job,
        )
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        shown = kind[:40] if isinstance(kind, str) else kind
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {shown!r}.", job=job)
    required, optional = _FIELDS[kind]
    present = set(data) - {"v", "type"}
    if missing := sorted(required - present):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"The {kind} message lacks {', '.join(missing)}.", job=job)
    if unknown := sorted(present - required - optional):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"The {kind} message has unknown fields: {_names(unknown)}.", job=job
        )
    try:
        return _build(kind, data)
    except ProtocolError as exc:
        exc.job = exc.job or job
        raise


def _build(kind: str, data: dict[str, object]) -> IncomingMessage:
    if kind == "hello":
        version = data.get("extension_version")
        return Hello(extension_version=None if version is None else _short_text(version, "extension_version"))
    if kind == "start":
        scope, include_files = _options(data["options"])
        return Start(
            job=_job_id(data["job"]), session=_site_session(data), scope=scope, include_files=include_files
        )
    if kind == "cancel":
        return Cancel(job=_job_id(data["job"]))
    if kind == "open-archive":
        target = data["target"]
        if target not in {t.value for t in ArchiveTarget}:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, 'target must be "viewer" or "folder".')
        return OpenArchive(server=normalise_server_url(data["server"]), target=ArchiveTarget(str(target)))
    scope, include_files = _options(data.get("options", {}))
    return Remember(session=_site_session(data), scope=scope, include_files=include_files)


def _options(options: object) -> tuple[ExportScope, bool]:
    if not isinstance(options, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "options must be an object.")
    if unknown := sorted(set(options) - _OPTION_FIELDS):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"Unknown options: {_names(unknown)}.")
    scope = options.get("scope", ExportScope.ALL.value)
    if scope not in {s.value for s in ExportScope}:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, 'options.scope must be "all" or "direct".')
    include_files = options.get("include_files", True)
    if not isinstance(include_files, bool):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "options.include_files must be true or false.")
    return ExportScope(scope), include_files


def _names(names: list[str]) -> str:
    return ", ".join(name[:40] for name in names[:5])


def _job_id(value: object) -> str:
    if not isinstance(value, str) or not _JOB_ID.match(value):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "job must be 1 to 64 letters, digits, '-' or '_'.")
    return value


def _short_text(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_SHORT_TEXT or not value.isprintable():
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{name} must be a short line of text.")
    return value


def _site_session(data: dict[str, object]) -> SiteSession:
    token = data["token"]
    if not isinstance(token, str) or not _TOKEN.match(token) or _TOKEN_FORBIDDEN & set(token):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "The session token has an unexpected form.")
    domain = data["cookie_domain"]
    if not isinstance(domain, str) or not domain or len(domain) > 255 or not domain.isprintable():
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "cookie_domain must be the cookie's domain.")
    secure = data["cookie_secure"]
    if not isinstance(secure, bool):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "cookie_secure must be true or false.")
    session = SiteSession(
        server=normalise_server_url(data["server"]),
        cookie_site=url_origin(normalise_server_url(data["cookie_site"])),
        cookie_domain=domain.lower(),
        cookie_secure=secure,
        token=token,
    )
    check_session_site(session)
    return session


# ---------------------------------------------------------------------------------------------- URLs


def normalise_server_url(value: object) -> str:
    """`scheme://host[:port][/path]`, lower-case host, no default port, no trailing slash."""
    if not isinstance(value, str) or not value or len(value) > _MAX_URL_LENGTH or not value.isprintable():
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "server must be the server's address (an http(s) URL).")
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "The server address has an invalid port.") from exc
    if scheme not in {"http", "https"} or not parts.hostname:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "The server address must start with https:// or http://.")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, "The server address must not contain a user name, query or fragment."
        )
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(segment in {".", ".."} or "\\" in segment for segment in segments):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "The server address has an invalid path.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    netloc = host if port in {None, default_port} else f"{host}:{port}"
    path = "".join(f"/{segment}" for segment in segments)
    return f"{scheme}://{netloc}{path}"


def url_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_session_site(session: SiteSession) -> None:
    """The token may only go back to the site its cookie belongs to."""
    server_origin = url_origin(session.server)
    if server_origin != session.cookie_site:
        raise ProtocolError(
            ErrorCode.ORIGIN_MISMATCH,
            f"The login cookie belongs to {session.cookie_site}, not to {server_origin}; "
            "the helper only uses a login for the site it came from.",
        )
    host = (urlsplit(session.server).hostname or "").lower()
    domain = session.cookie_domain
    if not _domain_matches(host, domain):
        raise ProtocolError(
            ErrorCode.ORIGIN_MISMATCH,
            f"The login cookie is for {domain.lstrip('.')}, not for {host}.",
        )
    if session.cookie_secure and not session.server.startswith("https://"):
        raise ProtocolError(
            ErrorCode.ORIGIN_MISMATCH,
            "A login cookie for https:// sites cannot be sent to an http:// address.",
        )


def _domain_matches(host: str, cookie_domain: str) -> bool:
    """Cookie domain matching (RFC 6265 §5.1.3); IP addresses only match exactly."""
    bare = cookie_domain.lstrip(".")
    if host == bare:
        return True
    if not cookie_domain.startswith(".") or not bare:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(f".{bare}")
    return False


# ---------------------------------------------------------------------------------------------- outgoing


def clip(text: str, limit: int = _MAX_SHORT_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_frame(code: ErrorCode, message: str, *, job: str | None = None) -> dict[str, object]:
    frame: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "type": "error",
        "code": code.value,
        "message": clip(message, 1000),
    }
    if job is not None:
        frame["job"] = job
    return frame


def error_frame_for(error: ProtocolError) -> dict[str, object]:
    return error_frame(error.code, error.message, job=error.job)
