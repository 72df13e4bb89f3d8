"""The pytest11 plugin: one pytest test per invariant, readable failures, skips that say why, its option and header."""

import re
from pathlib import Path

import pytest
import scipy.stats  # noqa: F401  (imported here first: pytester's in-process runs drop the modules first imported
import torchvision  # noqa: F401   inside them, and these two cannot be imported twice in one process)

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FEW = (
    "--regbench-max-examples",
    "8",
    "-p",
    "no:cacheprovider",
)  # enough to find every example bug; keeps the runs short


def test_the_readme_example_gives_one_test_per_invariant(pytester: pytest.Pytester):
    """examples/test_my_models.py: the correct components pass, each broken one fails just the invariants its bug
    breaks.
    """
    pytester.makepyfile(
        my_models=(EXAMPLES / "my_models.py").read_text(), test_my_models=(EXAMPLES / "test_my_models.py").read_text()
    )
    result = pytester.runpytest(*FEW)
    result.assert_outcomes(passed=27, failed=8, skipped=3)
    failed = {line.split("::")[1].split(" ")[0] for line in result.stdout.lines if line.startswith("FAILED")}
    assert failed == {
        "test_leaky_dropout_net[eval_deterministic]",
        "test_leaky_dropout_net[dropout_identity_in_eval]",
        "test_leaky_dropout_net[dropout_train_statistics]",
        "test_leaky_dropout_net[batch_independent_in_eval]",
        "test_batch_stats_net[batch_independent_in_eval]",
        "test_batch_stats_net[eval_keeps_state]",
        "test_l2_on_everything[penalty_skips_biases_and_1d]",
        "test_mirror_augment[label_preservation]",
    }


def test_a_failure_names_the_invariant_counterexample_and_fix(pytester: pytest.Pytester):
    """The message is the report, not a traceback into regbench."""
    pytester.makepyfile("""
        import torch.nn.functional as F
        from regbench.models import FullyConnectedDropout
        from regbench.pytest_plugin import regbench_check_model

        class AlwaysDropping(FullyConnectedDropout):
            def hidden(self, x):
                return F.dropout(F.relu(self.linear_1(x.reshape(-1, 784))), 0.5, training=True)

        test_always_dropping = regbench_check_model(AlwaysDropping)
        """)
    result = pytester.runpytest(*FEW, "-k", "dropout_identity_in_eval")
    result.assert_outcomes(failed=1, deselected=7)
    result.stdout.fnmatch_lines(
        [
            (
                "*regbench invariant 'dropout_identity_in_eval' failed for"
                " test_a_failure_names_the_invariant_counterexample_and_fix:AlwaysDropping"
            ),
            "  observed: eval-mode output differs from the same model with every dropout rate set to 0 by up to *",
            "  counterexample: batch = 2 samples, all zeros",
            "  fix: dropout still acts in eval mode*",
        ]
    )
    assert "Traceback" not in result.stdout.str() and "checks.py" not in result.stdout.str()


def test_invariants_that_do_not_apply_are_skipped_with_the_reason(pytester: pytest.Pytester):
    pytester.makepyfile("""
        from regbench.models import FullyConnected
        from regbench.losses import RidgeLoss
        from regbench.pytest_plugin import regbench_check_loss, regbench_check_model

        test_plain = regbench_check_model(FullyConnected)
        test_ridge_from_model = regbench_check_loss(
            lambda model: RidgeLoss(__import__("torch").nn.CrossEntropyLoss(), model)
        )
        """)
    result = pytester.runpytest(*FEW, "-rs")
    result.assert_outcomes(passed=5, skipped=7)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED*dropout_identity_in_eval does not apply to *FullyConnected: no dropout-like module*",
            "SKIPPED*lambda_zero_is_base does not apply to *: the constructor takes no lambda argument*",
        ]
    )


