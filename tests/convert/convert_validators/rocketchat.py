"""Checks a zip for Rocket.Chat's CSV importer (apps/meteor/app/importer-csv/server/CsvImporter.ts).

Rules as recorded in formats-and-viewers.md §2.3 and read from the importer: header-less CSV parsed
by csv-parse; `users.csv` = username, email, name; `channels.csv` = name, creator, public|private,
members joined by `;`; any other entry is `<folder>/<file>.csv` (split once on `/`) holding messages
of the channel named like the folder (username, ms, text), or of direct messages when the folder is
`directmessages` (username, other username, ms, text). Names must pass Rocket.Chat's default name
validation `[0-9a-zA-Z-_.]+`.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

NAME = re.compile(r"^[0-9a-zA-Z\-_.]+$")


def _rows(archive: zipfile.ZipFile, name: str, problems: list[str]) -> list[list[str]]:
    data = archive.read(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name}: not UTF-8")
        return []
    if "\x00" in text:
        problems.append(f"{name}: NUL character")
    try:
        return list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        problems.append(f"{name}: invalid CSV ({error})")
        return []


def validate_rocketchat_zip(zip_path: Path) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(info.filename for info in archive.infolist() if not info.is_dir())
        if "users.csv" not in names or "channels.csv" not in names:
            return ["users.csv and channels.csv must be at the top of the zip"]
        users: set[str] = set()
        for row in _rows(archive, "users.csv", problems):
            if len(row) != 3 or not NAME.match(row[0]) or "@" not in row[1]:
                problems.append(f"users.csv: bad row {row!r}")
                continue
            if row[0] in users:
                problems.append(f"users.csv: {row[0]!r} twice")
            users.add(row[0])
        channels: set[str] = set()
        for row in _rows(archive, "channels.csv", problems):
            if len(row) != 4:
                problems.append(f"channels.csv: bad row {row!r}")
                continue
            name, creator, privacy, members = row
            if not NAME.match(name) or name.lower() == "directmessages" or name in channels:
                problems.append(f"channels.csv: invalid or repeated channel name {name!r}")
            if creator not in users or privacy not in ("public", "private"):
                problems.append(f"channels.csv: {name}: unknown creator {creator!r} or privacy {privacy!r}")
            listed = [member.strip() for member in members.split(";") if member.strip()]
            if not listed or any(member not in users for member in listed):
                problems.append(f"channels.csv: {name}: unknown members {listed!r}")
            channels.add(name)
        for name in names:
            if name in ("users.csv", "channels.csv"):
                continue
            parts = name.split("/")
            if len(parts) != 2 or not parts[1].endswith(".csv"):
                problems.append(f"{name}: not <folder>/<file>.csv")
                continue
            direct = parts[0].lower() == "directmessages"
            if not direct and parts[0] not in channels:
                problems.append(f"{name}: folder of no channel in channels.csv")
            previous = 0
            for row in _rows(archive, name, problems):
                width = 4 if direct else 3
                if len(row) != width:
                    problems.append(f"{name}: row with {len(row)} columns instead of {width}: {row!r}")
                    continue
                author, ts = row[0], row[2 if direct else 1]
                if author not in users or (direct and row[1] not in users):
                    problems.append(f"{name}: message by or to an unknown user: {row[:2]!r}")
                if not ts.isdigit():
                    problems.append(f"{name}: timestamp {ts!r} is not milliseconds")
                    continue
                if int(ts) < previous:
                    problems.append(f"{name}: messages not in time order at {ts}")
                previous = int(ts)
    return problems
