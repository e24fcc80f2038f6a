"""The pure naming and text rules every converter shares."""

from __future__ import annotations

import pytest

from mmtakeout.convert.names import (
    UniqueNames,
    safe_file_name,
    slug,
    split_message,
    tone_to_slack,
    usable_email,
)
from mmtakeout.convert.plan import (
    PlanError,
    is_valid_channel_name,
    is_valid_team_name,
    is_valid_username,
    validate_team_option,
)


@pytest.mark.parametrize("limit", [10, 100, 16383])
def test_split_message_keeps_every_character(limit: int) -> None:
    text = ("word " * 50 + "\n") * 300 + "x" * (limit * 2)
    pieces = split_message(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert split_message("short", limit) == ["short"]


def test_split_prefers_line_then_word_boundaries() -> None:
    assert split_message("aaaa bbbb\ncccc dddd", 12) == ["aaaa bbbb\n", "cccc dddd"]
    assert split_message("aaaa bbbb cccc", 11) == ["aaaa bbbb ", "cccc"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("/abs/path.txt", "_abs_path.txt"),
        ("..\\..\\win.ini", "_.._win.ini"),
        ("nul\x00byte.png", "nul_byte.png"),
        ("\u202egpj.exe", "_gpj.exe"),
        (".hidden", "hidden"),
        ("", "fallback.bin"),
        ("...", "fallback.bin"),
        ("ünïcödé 😀.pdf", "ünïcödé 😀.pdf"),
    ],
)
def test_safe_file_name(name: str, expected: str) -> None:
    assert safe_file_name(name, "fallback.bin") == expected


def test_safe_file_name_caps_length_and_keeps_the_extension() -> None:
    capped = safe_file_name("é" * 300 + ".pdf", "fallback")
    assert capped.endswith(".pdf") and len(capped.encode()) <= 200
    assert "/" not in capped


def test_unique_names_ignore_case_and_respect_the_length() -> None:
    names = UniqueNames(8, taken={"Taken"})
    assert names.claim("taken") == "taken-2"
    assert names.claim("abcdefghij") == "abcdefgh"
    assert names.claim("abcdefghij") == "abcdef-2"
    assert names.is_taken("ABCDEFGH")


def test_slug_and_email() -> None:
    assert slug("Ünïcödé Chännel!", "a-z0-9-") == "unicode-channel"
    assert usable_email("Bob@Example.COM") == "bob@example.com"
    assert usable_email("") is None
    assert usable_email("Bob <bob@example.com>") is None
    assert usable_email("a@b@c.de") is None


def test_skin_tones_in_slack_notation() -> None:
    assert tone_to_slack("thumbsup_tone3") == "thumbsup::skin-tone-4"
    assert tone_to_slack("wave_medium_dark_skin_tone") == "wave::skin-tone-5"
    assert tone_to_slack("smile") == "smile"


def test_mattermost_name_rules() -> None:
    assert is_valid_team_name("acme") and not is_valid_team_name("helpdesk") and not is_valid_team_name("a")
    assert not is_valid_team_name("Bad_Name")
    assert is_valid_channel_name("town-square") and is_valid_channel_name("a_b")
    assert not is_valid_channel_name("x" * 65)
    assert not is_valid_channel_name("0123456789abcdef0123456789abcdef01234567")
    assert not is_valid_channel_name("a" * 26 + "__" + "b" * 26)
    assert (
        is_valid_username("dr.who-1_x") and not is_valid_username("channel") and not is_valid_username("a:b")
    )
    assert validate_team_option("NewTeam") == "newteam"
    with pytest.raises(PlanError, match="reserved"):
        validate_team_option("api-team")
