"""Every converter's output on the hostile archive passes its format's validator, and each validator
catches the rule violations it was written for (so a passing validator means something)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from convert_validators.mattermost import validate_bulk_zip
from convert_validators.rocketchat import validate_rocketchat_zip
from convert_validators.slack import validate_slack_zip
from convert_validators.zulip import check_message, validate_zulip_zip
from convert_zips import entries, first, with_lines, write_zip

Convert = Callable[..., tuple[Path, Any]]


@pytest.mark.parametrize(
    ("target", "options"),
    [
        ("mattermost", {}),
        ("mattermost", {"team": "newteam"}),
        ("mattermost", {"direct_only": True}),
        ("mattermost", {"direct_only": True, "team": "newteam"}),
    ],
)
def test_mattermost_output_passes_the_importer_rules(
    convert_rich: Convert, target: str, options: dict[str, Any]
) -> None:
    out, _ = convert_rich(target, **options)
    assert validate_bulk_zip(out) == []


@pytest.mark.parametrize("options", [{}, {"team": "newteam"}, {"direct_only": True}])
def test_zulip_output_passes_zulips_parser_rules(convert_rich: Convert, options: dict[str, Any]) -> None:
    out, _ = convert_rich("zulip", **options)
    assert validate_zulip_zip(out) == []
    assert validate_bulk_zip(out, jsonl_name="export.json", emoji_base=".", max_post_runes=10**6) == []


@pytest.mark.parametrize("options", [{}, {"direct_only": True}])
def test_slack_output_passes_the_export_rules(convert_rich: Convert, options: dict[str, Any]) -> None:
    out, _ = convert_rich("slack", **options)
    assert validate_slack_zip(out) == []


@pytest.mark.parametrize("options", [{}, {"direct_only": True}])
def test_rocketchat_output_passes_the_csv_importer_rules(
    convert_rich: Convert, options: dict[str, Any]
) -> None:
    out, _ = convert_rich("rocketchat-csv", **options)
    assert validate_rocketchat_zip(out) == []


# --- the Mattermost validator catches what the importer rejects ---------------------------------------


def _broken(
    rows: list[dict[str, Any]], line_type: str, change: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    rows = copy.deepcopy(rows)
    change(first(rows, line_type))
    return rows


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: rows[1:], "first line must be the version line"),
        (
            lambda rows: [*rows, {"type": "team", "team": first(rows, "team")}],
            "lines must be grouped by type",
        ),
        (lambda rows: [*rows, {"type": "bot", "bot": {}}], "lines must be grouped by type"),
        (lambda rows: _broken(rows, "team", lambda t: t.update(name="helpdesk")), "reserved team name"),
        (lambda rows: _broken(rows, "channel", lambda c: c.update(name="x" * 65)), "invalid channel name"),
        (
            lambda rows: _broken(rows, "channel", lambda c: c.update(display_name="é" * 65)),
            "display_name longer",
        ),
        (
            lambda rows: _broken(rows, "channel", lambda c: c.update(purpose="p" * 251)),
            "header or purpose too long",
        ),
        (lambda rows: _broken(rows, "channel", lambda c: c.update(type="D")), "channel type"),
        (lambda rows: _broken(rows, "user", lambda u: u.update(email="")), "invalid email"),
        (lambda rows: _broken(rows, "user", lambda u: u.update(username="all")), "invalid username"),
        (
            lambda rows: _broken(rows, "user", lambda u: u.update(first_name="f" * 65)),
            "first_name longer than 64",
        ),
        (
            lambda rows: _broken(rows, "post", lambda p: p.update(message="m" * 16384)),
            "message of 16384 characters",
        ),
        (lambda rows: _broken(rows, "post", lambda p: p.update(create_at=0)), "post without create_at"),
        (lambda rows: _broken(rows, "post", lambda p: p.update(user="nobody")), "post by unknown user"),
        (lambda rows: _broken(rows, "post", lambda p: p.update(type="system_bogus")), "post type"),
        (
            lambda rows: _broken(
                rows, "post", lambda p: p.update(attachments=[{"path": "../../etc/passwd"}])
            ),
            "escapes data/",
        ),
        (
            lambda rows: _broken(rows, "post", lambda p: p.update(attachments=[{"path": "nope.txt"}])),
            "not in the zip",
        ),
        (
            lambda rows: _broken(
                rows,
                "post",
                lambda p: p.update(reactions=[{"user": p["user"], "emoji_name": "x", "create_at": 1}]),
            ),
            "before its post",
        ),
        (
            lambda rows: _broken(rows, "direct_channel", lambda d: d.update(members=[d["members"][0]])),
            "needs 2 or 3-8 members",
        ),
        (lambda rows: _broken(rows, "user", lambda u: u.update(nickname="a\x00b")), "NUL character"),
    ],
)
def test_mattermost_validator_rejects_broken_files(
    convert_rich: Convert,
    tmp_path: Path,
    change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    expected: str,
) -> None:
    out, _ = convert_rich("mattermost")
    broken = with_lines(out, tmp_path / "broken.zip", change)
    problems = validate_bulk_zip(broken)
    assert any(expected in problem for problem in problems), problems


def test_mattermost_validator_rejects_a_line_over_16_mib(convert_rich: Convert, tmp_path: Path) -> None:
    out, _ = convert_rich("mattermost")

    def huge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        post = first(rows, "post")
        post["replies"] = [
            {"user": post["user"], "message": "r" * 16000, "create_at": post["create_at"] + 1}
        ] * 1100
        return rows

    problems = validate_bulk_zip(with_lines(out, tmp_path / "huge.zip", huge))
    assert any("longer than the importer's 16 MiB" in problem for problem in problems)


# --- Zulip ------------------------------------------------------------------------------------------


def test_zulip_validator_rejects_unknown_line_types_teams_and_unescaped_html(
    convert_rich: Convert, tmp_path: Path
) -> None:
    out, _ = convert_rich("zulip")

    def break_it(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = copy.deepcopy(rows)
        rows.append({"type": "bot", "bot": {"username": "x", "owner": "me"}})
        team = first(rows, "team")
        rows.insert(2, {"type": "team", "team": {**team, "name": "second"}})
        direct = first(rows, "direct_post")
        direct["team"] = team["name"]
        first(rows, "post")["message"] = "<b>bold</b>\nline"
        del first(rows, "user")["last_name"]
        return rows

    problems = validate_zulip_zip(with_lines(out, tmp_path / "z.zip", break_it, name="export.json"))
    text = "\n".join(problems)
    assert "makes Zulip's parser raise KeyError" in text
    assert "Zulip imports them only from single-team exports" in text
    assert "direct_post with a team" in text
    assert "html2text changes the text" in text
    assert "user without 'last_name'" in text


def test_zulip_message_check_matches_html2text() -> None:
    assert check_message("a &lt;b&gt;<br>\nc") is None
    assert check_message("a <b>b</b>") is not None
    assert check_message("x " * 6000) is not None


# --- Slack ------------------------------------------------------------------------------------------


def test_slack_validator_rejects_broken_exports(convert_rich: Convert, tmp_path: Path) -> None:
    out, _ = convert_rich("slack")
    files = entries(out)
    channels = json.loads(files["channels.json"])
    channels[0]["creator"] = None
    files["channels.json"] = json.dumps(channels).encode()
    day = next(name for name in sorted(files) if name.startswith("town-square/"))
    messages = json.loads(files[day])
    messages.append(dict(messages[0]))
    messages.append({"type": "message", "user": "UNOBODY", "text": "x", "ts": "1.5"})
    messages.append({**messages[0], "ts": "1700000100.000001", "thread_ts": "1600000000.000000"})
    files[day] = json.dumps(messages).encode()
    files["__uploads/FORPHAN/orphan.txt"] = b"orphan"
    problems = "\n".join(validate_slack_zip(write_zip(tmp_path / "s.zip", files)))
    assert "no known creator" in problems
    assert "twice in the conversation" in problems
    assert "valid ts" in problems
    assert "which is not in the conversation" in problems
    assert "upload not referenced" in problems


# --- Rocket.Chat ------------------------------------------------------------------------------------


def test_rocketchat_validator_rejects_broken_csv(convert_rich: Convert, tmp_path: Path) -> None:
    out, _ = convert_rich("rocketchat-csv")
    files = entries(out)
    files["channels.csv"] += b"directmessages,me,public,me\r\nbad/name,me,secret,nobody\r\n"
    files["users.csv"] += b"with space,x@y.z,Name\r\n"
    files["town-square/extra.csv"] = b'me,notatime,"text"\r\nnobody,1,text,extra\r\n'
    files["nested/deeper/x.csv"] = b""
    problems = "\n".join(validate_rocketchat_zip(write_zip(tmp_path / "r.zip", files)))
    assert "invalid or repeated channel name 'directmessages'" in problems
    assert "unknown creator 'me' or privacy 'secret'" in problems or "privacy 'secret'" in problems
    assert "users.csv: bad row" in problems
    assert "is not milliseconds" in problems
    assert "row with 4 columns instead of 3" in problems
    assert "not <folder>/<file>.csv" in problems
