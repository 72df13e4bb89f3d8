"""report.html: one self-contained page per output folder, with what report.md has and a table that sorts."""

import base64
import re


from tests.browser import Page, needs_chromium, open_offline, screenshot
from regbench.results import build_results, environment
from regbench.runner import write_outputs
from regbench.report import render_html


def run(config, seed, acc, status="ok", dataset="digits"):
    record = {
        "dataset": dataset,
        "config": config,
        "config_hash": "h",
        "seed": seed,
        "status": status,
        "engine": "fast",
        "execution": "single",
    }
    if status != "ok":
        return {**record, "error": "Traceback ...\nTrainingDiverged: the loss became nan"}
    return {
        **record,
        "train_accuracy": 1.0,
        "test_accuracy": acc,
        "gap_accuracy": 1.0 - acc,
        "sparsity": 0.1,
        "mean_abs_weight": {"all": 0.02},
        "samples_per_second": 1000.0 * (1 + seed),
        "weight_histogram": {"edges": [-0.1, 0.0, 0.1], "density": [2.0, 3.0], "outside_range": 0, "mean_abs": 0.05},
        "history": [{"epoch": 1, "train_accuracy": acc, "val_accuracy": acc - 0.1, "val_loss": 1.0}],
    }


def document(runs):
    return build_results(
        runs,
        settings={"epochs": 1, "batch_size": 32, "seeds": 2, "lr": 0.001, "data_source": "test"},
        env=environment("cpu"),
        configs={},
    )


def test_every_output_folder_gets_a_self_contained_page(tmp_path):
    """Beside report.md: every config's row, the figures embedded as PNG data, the failed run, the environment, a link
    to results.json,
    and nothing fetched from anywhere (no http, no neighbouring file)."""
    runs = [run(c, s, 0.8 + 0.01 * s) for c in ("baseline", "l1", "<b>odd</b>") for s in range(2)] + [
        run("l2", 0, 0, status="diverged")
    ]
    written = write_outputs(document(runs), tmp_path)
    text = (tmp_path / "report.html").read_text()
    page = Page(text)
    assert page.sections == ["dataset-digits", "failed", "environment"]
    names = [row[0] for row in page.rows if len(row) == 2 + 6 and row[0] != "config"]
    assert names == [
        "baseline",
        "l1",
        "<b>odd</b>",
        "l2",
    ]  # escaped: shown as text, not markup; l2 with its 0 finished runs
    assert "<b>odd</b>" not in text and "&lt;b&gt;odd&lt;/b&gt;" in text
    assert page.headers[:3] == ["config", "runs", "test acc"] and "samples/s (geometric)" in page.headers
    assert ["digits", "l2", "0", "diverged", "TrainingDiverged: the loss became nan"] in page.rows
    assert len(page.images) == len(written) == 3  # no l2 run finished: no baseline-vs-l2 histogram
    for src in page.images:
        assert (
            src.startswith("data:image/png;base64,")
            and base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        )
    assert "results.json" in page.links and not page.sources and not re.search(r"""(src|href)=["']https?://""", text)
    assert any(row[:1] == ["torch"] for row in page.rows)


def test_a_suite_has_a_section_per_dataset_and_its_ranking():
    """Two datasets: one section each with its own rows and only its own figures; the ranking's text when given."""
    runs = [run(c, s, 0.8, dataset=d) for d in ("digits", "iris") for c in ("baseline", "l1") for s in range(2)]
    doc = document(runs)
    doc["datasets"] = {
        "digits": {"source": "embedded", "kind": "images"},
        "iris": {"source": "sklearn", "kind": "features"},
    }
    page = Page(render_html(doc, [], ranking="## Ranking across datasets\n\nFriedman ..."))
    assert page.sections == ["dataset-digits", "dataset-iris", "ranking", "failed", "environment"]


def test_the_summary_table_sorts_by_the_mean():
    """Each cell carries the value its column sorts by: the mean, not the text with its interval."""
    text = render_html(document([run("baseline", s, 0.8 + 0.01 * s) for s in range(2)]), [])
    assert 'data-value="0.805' in text and "th.sortable" in text and 'addEventListener("click"' in text


@needs_chromium
def test_the_page_renders_offline_in_a_real_browser_and_sorts(tmp_path):
    """Headless Chromium opens report.html from disk with the network off: no console error, the rows and figures are in
    the rendered
    page, a click on 'test acc' sorts the rows by it; a screenshot is saved beside the page."""
    runs = [run(c, s, acc + 0.01 * s) for c, acc in (("baseline", 0.85), ("l1", 0.70), ("l2", 0.90)) for s in range(2)]
    write_outputs(document(runs), tmp_path)
    page = tmp_path / "report.html"
    clicked = tmp_path / "clicked.html"
    clicked.write_text(
        page.read_text().replace(
            "</body>", "<script>document.querySelectorAll('th.sortable')[2].click();</script></body>"
        )
    )
    dom = open_offline(clicked)
    order = [row[0] for row in dom.rows if len(row) == 8 and row[0] != "config"]
    assert order == ["l2", "baseline", "l1"]  # by test accuracy, highest first
    assert len(dom.images) == 4 and dom.sections == ["dataset-digits", "failed", "environment"]
    shot = screenshot(page, tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
