"""Invariants of a user's model: eval determinism, dropout, batch independence, BatchNorm, state."""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from torch import nn

from regbench.checks import components
from regbench.checks.components import TOLERANCE
from regbench.checks.engine import Invariant
from regbench.checks.objects import made, max_difference, name_of, tensor_output
from regbench.checks.report import ALPHA, MAX_EXAMPLES, CheckUsageError, Report
from regbench.checks.statistics import assert_binomial
from regbench.checks.strategies import Batch, batches
from regbench.errors import first_line
from regbench.train import rngs_restored

INPUT_SHAPES = ((1, 28, 28), (784,))  # what the notebook's models take: images, or flattened images


@dataclass
class ModelSubject:
    """The user's model as the checks use it: a prototype never run, copied for every example, and what it is made
    of.
    """

    prototype: nn.Module
    input_shape: tuple[int, ...]

    def fresh(self) -> nn.Module:
        """A deep copy, so nothing a check does reaches the prototype (or the user's object)."""
        return copy.deepcopy(self.prototype)

    def inputs(self, batch: Batch) -> torch.Tensor:
        device = next((p.device for p in self.prototype.parameters()), torch.device("cpu"))
        return batch.tensor(self.input_shape, device)

    def forward_on(self, model: nn.Module) -> torch.Tensor:
        """``model`` on the two-sample probe batch: what the component search feeds the model."""
        return model(self.inputs(Batch(2, "uniform", 0)))

    @functools.cached_property
    def stochastic(self) -> list[components.Stochastic]:
        return components.stochastic_modules(self.prototype, self.forward_on)

    @functools.cached_property
    def dropouts(self) -> list[tuple[str, nn.Module]]:
        """Elementwise nn.Dropout layers with 0 < p < 1 (Dropout2d and AlphaDropout follow other laws)."""
        return [(n, m) for n, m in self.prototype.named_modules() if isinstance(m, nn.Dropout) and 0 < m.p < 1]

    @functools.cached_property
    def batchnorms(self) -> list[tuple[str, nn.Module]]:
        return components.batchnorms(self.prototype)

    @functools.cached_property
    def per_sample_norms(self) -> list[tuple[str, nn.Module]]:
        return components.per_sample_norms(self.prototype)


def model_subject(factory: Any, input_shape: Optional[Sequence[int]]) -> ModelSubject:
    """Build the prototype (seeded) and find an input shape it accepts, trying the notebook's two."""
    prototype = factory if isinstance(factory, nn.Module) else made(factory)
    if not isinstance(prototype, nn.Module):
        raise CheckUsageError(f"the model factory returned {type(prototype).__name__}, not a torch.nn.Module")
    prototype = copy.deepcopy(prototype)  # the factory may hand out a shared instance: never hold the user's object
    shapes = [tuple(input_shape)] if input_shape else list(INPUT_SHAPES)
    errors = []
    for shape in shapes:
        subject = ModelSubject(prototype, shape)
        try:
            with torch.no_grad(), rngs_restored():
                subject.forward_on(subject.fresh().eval())
            return subject
        except Exception as error:  # the user's forward may raise anything on the wrong shape
            errors.append(f"{shape}: {type(error).__name__}: {first_line(error)}")
    raise CheckUsageError(
        f"the model accepts none of the input shapes tried ({'; '.join(errors)}); pass input_shape (--input-shape), the"
        " shape of one sample"
    )


