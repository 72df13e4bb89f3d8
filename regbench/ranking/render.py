"""rank.md: a ranking document in words first (what beats the control, what the data cannot tell apart), then its
tables.
"""

from __future__ import annotations

import math

__all__ = ["FIGURES", "render", "verdict_lines"]

FIGURES = {"critical_difference": "critical_difference.png", "performance_profile": "performance_profile.png"}


def _p(value: float | None) -> str:
    """A p-value short enough to read in a table."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _num(value: float | None, digits: int = 4) -> str:
    """A score or statistic, or n/a."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _interval(est: dict | None) -> str:
    """'0.62 [0.55, 0.70]', or the reason there is none."""
    if not est or est.get("estimate") is None:
        return (est or {}).get("why", "n/a")
    return f"{est['estimate']:.3f} [{est['low']:.3f}, {est['high']:.3f}]"


def _names(names: list[str]) -> str:
    """'a, b and c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def verdict_lines(doc: dict) -> list[str]:
    """The ranking's conclusions as sentences, one per bullet."""
    f, nem, n, k = doc["friedman"], doc["nemenyi"], len(doc["datasets"]), len(doc["configs"])
    alpha = doc["alpha"]
    differ = f["p_f"] <= alpha
    lines = [
        (
            f"Friedman: the {k} configs' ranks differ across the {n} datasets"
            if differ
            else f"Friedman: the {n} datasets cannot tell the {k} configs' ranks apart"
        )
        + f" (Iman-Davenport F({f['df_f'][0]}, {f['df_f'][1]}) = {f['f']:.2f}, p = {_p(f['p_f'])};"
        f" chi-square({f['df']}) = {f['chi2']:.2f}, p = {_p(f['p'])})"
        + (
            f"; many scores tie exactly, and with scipy's correction for ties p = {_p(f['p_tie_corrected'])}, which"
            " would say the opposite."
            if (f["p_tie_corrected"] <= alpha) != differ
            else "."
        )
    ]
    rows = doc["versus_control"]
    if rows:
        control, m = doc["control"], len(rows)
        by = {v: [r["config"] for r in rows if r["verdict"] == v] for v in ("better", "worse", "indistinguishable")}
        said = [
            f"better than {control}: {_names(by['better'])}" if by["better"] else f"none is shown better than {control}"
        ]
        if by["worse"]:
            said.append(f"worse: {_names(by['worse'])}")
        if by["indistinguishable"]:
            said.append(f"indistinguishable from it: {_names(by['indistinguishable'])}")
        lines.append(
            f"Against {control} (Wilcoxon signed-rank over datasets, Holm-corrected over {m} configs, alpha {alpha}): "
            + "; ".join(said)
            + "."
        )
        floor = min(r["smallest_p"] for r in rows)
        if floor * m > alpha:
            need = math.ceil(math.log2(2 * m / alpha))
            lines.append(
                f"With {n} datasets the smallest p Wilcoxon can reach is {_p(floor)}, {_p(min(1.0, floor * m))} after"
                f" Holm over {m} configs: no config can be shown better or worse than {control} on this many datasets"
                f" (that takes at least {need} datasets); read P(config > control) and the normalized IQM below for how"
                " large the effects are."
            )
        best = max(rows, key=lambda r: r["probability_of_improvement"]["estimate"])
        lines.append(
            f"Largest probability of improvement: P({best['config']} > {control}) ="
            f" {_interval(best['probability_of_improvement'])} (a random run of {best['config']} beats one of {control}"
            " on the same dataset; 0.5 is no difference)."
        )
        above = [r["config"] for r in rows if r["probability_of_improvement"]["low"] > 0.5]
        below = [r["config"] for r in rows if r["probability_of_improvement"]["high"] < 0.5]
        if above or below:
            lines.append(
                f"On these {n} datasets, the seeds say P(config > {control}) lies above 0.5 for"
                f" {_names(above) if above else 'none'} and below it for {_names(below) if below else 'none'}: the"
                " bootstrap resamples seeds, not datasets, so this holds for these datasets; Wilcoxon's test above is"
                " the one that speaks for datasets like them."
            )
    groups = nem["groups"]
    apart = _nemenyi_pairs(doc)
    lines.append(
        f"Nemenyi (all pairs): critical difference {nem['critical_difference']:.2f} in average rank at alpha {alpha}; "
        + (f"pairs that differ: {'; '.join(f'{a} over {b}' for a, b in apart)}" if apart else "no pair differs")
        + (
            f"; groups the data cannot tell apart: {'; '.join('[' + ', '.join(g) + ']' for g in groups)}."
            if groups
            else "."
        )
    )
    return lines


