"""The run record: one shape for every engine and execution, serialized in one place."""

import json

import pytest

from regbench.records import Measurement, RunRecord

MEASURED = Measurement(
    train_accuracy=0.9,
    test_accuracy=0.8,
    train_loss=0.3,
    test_loss=0.5,
    penalty=0.01,
    gap_accuracy=0.1,
    gap_loss=-0.2,
    mean_abs_weight={"linear_1.weight": 0.02, "all": 0.02},
    sparsity=0.03,
    weight_histogram={"edges": [0, 1], "density": [1.0]},
    penalty_leak=0.0,
    eval_nondeterminism=0.0,
)
IDENTITY = dict(
    config="l1",
    config_hash="abc",
    seed=3,
    engine="fast",
    execution="sweep",
    members=8,
    torch_threads=1,
    run_seconds=1.5,
)


def test_a_finished_record_puts_identity_first_and_metrics_at_the_top_level():
    """The gate looks metrics up by name at the top level; identity and provenance lead every record."""
    record = RunRecord(
        **IDENTITY, measurement=MEASURED, samples_per_second=1e4, train_seconds=1.0, history=[{"epoch": 1}]
    )
    data = record.as_dict()
    assert list(data)[:8] == ["dataset", "config", "config_hash", "seed", "status", "engine", "execution", "members"]
    assert data["test_accuracy"] == 0.8 and data["mean_abs_weight"]["all"] == 0.02 and data["history"] == [{"epoch": 1}]
    assert "error" not in data and json.loads(json.dumps(data)) == data


def test_an_unfinished_record_has_every_identity_field_and_the_error():
    """A diverged run says which engine and execution trained it, like any other."""
    data = RunRecord(**IDENTITY, status="diverged", error="loss became nan").as_dict()
    assert {k: data[k] for k in ("engine", "execution", "members", "status", "error")} == {
        "engine": "fast",
        "execution": "sweep",
        "members": 8,
        "status": "diverged",
        "error": "loss became nan",
    }
    assert "test_accuracy" not in data


@pytest.mark.parametrize(
    "fields",
    [
        dict(execution="parallel", measurement=MEASURED),
        dict(status="ok"),
        dict(status="diverged", measurement=MEASURED),
    ],
)
def test_inconsistent_records_are_refused(fields):
    """An unknown execution, a finished run without a measurement, or a failed one with: bugs, caught where the
    record is made.
    """
    with pytest.raises(ValueError):
        RunRecord(**{**IDENTITY, **fields})
