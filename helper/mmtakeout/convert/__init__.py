"""Converters from an archive to other chat systems' import formats.

`convert_archive` opens the archive read-only, runs one target's converter and writes the output
file atomically; each converter returns a `ConversionReport` of what it could not carry over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mmtakeout.archive.store import ArchiveError
from mmtakeout.convert import mattermost_bulk, rocketchat_csv, slack, zulip
from mmtakeout.convert.plan import ConvertOptions, PlanError
from mmtakeout.convert.report import ConversionReport
from mmtakeout.convert.source import ArchiveSource
from mmtakeout.convert.zipout import write_text_atomically

Converter = Callable[[ArchiveSource, Path, ConvertOptions], ConversionReport]

TARGETS: dict[str, Converter] = {
    "mattermost": mattermost_bulk.convert,
    "zulip": zulip.convert,
    "slack": slack.convert,
    "rocketchat-csv": rocketchat_csv.convert,
}

__all__ = ["TARGETS", "ArchiveError", "ConversionReport", "ConvertOptions", "PlanError", "convert_archive"]


def report_path(destination: Path) -> Path:
    return destination.with_name(destination.name + ".report.txt")


def convert_archive(
    archive_dir: Path, target: str, destination: Path, options: ConvertOptions
) -> ConversionReport:
    """Convert `archive_dir` into `destination`; also writes `<destination>.report.txt`."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    destination = destination.absolute()
    if destination.is_dir():
        raise IsADirectoryError(f"{destination} is a folder; --out needs a file name, e.g. export.zip")
    if not destination.parent.is_dir():
        raise FileNotFoundError(f"the folder {destination.parent} does not exist")
    with ArchiveSource(archive_dir) as source:
        report = TARGETS[target](source, destination, options)
    write_text_atomically(report_path(destination), report.render())
    return report