def _nemenyi_pairs(doc: dict) -> list[tuple[str, str]]:
    """(better, worse) pairs whose average ranks differ by at least the critical difference."""
    ranks, cd = doc["average_ranks"], doc["nemenyi"]["critical_difference"]
    order = doc["configs"]
    return [(a, b) for i, a in enumerate(order) for b in order[i + 1 :] if ranks[b] - ranks[a] >= cd]


def render(doc: dict, *, level: int = 1, figures: list[str] | None = None) -> str:
    """The Markdown of a ranking; ``level`` is the top heading's depth (2 inside a run's report)."""
    h = "#" * level
    n, datasets = len(doc["datasets"]), doc["datasets"]
    lines = [
        f"{h} Ranking across datasets: {doc['metric']}",
        "",
        f"{'Higher' if doc['better'] == 'higher' else 'Lower'} {doc['metric']} is better. {len(doc['configs'])} configs"
        f" ranked on {n} datasets ({', '.join(datasets)}); alpha {doc['alpha']}"
        + (f"; control {doc['control']}." if doc["control"] else "."),
        f"Read from: {', '.join(doc['sources'])}.",
        "",
        f"{h}# Verdicts",
        "",
    ]
    lines += [f"- {line}" for line in verdict_lines(doc)]
    for name in figures or []:
        lines += ["", f"![{name.rsplit('.', 1)[0]}]({name})"]
    lines += [
        "",
        f"{h}# Average ranks",
        "",
        "1 is best; ties share the average of the ranks they span.",
        "",
        "| config | average rank |",
        "|---|---:|",
    ]
    lines += [f"| {c} | {doc['average_ranks'][c]:.2f} |" for c in doc["configs"]]
    if doc["versus_control"]:
        c = doc["control"]
        b = doc["bootstrap"]
        lines += [
            "",
            f"{h}# Against {c}",
            "",
            (
                f"Wilcoxon's signed-rank test on the per-dataset differences of mean {doc['metric']} (config minus {c};"
                f" zero differences split), Holm-corrected over all rows. P(config > {c}): the chance a run of the"
                f" config beats a run of {c} on the same dataset, averaged over datasets. IQM: the interquartile mean"
                f" of every run's score over {c}'s mean on its dataset (1 = {c}'s level). Intervals:"
                f" {b['confidence']:.0%} stratified bootstrap ({b['resamples']} resamples, {b['method']})."
            ),
            "",
            (
                "| config | datasets | wins / ties / losses | median difference | T | p | p (Holm) | verdict |"
                f" P(config > {c}) | IQM normalized |"
            ),
            "|---|---:|---|---:|---:|---:|---:|---|---|---|",
        ]
        for r in doc["versus_control"]:
            lines.append(
                f"| {r['config']} | {len(r['datasets'])} | {r['wins']} / {r['ties']} / {r['losses']} |"
                f" {r['median_difference']:+.4f} | {r['wilcoxon_t']:g} | {_p(r['p'])} | {_p(r['p_holm'])} |"
                f" {r['verdict']} | {_interval(r['probability_of_improvement'])} | {_interval(r['iqm_normalized'])} |"
            )
        iqm = next(
            (r["iqm_normalized"]["control"] for r in doc["versus_control"] if r["iqm_normalized"].get("control")), None
        )
        if iqm:
            lines += ["", f"{c}'s own IQM normalized: {_interval(iqm)}."]
    lines += [
        "",
        f"{h}# Mean {doc['metric']} per dataset (rank within the dataset)",
        "",
        "| dataset | " + " | ".join(doc["configs"]) + " |",
        "|---|" + "---:|" * len(doc["configs"]),
    ]
    for d in datasets:
        lines.append(
            f"| {d} | "
            + " | ".join(f"{_num(doc['means'][d][c])} ({doc['ranks'][d][c]:g})" for c in doc["configs"])
            + " |"
        )
    f = doc["friedman"]
    lines += [
        "",
        f"{h}# Tests",
        "",
        (
            f"- Friedman: chi-square({f['df']}) = {f['chi2']:.3f}, p = {_p(f['p'])} (with scipy's correction for ties:"
            f" {f['chi2_tie_corrected']:.3f}, p = {_p(f['p_tie_corrected'])}); Iman-Davenport F({f['df_f'][0]},"
            f" {f['df_f'][1]}) = {f['f']:.3f}, p = {_p(f['p_f'])}."
        ),
        (
            f"- Nemenyi: q_alpha = {doc['nemenyi']['q_alpha']:.3f}, critical difference ="
            f" {doc['nemenyi']['critical_difference']:.3f} ({len(doc['configs'])} configs, {n} datasets); every pair's"
            " p-value is in rank.json."
        ),
    ]
    if doc["notes"]:
        lines += ["", f"{h}# Left out and noted", ""] + [f"- {note}" for note in doc["notes"]]
    return "\n".join(lines) + "\n"
