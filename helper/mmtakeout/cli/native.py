"""`mmtakeout native-host | install | uninstall | doctor`: the browser extension's side of the helper."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mmtakeout.cli import EXIT_FAILURE, EXIT_OK
from mmtakeout.nativehost import install, paths


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    host = subparsers.add_parser(
        "native-host",
        help="the helper the browser extension starts (not for typing in a terminal)",
        description="Speaks the browser's native-messaging protocol on standard input and output. "
        "The browser starts it with the calling extension's identity as arguments.",
    )
    host.add_argument(
        "caller",
        nargs=argparse.REMAINDER,
        help="what the browser passes: the extension origin (Chromium) "
        "or the manifest path and add-on id (Firefox)",
    )
    host.set_defaults(handler=_run_native_host)

    add = subparsers.add_parser(
        "install",
        help="register the helper with your browsers so the extension can start it",
        description="Registers the helper for the current user with every supported browser found "
        f"({', '.join(install.BROWSER_NAMES)}), or only with those named.",
    )
    _add_browser_argument(add)
    add.add_argument(
        "--archive-root",
        type=Path,
        metavar="FOLDER",
        help="where the extension's backups go (default: Mattermost Takeout in your documents)",
    )
    add.add_argument(
        "--extension-id",
        action="append",
        default=[],
        metavar="ID",
        help="also allow this Chromium extension id (e.g. a store build); repeatable",
    )
    add.set_defaults(handler=_run_install)

    remove = subparsers.add_parser(
        "uninstall",
        help="remove the helper's browser registrations",
        description="Removes the registrations (all, or only the browsers named). "
        "Archives and settings stay.",
    )
    _add_browser_argument(remove)
    remove.set_defaults(handler=_run_uninstall)

    doctor = subparsers.add_parser("doctor", help="show where the helper is registered and whether it works")
    doctor.set_defaults(handler=_run_doctor)


def _add_browser_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--browser",
        action="append",
        choices=install.BROWSER_NAMES,
        metavar="NAME",
        help=f"only this browser ({', '.join(install.BROWSER_NAMES)}); repeatable",
    )


def _named_browsers(names: list[str]) -> list[install.BrowserSpec]:
    return [install.browser_by_name(name) for name in dict.fromkeys(names)]


def _current_user() -> paths.UserEnvironment:
    return paths.UserEnvironment(platform=sys.platform, home=Path.home(), env=dict(os.environ))


def _run_native_host(args: argparse.Namespace) -> int:
    from mmtakeout.nativehost import host

    return host.main(args.caller)


def _run_install(args: argparse.Namespace) -> int:
    user = _current_user()
    try:
        config = paths.load_config(user)
    except paths.ConfigError as exc:
        print(f"{exc}\nFix or delete that file, then run `mmtakeout install` again.", file=sys.stderr)
        return EXIT_FAILURE
    if args.archive_root is not None and not args.archive_root.is_absolute():
        args.archive_root = args.archive_root.absolute()
    new_config = paths.HostConfig(
        archive_root=args.archive_root or config.archive_root,
        extra_extension_ids=tuple(dict.fromkeys([*config.extra_extension_ids, *args.extension_id])),
    )
    if args.browser:
        browsers = _named_browsers(args.browser)
    else:
        browsers = install.detect_browsers(user)
        if not browsers:
            print(
                "No supported browser was found for this user (looked for "
                f"{', '.join(b.label for b in install.BROWSERS)}).\n"
                "Start your browser once, or name it: mmtakeout install --browser chrome",
                file=sys.stderr,
            )
            return EXIT_FAILURE
    plan = install.plan_install(
        user, browsers, python=sys.executable, config=new_config, write_config=new_config != config
    )
    try:
        install.apply_install(plan, install.system_registry(user))
    except OSError as exc:
        print(f"Could not register the helper: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    for browser in browsers:
        print(f"Registered for {browser.label}: {install.manifest_path(user, browser)}")
    print(f"Launcher: {install.launcher_path(user)}")
    print(f"Backups will go to: {paths.archive_root(user, new_config)}")
    print("Now click the Mattermost Takeout button in your browser on a Mattermost tab.")
    return EXIT_OK


def _run_uninstall(args: argparse.Namespace) -> int:
    user = _current_user()
    browsers = _named_browsers(args.browser) if args.browser else None
    plan = install.plan_uninstall(user, browsers)
    try:
        removed = install.apply_uninstall(plan, install.system_registry(user))
    except OSError as exc:
        print(f"Could not remove the registration: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    for path in removed:
        print(f"Removed {path}")
    for key in plan.registry_keys:
        print(rf"Removed HKEY_CURRENT_USER\{key}")
    if not removed and not plan.registry_keys:
        print("Nothing to remove: the helper was not registered.")
    print("Your archives and settings were left in place.")
    return EXIT_OK


def _run_doctor(args: argparse.Namespace) -> int:
    del args
    user = _current_user()
    healthy = True
    try:
        config = paths.load_config(user)
    except paths.ConfigError as exc:
        print(f"Settings: {exc}")
        config, healthy = paths.HostConfig(), False
    registry = install.system_registry(user)
    registered_anywhere = False
    print("Browsers:")
    for browser in install.BROWSERS:
        status = install.inspect_browser(user, browser, config, registry)
        found = "found" if status.found else "not found"
        if status.registered:
            registered_anywhere = True
            state = "registered" if not status.problems else "registered, with problems"
            print(f"  {browser.label:<15} {found:<10} {state}: {status.manifest}")
            for problem in status.problems:
                healthy = False
                print(f"      problem: {problem}")
        else:
            hint = f" (run: mmtakeout install --browser {browser.name})" if status.found else ""
            print(f"  {browser.label:<15} {found:<10} not registered{hint}")
    launcher = install.launcher_path(user)
    works, detail = install.check_launcher(launcher)
    print(f"Launcher: {launcher}: {'works, ' if works else 'PROBLEM: '}{detail}")
    print(f"Backups go to: {paths.archive_root(user, config)}")
    print(f"Helper log: {paths.log_file(user)}")
    if not registered_anywhere:
        print("The helper is not registered with any browser: run `mmtakeout install`.")
    ok = healthy and works and registered_anywhere
    print("Everything looks fine." if ok else "Something needs fixing (see above).")
    return EXIT_OK if ok else EXIT_FAILURE
