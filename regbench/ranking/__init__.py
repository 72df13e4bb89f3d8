"""Verdicts across datasets: does a regularizer help, over many data sets, and by how much?

``regbench rank RESULTS...`` (``regbench.rank``) reads a suite run, single-dataset runs pooled,
or a CSV table (dataset, config, score, optionally seed), and answers as the literature does:

- Demšar (JMLR 2006): configs ranked within each dataset, Friedman's test with Iman-Davenport's F,
  Nemenyi's all-pairs test and its critical difference, drawn as a CD diagram;
- Benavoli, Corani and Mangili (JMLR 2016): each config against the control by Wilcoxon's
  signed-rank test over datasets, Holm-corrected;
- Agarwal et al. (NeurIPS 2021, rliable): the probability of improvement P(config > control) and
  the IQM of control-normalized scores, with stratified-bootstrap intervals; a performance profile.

Modules by job: ``table`` (reading the scores, refusing what does not pool), ``significance``
(the tests), ``bootstrap`` (effect sizes and their intervals), ``document`` (all of it as plain
data), ``render`` (rank.md), ``figures`` (the two PNGs).
"""

from __future__ import annotations

from pathlib import Path

from regbench.files import atomic_path, write_json
from regbench.ranking.bootstrap import RESAMPLES
from regbench.ranking.document import ALPHA, VERDICTS, rank_table
from regbench.ranking.figures import save_figures
from regbench.ranking.render import FIGURES, render, verdict_lines
from regbench.ranking.table import RankError, Table, read_sources

__all__ = [
    "ALPHA",
    "FIGURES",
    "VERDICTS",
    "RankError",
    "Table",
    "rank",
    "rank_table",
    "read_sources",
    "render",
    "verdict_lines",
    "write",
]


def rank(
    sources: list,
    *,
    metric: str = "test_accuracy",
    control: str | None = "baseline",
    alpha: float = ALPHA,
    better: str | None = None,
    datasets: list[str] | None = None,
    configs: list[str] | None = None,
    allow_settings_mismatch: bool = False,
    out: Path | str | None = None,
    plots: bool = True,
    resamples: int = RESAMPLES,
) -> dict:
    """The ranking document of ``sources`` (results files or folders, results documents, or one CSV); with ``out``,
    also its files.
    """
    table = read_sources(list(sources), metric, better, allow_settings_mismatch=allow_settings_mismatch)
    if datasets or configs:
        if configs and control is not None and control not in configs:
            configs = [control, *configs]
        table = table.select(datasets, configs)
    doc = rank_table(table, control=control, alpha=alpha, resamples=resamples)
    if out is not None:
        write(doc, out, plots=plots)
    return doc


def write(doc: dict, out: Path | str, *, plots: bool = True) -> list[Path]:
    """rank.json, rank.md and (unless ``plots`` is False) the CD diagram and performance profile, each written
    atomically.
    """
    out = Path(out)
    figures = save_figures(doc, out, FIGURES) if plots else []
    write_json(out / "rank.json", doc)
    with atomic_path(out / "rank.md") as tmp:
        tmp.write_text(render(doc, figures=[p.name for p in figures]), encoding="utf-8")
    return [out / "rank.json", out / "rank.md", *figures]
