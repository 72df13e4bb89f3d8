"""Two revisions side by side: ``regbench continuous BASE [HEAD]`` trains one matrix with each revision's code on this
machine,
cell by cell in turn, and gates HEAD against BASE (asv's ``continuous`` is the model).

A baseline timed an hour ago and a candidate timed now differ by whatever the shared machine was
doing in between, on a loaded host more than the regressions it should catch. Here each (config, seed) cell is trained
by
BASE and by HEAD one right after the other, the order alternating from cell to cell, so the
machine's drift and most of a burst of load fall on both twins; the gate pairs each seed's
throughput with its twin's (``compare.compare(paired=True)``) and can judge speed at a
tolerance of 10% (``TOLERANCE``) where a gate against an old baseline needs 20% or more.

How: each revision is exported from git (``git archive``, the committed code only) into a
temporary folder and run by one long-lived interpreter of this Python environment, with that
folder first on its path, so ``import regbench`` is the revision's own. The driver asks it to
train one cell at a time through the revision's public ``regbench.run`` (one journal per config,
so each call trains just the next seed), then assembles each revision's results file and
compares them. Cells train one by one (``execution="single"``, one process): a stacked sweep
trains a whole group at once and could not be interleaved.

One environment serves both revisions only when they declare the same dependencies in
pyproject.toml; when they do not, the command refuses and says which differ (a speed measured
with the wrong library would be meaningless): install each revision in its own environment and
compare two ``regbench run`` results with ``regbench compare``. On a CPU the fast engine trains
each cell on one thread (``executors.InProcess``), so the idle twin holds no core; both
interpreters also run with ``OMP_WAIT_POLICY=PASSIVE`` unless it is set, so that a multi-threaded
engine's idle OpenMP threads do not spin after each step and take the cores from the twin.
Modules a config or dataset names as MODULE:ATTRIBUTE are found in each revision's tree first,
then in the current directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from regbench import compare, results
from regbench.errors import UsageError
from regbench.files import write_json
from regbench.matrix import place

__all__ = ["TOLERANCE", "ContinuousError", "Revision", "dependency_differences", "export", "run_continuous"]

# interleaved twins share the machine's state, so a smaller slowdown is told from noise than against an old baseline
TOLERANCE = 0.1
PROTOCOL = (  # the driver's replies on its stdout start with this; anything else there is the revision's own output
    "regbench-continuous: "
)

# Runs inside each revision's interpreter: argv[1] is its tree, argv[2] the user's directory. It reads one JSON job per
# line
# and answers one JSON line: {"do": "plan", ...} lists the configs the revision would train; {"do": "cell", ...} trains
# one.
DRIVER = r"""
import json, sys
tree, user_dir = sys.argv[1], sys.argv[2]
sys.path[:0] = [tree]
sys.path.append(user_dir)
channel, sys.stdout = sys.stdout, sys.stderr  # the revision's prints go to the log, not into the answers

def answer(reply):
    channel.write("regbench-continuous: " + json.dumps(reply) + "\n")
    channel.flush()

import regbench
from regbench import runner
configs = {}
for line in sys.stdin:
    job = json.loads(line)
    try:
        if job["do"] == "plan":
            plan = getattr(runner, "plan_configs", None)
            if plan is None and job["grid"]:
                raise RuntimeError(
                    "this revision predates regbench continuous's grids: give the configs without --grid"
                )
            chosen = plan(job["configs"], job["grid"]) if plan else regbench.select_configs(job["configs"])
            configs = {c.name: c for c in chosen}
            answer({"configs": list(configs), "module": regbench.__file__})
        else:
            regbench.run([configs[job["config"]]], seeds=job["seed"] + 1, out=job["out"], plots=False, progress=False,
                         execution="single", workers=1, **job["settings"])
            answer({"ok": True})
    except Exception as error:
        answer({"error": f"{type(error).__name__}: {error}"})
"""


class ContinuousError(UsageError):
    """A revision cannot be found, exported, run in this environment, or compared."""


@dataclass
class Revision:
    """One side of the comparison: the name it was given, its commit, its exported tree and where its cells are
    journaled.
    """

    role: str  # "BASE" or "HEAD"
    given: str
    commit: str
    tree: Path
    out: Path


def git(repo: Path, *args: str) -> str:
    """A git command's output in ``repo``; ContinuousError with git's own message when it fails."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise ContinuousError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout.strip()


