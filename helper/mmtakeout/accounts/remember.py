"""Keep a server backed up: its token in the OS keyring, its archive in the list `mmtakeout sync` updates."""

from __future__ import annotations

from pathlib import Path

from mmtakeout.accounts.config import Config, KnownArchive, Selection, default_config_path, update_config
from mmtakeout.credentials.keyring_store import TokenStore
from mmtakeout.credentials.server import ServerAddress
from mmtakeout.sync.options import ExportOptions


def archive_folder(archive_dir: Path) -> Path:
    """The absolute folder as the config records it, so the same folder is never listed twice."""
    return Path(archive_dir).expanduser().resolve()


def register_archive(
    server_url: str, archive_dir: Path, options: ExportOptions, *, config_path: Path | None = None
) -> KnownArchive:
    """Add the archive to the sync list (or update its selection); needs no token."""
    archive = KnownArchive(
        server_url=ServerAddress.parse(server_url).url,
        folder=archive_folder(archive_dir),
        selection=Selection.from_options(options),
    )
    update_config(config_path or default_config_path(), lambda config: config.with_archive(archive))
    return archive


def remember_server(
    server_url: str,
    token: str,
    archive_dir: Path,
    options: ExportOptions,
    *,
    config_path: Path | None = None,
) -> None:
    """Store the token in the OS keyring and register the archive for `mmtakeout sync`.

    The token is stored first: when no secure keyring exists this raises `KeyringUnavailable` (a
    `CredentialError` whose message says what to do) and nothing is registered.
    """
    server = ServerAddress.parse(server_url)
    TokenStore.open().save(server, token)
    register_archive(server.url, archive_dir, options, config_path=config_path)


def forget_server(
    server_url: str, *, forget_archives: bool, config_path: Path | None = None
) -> tuple[bool, int]:
    """Delete the stored token and, when asked, the server's archives from the sync list (never the folders).

    Returns whether a token was deleted and how many archives left the list.
    """
    server = ServerAddress.parse(server_url)
    deleted = TokenStore.open().delete(server)
    removed = 0
    if forget_archives:

        def drop(config: Config) -> Config:
            nonlocal removed
            kept = config.without(lambda archive: archive.server_url == server.url)
            removed = len(config.archives) - len(kept.archives)
            return kept

        update_config(config_path or default_config_path(), drop)
    return deleted, removed
