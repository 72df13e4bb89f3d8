"""The measured figures in regbench's docs, generated from the committed files in results/.

Every measured number in README.md, docs/*.md and results/README.md sits in a generated block

    <!-- figures: NAME -->
    ... (written by this script from the committed file NAME reads) ...
    <!-- /figures -->

and each block ends with the file it was read from and the command that wrote that file.

    python tools/docs_figures.py            # check: exit 1 and a diff where a block and its file disagree
    python tools/docs_figures.py --write    # rewrite every block from the files
    python tools/docs_figures.py --results DIR   # read another copy of results/ (the tests plant changes in one)

It reads JSON and Markdown only (no regbench import), so it runs wherever the files are.
tests/test_docs.py runs the check, and also fails on a measured-looking number written outside a block.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import json
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
DOC_GLOBS = ("README.md", "docs/*.md", "results/README.md")
BLOCK = re.compile(r"^<!-- figures: (?P<name>[\w.-]+) -->\n(?P<body>.*?)^<!-- /figures -->", re.S | re.M)


class Results:
    """The committed results folder (or a copy of it): files are read relative to it, named relative to the
    repository.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def json(self, name: str) -> dict:
        return json.loads(self.path(name).read_text())

    def text(self, name: str) -> str:
        return self.path(name).read_text()


# ---------------------------------------------------------------- formatting helpers


def source(files: str | list[str], command: str, env: dict | None = None) -> str:
    files = [files] if isinstance(files, str) else files
    named = ", ".join(f"`results/{f}`" for f in files)
    line = f"Read from {named}, written by `{command}`"
    if env:
        line += f" ({where(env)})"
    return f"*{line}.*\n"


def where(env: dict) -> str:
    """Where and when a file was made, from its environment record."""
    threads = env.get("torch_threads")
    threads = "/".join(str(t) for t in threads) if isinstance(threads, list) else threads
    commit = (env.get("git_commit") or "?")[:7]
    day = (env.get("created") or "?")[:10]
    threads = f"{threads} torch thread" + ("" if threads == 1 else "s")
    return (
        f"{env.get('device', '?')}, {env.get('cpu_count', '?')} cores, {threads}, torch {env.get('torch', '?')}, commit"
        f" {commit}, {day}"
    )


def f3(x: float) -> str:
    return f"{x:.3f}"


def seconds(x: float) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


def thousands(x: float) -> str:
    return f"{x:,.0f}"