def resolve(repo: Path, given: str) -> str:
    """A revision's full commit hash, or a message naming what is not a commit here."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{given}^{{commit}}")
    except ContinuousError:
        raise ContinuousError(
            f"{given!r} is not a commit of the repository at {repo} (a branch, tag, hash or HEAD~1)"
        ) from None


def export(repo: Path, commit: str, dest: Path) -> Path:
    """The committed tree of ``commit``, written under ``dest`` (git archive: uncommitted changes are not part of a
    revision).
    """
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=repo, capture_output=True)
    if archive.returncode != 0:
        raise ContinuousError(f"git archive {commit}: {archive.stderr.decode(errors='replace').strip()}")
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    if not (dest / "regbench" / "__init__.py").is_file():
        raise ContinuousError(f"{commit[:10]} has no regbench package at its root: is {repo} regbench's repository?")
    return dest


def declared_dependencies(tree: Path) -> list[str]:
    """The dependencies a revision's pyproject.toml declares (none when it has no pyproject.toml)."""
    path = tree / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        import tomllib  # Python 3.11 on
    except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ContinuousError("reading pyproject.toml on Python 3.10 needs tomli: pip install tomli") from None
    return sorted(tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("dependencies", []))


def dependency_differences(base: Path, head: Path) -> list[str]:
    """What HEAD declares that BASE does not ('+ x') and the reverse ('- y')."""
    old, new = set(declared_dependencies(base)), set(declared_dependencies(head))
    return [f"+ {d}" for d in sorted(new - old)] + [f"- {d}" for d in sorted(old - new)]


class Driver:
    """One revision's interpreter, answering one job at a time."""

    def __init__(self, revision: Revision, user_dir: Path) -> None:
        self.revision = revision
        self.log = revision.out / "driver.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", DRIVER, str(revision.tree), str(user_dir)],
                cwd=revision.tree,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ},
            )

    def ask(self, job: dict) -> dict:
        """Send a job, wait for its answer; a driver that dies is a ContinuousError naming the job and the log."""
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            for line in self.process.stdout:
                if line.startswith(PROTOCOL):
                    return json.loads(line[len(PROTOCOL) :])
        except BrokenPipeError:
            pass
        code = self.process.wait()
        tail = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        what = f"{job['config']} seed {job['seed']}" if job["do"] == "cell" else "loading it"
        raise ContinuousError(
            f"{self.revision.role} ({self.revision.commit[:10]})'s interpreter ended (exit {code}) while {what}: "
            f"{tail[0]} (log: {self.log})"
        )

    def close(self) -> None:
        """End the interpreter (it stops at the end of its input)."""
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()


def _order(configs: list[str], seeds: int) -> list[tuple[str, int, bool]]:
    """(config, seed, BASE first?) for every cell: seed by seed, configs in a hashed order, the side that goes first
    alternating.
    """
    cells = sorted(((c, k) for k in range(seeds) for c in configs), key=lambda cell: place(None, *cell))
    return [(c, k, i % 2 == 0) for i, (c, k) in enumerate(cells)]


def assemble(folders: list[Path], commit: str, seeds: int) -> dict:
    """One results document from a revision's per-config folders: every run, every config's description, the settings
    of the last.
    """
    docs = [results.load_results(f / "results.json") for f in folders if (f / "results.json").is_file()]
    if not docs:
        raise ContinuousError(f"{commit[:10]} finished no cell: see its driver.log")
    doc = results.build_results(
        [run for d in docs for run in d["runs"]],
        settings={**docs[-1]["settings"], "seeds": seeds},
        env={**docs[-1]["environment"], "git_commit": commit},
        configs={name: c for d in docs for name, c in d.get("configs", {}).items()},
    )
    doc["datasets"] = docs[-1].get("datasets", {})
    return doc


