"""The offline archive viewer and plain-text renderers.

`render_archive(archive_dir)` writes `index.html` and `site/` into an archive folder (a static site
that works from file:// with no network) and, on request, one Markdown/text/JSON/CSV file per
conversation under `exports/`. The export CLI and the native host call it after every run.
"""

from mmtakeout.archive.store import ArchiveError
from mmtakeout.render.builder import FORMATS, RenderStats, render_archive

__all__ = ["FORMATS", "ArchiveError", "RenderStats", "render_archive"]
