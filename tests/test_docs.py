"""The docs say what the committed files say.

- Every generated block (`<!-- figures: NAME -->` ... `<!-- /figures -->`) in README.md, docs/*.md and
  results/README.md equals what tools/docs_figures.py writes from the committed files in results/;
  a file changed without `python tools/docs_figures.py --write` fails here (shown by planting a change
  in a copy of results/).
- No measured-looking number is written by hand: outside generated blocks, code blocks and inline
  code, a number with a unit of time, size, speed-up or percentage, or a decimal, fails unless it is a
  parameter (named as one: "alpha 0.01", "p = 0.2", ...) or whitelisted below with its reason.
- Relative links between the pages resolve, anchors included.
- README.md keeps the set-up commands where .ci/run and readers find them.
"""

from __future__ import annotations

import bisect
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "tools" / "docs_figures.py")
figures = importlib.util.module_from_spec(_spec)
sys.modules["docs_figures"] = figures
_spec.loader.exec_module(figures)

DOCS = figures.doc_files(ROOT)
RUN_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/regbench run"
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---------------------------------------------------------------- generated figures


def test_the_doc_pages_exist():
    names = {rel(p) for p in DOCS}
    for page in (
        "README.md",
        "results/README.md",
        "docs/README.md",
        "docs/run.md",
        "docs/configs.md",
        "docs/data.md",
        "docs/cluster.md",
        "docs/gate.md",
        "docs/checks.md",
        "docs/testing.md",
        "docs/measurements.md",
    ):
        assert page in names, page


def test_every_generated_block_matches_the_committed_files():
    diffs = figures.check(figures.Results(ROOT / "results"), ROOT)
    assert not diffs, (
        "a doc disagrees with the committed files; run `python tools/docs_figures.py --write` (or fix the file):\n"
        + "\n".join(diffs)
    )


def test_every_registered_figure_is_used_and_every_block_is_known():
    used = set()
    for path in DOCS:
        for m in figures.BLOCK.finditer(path.read_text()):
            assert m.group("name") in figures.FIGURES, f"{rel(path)}: unknown block {m.group('name')!r}"
            used.add(m.group("name"))
    assert set(figures.FIGURES) <= used, f"figures no page shows: {sorted(set(figures.FIGURES) - used)}"


def test_markers_are_balanced():
    for path in DOCS:
        text = path.read_text()
        opens = len(re.findall(r"^<!-- figures: [\w.-]+ -->$", text, re.M))
        closes = len(re.findall(r"^<!-- /figures -->$", text, re.M))
        assert opens == closes == len(figures.BLOCK.findall(text)), rel(path)


def test_every_block_names_its_file_and_command():
    results = figures.Results(ROOT / "results")
    for name, make in figures.FIGURES.items():
        text = make(results)
        assert re.search(r"`(results|properties)/[^`]+`", text), (
            f"{name} names no committed file"
        )  # the budget is read from its declarations
        assert "written by `" in text or "written by the" in text or name == "results-files", f"{name} names no command"


