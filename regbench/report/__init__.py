"""The reports a run writes beside results.json: report.md (markdown) and report.html (one self-contained page)."""

from regbench.report.html import render_html
from regbench.report.markdown import render_against_reference, render_paths, render_report, render_table
from regbench.report.tables import SUMMARY_COLUMNS, format_cell, path_tables

__all__ = [
    "SUMMARY_COLUMNS",
    "format_cell",
    "path_tables",
    "render_against_reference",
    "render_html",
    "render_paths",
    "render_report",
    "render_table",
]
