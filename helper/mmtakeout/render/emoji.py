"""System emoji short names → Unicode, as Mattermost resolves `:name:` and reaction names.

The table (`emoji_table.txt`, see `emoji_build`) lists each emoji once with its aliases and skin-tone
variants; Mattermost names a variant `<alias>_<tone name>` (current) or `<alias>_tone<N>` (older
servers), so both spellings are expanded here.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

TONE_NAMES = (
    "light_skin_tone",
    "medium_light_skin_tone",
    "medium_skin_tone",
    "medium_dark_skin_tone",
    "dark_skin_tone",
)


def _sequence_to_text(sequence: str) -> str:
    return "".join(chr(int(part, 16)) for part in sequence.split("-") if part)


@cache
def system_emoji() -> dict[str, str]:
    """Every known short name (aliases and tone variants included) mapped to its Unicode text."""
    table: dict[str, str] = {}
    text = resources.files(__package__).joinpath("emoji_table.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sequence, names_field, tones_field = [*line.split("\t"), "", ""][:3]
        if not sequence or not names_field:
            continue
        names = names_field.split(" ")
        glyph = _sequence_to_text(sequence)
        tones = [_sequence_to_text(tone) for tone in tones_field.split(",") if tone]
        for name in names:
            table.setdefault(name, glyph)
            for number, (tone_name, tone_glyph) in enumerate(zip(TONE_NAMES, tones, strict=False), 1):
                table.setdefault(f"{name}_{tone_name}", tone_glyph)
                table.setdefault(f"{name}_tone{number}", tone_glyph)
    return table


def emoji_text(name: str) -> str | None:
    """The Unicode text of a system emoji short name, or None when it is not a system emoji."""
    return system_emoji().get(name)