def _prop_eval_deterministic(subject: ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    with torch.no_grad():
        first, second = tensor_output(model(x), "model(x)"), tensor_output(model(x), "model(x)")
    assert torch.equal(first, second), (
        f"two eval-mode calls on the same batch differ by up to {max_difference(first, second):.3g}"
    )


def _prop_dropout_identity(subject: ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    reference = components.with_rates(model, subject.stochastic)
    with torch.no_grad():
        out, ref = tensor_output(model(x), "model(x)"), tensor_output(reference(x), "model(x)")
    assert torch.allclose(out, ref, rtol=1e-5, atol=1e-6), (
        "eval-mode output differs from the same model with every dropout rate set to 0 by up to"
        f" {max_difference(out, ref):.3g}"
    )


STATISTICS_ROWS = 64  # samples per train-mode forward: with a 500-unit layer, ~16,000 units for the binomial test


def _prop_dropout_statistics(subject: ModelSubject, batch: Batch, *, alpha: float) -> None:
    """Hooks read each nn.Dropout's input and output in train mode: zeros stay zeros, survivors are x/(1-p), drops
    are Binomial.
    """
    model = subject.fresh().train()
    x = subject.inputs(batch)
    x = x.repeat(math.ceil(STATISTICS_ROWS / len(x)), *([1] * (x.ndim - 1)))[:STATISTICS_ROWS]
    calls: list[tuple[str, float, torch.Tensor, torch.Tensor]] = []
    modules = dict(model.named_modules())
    handles = [
        modules[name].register_forward_hook(
            lambda mod, inp, out, name=name: calls.append((name, mod.p, inp[0].detach(), out.detach()))
        )
        for name, _ in subject.dropouts
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    never = sorted({n for n, _ in subject.dropouts} - {c[0] for c in calls})
    assert not never, (
        f"{', '.join(never)} never called in a train-mode forward pass: defined but bypassed, so it has no effect"
    )
    for name, p, inp, out in calls:
        kept = inp != 0
        assert torch.all(out[~kept] == 0), f"{name}: a zero input came out nonzero"
        survived = kept & (out != 0)
        assert torch.allclose(out[survived], inp[survived] / (1 - p), rtol=1e-5, atol=1e-6), (
            f"{name}: survivors are not scaled by 1/(1-p) = {1 / (1 - p):.4g} (ratio seen"
            f" {float((out[survived] / inp[survived]).mean()):.4g})"
        )
        n, dropped = int(kept.sum()), int((kept & (out == 0)).sum())
        if n:  # the example's alpha shared by its calls (a union bound)
            assert_binomial(dropped, n, p, what=f"{name}: dropped units", alpha=alpha / len(calls))


def _prop_batch_independent(subject: ModelSubject, batch: Batch, *, train: bool = False) -> None:
    model = components.with_rates(subject.prototype, subject.stochastic if train else ()).train(
        train
    )  # with_rates copies
    x, mode = subject.inputs(batch), "train" if train else "eval"
    with torch.no_grad():
        together = tensor_output(model(x), "model(batch)")
        for i in range(len(x)):
            try:
                alone = tensor_output(model(x[i : i + 1]), "model(one sample)")
            except ValueError as error:
                if not _needs_a_batch(error):
                    raise  # any other error is a crash, reported as one, not this invariant's violation
                raise AssertionError(
                    f"sample {i} alone cannot be predicted in {mode} mode: a BatchNorm normalizes it with the"
                    f" statistics of its batch ({first_line(error)})"
                ) from error
            assert torch.allclose(alone[0], together[i], **TOLERANCE), (
                f"sample {i}'s {mode}-mode output alone differs from its output inside the batch of {len(x)} by up to"
                f" {max_difference(alone[0], together[i]):.3g}"
            )


BATCH_STATISTICS_ERROR = (  # torch's BatchNorm, given one sample while using batch statistics
    "Expected more than 1 value per channel"
)


def _needs_a_batch(error: ValueError) -> bool:
    """Whether a one-sample forward failed because a BatchNorm normalized it with batch statistics: a prediction
    needing its batch.
    """
    return BATCH_STATISTICS_ERROR in str(error)


def _prop_running_stats(subject: ModelSubject) -> str:
    """Read from the modules, not searched: a BatchNorm without running statistics uses batch statistics in eval,
    whatever the input.
    """
    untracked = [name for name, m in subject.batchnorms if not m.track_running_stats]
    assert not untracked, f"{', '.join(untracked)}: track_running_stats=False"
    return f"all {len(subject.batchnorms)} BatchNorm layers keep running statistics"


def _prop_batch_of_one_raises(subject: ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().train(), subject.inputs(batch)
    try:
        model(x)
    except Exception:
        return
    raise AssertionError("train mode accepted a batch of 1 without an error")


def _prop_eval_keeps_state(subject: ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(x)
    changed = [k for k, v in model.state_dict().items() if k not in before or not torch.equal(v, before[k])]
    assert not changed, f"an eval-mode forward changed {', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}"
    switched = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    assert not switched, f"an eval-mode forward switched {', '.join(switched[:5])} back to train mode"


def _needs_dropout(subject: ModelSubject) -> Optional[str]:
    return (
        None
        if subject.stochastic
        else (
            "no dropout-like module: none of torch's dropout modules with 0 < p < 1, and no module with a drop rate"
            f" ({', '.join(components.RATE_ATTRIBUTES[:3])}, ...) in (0, 1) that is random in train mode"
        )
    )


def _needs_per_sample_norms(subject: ModelSubject) -> Optional[str]:
    if subject.batchnorms:
        return "the model has BatchNorm, which mixes the batch in train mode by design"
    return (
        None
        if subject.per_sample_norms
        else "no per-sample normalization (LayerNorm, GroupNorm, InstanceNorm, RMSNorm) in the model"
    )


def _needs_batchnorm(subject: ModelSubject) -> Optional[str]:
    return None if subject.batchnorms else "no BatchNorm layer in the model"


def _needs_one_value_per_channel(subject: ModelSubject) -> Optional[str]:
    """Whether some BatchNorm layer sees one value per channel per sample, so a batch of 1 leaves no variance to
    estimate.

    A model whose BatchNorm modules are never called (F.batch_norm used directly) is assumed to be such a model.
    """
    if not subject.batchnorms:
        return "no BatchNorm layer in the model"
    seen = components.inputs_seen(subject.prototype, {name for name, _ in subject.batchnorms}, subject.forward_on)
    if any(args[0][0, 0].numel() == 1 for args in seen.values()) or not seen:
        return None
    return (
        "every BatchNorm layer sees several values per channel per sample (spatial positions), so a batch of 1 is well"
        " defined"
    )


def _several(subject: ModelSubject) -> dict:
    return {"batch": batches(min_size=2)}


MODEL_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "eval_deterministic",
            "two eval-mode calls on the same batch give identical outputs",
            "eval-mode predictions are random: something still samples at inference (dropout called with "
            "training=True, noise added in forward); gate it on self.training",
            _prop_eval_deterministic,
            _several,
        ),
        Invariant(
            "dropout_identity_in_eval",
            "in eval mode the model equals itself with every dropout rate set to 0 (torch's dropout modules, and any"
            " module with a drop rate (p, drop_prob, drop_rate, ...) that is random in train mode: stochastic depth,"
            " drop-path, DropBlock)",
            "dropout still acts in eval mode: call the nn.Dropout module (or F.dropout(x, p, training=self.training)),"
            " never F.dropout(..., training=True); a drop-path or DropBlock module must return its input when not"
            " self.training",
            _prop_dropout_identity,
            _several,
            _needs_dropout,
        ),
        Invariant(
            "dropout_train_statistics",
            "in train mode each nn.Dropout is called, zeroes Binomial(n, p) units and scales survivors by 1/(1-p)"
            f" (exact test, alpha {ALPHA:g} per run)",
            "a Dropout layer is never called (forward bypasses it), drops the wrong fraction, or does not rescale "
            "survivors by 1/(1-p); call the nn.Dropout module in forward and use it as is",
            _prop_dropout_statistics,
            lambda subject: {"batch": batches()},
            lambda subject: None if subject.dropouts else "no nn.Dropout layer with 0 < p < 1 in the model",
            statistical=True,
        ),
        Invariant(
            "batch_independent_in_eval",
            "in eval mode a sample's prediction alone equals its prediction inside a batch",
            "eval-mode predictions depend on the other samples in the batch (BatchNorm normalizing with batch "
            "statistics in eval, or centring inputs by the batch mean): use running statistics in eval",
            _prop_batch_independent,
            _several,
        ),
        Invariant(
            "batch_independent_in_train",
            "with only per-sample normalizations (LayerNorm, GroupNorm, InstanceNorm, RMSNorm) and every drop rate set"
            " to 0, a sample's train-mode output alone equals its output inside a batch",
            "train-mode outputs depend on the other samples in the batch although no layer is meant to mix them: a"
            " normalization over the batch dimension (statistics over dim 0), or a BatchNorm where GroupNorm or"
            " LayerNorm was meant",
            functools.partial(_prop_batch_independent, train=True),
            _several,
            _needs_per_sample_norms,
        ),
        Invariant(
            "batchnorm_tracks_running_stats",
            "every BatchNorm keeps running statistics (track_running_stats=True), so eval mode does not normalize with"
            " batch statistics",
            "BatchNorm with track_running_stats=False normalizes with the statistics of the batch in eval mode too, so"
            " a prediction depends on the rest of its batch; set track_running_stats=True (the default)",
            _prop_running_stats,
            applies=_needs_batchnorm,
        ),
        Invariant(
            "batchnorm_rejects_batch_of_one",
            "in train mode a batch of 1 raises (BatchNorm cannot estimate a variance from one value per channel)",
            "a batch of 1 in train mode was accepted: its batch variance is 0, so BatchNorm outputs its bias "
            "and corrupts the running statistics; raise an error naming the fix (model.eval(), or drop_last=True)",
            _prop_batch_of_one_raises,
            lambda subject: {"batch": batches(max_size=1)},
            _needs_one_value_per_channel,
        ),
        Invariant(
            "eval_keeps_state",
            "an eval-mode forward pass leaves every parameter, buffer and train/eval flag unchanged",
            "inference changes the model (BatchNorm updating running statistics in eval, a forward that calls "
            "self.train()): predictions drift with every call; update state only when self.training",
            _prop_eval_keeps_state,
            _several,
        ),
    )
}


def check_model(
    factory: Any,
    *,
    input_shape: Optional[Sequence[int]] = None,
    max_examples: int = MAX_EXAMPLES,
    name: Optional[str] = None,
) -> Report:
    """Every model invariant on ``factory`` (a class or zero-argument callable returning an nn.Module, or a module,
    which is copied).

    ``input_shape`` is one sample's shape; by default (1, 28, 28) then (784,) are tried.
    """
    with rngs_restored():
        subject = model_subject(factory, input_shape)
        results = [invariant.result(subject, max_examples) for invariant in MODEL_INVARIANTS.values()]
    return Report(
        name or name_of(factory), "model", results, {"input shape": subject.input_shape, "examples": max_examples}
    )
