"""Invariants of a user's model: eval determinism, dropout, batch independence, BatchNorm, state."""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from hypothesis import strategies as st
from torch import nn

from regbench.checks import components
from regbench.checks.components import TOLERANCE, Stochastic
from regbench.checks.report import ALPHA, MAX_EXAMPLES, CheckUsageError, Invariant, Report, Result, Status
from regbench.checks.search import made, max_difference, not_applicable, property_result, tensor_output, name_of
from regbench.checks.statistics import assert_binomial
from regbench.errors import first_line
from regbench.train import rngs_restored


MODEL_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "eval_deterministic",
            "two eval-mode calls on the same batch give identical outputs",
            "eval-mode predictions are random: something still samples at inference (dropout called with "
            "training=True, noise added in forward); gate it on self.training",
        ),
        Invariant(
            "dropout_identity_in_eval",
            "in eval mode the model equals itself with every dropout rate set to 0 (torch's dropout modules, and any module "
            "with a drop rate (p, drop_prob, drop_rate, ...) that is random in train mode: stochastic depth, drop-path, DropBlock)",
            "dropout still acts in eval mode: call the nn.Dropout module (or F.dropout(x, p, training=self.training)), "
            "never F.dropout(..., training=True); a drop-path or DropBlock module must return its input when not self.training",
        ),
        Invariant(
            "dropout_train_statistics",
            f"in train mode each nn.Dropout is called, zeroes Binomial(n, p) units and scales survivors by 1/(1-p) (exact test, alpha {ALPHA:g} per run)",
            "a Dropout layer is never called (forward bypasses it), drops the wrong fraction, or does not rescale "
            "survivors by 1/(1-p); call the nn.Dropout module in forward and use it as is",
        ),
        Invariant(
            "batch_independent_in_eval",
            "in eval mode a sample's prediction alone equals its prediction inside a batch",
            "eval-mode predictions depend on the other samples in the batch (BatchNorm normalizing with batch "
            "statistics in eval, or centring inputs by the batch mean): use running statistics in eval",
        ),
        Invariant(
            "batch_independent_in_train",
            "with only per-sample normalizations (LayerNorm, GroupNorm, InstanceNorm, RMSNorm) and every drop rate set to 0, "
            "a sample's train-mode output alone equals its output inside a batch",
            "train-mode outputs depend on the other samples in the batch although no layer is meant to mix them: a "
            "normalization over the batch dimension (statistics over dim 0), or a BatchNorm where GroupNorm or LayerNorm was meant",
        ),
        Invariant(
            "batchnorm_tracks_running_stats",
            "every BatchNorm keeps running statistics (track_running_stats=True), so eval mode does not normalize with batch statistics",
            "BatchNorm with track_running_stats=False normalizes with the statistics of the batch in eval mode too, so a "
            "prediction depends on the rest of its batch; set track_running_stats=True (the default)",
        ),
        Invariant(
            "batchnorm_rejects_batch_of_one",
            "in train mode a batch of 1 raises (BatchNorm cannot estimate a variance from one value per channel)",
            "a batch of 1 in train mode was accepted: its batch variance is 0, so BatchNorm outputs its bias "
            "and corrupts the running statistics; raise an error naming the fix (model.eval(), or drop_last=True)",
        ),
        Invariant(
            "eval_keeps_state",
            "an eval-mode forward pass leaves every parameter, buffer and train/eval flag unchanged",
            "inference changes the model (BatchNorm updating running statistics in eval, a forward that calls "
            "self.train()): predictions drift with every call; update state only when self.training",
        ),
    )
}

INPUT_SHAPES = ((1, 28, 28), (784,))  # what the notebook's models take: images, or flattened images


