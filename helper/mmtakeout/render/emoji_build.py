"""Regenerates `emoji_table.txt`, the shortcode → Unicode table the viewer ships.

Mattermost's own emoji list is generated from the `emoji-datasource` npm package (iamcal/emoji-data,
MIT), with gemoji's older names kept as extra aliases. We derive our table from the same two sources
so `:shortcode:` in a message and `emoji_name` in a reaction resolve as they do on the server:

    npm pack emoji-datasource gemoji   # then unpack both tarballs
    node -e "import('./gemoji/index.js').then(m => console.log(JSON.stringify(m.gemoji)))" > gemoji.json
    python -m mmtakeout.render.emoji_build emoji-datasource/emoji.json gemoji.json

Line format: `HEX-SEQUENCE<TAB>name name …<TAB>TONE1,TONE2,TONE3,TONE4,TONE5` (the five skin-tone
sequences for 1F3FB…1F3FF, empty when the emoji has none).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("emoji_table.txt")
SKIN_CODES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")


def _hex_of(text: str) -> str:
    return "-".join(f"{ord(ch):04X}" for ch in text)


def _without_variation_selector(sequence: str) -> str:
    return "-".join(part for part in sequence.split("-") if part != "FE0F")


def build_lines(datasource: list[dict[str, Any]], gemoji: list[dict[str, Any]]) -> list[str]:
    names_by_sequence: dict[str, list[str]] = {}
    tones_by_sequence: dict[str, list[str]] = {}
    known: set[str] = set()
    for entry in sorted(datasource, key=lambda item: int(item.get("sort_order", 0))):
        sequence = str(entry["unified"]).upper()
        names = [str(name) for name in entry.get("short_names", [])]
        names_by_sequence.setdefault(sequence, []).extend(names)
        known.update(names)
        variations = entry.get("skin_variations") or {}
        if all(code in variations for code in SKIN_CODES):
            tones_by_sequence[sequence] = [str(variations[code]["unified"]).upper() for code in SKIN_CODES]
    loose_index = {_without_variation_selector(seq): seq for seq in names_by_sequence}
    for entry in gemoji:
        sequence = _hex_of(str(entry["emoji"]))
        target = loose_index.get(_without_variation_selector(sequence), sequence)
        for name in entry.get("names", []):
            if name not in known:
                names_by_sequence.setdefault(target, []).append(str(name))
                known.add(str(name))
    return [
        f"{sequence}\t{' '.join(names)}\t{','.join(tones_by_sequence.get(sequence, []))}"
        for sequence, names in names_by_sequence.items()
        if names
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    datasource = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    gemoji = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    lines = build_lines(datasource, gemoji)
    TABLE_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} emoji to {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