@pytest.fixture
def results_copy(tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(ROOT / "results", copy, ignore=shutil.ignore_patterns("*.png", "assertion-cells"))
    return copy


def _plant(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_a_changed_measurement_fails_the_check(results_copy):
    assert not figures.check(figures.Results(results_copy), ROOT), "the unchanged copy should agree"
    _plant(results_copy / "latest" / "fast_path_cpu.json", lambda d: d["ratios"][0].update(value=0.95, meets_goal=True))
    diffs = figures.check(figures.Results(results_copy), ROOT)
    assert diffs and any("0.684" in d and "0.950" in d for d in diffs), diffs


def test_a_changed_timing_or_count_fails_the_check(results_copy):
    _plant(results_copy / "latest" / "full_matrix_cpu.json", lambda d: d["wall_seconds"].update(fast=30.0))
    _plant(results_copy / "latest" / "results.json", lambda d: d["settings"].update(wall_seconds=250.0))
    diffs = "\n".join(figures.check(figures.Results(results_copy), ROOT))
    assert "30 s" in diffs and "250 s" in diffs


def test_a_changed_report_table_fails_the_check(results_copy):
    report = results_copy / "paths-digits" / "report.md"
    report.write_text(report.read_text().replace("0.360 [0.354, 0.366]", "0.361 [0.354, 0.366]"))
    assert figures.check(figures.Results(results_copy), ROOT)


def test_the_script_exits_1_on_a_difference_and_write_repairs_a_copy(results_copy, tmp_path):
    script = ROOT / "tools" / "docs_figures.py"
    ok = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    _plant(results_copy / "latest" / "executors_cpu.json", lambda d: d.update(resume_seconds=9.5))
    bad = subprocess.run([sys.executable, str(script), "--results", str(results_copy)], capture_output=True, text=True)
    assert bad.returncode == 1 and "9.5 s" in bad.stdout
    # --write, on a copy of the docs, makes them agree with the planted file
    page = tmp_path / "page.md"
    page.write_text("<!-- figures: executors -->\nstale\n<!-- /figures -->\n")
    new = figures.render(page.read_text(), figures.Results(results_copy))
    assert "9.5 s" in new and "stale" not in new


# ---------------------------------------------------------------- no hand-written measurements

# A unit that makes a number a measurement: time, size, speed-up, share, speed.
UNIT = r"(?:ms|s|sec|min|minutes?|seconds?|hours?|h|MB|GB|kB|samples/s|points?)\b|%|x(?![\dx])"
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d[\d,]*)(?:\.\d+)?(?:\s?(?:" + UNIT + r"))?")
# Words that name what follows as a parameter someone chose, not a measurement.
PARAMETER_BEFORE = re.compile(
    r"(?:alpha|lambda|λ|\bp|lr|margin|tolerance|std|eps|weight decay|label smoothing|smoothing|goal|default|min_effect|"
    r"seed|momentum|level|batch|seeds|epochs)`?\s*(?:=|of|at|is|to|\()?\s*$",
    re.I,
)
CONFIDENCE_AFTER = re.compile(r"^\s*(?:[\w*-]+\s){0,3}?(?:interval|confidence|CI|bound|band)", re.I)

# Whitelisted phrases (regular expressions; a space also matches a line break) with why their numbers are not
# measurements.
WHITELIST = {
    r"Python 3\.10\+?": "a version requirement",
    r"torch 2\.14\.1 / torchvision 0\.29\.1": "the versions pip installs, not a measurement",
    r"(?:every|each) `nn\.Linear` (?:at )?1\.5x and 3x its work|1\.5x and 3x": (
        "planted slowdown factors: parameters of the benchmark"
    ),
    r"30% for testing": "the tables' test fraction, a parameter (`regbench.sources.TEST_FRACTION`)",
    r"at 25%": "the IQM's trimming proportion, a parameter",
    r"0\.8[–-]1\.0": "the crop scale range, a parameter of the augmentation",
    r"1 point of accuracy, 0\.02 of loss": "the gate's minimum effects, parameters (its rules)",
    r"smallest two-sided p-value is 0\.008 \(2 against 2:\s*0\.33\)": (
        "exact property of the Mann-Whitney U distribution, not a measurement"
    ),
    r"10% tolerance": "the speed tolerance of `regbench continuous`, a parameter",
    r"busy on one core for 1 s in every 3": "the load the benchmark plants, a parameter",
    r"average ranks 3\.143, 2\.000, 2\.893, 1\.964, chi-square 9\.28, F 3\.69,\s*CD 1\.25": (
        "Demšar's published worked example, which tests/test_ranking_significance.py reproduces"
    ),
    r"10 ms profiler and 20 ms event-loop tick": "Dask's configured intervals, settings rather than measurements",
}


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the text readers see as prose: no generated blocks, code blocks, comments or link
    targets; inline code keeps its words (they name parameters) but not its digits (they are code, not claims)."""
    blank = lambda m: "\n" * m.group(0).count("\n")  # noqa: E731
    text = figures.BLOCK.sub(blank, text)
    text = re.sub(r"<!--.*?-->", blank, text, flags=re.S)
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    ") and not line.lstrip().startswith(("-", "|", "*")):
            continue
        line = re.sub(r"`[^`]*`", lambda m: re.sub(r"\d", "#", m.group(0)), line)
        line = re.sub(r"\]\([^)]*\)", "]()", line)
        out.append((number, line))
    return out


def whitelist_pattern(pattern: str) -> re.Pattern:
    """A whitelisted phrase matches across a line break wherever it has a space."""
    return re.compile(pattern.replace(" ", r"\s+"))


def unchecked_figures(path: Path, whitelist: dict[str, str] | None = None) -> list[str]:
    lines = prose(path.read_text())
    text = "\n".join(line for _, line in lines)
    starts, at = [], 0
    for _, line in lines:
        starts.append(at)
        at += len(line) + 1
    allowed = []
    for pattern in WHITELIST if whitelist is None else whitelist:
        for m in whitelist_pattern(pattern).finditer(text):
            allowed.append(m.span())
    found = []
    for m in NUMBER.finditer(text):
        token = m.group(0)
        has_unit = bool(re.search(r"(?:" + UNIT + r")$", token))
        decimal = bool(re.search(r"\d\.\d", token))
        if not (has_unit or decimal):
            continue
        if any(a <= m.start() and m.end() <= b for a, b in allowed):
            continue
        before = text[max(0, m.start() - 40) : m.start()].replace("\n", " ")
        if PARAMETER_BEFORE.search(before):
            continue
        if token.endswith("%") and CONFIDENCE_AFTER.match(text[m.end() : m.end() + 60].replace("\n", " ")):
            continue
        index = bisect.bisect_right(starts, m.start()) - 1
        number, line = lines[index]
        found.append(f"{rel(path)}:{number}: {token!r} in: {line.strip()}")
    return found


def test_no_measured_figure_is_written_by_hand():
    found = []
    for path in DOCS:
        found += unchecked_figures(path)
    assert not found, (
        "numbers that read as measurements outside generated blocks: put them in a block of "
        "tools/docs_figures.py read from a committed file, drop them, or whitelist a parameter here "
        "with its reason:\n" + "\n".join(found)
    )


def test_every_whitelist_entry_is_needed():
    for pattern in WHITELIST:
        without = {p: r for p, r in WHITELIST.items() if p != pattern}
        assert any(unchecked_figures(path, without) for path in DOCS), (
            f"whitelist entry no page needs any more: {pattern!r}"
        )


@pytest.mark.parametrize(
    "line, flagged",
    [
        ("the main job takes about 2 minutes", True),
        ("regbench / bare loop 0.80-0.95 at batch 32", True),
        ("6.6x the notebook", True),
        ("fails 25% of the time", True),
        ("at alpha 0.01 with lambda 1e-4", False),
        ("dropout p = 0.2, batch 32 on 28x28 images (1x28x28)", False),
        ("a 95% confidence interval", False),
        ("13 configs x 5 seeds x 20 epochs", False),
        ("the value in `0.684` inline code", False),
    ],
)
def test_the_guard_tells_measurements_from_parameters(tmp_path, line, flagged):
    page = tmp_path / "page.md"
    page.write_text(line + "\n")
    global rel
    saved, rel = rel, (lambda p: p.name)
    try:
        assert bool(unchecked_figures(page)) is flagged
    finally:
        rel = saved


# ---------------------------------------------------------------- links


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file."""
    out, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = re.match(r"#{1,6} (.*)", line)
        if m and not fenced:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_relative_links_resolve():
    bad = []
    for path in DOCS:
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                bad.append(f"{rel(path)}: {target} (no such file)")
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{rel(path)}: {target} (no such heading)")
    assert not bad, "\n".join(bad)


def test_the_docs_index_and_readme_link_every_page():
    index = (ROOT / "docs" / "README.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name == "README.md":
            continue
        assert f"]({page.name}" in index, f"docs/README.md does not link {page.name}"
    assert "](docs/reports.md)" in readme and "](docs/README.md)" in readme


# ---------------------------------------------------------------- the set-up commands


def _block_after(marker: str) -> str:
    """The command .ci/run would take: its awk, in Python, on the line after the marker."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(marker)
    assert lines[start + 1] == "```", (
        f"the fence right after {marker} must be a bare ``` (the awk in .ci/run matches it exactly)"
    )
    end = lines.index("```", start + 2)
    return "\n".join(lines[start + 2 : end])


def test_readme_keeps_the_two_set_up_commands():
    assert _block_after("<!-- run-command -->") == RUN_COMMAND
    assert _block_after("<!-- test-command -->") == TEST_COMMAND


def test_ci_extracts_the_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    awk = re.search(r"test_command=\$\(awk '(.*?)' README\.md\)", ci).group(1)
    if shutil.which("awk") is None:
        pytest.skip("no awk here")
    got = subprocess.run(["awk", awk, str(ROOT / "README.md")], capture_output=True, text=True, check=True).stdout
    assert got.strip() == TEST_COMMAND


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
