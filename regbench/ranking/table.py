"""The scores a ranking reads: every seed's score of every (dataset, config), from results files or a CSV table.

Results files are pooled: a suite run (``regbench run --datasets``) brings all its datasets, and
single-dataset runs add theirs. Files pool only when they were trained alike (``POOLED``
settings, and same-named configs with the same hash). A CSV table (columns dataset, config, score
and optionally seed) lets a table from a paper or another tool be ranked the same way.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from regbench import results
from regbench.compare.inputs import config_changes
from regbench.compare.rules import RULES
from regbench.errors import UsageError
from regbench.spec import COMPARED

__all__ = [
    "BETTER",
    "POOLED",
    "REQUIRED_COLUMNS",
    "RankError",
    "Table",
    "direction",
    "read_csv",
    "read_results",
    "read_sources",
]

# What two results files must share to be ranked together: what the gate compares, less the data
# (the datasets differ by design).
POOLED = tuple(k for k in COMPARED if k != "dataset")
REQUIRED_COLUMNS = ("dataset", "config", "score")
BETTER = {"higher": +1, "lower": -1}


class RankError(UsageError):
    """The input cannot be ranked (a missing metric or column, too few datasets or configs, files that do not pool)."""


@dataclass
class Table:
    """Every score, by dataset, config and seed, with the metric's direction and what was left out on the way in."""

    metric: str
    better: int  # +1: higher is better; -1: lower is better
    scores: dict[str, dict[str, dict[object, float]]]  # dataset -> config -> seed -> score
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(
        default_factory=list
    )  # one line per thing read but not ranked (a failed run, a mismatch allowed)

    @property
    def datasets(self) -> list[str]:
        """Datasets in the order the inputs named them."""
        return [d for d, cells in self.scores.items() if cells]

    @property
    def configs(self) -> list[str]:
        """Configs in the order the inputs named them first."""
        return list(dict.fromkeys(c for cells in self.scores.values() for c in cells))

    def values(self, dataset: str, config: str) -> np.ndarray:
        """One cell's scores, in seed order (empty when the cell is missing)."""
        cell = self.scores.get(dataset, {}).get(config, {})
        return np.array([cell[s] for s in sorted(cell, key=str)], dtype=float)

    def mean(self, dataset: str, config: str) -> float:
        """One cell's mean score (NaN when the cell is missing)."""
        values = self.values(dataset, config)
        return float(values.mean()) if values.size else math.nan

    def select(self, datasets: list[str] | None = None, configs: list[str] | None = None) -> "Table":
        """The same table restricted to these datasets and configs (each must exist)."""
        for kind, asked, known in (("dataset", datasets, self.datasets), ("config", configs, self.configs)):
            unknown = [name for name in asked or () if name not in known]
            if unknown:
                raise RankError(f"no {kind} {', '.join(map(repr, unknown))} in the input; it has {', '.join(known)}")
        keep_d = datasets or self.datasets
        keep_c = configs or self.configs
        scores = {
            d: {c: dict(cells[c]) for c in keep_c if c in cells} for d, cells in self.scores.items() if d in keep_d
        }
        return Table(self.metric, self.better, scores, list(self.sources), list(self.notes))


def direction(metric: str, better: str | None = None) -> int:
    """+1 when higher is better, -1 when lower is; from ``better`` ('higher'/'lower') or the metric's known rule."""
    if better is not None:
        if better not in BETTER:
            raise RankError(f"better must be 'higher' or 'lower', got {better!r}")
        return BETTER[better]
    rule = RULES.get(metric)
    if rule is None or rule.better == 0 or rule.invariant:
        known = ", ".join(m for m, r in RULES.items() if r.better and not r.invariant)
        raise RankError(
            f"regbench does not know whether a higher or a lower {metric} is better (it knows {known}); "
            "say which with --better higher or --better lower"
        )
    return rule.better


def read_sources(
    sources: list, metric: str = "test_accuracy", better: str | None = None, *, allow_settings_mismatch: bool = False
) -> Table:
    """One table from results files, results documents (dicts) or CSV files, pooled; CSVs and results files do not
    mix.
    """
    if not sources:
        raise RankError(
            "nothing to rank: give one or more results files (or folders holding results.json) or a CSV table"
        )
    sign = direction(metric, better)
    tables = [read_csv(Path(s), metric, sign) if _is_csv(s) else None for s in sources]
    if any(t is not None for t in tables):
        if not all(t is not None for t in tables) or len(tables) > 1:
            raise RankError(
                "rank one CSV table, or results files; pooling a CSV with other inputs is not supported (merge the"
                " tables first)"
            )
        return tables[0]
    return read_results(sources, metric, sign, allow_settings_mismatch=allow_settings_mismatch)


def _is_csv(source: object) -> bool:
    """A path whose name ends in .csv."""
    return isinstance(source, (str, Path)) and str(source).lower().endswith(".csv")