def test_a_config_gives_one_test_per_invariant_of_each_part(pytester: pytest.Pytester):
    """regbench_check_config: model.*, loss.*, augment.* and transform.* tests; parts the config lacks are skipped
    with the reason.
    """
    pytester.makepyfile("""
        from regbench.configs import CONFIGS
        from regbench.pytest_plugin import regbench_check_config

        test_l1 = regbench_check_config(CONFIGS["l1"])
        """)
    result = pytester.runpytest(*FEW, "-rs")
    result.assert_outcomes(passed=7, skipped=14)  # 3 model invariants apply to the plain MLP, and all 4 loss ones
    result.stdout.fnmatch_lines(["SKIPPED*augment.label_preservation does not apply to l1: the config has no augment*"])


def test_an_object_it_cannot_check_fails_every_test_in_one_line(pytester: pytest.Pytester):
    pytester.makepyfile("""
        from regbench.pytest_plugin import regbench_check_model

        def make_model():
            return 42

        test_not_a_model = regbench_check_model(make_model)
        """)
    result = pytester.runpytest(*FEW)
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines(
        ["*regbench cannot check *make_model as a model: the model factory returned int, not a torch.nn.Module*"]
    )


def test_marker_selects_the_generated_tests(pytester: pytest.Pytester):
    """Generated tests carry the registered regbench_check marker, so -m selects or deselects them."""
    pytester.makepyfile("""
        from regbench.augment import test_transform
        from regbench.pytest_plugin import regbench_check_transform

        test_clean = regbench_check_transform(test_transform)

        def test_ordinary():
            pass
        """)
    pytester.runpytest(*FEW, "-m", "not regbench_check", "--strict-markers").assert_outcomes(passed=1, deselected=3)
    pytester.runpytest(*FEW, "-m", "regbench_check", "--strict-markers").assert_outcomes(passed=3, deselected=1)


def test_option_help_and_header(pytester: pytest.Pytester):
    """The option sits in its own group, is validated by argparse, and the header says how many examples ran."""
    help_text = pytester.runpytest("--help").stdout.str()
    assert "regbench checks of your own components" in help_text and "--regbench-max-examples=N" in help_text
    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.runpytest(*FEW).stdout.fnmatch_lines(
        ["regbench checks: 8 Hypothesis examples per invariant, derandomized*"]
    )
    refused = pytester.runpytest("--regbench-max-examples", "0")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*--regbench-max-examples: must be >= 1, got 0*"])


def test_the_marker_form_checks_the_object_before_the_test_body(pytester: pytest.Pytester):
    """@pytest.mark.regbench_check(obj, **options) on a test: one test per invariant, judged as the generated ones,
    then the body runs.
    """
    pytester.makepyfile("""
        import pytest
        import torch.nn.functional as F
        from regbench.models import FullyConnected, FullyConnectedDropout

        class AlwaysDropping(FullyConnectedDropout):
            def hidden(self, x):
                return F.dropout(F.relu(self.linear_1(x.reshape(-1, 784))), 0.5, training=True)

        BODIES = []

        @pytest.mark.regbench_check(FullyConnected, input_shape=(784,))
        def test_plain(request):
            BODIES.append(request.node.name)

        @pytest.mark.regbench_check.with_args(AlwaysDropping)
        def test_always_dropping():
            pass

        @pytest.mark.regbench_check("regbench.models:FullyConnectedDropout")
        def test_by_name():
            pass

        def test_bodies_ran_after_each_passing_invariant():
            assert sorted(BODIES) == [
                "test_plain[batch_independent_in_eval]",
                "test_plain[eval_deterministic]",
                "test_plain[eval_keeps_state]",
            ]
        """)
    result = pytester.runpytest(*FEW, "-p", "no:randomly")
    result.assert_outcomes(passed=10, failed=4, skipped=11)
    result.stdout.fnmatch_lines(
        ["*test_always_dropping?dropout_identity_in_eval?*", "*fix: dropout still acts in eval mode*"]
    )
    assert (
        "test_by_name[dropout_train_statistics] PASSED" in pytester.runpytest(*FEW, "-v", "-k", "by_name").stdout.str()
    )


