from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox_thread

Serve = Callable[..., RunningSandbox]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name.startswith("test_extension_"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def sandbox_setup() -> SandboxSetup:
    return generate_world(seed=7, posts=300)


@pytest.fixture
def serve(sandbox_setup: SandboxSetup) -> Iterator[Serve]:
    """Start the sandbox with the given SandboxConfig settings (latency_ms, fault_hook, …)."""
    running: list[RunningSandbox] = []

    def start(**settings: Any) -> RunningSandbox:
        sandbox = start_sandbox_thread(sandbox_setup.world, SandboxConfig(**settings))
        running.append(sandbox)
        return sandbox

    yield start
    for sandbox in running:
        sandbox.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 400 KiB tmpfs: a real "no space left on device" (needs the right to mount; skipped otherwise)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): the disk-full path is not exercised")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
