"""The program the browser starts for the extension: reads frames, runs backups, streams progress back.

Standard output belongs to the browser: only frames go there. The binary stdout is taken once at
start and `sys.stdout` then points at stderr, so a stray print cannot corrupt the stream; `sys.stdin`
points at the null device, so nothing (a keyring password prompt, say) can read the browser's pipe.
The log goes to a file in the user's state folder and never contains the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import logging.handlers
import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mmtakeout import __version__
from mmtakeout.nativehost import jobs, paths
from mmtakeout.nativehost.protocol import (
    DEV_CHROMIUM_EXTENSION_ID,
    FIREFOX_ADDON_ID,
    PROTOCOL_VERSION,
    STORE_CHROMIUM_EXTENSION_IDS,
    Cancel,
    ErrorCode,
    Hello,
    IncomingMessage,
    OpenArchive,
    ProtocolError,
    Remember,
    Start,
    decode_message,
    encode_frame,
    error_frame,
    error_frame_for,
    read_frame,
)

LOGGER_NAME = "mmtakeout.nativehost"
_CHROMIUM_ORIGIN = re.compile(r"^chrome-extension://([a-p]{32})/$")
# How long a closing host waits for a cancelled export to write its last transaction.
_SHUTDOWN_GRACE_S = 5.0


class FrameWriter:
    """Writes whole frames to the browser; after a broken pipe it drops frames silently."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: Mapping[str, object]) -> None:
        data = encode_frame(message)
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(data)
                self._stream.flush()
            except OSError:
                self.closed = True


@dataclass(frozen=True)
class Caller:
    """The extension that started the helper, as the browser reported it in argv."""

    browser_family: str  # "chromium" or "firefox"
    extension_id: str


def identify_caller(argv: Sequence[str]) -> Caller | None:
    """Chromium passes `chrome-extension://<id>/` (plus `--parent-window=` on Windows);
    Firefox passes the manifest path and the add-on id."""
    args = [arg for arg in argv if not arg.startswith("--parent-window=")]
    if len(args) == 1:
        match = _CHROMIUM_ORIGIN.match(args[0])
        return Caller("chromium", match.group(1)) if match else None
    if len(args) == 2 and not args[0].startswith("chrome-extension:"):
        return Caller("firefox", args[1])
    return None


def is_allowed(caller: Caller, config: paths.HostConfig) -> bool:
    if caller.browser_family == "firefox":
        return caller.extension_id == FIREFOX_ADDON_ID
    allowed = {DEV_CHROMIUM_EXTENSION_ID, *STORE_CHROMIUM_EXTENSION_IDS, *config.extra_extension_ids}
    return caller.extension_id in allowed


