"""The export engine: `export_archive` brings an archive folder up to date with the server."""

from mmtakeout.archive.errors import DiskFullError
from mmtakeout.sync.engine import export_archive
from mmtakeout.sync.options import ExportOptions, ExportResult, Problem
from mmtakeout.sync.progress import ProgressSnapshot

__all__ = ["DiskFullError", "ExportOptions", "ExportResult", "Problem", "ProgressSnapshot", "export_archive"]
