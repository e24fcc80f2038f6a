"""Tokens in the OS keyring: only secure backends, each failure a plain sentence, nothing leaks."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, chainer, fail, null
from keyring.errors import KeyringLocked
from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

from memory_keyring import MemoryKeyring
from mmtakeout.credentials import ServerAddress
from mmtakeout.credentials.keyring_store import SERVICE_NAME, KeyringUnavailable, TokenStore, insecure_reason

SERVER = ServerAddress.parse("https://chat.example.com/")
TOKEN = "h8x3kq9wzt7rmb4fcn2a6pejdy"


def test_store_load_delete_round_trip(memory_keyring: MemoryKeyring) -> None:
    store = TokenStore.open()
    assert store.load(SERVER) is None
    store.save(SERVER, f"  {TOKEN}\n")
    assert memory_keyring.secrets == {(SERVICE_NAME, "https://chat.example.com"): TOKEN}
    assert store.load(ServerAddress.parse("https://CHAT.example.com:443")) == TOKEN
    assert store.delete(SERVER) is True
    assert store.delete(SERVER) is False
    assert memory_keyring.secrets == {}


def file_backends(tmp_path: Path) -> list[KeyringBackend]:
    plaintext, encrypted = PlaintextKeyring(), EncryptedKeyring()
    plaintext.file_path = str(tmp_path / "plain.cfg")  # type: ignore[misc]
    encrypted.file_path = str(tmp_path / "crypted.cfg")  # type: ignore[misc]
    return [plaintext, encrypted]


class ChainOf(chainer.ChainerBackend):
    """A chain with a fixed list, like the one keyring builds from whatever is installed."""

    def __init__(self, members: list[KeyringBackend]) -> None:
        super().__init__()
        self.members = members

    @property
    def backends(self) -> list[KeyringBackend]:  # type: ignore[override]
        return self.members


def test_insecure_backends_are_refused_and_never_written(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    refused: list[KeyringBackend] = [
        *file_backends(tmp_path),
        fail.Keyring(),
        null.Keyring(),
        ChainOf([MemoryKeyring(), *file_backends(tmp_path)]),
        ChainOf([]),
    ]
    for backend in refused:
        assert insecure_reason(backend), backend
        keyring.set_keyring(backend)
        with pytest.raises(KeyringUnavailable, match="No secure keyring is available") as caught:
            TokenStore.open().save(SERVER, TOKEN)
        assert "--token-stdin" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    assert memory_keyring.secrets == {}
    assert insecure_reason(MemoryKeyring()) is None
    assert insecure_reason(ChainOf([MemoryKeyring(), MemoryKeyring()])) is None


def test_the_no_keyring_message_names_the_desktop_session() -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(KeyringUnavailable, match=r"no desktop session \(D-Bus\)"):
        TokenStore.open()


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


def test_a_locked_keyring_says_unlock_it() -> None:
    keyring.set_keyring(LockedKeyring())
    store = TokenStore.open()
    for action in (
        lambda: store.load(SERVER),
        lambda: store.save(SERVER, TOKEN),
        lambda: store.delete(SERVER),
    ):
        with pytest.raises(KeyringUnavailable, match="Your keyring is locked: unlock it") as caught:
            action()
        assert TOKEN not in str(caught.value)


def test_secret_service_without_a_desktop_session(no_session_bus: None) -> None:
    keyring.set_keyring(SecretService.Keyring())
    store = TokenStore.open()
    with pytest.raises(KeyringUnavailable, match=r"there is no desktop session \(D-Bus\)"):
        store.load(SERVER)
    with pytest.raises(KeyringUnavailable, match=r"there is no desktop session \(D-Bus\)") as caught:
        store.save(SERVER, TOKEN)
    assert TOKEN not in str(caught.value)


def test_secret_service_on_a_bus_without_a_keyring_daemon(session_bus: str) -> None:
    keyring.set_keyring(SecretService.Keyring())
    with pytest.raises(KeyringUnavailable) as caught:
        TokenStore.open().save(SERVER, TOKEN)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


def test_the_store_never_shows_the_token() -> None:
    store = TokenStore.open()
    store.save(SERVER, TOKEN)
    assert TOKEN not in repr(store) and TOKEN not in store.backend_name