def read_results(sources: list, metric: str, better: int, *, allow_settings_mismatch: bool = False) -> Table:
    """Every finished run's ``metric``, by dataset, config and seed, from one or more results files or documents."""
    table = Table(metric, better, {})
    first: tuple[str, dict, dict] | None = None
    origin: dict[tuple, str] = {}
    for source in sources:
        name, doc = _load(source)
        table.sources.append(name)
        settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
        configs = doc.get("configs") if isinstance(doc.get("configs"), dict) else {}
        if first is None:
            first = (name, settings, configs)
        else:
            mismatches = _mismatches(first, (name, settings, configs))
            if mismatches and not allow_settings_mismatch:
                raise RankError(
                    f"{name} was not trained like {first[0]}: {'; '.join(mismatches)}. Rank runs trained alike, or pass"
                    " --allow-settings-mismatch to pool them anyway"
                )
            table.notes += [f"pooled despite a mismatch (--allow-settings-mismatch): {m}" for m in mismatches]
        found = _add_runs(table, doc, name, origin)
        if not found:
            present = sorted(
                {
                    k
                    for r in doc["runs"]
                    for k, v in r.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                }
                - {"seed"}
            )
            raise RankError(
                f"{name} has no {metric!r} in any finished run; metrics there: {', '.join(present) or 'none'}"
                " (--metric)"
            )
        for pair, why in (doc.get("not_applicable") or {}).items():
            table.notes.append(f"{pair}: not applicable, not trained ({str(why).split(':')[0]})")
    return table


def _load(source: object) -> tuple[str, dict]:
    """(a name for messages, the validated results document) from a path, a folder holding results.json, or a
    document.
    """
    if isinstance(source, dict):
        return "results document", source
    path = Path(source)
    if path.is_dir():
        path = path / "results.json"
    return str(path), results.load_results(path)


def _mismatches(first: tuple[str, dict, dict], other: tuple[str, dict, dict]) -> list[str]:
    """Training settings and same-named config definitions that differ between two files."""
    (_, s1, c1), (_, s2, c2) = first, other
    return [f"{k}: {s1.get(k)} vs {s2.get(k)}" for k in POOLED if s1.get(k) != s2.get(k)] + config_changes(c1, c2)


def _add_runs(table: Table, doc: dict, name: str, origin: dict[tuple, str]) -> int:
    """Add a document's finished runs to the table (noting the unfinished ones); returns how many scores were added."""
    fallback = next(iter(doc.get("datasets") or {}), None) or str(
        (doc.get("settings") or {}).get("dataset") or "digits"
    )
    added = 0
    unfinished: dict[tuple[str, str], int] = {}
    for run in doc["runs"]:
        key = (str(run.get("dataset") or fallback), str(run["config"]))
        if run["status"] != "ok":
            unfinished[key] = unfinished.get(key, 0) + 1
            continue
        value = results.metric_value(run, table.metric)
        if value is None or not math.isfinite(value):
            continue
        seed = run["seed"]
        if (*key, seed) in origin:
            raise RankError(
                f"{key[0]}/{key[1]} seed {seed} is in both {origin[(*key, seed)]} and {name}; give each run once"
            )
        origin[(*key, seed)] = name
        table.scores.setdefault(key[0], {}).setdefault(key[1], {})[seed] = value
        added += 1
    for (dataset, config), count in unfinished.items():
        kept = len(table.scores.get(dataset, {}).get(config, {}))
        table.notes.append(
            f"{dataset}/{config}: {count} run(s) did not finish; "
            + (f"its mean is over the {kept} that did" if kept else "no run finished, so the cell is missing")
        )
    return added


def read_csv(path: Path, metric: str, better: int) -> Table:
    """A table with columns dataset, config, score and optionally seed (other columns are ignored); an empty score is
    a missing cell.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [(h or "").strip() for h in reader.fieldnames or []]
            rows = list(reader)
    except OSError as exc:
        raise RankError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RankError(f"{path}: not a CSV text file ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RankError(
            f"{path}: no column {', '.join(missing)}; a table needs columns {', '.join(REQUIRED_COLUMNS)} (and"
            f" optionally seed), it has {', '.join(header) or 'none'}"
        )
    table = Table(metric, better, {}, [str(path)])
    seeded = "seed" in header
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        dataset, config, text = row["dataset"], row["config"], row["score"]
        if not dataset or not config:
            raise RankError(f"{path}: line {line}: dataset and config must not be empty")
        if not text:
            table.notes.append(f"{dataset}/{config}: line {line} has no score; left out")
            continue
        try:
            score = float(text)
        except ValueError:
            raise RankError(f"{path}: line {line}: score {text!r} is not a number") from None
        if not math.isfinite(score):
            raise RankError(
                f"{path}: line {line}: score {text!r} is not finite; leave the cell empty for a missing score"
            )
        cell = table.scores.setdefault(dataset, {}).setdefault(config, {})
        seed = row.get("seed") if seeded else len(cell)
        if seeded and not seed:
            raise RankError(f"{path}: line {line}: the seed column is empty; fill it or drop the column")
        if seed in cell:
            raise RankError(f"{path}: line {line}: {dataset}/{config} seed {seed} appears twice")
        cell[seed] = score
    return table
