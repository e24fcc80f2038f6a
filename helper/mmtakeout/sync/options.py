"""What an export run fetches, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mmtakeout.api import DEFAULT_CONCURRENCY

Scope = Literal["all", "direct"]
RunStatus = Literal["complete", "incomplete", "cancelled"]


@dataclass(frozen=True)
class ExportOptions:
    """`scope="direct"` keeps only direct and group messages; `max_file_size` is in bytes."""

    scope: Scope = "all"
    include_files: bool = True
    max_file_size: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    include_previews: bool = False
    """Also save the server's JPEG thumbnail and preview of each image. Off by default: they cost
    two more requests per image (about 40% of a typical export's requests) and the viewer shows
    the saved original instead; the originals are always kept."""

    def __post_init__(self) -> None:
        if self.scope not in ("all", "direct"):
            raise ValueError(f"scope must be 'all' or 'direct', not {self.scope!r}")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_file_size is not None and self.max_file_size < 0:
            raise ValueError("max_file_size must not be negative")

    def selection(self) -> dict[str, Any]:
        """The options as recorded in the archive (`meta.selection`, `runs.options`)."""
        return {
            "scope": self.scope,
            "files": self.include_files,
            "max_file_size": self.max_file_size,
            "previews": self.include_previews,
        }


@dataclass(frozen=True)
class Problem:
    """Something that could not be fetched after retries; the rest of the export went on."""

    kind: str
    item_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.item_id}: {self.message}"


@dataclass(frozen=True)
class ExportResult:
    status: RunStatus
    archive_dir: Path
    stats: dict[str, int]
    problems: list[Problem] = field(default_factory=list)
    elapsed_s: float = 0.0
