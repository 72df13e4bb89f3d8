"""Make the example history and the screenshots docs/reports.md shows, with regbench's own commands.

    python tools/history_example.py            # writes results/history-example/ and docs/images/{report,history}.png

A scratch git repository gets four commits; at each, this checkout's regbench trains the quick
matrix (`regbench run --quick --seeds 5`), with a change planted as the commit says
(benchmarks/planted.py), and `regbench history add` files the results under that commit. The
second commit plants Adam at a tenth of its learning rate, the third undoes it, the fourth makes
every nn.Linear do 3x its work. Then `regbench history report` draws the page, and headless
Chromium photographs it and the first run's report.html.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANTED = ROOT / "benchmarks"
STEPS = [
    ("regbench as it is", None),
    ("plant: Adam at a tenth of its learning rate", "learning_rate(0.1)"),
    ("undo the learning-rate plant", None),
    ("plant: every nn.Linear does 3x its work", "linear_work(3)"),
]
CHROMIUM = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def regbench(args: list[str], cwd: Path, plant: str | None = None) -> None:
    """This checkout's command line, with a planted change applied first."""
    setup = (
        f"import sys; sys.path.insert(0, {str(PLANTED)!r}); import planted; planted.{plant}; "
        if plant
        else "import sys; "
    )
    subprocess.run(
        [sys.executable, "-c", setup + "from regbench.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=cwd,
        check=True,
    )


def git(args: list[str], cwd: Path, day: int = 0) -> str:
    """A git command in the scratch repository, its commits a day apart."""
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": f"2026-12-0{day} 12:00:00 +0000",
        "GIT_COMMITTER_DATE": f"2026-12-0{day} 12:00:00 +0000",
        "GIT_AUTHOR_NAME": "example",
        "GIT_AUTHOR_EMAIL": "example@example.org",
        "GIT_COMMITTER_NAME": "example",
        "GIT_COMMITTER_EMAIL": "example@example.org",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def screenshot(page: Path, shot: Path, size: str) -> None:
    """What a reader sees first."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("this needs Chromium for the screenshots: apt-get install chromium")
    subprocess.run(
        [chromium, *CHROMIUM, f"--screenshot={shot}", f"--window-size={size}", page.as_uri()],
        check=True,
        capture_output=True,
    )


def main() -> None:
    """Train, file, draw and photograph."""
    out = ROOT / "results" / "history-example"
    images = ROOT / "docs" / "images"
    shutil.rmtree(out, ignore_errors=True)
    images.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        git(["init", "-q"], repo)
        for day, (subject, plant) in enumerate(STEPS, start=1):
            git(["commit", "-q", "--allow-empty", "-m", subject], repo, day)
            run = repo / f"run-{day}"
            regbench(["run", "--quick", "--seeds", "5", "--out", str(run)], ROOT, plant)
            regbench(
                ["history", "add", str(run), "--dir", str(out), "--commit", git(["rev-parse", "HEAD"], repo)], repo
            )
            if day == 1:
                screenshot(run / "report.html", images / "report.png", "1200,1500")
    regbench(["history", "report", "--dir", str(out), "--out", str(out)], ROOT)
    screenshot(out / "history.html", images / "history.png", "1200,1700")


if __name__ == "__main__":
    main()