class SecretRedactor(logging.Formatter):
    """Formats log records and blanks out every secret registered with `add`, tracebacks included."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(process)d %(levelname)s %(message)s")
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        self._secrets.add(secret)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[token]")
        return text


def setup_logging(user: paths.UserEnvironment, redactor: SecretRedactor) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler: logging.Handler
    try:
        log_path = paths.log_file(user)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(redactor)
    logger.addHandler(handler)
    return logger


class HostSession:
    """Dispatches decoded messages; owns the running export jobs of this helper process."""

    def __init__(self, writer: FrameWriter, context: jobs.JobContext, redactor: SecretRedactor) -> None:
        self._writer = writer
        self._context = context
        self._redactor = redactor
        self._jobs: dict[str, jobs.RunningJob] = {}

    async def handle(self, message: IncomingMessage) -> None:
        log = self._context.logger
        match message:
            case Hello():
                log.info("hello from extension %s", message.extension_version)
                self._writer.send(
                    {
                        "v": PROTOCOL_VERSION,
                        "type": "hello",
                        "helper_version": __version__,
                        "archive_root": str(paths.archive_root(self._context.user, self._context.config)),
                        "log_file": str(paths.log_file(self._context.user)),
                        "features": ["start", "cancel", "open-archive", "remember"],
                    }
                )
            case Start():
                self._start(message)
            case Cancel():
                running = self._jobs.get(message.job)
                if running is None:
                    self._writer.send(
                        error_frame(
                            ErrorCode.BAD_MESSAGE, "No backup with that id is running.", job=message.job
                        )
                    )
                else:
                    log.info("job %s: cancel requested", message.job)
                    running.cancel.set()
            case OpenArchive():
                self._writer.send(jobs.open_archive(self._context, message))
            case Remember():
                self._redactor.add(message.session.token)
                self._writer.send(await jobs.remember(self._context, message))

    def _start(self, start: Start) -> None:
        self._redactor.add(start.session.token)
        if start.job in self._jobs:
            self._writer.send(
                error_frame(ErrorCode.BAD_MESSAGE, "A backup with that id is already running.", job=start.job)
            )
            return
        running = jobs.RunningJob(start=start, cancel=asyncio.Event())
        running.task = asyncio.create_task(jobs.run_export(self._context, running, self._writer.send))
        running.task.add_done_callback(lambda _task: self._jobs.pop(start.job, None))
        self._jobs[start.job] = running

    async def close(self) -> None:
        """The browser went away: stop running exports so their last transaction lands, then return."""
        tasks = [running.task for running in self._jobs.values() if running.task is not None]
        for running in self._jobs.values():
            running.cancel.set()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def serve(stdin: BinaryIO, writer: FrameWriter, session: HostSession, logger: logging.Logger) -> int:
    """Read frames until EOF; a broken frame ends the session (the stream can't be re-synchronised)."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[bytes | ProtocolError | None] = asyncio.Queue()

    def deliver(item: bytes | ProtocolError | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed: nobody is listening
            loop.call_soon_threadsafe(inbox.put_nowait, item)

    def pump() -> None:
        while True:
            try:
                payload = read_frame(stdin)
            except ProtocolError as exc:
                deliver(exc)
                return
            except OSError:
                deliver(None)
                return
            deliver(payload)
            if payload is None:
                return

    threading.Thread(target=pump, name="native-messaging-reader", daemon=True).start()
    exit_code = 0
    while True:
        item = await inbox.get()
        if item is None:
            logger.info("browser closed the connection")
            break
        if isinstance(item, ProtocolError):
            logger.warning("broken frame: %s", item.message)
            writer.send(error_frame_for(item))
            exit_code = 1
            break
        try:
            message = decode_message(item)
        except ProtocolError as exc:
            logger.warning("refused message: %s (%s)", exc.message, exc.code)
            writer.send(error_frame_for(exc))
            continue
        await session.handle(message)
    await session.close()
    return exit_code


def _take_binary_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Keep the real pipes for frames and point the text streams away from them."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
        msvcrt.setmode(sys.stdout.fileno(), os.O_BINARY)
    # Unbuffered reads: a daemon thread blocked in a buffered read would trip the interpreter's
    # shutdown ("could not acquire lock for <stdin>"); a raw FileIO has no such lock.
    stdin = io.FileIO(sys.stdin.fileno(), "rb", closefd=False)
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    return stdin, stdout


def use_non_interactive_keyring(platform: str) -> None:
    """Pick the OS keyring explicitly: an implicitly chosen backend may prompt for a password on
    stdin, which here is the browser's pipe. Instantiating does not touch the keyring yet."""
    import keyring
    from keyring.backend import KeyringBackend

    backend: KeyringBackend
    if platform == "darwin":
        from keyring.backends import macOS

        backend = macOS.Keyring()  # type: ignore[no-untyped-call]
    elif platform == "win32":
        from keyring.backends import Windows

        backend = Windows.WinVaultKeyring()  # type: ignore[no-untyped-call]
    else:
        from keyring.backends import SecretService

        backend = SecretService.Keyring()  # type: ignore[no-untyped-call]
    keyring.set_keyring(backend)


def main(argv: Sequence[str]) -> int:
    stdin, stdout = _take_binary_stdio()
    writer = FrameWriter(stdout)
    user = paths.UserEnvironment(platform=sys.platform, home=Path.home(), env=dict(os.environ))
    redactor = SecretRedactor()
    logger = setup_logging(user, redactor)
    use_non_interactive_keyring(user.platform)
    caller = identify_caller(argv)
    try:
        config = paths.load_config(user)
    except paths.ConfigError as exc:
        logger.error("%s", exc)
        writer.send(error_frame(ErrorCode.INTERNAL, f"The helper's settings are broken: {exc}"))
        return 1
    if caller is None or not is_allowed(caller, config):
        logger.warning("refused caller %r", list(argv)[:3])
        writer.send(
            error_frame(
                ErrorCode.FORBIDDEN_CALLER,
                "This helper only works with the Mattermost Takeout extension; "
                "the extension that started it is not on its list.",
            )
        )
        return 1
    logger.info(
        "started by %s extension %s (helper %s)", caller.browser_family, caller.extension_id, __version__
    )
    context = jobs.JobContext(user=user, config=config, logger=logger)
    session = HostSession(writer, context, redactor)
    return asyncio.run(serve(stdin, writer, session, logger))