def run_continuous(
    base: str,
    head: str = "HEAD",
    *,
    configs: str = "all",
    grid: tuple[str, ...] = (),
    seeds: int = 2,
    settings: Optional[dict] = None,
    out: Path | str = Path("runs/continuous"),
    repo: Path | str = ".",
    alpha: float = compare.ALPHA,
    speed_tolerance: float = TOLERANCE,
    ignore: tuple[str, ...] = (),
    say: Callable[[str], None] = lambda line: None,
) -> compare.Report:
    """Train the matrix for BASE and HEAD cell by cell, write each side's results.json under ``out``, and return HEAD's
    gate against BASE.

    ``settings`` are ``regbench.run``'s training and data keywords (epochs, batch_size, lr,
    device, engine, dataset, roots, n_train, n_test, image_size, label_column, time_limit), the
    same for both; a root or path in them should be absolute. ``out`` gets one folder per pair of
    commits, so the same command resumes where it stopped and another commit starts afresh.
    """
    try:
        repo = Path(git(Path(repo), "rev-parse", "--show-toplevel"))
    except (ContinuousError, OSError):
        raise ContinuousError(
            f"{Path(repo).resolve()} is not in a git repository: regbench continuous compares two commits of one"
        ) from None
    commits = {"BASE": resolve(repo, base), "HEAD": resolve(repo, head)}
    folder = Path(out) / f"{commits['BASE'][:10]}-{commits['HEAD'][:10]}"
    with tempfile.TemporaryDirectory(prefix="regbench-continuous-") as tmp:
        revisions = {
            role: Revision(
                role, given, commits[role], export(repo, commits[role], Path(tmp) / role.lower()), folder / role.lower()
            )
            for role, given in (("BASE", base), ("HEAD", head))
        }
        differ = dependency_differences(revisions["BASE"].tree, revisions["HEAD"].tree)
        if differ:
            raise ContinuousError(
                f"{base} and {head} declare different dependencies ({', '.join(differ)}); one environment cannot run"
                " both as they are meant to: install each in its own environment and compare two `regbench run`"
                " results with `regbench compare`"
            )
        drivers = {role: Driver(rev, Path.cwd()) for role, rev in revisions.items()}
        try:
            names = {}
            for role, driver in drivers.items():
                plan = driver.ask({"do": "plan", "configs": configs, "grid": list(grid)})
                if "error" in plan:
                    raise ContinuousError(f"{role} ({revisions[role].commit[:10]}): {plan['error']}")
                names[role] = plan["configs"]
            every = list(dict.fromkeys(names["BASE"] + names["HEAD"]))
            say(
                f"regbench continuous: {base} ({commits['BASE'][:10]}) against {head} ({commits['HEAD'][:10]}):"
                f" {len(every)} configs x {seeds} seeds, each cell trained by both in turn; journals in {folder}"
            )
            skipped: dict[tuple[str, str], str] = {}
            for config, seed, base_first in _order(every, seeds):
                for role in ("BASE", "HEAD") if base_first else ("HEAD", "BASE"):
                    if config not in names[role] or (role, config) in skipped:
                        continue
                    reply = drivers[role].ask(
                        {
                            "do": "cell",
                            "config": config,
                            "seed": seed,
                            "settings": settings or {},
                            "out": str(revisions[role].out / "cells" / _folder(config)),
                        }
                    )
                    if "error" in reply:
                        skipped[(role, config)] = reply["error"]
                        say(f"regbench continuous: {role} did not train {config}: {reply['error']}")
        finally:
            for driver in drivers.values():
                driver.close()
        sides = {}
        for role, rev in revisions.items():
            doc = assemble([rev.out / "cells" / _folder(c) for c in names[role]], rev.commit, seeds)
            write_json(rev.out / "results.json", doc)
            sides[role] = compare.load_measurements(rev.out / "results.json")
    # a config whose definition changed between the commits is what a code change may do: noted in the warnings, not
    # refused
    return compare.compare(
        sides["BASE"],
        sides["HEAD"],
        alpha=alpha,
        speed_tolerance=speed_tolerance,
        ignore=ignore,
        paired=True,
        allow_settings_mismatch=True,
    )


def _folder(config: str) -> str:
    """A config's journal folder: its name made safe for any file system, with a hash so two names never share one."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in config)[:60]
    return f"{safe}-{hashlib.sha256(config.encode()).hexdigest()[:8]}"