def goal(met: bool) -> str:
    return "yes" if met else "**no**"


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def section(markdown: str, heading: str) -> str:
    """The body of a Markdown section (after its heading line, up to the next heading of the same or a higher level)."""
    lines = markdown.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    try:
        start = lines.index(heading)
    except ValueError:
        raise KeyError(f"no heading {heading!r}") from None
    body = []
    for line in lines[start + 1 :]:
        m = re.match(r"(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        body.append(line)
    return "\n".join(body).strip("\n") + "\n"


def demote(markdown: str) -> str:
    """Headings of an extracted section as bold lines, so a doc page's outline stays its own."""
    return re.sub(r"^#+ (.*)$", r"**\1**", markdown, flags=re.M)


def matrix_shape(doc: dict) -> str:
    s = doc["settings"]
    configs = len({r["config"] for r in doc["runs"]})
    return f"{configs} configs x {s['seeds']} seeds x {s['epochs']} epochs, batch {s['batch_size']}"


# ---------------------------------------------------------------- the blocks

FIGURES: dict[str, Callable[[Results], str]] = {}


def figure(name: str):
    def register(fn):
        FIGURES[name] = fn
        return fn

    return register


@figure("main-job")
def main_job(r: Results) -> str:
    doc = r.json("latest/results.json")
    return (
        f"The committed reference run of the main job ({matrix_shape(doc)}, on the embedded digits) trained for "
        f"{seconds(doc['settings']['wall_seconds'])} (`settings.wall_seconds`).\n\n"
        + source("latest/results.json", "regbench run --out results/latest", doc["environment"])
    )


@figure("main-job-table")
def main_job_table(r: Results) -> str:
    doc = r.json("latest/results.json")
    report = r.text("latest/report.md")
    summary = report.split("\n## ")[0]
    rows = [line for line in summary.splitlines() if line.startswith("|")]
    return (
        "Each cell: mean across seeds [95% Student-t interval].\n\n"
        + "\n".join(rows)
        + "\n\n"
        + source(["latest/report.md", "latest/results.json"], "regbench run --out results/latest", doc["environment"])
    )


@figure("fast-path")
def fast_path(r: Results) -> str:
    doc = r.json("latest/fast_path_cpu.json")
    names = {
        "regbench / bare": "augmented training, regbench / a bare step loop on resident, un-augmented tensors",
        "regbench / notebook": "augmented training, regbench / the notebook's DataLoader + PIL path",
        "regbench-plain / bare": "training without augmentation, regbench / the bare step loop",
    }
    rows = []
    for ratio in doc["ratios"]:
        rows.append(
            [
                names.get(ratio["ratio"], ratio["ratio"]),
                ratio["batch_size"],
                f"{ratio['value']:.3f}",
                f"{ratio['goal']:g}",
                goal(ratio["meets_goal"]),
            ]
        )
    sps = doc["samples_per_second"]
    speeds = ", ".join(f"{k} {thousands(v)}" for k, v in sps.items())
    missed = [f"{r['ratio']} at batch {r['batch_size']}" for r in doc["ratios"] if not r["meets_goal"]]
    verdict = f"Goals missed in this file: {'; '.join(missed)}." if missed else "Every goal was met in this file."
    return (
        verdict
        + "\n\n"
        + table(
            ["ratio of median samples/s", "batch", "measured", "goal (at least)", "met"],
            rows,
            ["---", "---:", "---:", "---:", "---"],
        )
        + f"\nSamples per second behind them: {speeds}.\n\n"
        + source(
            "latest/fast_path_cpu.json",
            "pytest benchmarks/test_fast_path.py --bench-out=results/latest",
            doc["environment"],
        )
    )


@figure("full-matrix")
def full_matrix(r: Results) -> str:
    doc = r.json("latest/full_matrix_cpu.json")
    notebook = next(iter(doc["execution"]["notebook"].values()))
    configs = notebook["configs"]
    members = notebook["members"]
    seeds = members // len(configs)
    w = doc["wall_seconds"]
    return (
        table(
            [
                "matrix measured",
                "`regbench run` (fast engine)",
                "`--engine notebook`, one by one",
                "ratio",
                "goal (at least)",
                "met",
            ],
            [
                [
                    f"{len(configs)} configs ({', '.join(configs)}) x {seeds} seeds",
                    seconds(w["fast"]),
                    seconds(w["notebook"]),
                    f"{doc['ratio']:.1f}x",
                    f"{doc['goal']:g}x",
                    goal(doc["meets_goal"]),
                ]
            ],
        )
        + "\n"
        + source(
            "latest/full_matrix_cpu.json",
            "pytest benchmarks/test_fast_path.py -m slow -k full_matrix --bench-out=results/latest",
            doc["environment"],
        )
    )


@figure("datasets-speed")
def datasets_speed(r: Results) -> str:
    doc = r.json("latest/datasets_cpu.json")
    labels = {
        "regbench / bare, batch 32": (
            "CIFAR-shaped augmented training (uint8 resident), regbench / bare step loop, batch 32"
        ),
        "regbench / bare, batch 256": "the same, batch 256",
        "resident MB": "resident size of 50,000 CIFAR-10 training images (MB)",
        "suite / sum": "a suite (digits, iris, wine) / the three run one after another (wall time)",
    }
    rows = []
    for key, ratio in doc["ratios"].items():
        kind = "at most" if key in ("resident MB", "suite / sum") else "at least"
        rows.append(
            [
                labels.get(key, key),
                f"{ratio['value']:.3f}" if ratio["value"] < 10 else f"{ratio['value']:.1f}",
                f"{kind} {ratio['goal']:g}",
                goal(ratio["meets_goal"]),
            ]
        )
    passes = len(doc["measured"]["pair ratios, batch 32"])
    return (
        table(["measured", "value", "goal", "met"], rows, ["---", "---:", "---", "---"])
        + f"\nThroughput ratios are medians of {passes} passes timed in interleaved pairs (each pair's ratio is in the"
        " file).\n\n"
        + source(
            "latest/datasets_cpu.json",
            "pytest benchmarks/test_datasets.py --bench-out=results/latest",
            doc["environment"],
        )
    )


@figure("executors")
def executors(r: Results) -> str:
    doc = r.json("latest/executors_cpu.json")
    w = doc["wall_seconds"]
    rng = lambda xs: f"{min(xs):.0f}-{max(xs):.0f} s"  # noqa: E731
    rows = [
        ["local executor (process pool)", rng(w["local"]), seconds(doc["median_seconds"]["local"])],
        ["Dask, 2-worker `LocalCluster` (its start included)", rng(w["dask"]), seconds(doc["median_seconds"]["dask"])],
    ]
    return (
        f"Matrix: {doc['matrix']}.\n\n"
        + table(["executor", "wall time, each run", "median"], rows)
        + f"\nDask / local: {doc['dask_over_local']:.2f} (goal at most {doc['goal']:g}; met:"
        f" {goal(doc['meets_goal'])}). "
        f"`regbench run` again on the finished output folder, as a new process: {doc['resume_seconds']:.1f} s "
        f"(goal under {doc['resume_goal']:g} s), {doc['cells_retrained_on_resume']} cells retrained.\n\n"
        + source(
            "latest/executors_cpu.json",
            "pytest benchmarks/test_executors.py -m slow --bench-out=results/latest",
            doc["environment"],
        )
    )


def _diff_table(report_md: str) -> str:
    return section(report_md, "## Against the baseline, per dataset")


@figure("suite-small")
def suite_small(r: Results) -> str:
    doc = r.json("suite-small/results.json")
    s = doc["settings"]
    datasets = s["dataset"].split(",")
    configs = len({x["config"] for x in doc["runs"]})
    return (
        f"{configs} configs x {s['seeds']} seeds x {s['epochs']} epochs on {len(datasets)} datasets"
        f" ({', '.join(datasets)}): {len(doc['runs'])} cells trained, {len(doc['not_applicable'])} pairs not"
        f" applicable, {seconds(s['wall_seconds'])} of training.\n\n"
        + _diff_table(r.text("suite-small/report.md"))
        + "\n"
        + source(
            ["suite-small/results.json", "suite-small/report.md"],
            "regbench run --datasets small --seeds 5 --out results/suite-small",
            doc["environment"],
        )
    )


@figure("suite-small-rank")
def suite_small_rank(r: Results) -> str:
    rank_md = r.text("suite-small/rank.md")
    return (
        demote(section(rank_md, "## Verdicts"))
        .replace("![critical_difference](critical_difference.png)", "")
        .replace("![performance_profile](performance_profile.png)", "")
        .strip()
        + "\n\n"
        + section(rank_md, "## Against baseline")
        + "\n"
        + source(
            ["suite-small/rank.md", "suite-small/rank.json"],
            "regbench rank results/suite-small --out results/suite-small",
        )
    )


def _paths(r: Results, folder: str, command: str) -> str:
    doc = r.json(f"{folder}/results.json")
    s = doc["settings"]
    body = demote(section(r.text(f"{folder}/report.md"), "## Regularization paths"))
    return (
        f"{s['data_source']}: {s['train_size']:,} training / {s['test_size']:,} test samples, "
        f"{s['seeds']} seeds x {s['epochs']} epochs at batch {s['batch_size']}.\n\n"
        + body
        + "\n"
        + source([f"{folder}/report.md", f"{folder}/results.json"], command, doc["environment"])
    )


PATHS_DIGITS_COMMAND = (
    "regbench run --configs l1,l2,dropout,adamw,label-smoothing --out results/paths-digits "
    "--grid l1.l1_lambda=1e-6,1e-5,1e-4,1e-3,1e-2 --grid l2.l2_lambda=1e-5,1e-4,1e-3,1e-2,1e-1 "
    "--grid dropout.dropout_prob=0,0.2,0.4,0.6,0.8 --grid adamw.weight_decay=0.01,0.1,1,10,100 "
    "--grid label-smoothing.label_smoothing=0,0.05,0.1,0.2,0.4"
)
PATHS_FASHION_COMMAND = (
    "regbench run --dataset fashion-mnist --n-train all --n-test all --configs l2,dropout "
    "--grid l2.l2_lambda=1e-6,1e-5,1e-4,1e-3,1e-2 --grid dropout.dropout_prob=0,0.2,0.4,0.6,0.8 "
    "--seeds 3 --epochs 10 --batch-size 256 --out results/paths-fashion-mnist"
)


@figure("paths-digits")
def paths_digits(r: Results) -> str:
    return _paths(r, "paths-digits", PATHS_DIGITS_COMMAND)


@figure("paths-fashion-mnist")
def paths_fashion(r: Results) -> str:
    return _paths(r, "paths-fashion-mnist", PATHS_FASHION_COMMAND)


ASSERTIONS_COMMAND = 'pytest benchmarks/test_assertions.py -m "slow or not slow" --bench-out results/latest'
CLAIMS = {"better": "`assert_better`", "no_worse": "`assert_no_worse`", "equivalent": "`assert_equivalent`"}


@figure("assertions-simulated")
def assertions_simulated(r: Results) -> str:
    doc = r.json("latest/assertions_cpu.json")
    sim = doc["simulated"]
    res = sim["residuals"]

    def claim(row: dict) -> str:
        return f"{CLAIMS.get(row['kind'], row['kind'])}, true difference {row['truth']:+g}"

    false = []
    for row in sim["false_passes"]:
        k = round(row["pass_rate"] * row["sequences"])
        lo, hi = clopper_pearson(k, row["sequences"])
        false.append([claim(row), f"{row['pass_rate']:.4f} [{lo:.4f}, {hi:.4f}]", f"{row['mean_pairs']:.1f}"])
    power = [[claim(row), f"{row['pass_rate']:.4f}", f"{row['mean_pairs']:.1f}"] for row in sim["power"]]
    return (
        f"Each row: {sim['false_passes'][0]['sequences']:,} simulated sequences of paired differences drawn from"
        f" {res['n']} real per-seed differences (sd {res['sd']:.4f}; {res['from']}), shifted to a planted true"
        f" difference; alpha {sim['alpha']}, seeds {tuple(sim['seeds'])}, margin {sim['margin']}.\n\nFalse passes at"
        " each claim's boundary, with 95% Clopper-Pearson intervals (the benchmark fails above"
        f" {sim['false_pass_bound']}):\n\n"
        + table(["claim", "false passes", "mean pairs"], false, ["---", "---", "---:"])
        + "\nPasses where the claim is true (power; one minus the flaky-test rate):\n\n"
        + table(["claim", "passes", "mean pairs"], power, ["---", "---:", "---:"])
        + "\n"
        + source("latest/assertions_cpu.json", ASSERTIONS_COMMAND, doc.get("environment"))
    )


@figure("assertions-real")
def assertions_real(r: Results) -> str:
    doc = r.json("latest/assertions_cpu.json")
    real = doc["real"]
    s = real["summary"]
    n_aa = len(real["aa_better"])
    rows = [
        [
            "A/A: the baseline against itself on disjoint seeds, `assert_better`",
            f"{s['aa_better_false_passes']} of {n_aa} passed (false passes)",
            f"{s['aa_mean_pairs']['better']:.1f}",
        ],
        [
            f"A/A: `assert_equivalent` (margin {real['margin']})",
            f"{s['aa_equivalent_false_failures']} of {len(real['aa_equivalent'])} failed",
            f"{s['aa_mean_pairs']['equivalent']:.1f}",
        ],
    ]
    for name, cases in real["planted"].items():
        summary = s[name]
        diff = sum(c["difference"] for c in cases) / len(cases)
        rows.append(
            [
                name,
                f"{summary['found']} of {summary['of']} (mean difference {diff:+.4f})",
                f"{summary['mean_pairs']:.1f}",
            ]
        )
    return (
        f"On {real['dataset']}, {real['epochs']} epochs, alpha {real['alpha']}, seeds {tuple(real['seeds'])}, margin"
        f" {real['margin']}:\n\n"
        + table(["case", "outcome", "mean pairs"], rows, ["---", "---", "---:"])
        + "\n"
        + source("latest/assertions_cpu.json", ASSERTIONS_COMMAND, doc.get("environment"))
    )


@figure("assertion-example")
def assertion_example(r: Results) -> str:
    text = r.text("latest/assertions_example.txt").rstrip("\n")
    return (
        "```\n"
        + text
        + "\n```\n\n*Verbatim from `results/latest/assertions_example.txt`, written by the two commands at its top.*\n"
    )


GATE_POWER_COMMAND = "pytest benchmarks/test_gate_power.py -m slow --bench-out=results/latest"


@figure("gate-power")
def gate_power(r: Results) -> str:
    doc = r.json("latest/gate_power.json")
    false = [[name, f"{row['failed']} / {row['pairs']}"] for name, row in doc["false_alarms"].items()]
    designs = list(next(iter(doc["power"].values())).keys())
    planted = []
    for name, by_design in doc["power"].items():
        cells = []
        for design in designs:
            cell = by_design[design]
            verdict = "caught" if cell["caught"] else "**missed**"
            rows = len(cell["failing_rows"])
            cells.append(f"{verdict} ({', '.join(cell['by'])}; {rows} failing row{'' if rows == 1 else 's'})")
        planted.append([name] + cells)
    env = doc.get("environment")
    sizes = sorted(
        {
            m.group(1)
            for by_design in doc["power"].values()
            for cell in by_design.values()
            for row in cell["failing_rows"]
            for m in [re.match(r"pooled \((\d+) configs\)", row)]
            if m
        }
    )
    pooled = f"its pooled rows were over {' or '.join(sizes)} configs" if sizes else "no pooled row failed"
    return (
        "False alarms: A/A pairs of real runs, same code, same machine.\n\n"
        + table(["what was gated", "pairs that failed"], false, ["---", "---:"])
        + f"\nPlanted regressions, each gated against an unpatched run made just before it ({pooled}):\n\n"
        + table(["planted regression"] + designs, planted)
        + "\n"
        + source("latest/gate_power.json", GATE_POWER_COMMAND, env)
    )


@figure("gate-under-load")
def gate_under_load(r: Results) -> str:
    doc = r.json("latest/gate_under_load_cpu.json")
    load = doc["load"]
    sides = ["compare", "continuous"]
    cases = []
    for side in sides:
        for case in doc[side]:
            if case not in cases:
                cases.append(case)
    rows = []
    for case in cases:
        row = [case]
        for side in sides:
            c = doc[side].get(case)
            if c is None:
                row.append("")
                continue
            ratios = [g["pooled_speed_ratio"] for g in c["gates"]]
            if case == "a/a":
                lo, hi = c["ci95"]
                far = max(abs(1 - x) for x in ratios)
                row.append(
                    f"{c['failures']} / {c['trials']} failed [{lo:.3f}, {hi:.3f}]; pooled samples/s ratio at most"
                    f" {far:.3f} from 1"
                )
            else:
                row.append(
                    f"caught {c['caught']} / {c['replicates']}; pooled samples/s ratio"
                    f" {min(ratios):.2f}-{max(ratios):.2f}"
                )
        rows.append(row)
    return (
        f"Matrix: {doc['matrix']}. Load: {load['processes']} process busy {load['busy_seconds']:g} s in every "
        f"{load['period_seconds']:g} s, started and stopped by the benchmark. Whole measurement: "
        f"{doc['wall_seconds'] / 60:.0f} min.\n\n"
        + table(["case", "`regbench compare` (defaults)", "`regbench continuous --quick`"], rows)
        + "\n(A/A intervals: 95% Clopper-Pearson.)\n\n"
        + source(
            "latest/gate_under_load_cpu.json",
            "pytest benchmarks/test_gate_under_load.py -m slow --bench-out=results/latest",
            doc["machine"],
        )
    )


BASELINES = [
    ("baseline-cpu.json", "the full matrix, promoted from `latest/results.json`", "regbench run --out results/latest"),
    (
        "baseline-cpu-quick.json",
        "the short matrix the CI gate uses",
        "OMP_NUM_THREADS=1 pytest benchmarks --bench-out=results/latest",
    ),
    (
        "baseline-cpu-benchmarks.json",
        "pytest-benchmark timings: training steps and data paths",
        "OMP_NUM_THREADS=1 pytest benchmarks --benchmark-json=results/latest/benchmarks-cpu.json",
    ),
    (
        "baseline-cpu-benchmarks-xeon.json",
        "the same timings made on the Intel Xeon (AVX512) CI machine",
        "OMP_NUM_THREADS=1 pytest benchmarks --benchmark-json=...  (there)",
    ),
    ("latest/results.json", "the latest main job", "regbench run --out results/latest"),
    (
        "latest/generalization-quick-cpu.json",
        "the latest short matrix",
        "OMP_NUM_THREADS=1 pytest benchmarks --bench-out=results/latest",
    ),
    (
        "latest/benchmarks-cpu.json",
        "the latest benchmark timings",
        "OMP_NUM_THREADS=1 pytest benchmarks --benchmark-json=results/latest/benchmarks-cpu.json",
    ),
]


def _configs_and_pooled(groups: list[str]) -> str:
    """How many configs' rows, and whether the pooled row, a verdict covers."""
    configs = sum(not g.startswith("pooled") for g in groups)
    pooled = any(g.startswith("pooled") for g in groups)
    if not configs:
        return "the pooled row only"
    return f"{configs} configs" + (" and pooled" if pooled else "")


@figure("history-example")
def history_example(r: Results) -> str:
    """What the gate said at each step of the example history, counted from its committed results files."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from regbench import history
    from regbench.compare import load_measurements
    from regbench.compare.rules import rule_of

    folder = r.path("history-example")
    entries = history.load_index(folder)
    found = history.steps([load_measurements(folder / e.file) for e in entries], entries)
    rows = []
    for step in found:
        cells = []
        for verdicts in (step.regressions, step.improvements):
            by_metric: dict[str, list[str]] = {}
            for group, metric in verdicts:
                by_metric.setdefault(rule_of(metric).title, []).append(group)
            cells.append(
                "; ".join(f"{title}: {_configs_and_pooled(groups)}" for title, groups in by_metric.items()) or "none"
            )
        rows.append([f"`{step.before.short}` to `{step.after.short}`", step.after.subject, *cells])
    return (
        table(["step", "the later commit", "fails the gate", "improved"], rows)
        + "\n"
        + source("history-example/index.json", "python tools/history_example.py")
    )


@figure("statistical-budget")
def statistical_budget(r: Results) -> str:
    """Read from the declarations themselves (properties/budget.py), not a results file: the budget is code, not a
    measurement.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from properties import budget

    budget.registered()  # imports every property module, so each declaration is counted
    parts = []
    for cuda in (False, True):
        rows = budget.budget_table(cuda=cuda)
        total = sum(row[3] for row in rows)
        parts.append(
            f"A {'CUDA' if cuda else 'CPU'} run: {total:.3g} in all, against the bound"
            f" {budget.FALSE_FAILURE_BOUND:g}.\n\n"
            + table(
                ["property", "alpha per example", "examples", "contribution"],
                [[f"`{name}`", f"{alpha:g}", str(n), f"{share:.3g}"] for name, alpha, n, share in rows],
                ["---", "---:", "---:", "---:"],
            ).rstrip("\n")
        )
    return (
        "\n\n".join(parts)
        + "\n\n*Read from each property's `@statistical(alpha=..., examples=...)` declaration in `properties/`, written"
        " by `python -m properties.budget`; `properties/test_budget.py` fails when a total passes the bound or a"
        " statistical property is undeclared.*\n"
    )


@figure("results-files")
def results_files(r: Results) -> str:
    rows = []
    for name, what, command in BASELINES:
        doc = r.json(name)
        if "runs" in doc:
            holds = matrix_shape(doc) + f", {doc['settings']['dataset']}"
            env = doc["environment"]
        else:
            holds = f"{len(doc['benchmarks'])} benchmarks"
            env = doc["machine_info"]["regbench"]
        rows.append([f"`results/{name}`", what, holds, where(env), f"`{command}`"])
    return (
        table(["file", "what", "holds", "made on", "made by"], rows)
        + "\n*Read from the files named in the first column, written by the commands in the last.*\n"
    )


# ---------------------------------------------------------------- check and write


def doc_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for pattern in DOC_GLOBS:
        files += sorted(Path(p) for p in glob.glob(str(root / pattern)))
    return files


def render(text: str, results: Results) -> str:
    def replace(m: re.Match) -> str:
        name = m.group("name")
        if name not in FIGURES:
            raise KeyError(f"unknown figures block {name!r} (known: {', '.join(sorted(FIGURES))})")
        return f"<!-- figures: {name} -->\n{FIGURES[name](results)}<!-- /figures -->"

    return BLOCK.sub(replace, text)


def check(results: Results, root: Path = ROOT) -> list[str]:
    """A unified diff per doc file whose generated blocks differ from what the files give; empty when all agree."""
    diffs = []
    for path in doc_files(root):
        text = path.read_text()
        new = render(text, results)
        if new != text:
            rel = path.relative_to(root)
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        text.splitlines(True),
                        new.splitlines(True),
                        f"{rel} (as written)",
                        f"{rel} (from {results.root})",
                    )
                )
            )
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite every generated block from the files")
    parser.add_argument(
        "--results", default=str(ROOT / "results"), help="the results folder to read (default: the committed one)"
    )
    args = parser.parse_args(argv)
    results = Results(Path(args.results))
    if args.write:
        for path in doc_files():
            text = path.read_text()
            new = render(text, results)
            if new != text:
                path.write_text(new)
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    diffs = check(results)
    for d in diffs:
        sys.stdout.write(d)
    if diffs:
        print(
            f"\n{len(diffs)} doc file(s) disagree with {results.root}; `python tools/docs_figures.py --write` rewrites"
            " them",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