def test_a_marker_on_something_it_cannot_check_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.regbench_check(42)
        def test_number():
            pass

        @pytest.mark.regbench_check("nowhere:Net")
        def test_missing():
            pass
        """)
    result = pytester.runpytest(*FEW)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.regbench_check: *int* is a int, not a model, loss or transform*",
            "*@pytest.mark.regbench_check: *nowhere*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_dataset_shapes_the_checks(pytester: pytest.Pytester):
    """dataset="iris" in the plugin: the model is sized for 4 features and 3 classes and checked on such inputs; a
    model fixed at 784 inputs fails.
    """
    pytester.makepyfile("""
        import functools
        import pytest
        from regbench.models import FullyConnected
        from regbench.pytest_plugin import regbench_check_model

        test_sized = regbench_check_model(FullyConnected, dataset="iris")

        @pytest.mark.regbench_check(functools.partial(FullyConnected, 784), kind="model", dataset="iris")
        def test_fixed():
            pass
        """)
    result = pytester.runpytest(*FEW, "-m", "regbench_check")
    result.assert_outcomes(
        passed=3, skipped=5, failed=8
    )  # FullyConnected sized by iris passes; the 784-input one fails every invariant
    assert "input_size=784 does not fit the data: its input_shape gives 4" in result.stdout.str()


TINY = dict(dataset="digits", n_train=10, n_test=10, epochs=1, seeds=(3, 4))


def test_the_bench_fixture_caches_in_the_session_folder_and_verbose_prints_passes(pytester: pytest.Pytester, tmp_path):
    """A user's test with regbench_bench: passes, caches under --regbench-cache (a rerun trains nothing), and -v
    prints the passing table.
    """
    pytester.makepyfile(
        test_mine=f"""
def test_l2_no_worse(regbench_bench):
    regbench_bench.assert_no_worse("l2", "baseline", margin=0.5, **{TINY!r})
"""
    )
    result = pytester.runpytest("-v", "-p", "no:cacheprovider", f"--regbench-cache={tmp_path}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*regbench benchmark assertions that passed*", "*regbench: PASS: l2 no worse than baseline by 0.5 or more*"]
    )
    journals = list(tmp_path.rglob("journal.jsonl"))
    assert len(journals) == 1
    before = journals[0].read_text()
    pytester.runpytest("-p", "no:cacheprovider", f"--regbench-cache={tmp_path}").assert_outcomes(passed=1)
    assert journals[0].read_text() == before  # the second run trained nothing


def test_the_my_regularizer_example_runs_each_assertion(pytester: pytest.Pytester, tmp_path):
    """examples/test_my_regularizer.py on a tiny setting (a conftest shrinks its SETTINGS): every test reaches a
    verdict, and a
    failure's message is the decision's table, not an error from inside training."""
    pytester.makepyfile(
        my_regularizers=(EXAMPLES / "my_regularizers.py").read_text(),
        test_my_regularizer=(EXAMPLES / "test_my_regularizer.py").read_text(),
    )
    pytester.makeconftest(f"""
import pytest

@pytest.fixture(autouse=True)
def tiny(request, monkeypatch):
    monkeypatch.setattr(request.module, "SETTINGS", {TINY!r})
""")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--regbench-cache={tmp_path}")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3 and not outcomes.get("error"), outcomes
    failures = len(
        re.findall(r"^E +regbench\.assertions\.BenchmarkAssertionError: regbench: ", result.stdout.str(), flags=re.M)
    )
    assert failures == outcomes.get("failed", 0)


def test_under_xdist_two_workers_never_train_a_cell_twice(pytester: pytest.Pytester, tmp_path):
    """pytest -n 2 with two tests asking for the same cells at once: both pass, and the cache holds each (config,
    seed) once.
    """
    import json

    pytester.makepyfile(
        test_twice=f"""
import pytest

@pytest.mark.parametrize("copy", [0, 1])
def test_l2_no_worse(regbench_bench, copy):
    regbench_bench.assert_no_worse("l2", "baseline", margin=0.5, **{TINY!r})
"""
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", f"--regbench-cache={tmp_path}")
    result.assert_outcomes(passed=2)
    cells = [
        (r["config_hash"], r["seed"])
        for path in tmp_path.rglob("journal.jsonl")
        for r in map(json.loads, path.read_text().splitlines()[1:])
    ]
    assert len(cells) == len(set(cells)) == 6  # l2 and baseline, seeds 0-2
