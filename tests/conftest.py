"""Shared fixtures: sandbox worlds, running sandboxes and real exported archives.

* `sandbox_world` / `sandbox` / `sandbox_token`: a generated, realistic world (`generate_world`)
  served over loopback HTTP from a background thread. Override `sandbox_world` in a module to serve
  another world, and `sandbox_config` to change the server's behaviour (latency, faults, …).
* `scenario` / `scenario_sandbox`: the hand-built world of `sandbox_worlds.scenario_world`, whose
  ids name every edge case.
* `exported_archive`: a fresh copy of a real archive exported from the generated world (exported once
  per test session, copied per test), for viewer and converter tests.
* Every test runs with an in-memory keyring, so no test can read or write the keyring of the person
  running the suite.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from export_checks import export_now
from memory_keyring import MemoryKeyring
from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox_thread
from mmtakeout.sandbox.world import World
from sandbox_worlds import Scenario, scenario_world

GENERATED_SEED = 11
GENERATED_POSTS = 800


@pytest.fixture(autouse=True)
def _never_the_real_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def sandbox_setup() -> SandboxSetup:
    return generate_world(seed=GENERATED_SEED, posts=GENERATED_POSTS)


@pytest.fixture
def sandbox_world(sandbox_setup: SandboxSetup) -> World:
    return sandbox_setup.world


@pytest.fixture
def sandbox_token(sandbox_setup: SandboxSetup) -> str:
    return sandbox_setup.token


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig()


@pytest.fixture
def sandbox(sandbox_world: World, sandbox_config: SandboxConfig) -> Iterator[RunningSandbox]:
    running = start_sandbox_thread(sandbox_world, sandbox_config)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def scenario() -> Scenario:
    return scenario_world()


@pytest.fixture
def scenario_sandbox(scenario: Scenario, sandbox_config: SandboxConfig) -> Iterator[RunningSandbox]:
    running = start_sandbox_thread(scenario.world, sandbox_config)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def _exported_archive_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    setup = generate_world(seed=GENERATED_SEED, posts=GENERATED_POSTS)
    out = tmp_path_factory.mktemp("exported") / "archive"
    running = start_sandbox_thread(setup.world, SandboxConfig())
    try:
        result = export_now(running.url, setup.token, out)
    finally:
        running.stop()
    assert result.status in ("complete", "incomplete"), result
    return out


@pytest.fixture
def exported_archive(_exported_archive_once: Path, tmp_path: Path) -> Path:
    """A private copy of an archive exported from `generate_world(seed=11, posts=800)`."""
    copy = tmp_path / "archive"
    shutil.copytree(_exported_archive_once, copy)
    return copy