@dataclass(frozen=True)
class Batch:
    """A batch of inputs described by how it is filled, so a counterexample reads as a sentence."""

    size: int
    fill: str  # "zeros", "ones", "uniform" (pixels in [0, 1)) or "normal"
    seed: int

    def tensor(self, shape: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
        """(size, *shape) float32, drawn from the batch's own generator."""
        full = (self.size, *shape)
        g = torch.Generator().manual_seed(self.seed)
        makers = {"zeros": torch.zeros, "ones": torch.ones}
        if self.fill in makers:
            x = makers[self.fill](full)
        else:
            x = (torch.rand if self.fill == "uniform" else torch.randn)(full, generator=g)
        return x.to(device)

    def __str__(self) -> str:
        fills = {"zeros": "all zeros", "ones": "all ones", "uniform": f"uniform in [0, 1) from seed {self.seed}", "normal": f"standard normal from seed {self.seed}"}
        return f"{self.size} sample{'s' if self.size > 1 else ''}, {fills[self.fill]}"


def batches(*, min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[Batch]:
    """Batches of any fill; small, since batch effects show from 2 samples on."""
    return st.builds(Batch, size=st.integers(min_size, max_size), fill=st.sampled_from(("zeros", "ones", "uniform", "normal")), seed=st.integers(0, 2**16 - 1))


@dataclass
class ModelSubject:
    """The user's model as the checks use it: a prototype never run, copied for every example."""

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


def model_subject(factory: Any, input_shape: Optional[Sequence[int]]) -> ModelSubject:
    """Build the prototype (seeded) and find an input shape it accepts, trying the notebook's two."""
    prototype = factory if isinstance(factory, nn.Module) else made(factory)
    if not isinstance(prototype, nn.Module):
        raise CheckUsageError(f"the model factory returned {type(prototype).__name__}, not a torch.nn.Module")
    prototype = copy.deepcopy(prototype)  # the factory may hand out a shared instance: never hold the user's object
    shapes = [tuple(input_shape)] if input_shape else list(INPUT_SHAPES)
    errors = []
    for shape in shapes:
        probe = copy.deepcopy(prototype).eval()
        try:
            with torch.no_grad(), rngs_restored():
                probe(Batch(2, "uniform", 0).tensor(shape, next((p.device for p in probe.parameters()), "cpu")))
            return ModelSubject(prototype, shape)
        except Exception as error:  # the user's forward may raise anything on the wrong shape
            errors.append(f"{shape}: {type(error).__name__}: {first_line(error)}")
    raise CheckUsageError(f"the model accepts none of the input shapes tried ({'; '.join(errors)}); pass input_shape (--input-shape), the shape of one sample")


def _prop_eval_deterministic(subject: ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    with torch.no_grad():
        first, second = tensor_output(model(x), "model(x)"), tensor_output(model(x), "model(x)")
    assert torch.equal(first, second), f"two eval-mode calls on the same batch differ by up to {max_difference(first, second):.3g}"


def _prop_dropout_identity(subject: ModelSubject, batch: Batch, *, stochastic: Sequence[Stochastic]) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    reference = components.with_rates(model, stochastic)
    with torch.no_grad():
        out, ref = tensor_output(model(x), "model(x)"), tensor_output(reference(x), "model(x)")
    assert torch.allclose(out, ref, rtol=1e-5, atol=1e-6), (
        f"eval-mode output differs from the same model with every dropout rate set to 0 by up to {max_difference(out, ref):.3g}"
    )


def _prop_batch_independent(subject: ModelSubject, batch: Batch, *, train: bool = False, stochastic: Sequence[Stochastic] = ()) -> None:
    model, x = components.with_rates(subject.prototype, stochastic).train(train), subject.inputs(batch)  # with_rates copies
    mode = "train" if train else "eval"
    with torch.no_grad():
        together = tensor_output(model(x), "model(batch)")
        for i in range(len(x)):
            try:
                alone = tensor_output(model(x[i : i + 1]), "model(one sample)")
            except Exception as error:
                raise AssertionError(f"sample {i} alone raised {type(error).__name__}: {first_line(error)}") from error
            assert torch.allclose(alone[0], together[i], **TOLERANCE), (
                f"sample {i}'s {mode}-mode output alone differs from its output inside the batch of {len(x)} by up to {max_difference(alone[0], together[i]):.3g}"
            )


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


STATISTICS_ROWS = 64  # samples per train-mode forward: with a 500-unit layer, ~16,000 units for the binomial test


def _prop_dropout_statistics(subject: ModelSubject, batch: Batch, *, max_examples: int) -> None:
    """Hooks read each nn.Dropout's input and output in train mode: zeros stay zeros, survivors are x/(1-p), drops are Binomial."""
    model = subject.fresh().train()
    x = subject.inputs(batch)
    x = x.repeat(math.ceil(STATISTICS_ROWS / len(x)), *([1] * (x.ndim - 1)))[:STATISTICS_ROWS]
    calls: list[tuple[str, float, torch.Tensor, torch.Tensor]] = []
    handles = [
        m.register_forward_hook(lambda mod, inp, out, name=name: calls.append((name, mod.p, inp[0].detach(), out.detach())))
        for name, m in model.named_modules()
        if isinstance(m, nn.Dropout)  # elementwise dropout; Dropout2d and AlphaDropout follow other laws
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    never = sorted({n for n, m in model.named_modules() if isinstance(m, nn.Dropout) and 0 < m.p < 1} - {c[0] for c in calls})
    assert not never, f"{', '.join(never)} never called in a train-mode forward pass: defined but bypassed, so it has no effect"
    for name, p, inp, out in calls:
        # Union bound: at most max_examples (+ a few) examples, each with len(calls) tests, share ALPHA.
        alpha = ALPHA / ((max_examples + 10) * len(calls))
        kept = inp != 0
        assert torch.all(out[~kept] == 0), f"{name}: a zero input came out nonzero"
        survived = kept & (out != 0)
        if p > 0:
            assert torch.allclose(out[survived], inp[survived] / (1 - p), rtol=1e-5, atol=1e-6), (
                f"{name}: survivors are not scaled by 1/(1-p) = {1 / (1 - p):.4g} (ratio seen {float((out[survived] / inp[survived]).mean()):.4g})"
            )
        n, dropped = int(kept.sum()), int((kept & (out == 0)).sum())
        if n and 0 < p < 1:
            assert_binomial(dropped, n, p, what=f"{name}: dropped units", alpha=alpha)


def _batch_of_one_undefined(subject: ModelSubject) -> bool:
    """Whether some BatchNorm layer sees one value per channel per sample, so a batch of 1 leaves no variance to estimate.

    A model whose BatchNorm modules are never called (F.batch_norm used directly) is assumed to be such a model.
    """
    model, seen = subject.fresh().eval(), {}
    handles = [
        m.register_forward_hook(lambda mod, inp, out, name=name: seen.__setitem__(name, inp[0][0, 0].numel() == 1))
        for name, m in components.batchnorms(model)
    ]
    try:
        with torch.no_grad(), rngs_restored():
            subject.forward_on(model)
    except Exception:  # a model that fails here fails batch_independent_in_eval with the reason
        pass
    finally:
        for h in handles:
            h.remove()
    return any(seen.values()) or not seen


def _running_stats_result(invariant: Invariant, batchnorms: list[tuple[str, nn.Module]]) -> Result:
    """Read from the modules, not searched: a BatchNorm without running statistics uses batch statistics in eval, whatever the input."""
    if not batchnorms:
        return not_applicable(invariant, "no BatchNorm layer in the model")
    untracked = [name for name, m in batchnorms if not m.track_running_stats]
    if not untracked:
        return Result(invariant.name, Status.PASSED, invariant.checks, f"all {len(batchnorms)} BatchNorm layers keep running statistics")
    return Result(invariant.name, Status.FAILED, invariant.fix, f"{', '.join(untracked)}: track_running_stats=False")


def check_model(factory: Any, *, input_shape: Optional[Sequence[int]] = None, max_examples: int = MAX_EXAMPLES, name: Optional[str] = None) -> Report:
    """Every model invariant on ``factory`` (a class or zero-argument callable returning an nn.Module, or a module, which is copied).

    ``input_shape`` is one sample's shape; by default (1, 28, 28) then (784,) are tried.
    """
    inv = MODEL_INVARIANTS
    with rngs_restored():
        subject = model_subject(factory, input_shape)
        bind = lambda prop, **kw: functools.partial(prop, subject, **kw)  # noqa: E731
        stochastic = components.stochastic_modules(subject.prototype, subject.forward_on)
        plain_dropouts = [(n, m) for n, m in subject.prototype.named_modules() if isinstance(m, nn.Dropout) and 0 < m.p < 1]
        batchnorms = components.batchnorms(subject.prototype)
        per_sample = components.per_sample_norms(subject.prototype)
        one_value = bool(batchnorms) and _batch_of_one_undefined(subject)
        results = [
            property_result(inv["eval_deterministic"], bind(_prop_eval_deterministic), {"batch": batches(min_size=2)}, max_examples),
            property_result(inv["dropout_identity_in_eval"], bind(_prop_dropout_identity, stochastic=stochastic), {"batch": batches(min_size=2)}, max_examples)
            if stochastic
            else not_applicable(inv["dropout_identity_in_eval"], "no dropout-like module: none of torch's dropout modules with 0 < p < 1, and no module "
                                f"with a drop rate ({', '.join(components.RATE_ATTRIBUTES[:3])}, ...) in (0, 1) that is random in train mode"),
            property_result(inv["dropout_train_statistics"], bind(_prop_dropout_statistics, max_examples=max_examples), {"batch": batches()}, max_examples)
            if plain_dropouts
            else not_applicable(inv["dropout_train_statistics"], "no nn.Dropout layer with 0 < p < 1 in the model"),
            property_result(inv["batch_independent_in_eval"], bind(_prop_batch_independent), {"batch": batches(min_size=2)}, max_examples),
            property_result(inv["batch_independent_in_train"], bind(_prop_batch_independent, train=True, stochastic=stochastic),
                            {"batch": batches(min_size=2)}, max_examples)
            if per_sample and not batchnorms
            else not_applicable(inv["batch_independent_in_train"], "the model has BatchNorm, which mixes the batch in train mode by design" if batchnorms
                                else "no per-sample normalization (LayerNorm, GroupNorm, InstanceNorm, RMSNorm) in the model"),
            _running_stats_result(inv["batchnorm_tracks_running_stats"], batchnorms),
            property_result(inv["batchnorm_rejects_batch_of_one"], bind(_prop_batch_of_one_raises), {"batch": batches(max_size=1)}, max_examples)
            if one_value
            else not_applicable(
                inv["batchnorm_rejects_batch_of_one"],
                "no BatchNorm layer in the model" if not batchnorms else "every BatchNorm layer sees several values per channel per sample (spatial positions), so a batch of 1 is well defined",
            ),
            property_result(inv["eval_keeps_state"], bind(_prop_eval_keeps_state), {"batch": batches(min_size=2)}, max_examples),
        ]
    return Report(name or name_of(factory), "model", results, {"input shape": subject.input_shape, "examples": max_examples})
