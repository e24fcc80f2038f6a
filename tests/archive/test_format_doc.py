"""docs/archive-format.md is the public description of the archive: it must name every table and column."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "archive-format.md"


def test_every_table_and_column_is_documented() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(resources.files("mmtakeout.archive").joinpath("schema.sql").read_text(encoding="utf-8"))
    doc = DOC.read_text(encoding="utf-8")
    undocumented = []
    tables = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    assert {"posts", "channels", "files", "users", "sync_channels"} <= set(tables)
    for table in tables:
        heading = f"### `{table}`"
        if heading not in doc:
            undocumented.append(table)
            continue
        section = doc[doc.index(heading) + len(heading) :].split("\n### ", 1)[0]
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        if table == "meta":
            continue  # documented by its keys
        undocumented += [f"{table}.{column}" for column in columns if f"`{column}`" not in section]
    assert not undocumented
