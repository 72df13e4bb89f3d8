"""The run record: what one (dataset, config, seed) cell produced, built in one place for every engine and execution.

Every record has the same fields whatever trained it (one by one in this process or a worker,
or as a member of a stacked sweep), so results files, the report and the gate read one shape.
``as_dict`` is the one serialization; measured values sit at the top level of it, where the
gate looks them up by metric name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Optional

__all__ = ["TIMING", "EXECUTIONS", "STATUSES", "Measurement", "RunRecord"]

TIMING = (
    "samples_per_second",
    "train_seconds",
    "epoch_seconds",
    "run_seconds",
)  # the fields that differ between two runs of one cell

EXECUTIONS = ("single", "sweep")  # one by one, or stacked with other members of one architecture
STATUSES = ("ok", "diverged", "error", "crashed", "timeout")  # ok finished; diverged: NaN loss; error: the cell raised;
# crashed: its worker process died on every attempt; timeout: it ran past the per-cell time limit


@dataclass(frozen=True)
class Measurement:
    """A trained model, measured in eval mode on the clean training set and the test set."""

    train_accuracy: float
    test_accuracy: float
    train_loss: float
    test_loss: float
    penalty: float
    gap_accuracy: float  # train - test: positive is overfitting
    gap_loss: float
    mean_abs_weight: dict  # per penalized parameter, and "all"
    sparsity: float  # fraction of penalized weights with |w| < 1e-3
    weight_histogram: dict
    penalty_leak: float  # invariant: the penalty's largest gradient on biases and 1-D parameters (0 when correct)
    eval_nondeterminism: float  # invariant: the largest difference between two eval passes (0 when correct)


@dataclass(frozen=True)
class RunRecord:
    """One cell's result; ``measurement`` and the timings are None for a run that did not finish."""

    config: str
    config_hash: str  # Config.hash: which definition of the config trained
    seed: int
    engine: str  # "fast" or "notebook"
    execution: str  # "single" or "sweep"
    members: int  # runs trained together: the sweep's size, 1 one by one
    torch_threads: int  # speed depends on it; in a worker process it is that worker's share
    run_seconds: float
    dataset: Optional[str] = (
        None  # the dataset's name (results files older than datasets name it in their settings only)
    )
    status: str = "ok"
    error: Optional[str] = None  # what went wrong, for every status but ok: the message, or an exception's last lines
    measurement: Optional[Measurement] = None
    samples_per_second: Optional[float] = (
        None  # median over epochs (the first left out) of samples per second of training steps
    )
    train_seconds: Optional[float] = (
        None  # a sweep member's: its share of the stack's time, so both executions mean the same
    )
    epoch_seconds: Optional[list[float]] = (
        None  # each epoch's training steps, the timings samples_per_second is read from
    )
    history: list[dict] = field(default_factory=list)
    stopping: Optional[dict] = (
        None  # early stopping: chosen_epoch, epochs_trained, validation_size (held-out training images)
    )

    def __post_init__(self) -> None:
        if self.execution not in EXECUTIONS or self.status not in STATUSES:
            raise ValueError(
                f"a run record needs execution in {EXECUTIONS} and status in {STATUSES}, got {self.execution!r},"
                f" {self.status!r}"
            )
        if (self.status == "ok") != (self.measurement is not None):
            raise ValueError("a finished run has a measurement and an unfinished one has none")

    @property
    def ok(self) -> bool:
        """Finished and measured."""
        return self.status == "ok"

    @property
    def final(self) -> bool:
        """Whether training it again would give the same outcome: a finished or diverged run is; a crash, error or
        timeout may not be.
        """
        return self.status in ("ok", "diverged")

    def as_dict(self) -> dict:
        """JSON-ready: identity and provenance first, then every measured value at the top level, then the history."""
        head = {
            k: getattr(self, k)
            for k in ("dataset", "config", "config_hash", "seed", "status", "engine", "execution", "members")
        }
        if self.error is not None:
            head["error"] = self.error
        measured = asdict(self.measurement) if self.measurement is not None else {}
        timing = {
            "samples_per_second": self.samples_per_second,
            "torch_threads": self.torch_threads,
            "train_seconds": self.train_seconds,
            "epoch_seconds": self.epoch_seconds,
            "run_seconds": self.run_seconds,
            "stopping": self.stopping,
        }
        return {**head, **measured, **{k: v for k, v in timing.items() if v is not None}, "history": self.history}

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        """The inverse of as_dict (a journal's lines come back as records); null timings stay None."""
        measured = {f.name for f in fields(Measurement)}
        measurement = Measurement(**{k: data[k] for k in measured}) if data.get("status") == "ok" else None
        own = {f.name for f in fields(cls)} - {"measurement"}
        return cls(**{k: v for k, v in data.items() if k in own}, measurement=measurement)
