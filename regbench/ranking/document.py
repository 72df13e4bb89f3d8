"""The ranking document: every statistic of a table, as plain data (``rank.json``), with each config's verdict.

Missing cells (a pair not applicable, a run that failed on every seed) are handled as Demšar's
tests require complete blocks: a config that lacks a score on some dataset is left out of the
ranks, Friedman's test and Nemenyi's, and the document names it with the datasets it lacks. It
is still compared with the control on the datasets both have (Wilcoxon, P(X > Y), IQM), inside
the same Holm family as every other config.
"""

from __future__ import annotations

import math

import numpy as np

from regbench.ranking import bootstrap, significance
from regbench.ranking.table import RankError, Table

__all__ = ["ALPHA", "VERDICTS", "rank_table"]

ALPHA = 0.05
VERDICTS = ("better", "worse", "indistinguishable")


def rank_table(
    table: Table, *, control: str | None = "baseline", alpha: float = ALPHA, resamples: int = bootstrap.RESAMPLES
) -> dict:
    """Rank the table's configs over its datasets and compare each with ``control`` (None: ranks and Nemenyi only)."""
    if not 0 < alpha < 1:
        raise RankError(f"alpha must be between 0 and 1, got {alpha}")
    if control is not None and control not in table.configs:
        raise RankError(
            f"no config {control!r} to compare with; the input has {', '.join(table.configs)} (--control NAME)"
        )
    datasets = table.datasets
    lacking = {c: [d for d in datasets if not table.values(d, c).size] for c in table.configs}
    complete = [c for c in table.configs if not lacking[c]]
    if len(datasets) < 2 or len(complete) < 2:
        raise RankError(
            "ranking needs at least 2 datasets and 2 configs scored on every one of them; the input has"
            f" {len(datasets)} dataset(s) ({', '.join(datasets) or 'none'}) and {len(complete)} config(s) on all of"
            f" them ({', '.join(complete) or 'none'})"
        )
    means = np.array([[table.mean(d, c) for c in complete] for d in datasets])
    ranks = significance.average_ranks(means, table.better)
    average = dict(zip(complete, ranks.mean(axis=0).tolist()))
    order = sorted(complete, key=lambda c: (average[c], complete.index(c)))
    test = significance.nemenyi(ranks.mean(axis=0), len(datasets), alpha)
    doc = {
        "metric": table.metric,
        "better": "higher" if table.better > 0 else "lower",
        "alpha": alpha,
        "control": control,
        "sources": list(table.sources),
        "datasets": datasets,
        "configs": order,
        "left_out": {c: missing for c, missing in lacking.items() if missing},
        "notes": (
            list(table.notes)
            + [
                f"{c}: no score on {', '.join(missing)}; left out of the ranks, Friedman and Nemenyi"
                for c, missing in lacking.items()
                if missing
            ]
        ),
        "scores": {
            d: {c: table.values(d, c).tolist() for c in table.configs if table.values(d, c).size} for d in datasets
        },
        "means": {d: {c: table.mean(d, c) for c in table.configs if table.values(d, c).size} for d in datasets},
        "seeds": {
            d: {c: int(table.values(d, c).size) for c in table.configs if table.values(d, c).size} for d in datasets
        },
        "ranks": {d: dict(zip(complete, row.tolist())) for d, row in zip(datasets, ranks)},
        "average_ranks": {c: average[c] for c in order},
        "friedman": _friedman(significance.friedman(means, table.better)),
        "nemenyi": {
            "q_alpha": test.q_alpha,
            "critical_difference": test.critical_difference,
            "p": {
                a: {b: float(test.p[i, j]) for j, b in enumerate(complete) if b != a} for i, a in enumerate(complete)
            },
            "groups": significance.nemenyi_groups(average, test.critical_difference),
        },
        "versus_control": _versus_control(table, control, alpha, resamples) if control is not None else [],
        "bootstrap": {
            "confidence": bootstrap.CONFIDENCE,
            "resamples": resamples,
            "seed": bootstrap.SEED,
            "method": "percentile; each (dataset, config) cell's seeds resampled on their own, datasets as strata",
        },
    }
    return doc


def _friedman(result: significance.Friedman) -> dict:
    """JSON form of Friedman's and Iman-Davenport's tests."""
    return {
        "chi2": result.chi2,
        "df": result.df,
        "p": result.p,
        "f": result.f,
        "df_f": list(result.df_f),
        "p_f": result.p_f,
        "chi2_tie_corrected": result.chi2_ties,
        "p_tie_corrected": result.p_ties,
    }


def _versus_control(table: Table, control: str, alpha: float, resamples: int) -> list[dict]:
    """Each other config against the control on the datasets both have: Wilcoxon-Holm, P(config > control), IQM of
    normalized scores.
    """
    others = [c for c in table.configs if c != control]
    shared = {
        c: [d for d in table.datasets if table.values(d, c).size and table.values(d, control).size] for c in others
    }
    others = [
        c for c in others if len(shared[c]) >= 2
    ]  # one dataset is no test across datasets; left_out names the config
    differences = [np.array([table.mean(d, c) - table.mean(d, control) for d in shared[c]]) for c in others]
    tests = significance.wilcoxon_holm(differences, table.better)
    rows = []
    for c, test in zip(others, tests):
        xs = [table.values(d, c) for d in shared[c]]
        ys = [table.values(d, control) for d in shared[c]]
        significant = test.p_holm <= alpha
        verdict = (
            "indistinguishable"
            if not significant or test.signed_rank_sum == 0
            else ("better" if test.signed_rank_sum > 0 else "worse")
        )
        rows.append(
            {
                "config": c,
                "datasets": shared[c],
                "wins": test.wins,
                "losses": test.losses,
                "ties": test.datasets - test.wins - test.losses,
                "median_difference": test.median_difference,
                "wilcoxon_t": test.statistic,
                "p": test.p,
                "p_holm": test.p_holm,
                "smallest_p": significance.wilcoxon_floor(test.datasets),
                "verdict": verdict,
                "probability_of_improvement": (
                    bootstrap.probability_of_improvement(xs, ys, table.better, resamples=resamples).as_dict()
                ),
                "iqm_normalized": _iqm(table, c, control, shared[c], resamples),
            }
        )
    return rows


def _iqm(table: Table, config: str, control: str, datasets: list[str], resamples: int) -> dict:
    """The IQM of the config's scores over the control's mean on each dataset, with the control's own IQM beside it;
    None where a control mean is not positive.
    """
    control_means = [table.mean(d, control) for d in datasets]
    bad = [d for d, m in zip(datasets, control_means) if not m > 0 or not math.isfinite(m)]
    if bad:
        return {
            "estimate": None,
            "why": (
                f"{control}'s mean {table.metric} is not positive on {', '.join(bad)}: scores cannot be normalized"
                " by it"
            ),
        }
    config_iqm = bootstrap.iqm(
        bootstrap.normalized([table.values(d, config) for d in datasets], control_means), resamples=resamples
    )
    control_iqm = bootstrap.iqm(
        bootstrap.normalized([table.values(d, control) for d in datasets], control_means), resamples=resamples
    )
    return {**config_iqm.as_dict(), "control": control_iqm.as_dict()}
