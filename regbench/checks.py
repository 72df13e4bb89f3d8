"""Run regbench's invariants against *your* model, penalty loss or augmentation.

    from regbench import checks
    report = checks.check_model(MyNet)              # a class or zero-argument factory
    report = checks.check_loss(MyL2Loss)            # Loss(base_criterion, model, lam), or model -> loss
    report = checks.check_transform(my_augment)     # PIL image or tensor in, tensor out
    print(report.render()); report.ok

Each invariant is a property searched with Hypothesis (derandomized, no example database, so a
run is the same on every machine), except label preservation, which is a one-sided binomial test
on a reference classifier. What applies is decided by inspecting the object (has dropout? has
BatchNorm? does the loss take a lambda?); an invariant that does not apply is reported
``not_applicable`` with the reason. The user's object is never modified: checks work on deep
copies or on fresh instances from the factory, and every global RNG is restored afterwards.

Statistical invariants keep their false-failure rate per check run under ``ALPHA`` = 1e-7.
``pytest_plugin`` turns reports into pytest tests; ``regbench check`` prints them.
"""

from __future__ import annotations

import copy
import enum
import functools
import importlib
import inspect
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from scipy import stats
from torch import nn

from regbench.data import Split, TensorLoader, load_dataset
from regbench.losses import PenaltyLoss, loss_parts, penalized_parameters
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout
from regbench.train import make_optimizer, rngs_restored, seed_everything, train_model

__all__ = [
    "ALPHA",
    "CheckUsageError",
    "INVARIANTS",
    "KINDS",
    "Report",
    "Result",
    "Status",
    "check",
    "check_loss",
    "check_model",
    "check_target",
    "check_transform",
    "kind_of",
    "load_target",
    "name_of",
]

KINDS = ("model", "loss", "transform")
MAX_EXAMPLES = 30  # per invariant: finds every bug in tests/test_checks.py, and a check run stays around a second
ALPHA = 1e-7  # false-failure budget of each statistical invariant per check run (the brief asks < 1e-6)
# Eval-mode predictions of one sample alone and inside a batch go through float32 kernels chosen by
# batch size; their summation orders move a logit by a few ulps. Batch-dependence bugs move it by O(1).
TOLERANCE = dict(rtol=1e-4, atol=1e-5)

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class CheckUsageError(ValueError):
    """The object cannot be checked as given (not found, unknown kind, no input shape); one line says why."""


# ------------------------------------------------------------------------------------- the report


class Status(str, enum.Enum):
    """Outcome of one invariant."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Invariant:
    """A named property: what it checks, and what a failure means with how to fix it."""

    name: str
    checks: str
    fix: str


@dataclass(frozen=True)
class Result:
    """One invariant's verdict on one object; ``counterexample`` is the minimal input Hypothesis found."""

    invariant: str
    status: Status
    explanation: str  # passed: what was checked; failed: what it means and how to fix it; n/a: why not
    observed: str = ""  # what went wrong on the counterexample, or the measured numbers
    counterexample: Optional[str] = None

    def describe(self, subject: str) -> str:
        """The multi-line message a pytest failure or the table shows."""
        lines = [f"regbench invariant {self.invariant!r} {self.status.value} for {subject}"]
        if self.observed:
            lines.append(f"  observed: {self.observed}")
        if self.counterexample:
            lines.append(f"  counterexample: {self.counterexample}")
        lines.append(f"  {'fix' if self.status is Status.FAILED else 'note'}: {self.explanation}")
        return "\n".join(lines)


@dataclass
class Report:
    """Every invariant's result for one object, renderable as a table or JSON."""

    subject: str
    kind: str
    results: list[Result]
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no invariant failed (not-applicable ones do not count against it)."""
        return not self.failures

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.status is Status.FAILED]

    def __getitem__(self, invariant: str) -> Result:
        for result in self.results:
            if result.invariant == invariant:
                return result
        raise KeyError(f"no invariant {invariant!r} in this {self.kind} report; it has {[r.invariant for r in self.results]}")

    def to_dict(self) -> dict:
        """Plain data: statuses as strings, for JSON."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "ok": self.ok,
            "settings": self.settings,
            "results": [{**asdict(r), "status": r.status.value} for r in self.results],
        }

    def to_json(self, **kwargs: Any) -> str:
        """The report for machines (``regbench check --json``)."""
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    def render(self) -> str:
        """A table: one row per invariant, failures followed by their counterexample and fix."""
        labels = {Status.PASSED: "ok", Status.FAILED: "FAIL", Status.NOT_APPLICABLE: "n/a"}
        width = max(len(r.invariant) for r in self.results)
        options = ", ".join(f"{k} {v}" for k, v in self.settings.items())
        lines = [f"{self.subject} ({self.kind}{'; ' + options if options else ''})"]
        for r in self.results:
            note = r.observed if r.status is Status.FAILED else (r.observed or r.explanation)
            lines.append(f"  {labels[r.status]:<4}  {r.invariant:<{width}}  {note}")
            if r.status is Status.FAILED:
                if r.counterexample:
                    lines.append(f"  {'':<4}  {'':<{width}}  counterexample: {r.counterexample}")
                lines.append(f"  {'':<4}  {'':<{width}}  fix: {r.explanation}")
        counts = {s: sum(r.status is s for r in self.results) for s in Status}
        lines.append(f"  {counts[Status.PASSED]} passed, {counts[Status.FAILED]} failed, {counts[Status.NOT_APPLICABLE]} not applicable")
        return "\n".join(lines)


# ------------------------------------------------------------------- searching with Hypothesis


def _search_settings(max_examples: int) -> settings:
    """Derandomized and database-free, so a verdict is the same on every run and machine; quiet, since the report says it all."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )


@dataclass(frozen=True)
class _Found:
    """A failing example as the report shows it."""

    example: str
    observed: str


def _search(prop: Callable[..., None], strategies: Mapping[str, st.SearchStrategy], max_examples: int) -> Optional[_Found]:
    """The minimal example on which ``prop`` raises, or None when Hypothesis finds none.

    Every example runs with torch seeded to 0, so a random bug fails again on replay; Hypothesis
    replays the shrunk example last, so the last failure recorded is the minimal one. An exception
    from the user's code is a failure of the invariant too (the check could not hold).
    """
    failures: list[tuple[dict, BaseException]] = []

    @_search_settings(max_examples)
    @given(**strategies)
    def run(**drawn: Any) -> None:
        try:
            with rngs_restored():
                torch.manual_seed(0)
                prop(**drawn)
        except Exception as error:
            failures.append((drawn, error))
            raise

    try:
        run()
    except Exception:
        if not failures:
            raise  # Hypothesis itself failed: not a verdict about the user's code
        drawn, error = failures[-1]
        return _Found("; ".join(f"{k} = {v}" for k, v in drawn.items()), _one_line(error))
    return None


def _one_line(error: BaseException) -> str:
    """An assertion's message as is; any other exception with its type; first line only."""
    return (_first_line(error) if isinstance(error, AssertionError) else f"raised {type(error).__name__}: {_first_line(error)}")[:400]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _property_result(invariant: Invariant, prop: Callable[..., None], strategies: Mapping[str, st.SearchStrategy], max_examples: int) -> Result:
    """Search ``prop`` and turn the outcome into a Result."""
    found = _search(prop, strategies, max_examples)
    if found is None:
        return Result(invariant.name, Status.PASSED, invariant.checks, f"held on {max_examples} generated examples")
    return Result(invariant.name, Status.FAILED, invariant.fix, found.observed, found.example)


def _not_applicable(invariant: Invariant, reason: str) -> Result:
    return Result(invariant.name, Status.NOT_APPLICABLE, reason)


def _built(factory: Callable[[], Any], seed: int) -> Any:
    """factory() with its random initialization drawn from ``seed``, leaving the global RNGs alone."""
    with rngs_restored():
        seed_everything(seed)
        return factory()


def _made(factory: Callable[[], Any]) -> Any:
    """The user's object built once for inspection; an error there is a usage problem, reported in one line."""
    try:
        return _built(factory, 0)
    except Exception as error:
        raise CheckUsageError(f"calling {name_of(factory)}() failed: {type(error).__name__}: {_first_line(error)}") from None


def _max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, for messages."""
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def _tensor_output(output: Any, what: str) -> torch.Tensor:
    """A model's output as one tensor; a tuple or dict is a usage problem the message names."""
    assert isinstance(output, torch.Tensor), f"{what} returned {type(output).__name__}, not a tensor"
    return output


# ----------------------------------------------------------------------------------------- models

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
            "in eval mode the model equals itself with every dropout rate set to 0",
            "dropout still acts in eval mode: call the nn.Dropout module (or F.dropout(x, p, training=self.training)), "
            "never F.dropout(..., training=True)",
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
class _ModelSubject:
    """The user's model as the checks use it: a prototype never run, copied for every example."""

    prototype: nn.Module
    input_shape: tuple[int, ...]

    def fresh(self) -> nn.Module:
        """A deep copy, so nothing a check does reaches the prototype (or the user's object)."""
        return copy.deepcopy(self.prototype)

    def inputs(self, batch: Batch) -> torch.Tensor:
        device = next((p.device for p in self.prototype.parameters()), torch.device("cpu"))
        return batch.tensor(self.input_shape, device)

    def modules_of(self, types: tuple) -> list[tuple[str, nn.Module]]:
        return [(name, m) for name, m in self.prototype.named_modules() if isinstance(m, types)]


def _model_subject(factory: Any, input_shape: Optional[Sequence[int]]) -> _ModelSubject:
    """Build the prototype (seeded) and find an input shape it accepts, trying the notebook's two."""
    prototype = factory if isinstance(factory, nn.Module) else _made(factory)
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
            return _ModelSubject(prototype, shape)
        except Exception as error:  # the user's forward may raise anything on the wrong shape
            errors.append(f"{shape}: {type(error).__name__}: {_first_line(error)}")
    raise CheckUsageError(f"the model accepts none of the input shapes tried ({'; '.join(errors)}); pass input_shape (--input-shape), the shape of one sample")


def _prop_eval_deterministic(subject: _ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    with torch.no_grad():
        first, second = _tensor_output(model(x), "model(x)"), _tensor_output(model(x), "model(x)")
    assert torch.equal(first, second), f"two eval-mode calls on the same batch differ by up to {_max_difference(first, second):.3g}"


def _prop_dropout_identity(subject: _ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    reference = copy.deepcopy(model)
    for m in reference.modules():
        if isinstance(m, DROPOUT_TYPES):
            m.p = 0.0
    with torch.no_grad():
        out, ref = _tensor_output(model(x), "model(x)"), _tensor_output(reference(x), "model(x)")
    assert torch.allclose(out, ref, rtol=1e-5, atol=1e-6), (
        f"eval-mode output differs from the same model with every dropout rate set to 0 by up to {_max_difference(out, ref):.3g}"
    )


def _prop_batch_independent(subject: _ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    with torch.no_grad():
        together = _tensor_output(model(x), "model(batch)")
        for i in range(len(x)):
            try:
                alone = _tensor_output(model(x[i : i + 1]), "model(one sample)")
            except Exception as error:
                raise AssertionError(f"sample {i} alone raised {type(error).__name__}: {_first_line(error)}") from error
            assert torch.allclose(alone[0], together[i], **TOLERANCE), (
                f"sample {i}'s eval-mode output alone differs from its output inside the batch of {len(x)} by up to {_max_difference(alone[0], together[i]):.3g}"
            )


def _prop_batch_of_one_raises(subject: _ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().train(), subject.inputs(batch)
    try:
        model(x)
    except Exception:
        return
    raise AssertionError("train mode accepted a batch of 1 without an error")


def _prop_eval_keeps_state(subject: _ModelSubject, batch: Batch) -> None:
    model, x = subject.fresh().eval(), subject.inputs(batch)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(x)
    changed = [k for k, v in model.state_dict().items() if k not in before or not torch.equal(v, before[k])]
    assert not changed, f"an eval-mode forward changed {', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}"
    switched = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    assert not switched, f"an eval-mode forward switched {', '.join(switched[:5])} back to train mode"


STATISTICS_ROWS = 64  # samples per train-mode forward: with a 500-unit layer, ~16,000 units for the binomial test


def _prop_dropout_statistics(subject: _ModelSubject, batch: Batch, *, max_examples: int) -> None:
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
            pvalue = stats.binomtest(dropped, n, p).pvalue
            assert pvalue >= alpha, f"{name}: dropped {dropped} of {n} units (rate {dropped / n:.4f}), not Binomial(n, p={p:g}): p-value {pvalue:.3g} < {alpha:.3g}"


def _batch_of_one_undefined(subject: _ModelSubject) -> bool:
    """Whether some BatchNorm layer sees one value per channel per sample, so a batch of 1 leaves no variance to estimate.

    A model whose BatchNorm modules are never called (F.batch_norm used directly) is assumed to be such a model.
    """
    model, seen = subject.fresh().eval(), {}
    handles = [
        m.register_forward_hook(lambda mod, inp, out, name=name: seen.__setitem__(name, inp[0][0, 0].numel() == 1))
        for name, m in model.named_modules()
        if isinstance(m, BATCHNORM_TYPES)
    ]
    try:
        with torch.no_grad(), rngs_restored():
            model(subject.inputs(Batch(2, "uniform", 0)))
    except Exception:  # a model that fails here fails batch_independent_in_eval with the reason
        pass
    finally:
        for h in handles:
            h.remove()
    return any(seen.values()) or not seen


def check_model(factory: Any, *, input_shape: Optional[Sequence[int]] = None, max_examples: int = MAX_EXAMPLES, name: Optional[str] = None) -> Report:
    """Every model invariant on ``factory`` (a class or zero-argument callable returning an nn.Module, or a module, which is copied).

    ``input_shape`` is one sample's shape; by default (1, 28, 28) then (784,) are tried.
    """
    inv = MODEL_INVARIANTS
    with rngs_restored():
        subject = _model_subject(factory, input_shape)
        bind = lambda prop: functools.partial(prop, subject)  # noqa: E731
        dropouts = subject.modules_of(DROPOUT_TYPES)
        plain_dropouts = [(n, m) for n, m in dropouts if isinstance(m, nn.Dropout) and 0 < m.p < 1]
        batchnorms = subject.modules_of(BATCHNORM_TYPES)
        one_value = bool(batchnorms) and _batch_of_one_undefined(subject)
        results = [
            _property_result(inv["eval_deterministic"], bind(_prop_eval_deterministic), {"batch": batches(min_size=2)}, max_examples),
            _property_result(inv["dropout_identity_in_eval"], bind(_prop_dropout_identity), {"batch": batches(min_size=2)}, max_examples)
            if dropouts
            else _not_applicable(inv["dropout_identity_in_eval"], "no dropout layer (nn.Dropout and friends) in the model"),
            _property_result(inv["dropout_train_statistics"], functools.partial(_prop_dropout_statistics, subject, max_examples=max_examples), {"batch": batches()}, max_examples)
            if plain_dropouts
            else _not_applicable(inv["dropout_train_statistics"], "no nn.Dropout layer with 0 < p < 1 in the model"),
            _property_result(inv["batch_independent_in_eval"], bind(_prop_batch_independent), {"batch": batches(min_size=2)}, max_examples),
            _property_result(inv["batchnorm_rejects_batch_of_one"], bind(_prop_batch_of_one_raises), {"batch": batches(max_size=1)}, max_examples)
            if one_value
            else _not_applicable(
                inv["batchnorm_rejects_batch_of_one"],
                "no BatchNorm layer in the model" if not batchnorms else "every BatchNorm layer sees several values per channel per sample (spatial positions), so a batch of 1 is well defined",
            ),
            _property_result(inv["eval_keeps_state"], bind(_prop_eval_keeps_state), {"batch": batches(min_size=2)}, max_examples),
        ]
    return Report(name or name_of(factory), "model", results, {"input shape": subject.input_shape, "examples": max_examples})


# ----------------------------------------------------------------------------------------- losses

LOSS_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "lambda_zero_is_base",
            "with every lambda = 0 the loss equals the base criterion and puts no gradient on the model",
            "lambda = 0 still penalizes: a default like `lam or 1e-4`, or a penalty not multiplied by lambda; "
            "use `if lam is None` for defaults and multiply the whole penalty by lambda",
        ),
        Invariant(
            "penalty_skips_biases_and_1d",
            "changing a bias or another 1-D parameter (BatchNorm's weight and bias) leaves the loss unchanged, with zero gradient there",
            "the penalty reaches biases or 1-D parameters, which shift or rescale activations without simplifying the "
            "model; select weights with regbench.losses.penalized_parameters(model) (trainable, not a bias, ndim > 1)",
        ),
        Invariant(
            "penalty_linear_in_lambda",
            "scaling every lambda by c scales the penalty (loss minus base criterion) by c",
            "the penalty is not lambda times a norm (lambda applied twice, or added rather than multiplied); "
            "return base + lam * norm(weights)",
        ),
        Invariant(
            "penalty_non_negative",
            "the penalty (loss minus base criterion) is never negative",
            "the penalty can be negative, so minimizing it grows weights instead of shrinking them (a sum of W "
            "without abs(), a sign error); use sum(|W|) or sum(W**2)",
        ),
    )
}

REGBENCH_MODELS = {"plain": FullyConnected, "dropout": FullyConnectedDropout, "batchnorm": FullyConnectedBatchNorm}
MODEL_NAMES = ("model", "net", "network", "module", "classifier")
IMAGE_NAMES = ("img", "image", "images", "pic", "picture", "x", "tensor", "sample")


@dataclass(frozen=True)
class Net:
    """A model to attach the loss to: one of regbench's, with any widths, or the user's factory; initialized from ``seed``."""

    kind: str  # "plain", "dropout", "batchnorm", or "yours"
    sizes: tuple[int, ...]
    seed: int

    def build(self, factory: Optional[Callable[[], nn.Module]]) -> nn.Module:
        """A fresh model; the user's factory's product is copied, in case it hands out one shared instance."""
        if self.kind == "yours":
            return copy.deepcopy(_built(factory, self.seed))
        return _built(functools.partial(REGBENCH_MODELS[self.kind], *self.sizes), self.seed)

    def __str__(self) -> str:
        what = "your model" if self.kind == "yours" else f"{REGBENCH_MODELS[self.kind].__name__}{self.sizes}"
        return f"{what} initialized from seed {self.seed}"


@dataclass(frozen=True)
class LossCase:
    """A model, a lambda and a batch of (fixed, model-independent) logits and class targets."""

    net: Net
    lam: float
    batch_size: int
    seed: int

    def outputs(self, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
        """float64 logits (so base + penalty - base keeps the penalty's digits) and int64 targets."""
        g = torch.Generator().manual_seed(self.seed)
        return torch.randn(self.batch_size, classes, generator=g, dtype=torch.float64), torch.randint(classes, (self.batch_size,), generator=g)

    def __str__(self) -> str:
        return f"{self.net}, lambda {self.lam:.4g}, {self.batch_size} logit rows from seed {self.seed}"


@dataclass
class _LossSubject:
    """How to build the user's loss on a model, and what its constructor takes."""

    factory: Callable[..., nn.Module]
    takes_base: bool  # the notebook's Loss(base_criterion, model, lam) convention
    lambda_names: tuple[str, ...]
    model_factory: Optional[Callable[[], nn.Module]]
    classes: int

    def build(self, model: nn.Module, lam: Optional[float] = None) -> nn.Module:
        """The loss on ``model``; with ``lam``, every lambda argument set to it."""
        if not self.takes_base:
            return self.factory(model)
        lambdas = {} if lam is None else {name: lam for name in self.lambda_names}
        return self.factory(nn.CrossEntropyLoss(), model, **lambdas)

    def penalty(self, loss_fn: nn.Module, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss minus base criterion: regbench's own split for a PenaltyLoss, else the total minus the base we passed."""
        if isinstance(loss_fn, PenaltyLoss):
            return loss_parts(loss_fn, outputs, targets).penalty
        return loss_fn(outputs, targets) - nn.CrossEntropyLoss()(outputs, targets)

    def nets(self) -> st.SearchStrategy[Net]:
        """regbench's three models with widths 1..12 (BatchNorm's 1-D weights included), or the user's model."""
        if self.model_factory is not None:
            return st.builds(Net, kind=st.just("yours"), sizes=st.just(()), seed=st.integers(0, 2**16 - 1))
        width = st.integers(1, 12)
        return st.builds(Net, kind=st.sampled_from(("plain", "dropout", "batchnorm")), sizes=st.tuples(width, width, st.just(self.classes)), seed=st.integers(0, 2**16 - 1))

    def cases(self, *, lam: Optional[float] = None) -> st.SearchStrategy[LossCase]:
        """Cases with lambdas log-uniform in [1e-4, 1] (they span decades in practice), or all at ``lam``."""
        lams = st.just(lam) if lam is not None else st.floats(-4, 0).map(lambda e: float(10.0**e))
        return st.builds(LossCase, net=self.nets(), lam=lams, batch_size=st.integers(1, 8), seed=st.integers(0, 2**16 - 1))


def _loss_subject(factory: Any, model: Any) -> _LossSubject:
    """Read the constructor: (base_criterion, model, lambdas...) or (model); lambdas are required arguments after the model or numeric defaults named *lam*."""
    if isinstance(factory, nn.Module):
        raise CheckUsageError(f"{name_of(factory)} is a loss already built on one model; pass its class, or a function taking a model and returning the loss")
    params = _parameters(factory)
    positional = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if len(required) == 1 and not _named_like(required[0], IMAGE_NAMES):
        takes_base, rest = False, []
    elif len(positional) >= 2 and len(required) >= 2:
        takes_base, rest = True, params[2:]
    else:
        raise CheckUsageError(f"{name_of(factory)} takes neither (base_criterion, model, lam, ...) nor (model); cannot build it as a loss")
    lambda_names = tuple(
        p.name for p in rest
        if p.kind is not inspect.Parameter.VAR_POSITIONAL and p.kind is not inspect.Parameter.VAR_KEYWORD
        and (p.default is inspect.Parameter.empty or ("lam" in p.name.lower() and isinstance(p.default, (int, float)) and not isinstance(p.default, bool)))
    )
    model_factory = None
    classes = 10
    if model is not None:
        model_factory = (lambda: copy.deepcopy(model)) if isinstance(model, nn.Module) else model
        subject = _model_subject(model_factory, None)
        with torch.no_grad(), rngs_restored():
            out = subject.fresh().eval()(subject.inputs(Batch(2, "uniform", 0)))
        classes = int(out.shape[-1])
    return _LossSubject(factory, takes_base, lambda_names, model_factory, classes)


def _prop_lambda_zero(subject: _LossSubject, case: LossCase) -> None:
    model = case.net.build(subject.model_factory)
    loss_fn = subject.build(model, case.lam)
    outputs, targets = case.outputs(subject.classes)
    total, base = loss_fn(outputs, targets), nn.CrossEntropyLoss()(outputs, targets)
    assert torch.allclose(total.double(), base.double(), rtol=1e-6, atol=1e-12), f"with lambda = 0 the loss is {float(total.detach()):.6g}, the base criterion {float(base):.6g}"
    total.backward()
    touched = [n for n, p in model.named_parameters() if p.grad is not None and p.grad.any()]
    assert not touched, f"with lambda = 0 the loss still has a gradient on {', '.join(touched[:4])}"


def _prop_skips_unpenalized(subject: _LossSubject, case: LossCase) -> None:
    model = case.net.build(subject.model_factory)
    loss_fn = subject.build(model, case.lam)
    outputs, targets = case.outputs(subject.classes)
    value = loss_fn(outputs, targets)  # the logits are constants: any dependence on the model is the penalty's
    value.backward()
    penalized = {n for n, _ in penalized_parameters(model)}
    for name, p in model.named_parameters():
        if name in penalized:
            continue
        assert p.grad is None or not p.grad.any(), f"the penalty has a gradient on {name} (shape {tuple(p.shape)})"
        saved = p.detach().clone()
        with torch.no_grad():
            p.add_(torch.rand(p.shape, generator=torch.Generator().manual_seed(case.seed)).to(p) + 0.5)  # +0.5..1.5 everywhere
            changed = loss_fn(outputs, targets)
            p.copy_(saved)
        assert torch.equal(changed.detach(), value.detach()), f"changing {name} changed the loss from {float(value.detach()):.8g} to {float(changed):.8g}"


def _prop_linear_in_lambda(subject: _LossSubject, case: LossCase, scale: float) -> None:
    outputs, targets = case.outputs(subject.classes)
    model = case.net.build(subject.model_factory)
    with torch.no_grad():
        low = subject.penalty(subject.build(model, case.lam), outputs, targets).double()
        high = subject.penalty(subject.build(model, case.lam * scale), outputs, targets).double()
    assert torch.allclose(high, scale * low, rtol=1e-4, atol=1e-10), (
        f"penalty {float(low):.6g} at lambda {case.lam:.4g} but {float(high):.6g} at {scale:g} x lambda (expected {scale * float(low):.6g})"
    )


def _prop_non_negative(subject: _LossSubject, case: LossCase) -> None:
    outputs, targets = case.outputs(subject.classes)
    with torch.no_grad():
        penalty = float(subject.penalty(subject.build(case.net.build(subject.model_factory), case.lam), outputs, targets))
    assert penalty >= -1e-9, f"the penalty is {penalty:.6g}"


def check_loss(factory: Any, *, model: Any = None, max_examples: int = MAX_EXAMPLES, name: Optional[str] = None) -> Report:
    """Every loss invariant on ``factory``: a class or callable ``(base_criterion, model, lam, ...)``, or ``model -> loss``.

    The loss is built on regbench's three models with generated widths, or on copies of ``model``
    (a factory or module) when given; it is called on fixed logits and class targets, as
    CrossEntropyLoss takes, so whatever depends on the model is the penalty.
    """
    inv = LOSS_INVARIANTS
    with rngs_restored():
        subject = _loss_subject(factory, model)
        bind = lambda prop: functools.partial(prop, subject)  # noqa: E731
        cases = subject.cases()
        probe = Net("yours" if model is not None else "batchnorm", (3, 3, subject.classes), 0).build(subject.model_factory)
        penalized = {n for n, _ in penalized_parameters(probe)}
        unpenalized = [n for n, p in probe.named_parameters() if p.requires_grad and n not in penalized]
        separable = subject.takes_base or isinstance(subject.build(probe), PenaltyLoss)  # can the penalty be read apart from the base?
        no_lambda = "the constructor takes no lambda argument (only (base_criterion, model, lam, ...) constructors can be scaled)"
        no_base = "the loss is built by a function of the model alone, so its base criterion is unknown; pass a (base_criterion, model, lam) class, or return a regbench PenaltyLoss"
        results = [
            _property_result(inv["lambda_zero_is_base"], bind(_prop_lambda_zero), {"case": subject.cases(lam=0.0)}, max_examples)
            if subject.lambda_names
            else _not_applicable(inv["lambda_zero_is_base"], no_lambda),
            _property_result(inv["penalty_skips_biases_and_1d"], bind(_prop_skips_unpenalized), {"case": cases}, max_examples)
            if unpenalized
            else _not_applicable(inv["penalty_skips_biases_and_1d"], "the model has no bias or 1-D parameter for a penalty to leave out"),
            _property_result(inv["penalty_linear_in_lambda"], bind(_prop_linear_in_lambda), {"case": cases, "scale": st.sampled_from((2.0, 3.0, 10.0, 0.5))}, max_examples)
            if subject.lambda_names
            else _not_applicable(inv["penalty_linear_in_lambda"], no_lambda),
            _property_result(inv["penalty_non_negative"], bind(_prop_non_negative), {"case": cases}, max_examples)
            if separable
            else _not_applicable(inv["penalty_non_negative"], no_base),
        ]
    options = {"lambdas": ", ".join(subject.lambda_names) or "none", "models": "yours" if model is not None else "regbench's", "examples": max_examples}
    return Report(name or name_of(factory), "loss", results, options)


# ------------------------------------------------------------------------------------- transforms

TRANSFORM_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "output_shape_dtype_range",
            "every image comes out as a finite floating-point tensor of shape (1, H, W) with values in [0, 1], as ToTensor gives",
            "the transform's output is not what the model expects (PILToTensor's uint8 0..255 instead of ToTensor's "
            "floats, a lost channel dimension, NaNs); end the pipeline with ToTensor",
        ),
        Invariant(
            "reproducible_under_seed",
            "seeding torch, numpy and random (regbench.seed_everything) fixes the transform's output",
            "the transform draws from an RNG no seed reaches (np.random.default_rng(), a private Generator), so "
            "runs cannot be repeated; draw from torch's global RNG as torchvision's transforms do",
        ),
        Invariant(
            "label_preservation",
f"a reference classifier trained on clean images changes its prediction under the transform no more often than it errs on them (one-sided binomial test, alpha {ALPHA:g})",
            "the transform changes what the images show, not just how they look (a mirrored 3, 5 or 7 is no longer "
            "that digit): training on it teaches wrong labels; drop that step (as regbench.digit_train_transform does)",
        ),
    )
}


@dataclass(frozen=True)
class DigitImage:
    """A generated grayscale uint8 image, shown by its content rather than 784 numbers."""

    pixels: np.ndarray

    def __str__(self) -> str:
        p, h, w = self.pixels, *self.pixels.shape
        values, counts = np.unique(p, return_counts=True)
        background = int(values[counts.argmax()])
        if len(values) == 1:
            return f"{h}x{w} image, every pixel {background}"
        rows, cols = np.nonzero(p != background)
        shown = ", ".join(f"({r},{c})={p[r, c]}" for r, c in list(zip(rows, cols))[:4])
        return f"{h}x{w} image of {background} with {len(rows)} other pixel{'s' if len(rows) > 1 else ''}: {shown}{' ...' if len(rows) > 4 else ''}"


def images(side: int = 28) -> st.SearchStrategy[DigitImage]:
    """uint8 images; Hypothesis' array filling makes most a flat background with a few strokes."""
    return hnp.arrays(np.uint8, (side, side), elements=st.integers(0, 255)).map(DigitImage)


@dataclass
class _TransformSubject:
    """The user's transform and what it takes: a PIL image, or a float tensor (1, H, W) in [0, 1]."""

    transform: Callable[[Any], Any]
    takes: str  # "pil" or "tensor"

    def apply(self, pixels: np.ndarray) -> Any:
        """The transform of one uint8 (H, W) image, given in the form the transform takes."""
        image = Image.fromarray(pixels) if self.takes == "pil" else torch.from_numpy(pixels).unsqueeze(0).float() / 255
        return self.transform(image)


def _transform_subject(transform: Any) -> _TransformSubject:
    """A copy of the transform (or a factory's product), fed PIL images or tensors, whichever gives a tensor back (PIL first)."""
    if _is_factory(transform):
        transform = _made(transform)
    try:
        transform = copy.deepcopy(transform)
    except Exception:  # an uncopyable transform (holding a file, a lock) is used as is
        pass
    blank = np.zeros((28, 28), dtype=np.uint8)
    accepted = []
    for takes in ("pil", "tensor"):
        subject = _TransformSubject(transform, takes)
        try:
            with rngs_restored():
                out = subject.apply(blank)
        except Exception:
            continue
        if isinstance(out, torch.Tensor):
            return subject
        accepted.append(subject)
    # Returns no tensor for either (or takes neither): output_shape_dtype_range reports what it does.
    return accepted[0] if accepted else _TransformSubject(transform, "pil")


def _prop_output(subject: _TransformSubject, image: DigitImage, value_range: Optional[tuple[float, float]]) -> None:
    out = subject.apply(image.pixels)
    assert isinstance(out, torch.Tensor), f"returned {type(out).__name__}, not a tensor"
    assert out.is_floating_point(), f"dtype {out.dtype}, not a floating-point tensor (values {float(out.min()):g}..{float(out.max()):g})"
    expected = (1, *image.pixels.shape)
    assert tuple(out.shape) == expected, f"shape {tuple(out.shape)}, expected {expected}"
    assert torch.isfinite(out).all(), "non-finite values in the output"
    if value_range is not None:
        low, high = float(out.min()), float(out.max())
        assert value_range[0] <= low and high <= value_range[1], f"values {low:g}..{high:g} outside [{value_range[0]:g}, {value_range[1]:g}]"


def _prop_reproducible(subject: _TransformSubject, image: DigitImage, seed: int) -> None:
    outputs = []
    for _ in range(2):
        seed_everything(seed)
        outputs.append(subject.apply(image.pixels))
    first, second = outputs
    same = torch.equal(first, second) if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) else first == second
    assert same, f"two calls after seed_everything({seed}) gave different outputs"


# Label preservation ----------------------------------------------------------------------------
# The reference classifier is regbench's FullyConnected on moment-normalized images (Casey 1970):
# each image's centre of mass is moved to the middle and each axis scaled to a fixed spread, so a
# shift, zoom or stretch (what a crop does) is undone before the MLP sees the image, while a mirror
# image is not. Without it an MLP on raw pixels reads a 0.8-scale crop as another digit a third of
# the time, and no threshold separates a flip from a crop.
REFERENCE_PER_CLASS = 200  # training and test images per class: 2,000 each from the embedded 5,000
REFERENCE_HIDDEN = 100
REFERENCE_EPOCHS = 10
SPREAD = 0.25  # target standard deviation of the ink along each axis, in [-1, 1] image coordinates


def moment_normalize(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) -> same: centre of mass to the middle, each axis' ink spread scaled to SPREAD."""
    n, _, h, w = images.shape
    ys = (torch.arange(h, dtype=images.dtype) * 2 + 1) / h - 1  # pixel centres, as affine_grid's
    xs = (torch.arange(w, dtype=images.dtype) * 2 + 1) / w - 1
    mass = images.sum((1, 2, 3)).clamp_min(1e-6)
    along_x, along_y = images.sum((1, 2)), images.sum((1, 3))
    cx, cy = (along_x * xs).sum(1) / mass, (along_y * ys).sum(1) / mass
    sx = ((along_x * (xs - cx[:, None]) ** 2).sum(1) / mass).sqrt().clamp_min(1e-3)
    sy = ((along_y * (ys - cy[:, None]) ** 2).sum(1) / mass).sqrt().clamp_min(1e-3)
    zero = torch.zeros_like(cx)
    theta = torch.stack([torch.stack([sx / SPREAD, zero, cx], 1), torch.stack([zero, sy / SPREAD, cy], 1)], 1)
    return F.grid_sample(images, F.affine_grid(theta, list(images.shape), align_corners=False), align_corners=False)


class ReferenceClassifier(nn.Module):
    """Moment normalization, then FullyConnected: a digit classifier that shrugs off shifts and zooms."""

    def __init__(self, side: int = 28) -> None:
        super().__init__()
        self.side = side
        self.net = FullyConnected(side * side, REFERENCE_HIDDEN, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(moment_normalize(x.reshape(-1, 1, self.side, self.side)))


@dataclass
class _Reference:
    """The trained classifier and its clean predictions on the held-out images."""

    model: ReferenceClassifier
    test_pixels: np.ndarray  # (N, H, W) uint8
    test_labels: torch.Tensor
    clean_predictions: torch.Tensor
    source: str

    @property
    def errors(self) -> int:
        return int((self.clean_predictions != self.test_labels).sum())


_REFERENCES: dict[int, tuple[Optional[Split], _Reference]] = {}  # id(split) -> (split kept alive, its classifier)


def _reference(split: Optional[Split] = None) -> _Reference:
    """Train once per process and split (about 2 s on one core), seeded, on clean images."""
    if id(split) not in _REFERENCES:
        _REFERENCES[id(split)] = (split, _train_reference(split or load_dataset("digits", n_train=REFERENCE_PER_CLASS, n_test=REFERENCE_PER_CLASS)))
    return _REFERENCES[id(split)][1]


def _train_reference(split: Split) -> _Reference:
    """regbench's training loop, seeded: Adam 1e-3, batch 32, REFERENCE_EPOCHS epochs."""
    side = split.train.data.shape[-1]
    with rngs_restored():
        seed_everything(0)
        model = ReferenceClassifier(side)
        x, y = split.train.tensors()
        test_x, test_y = split.test.tensors()
        train_model(model, nn.CrossEntropyLoss(), make_optimizer(model, 1e-3), TensorLoader(x, y, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)),
                    [(test_x[:1], test_y[:1])], REFERENCE_EPOCHS, progress=False, desc="reference classifier")
        model.eval()
        with torch.no_grad():
            clean = model(test_x).argmax(1)
    return _Reference(model, split.test.data.numpy(), test_y, clean, split.source)


def _label_preservation(invariant: Invariant, subject: _TransformSubject, split: Optional[Split], threshold: Optional[float]) -> Result:
    """One-sided binomial test that the prediction-change rate exceeds the classifier's own error rate.

    n test images, k predictions changed by the transform, e clean errors. The allowed rate is the
    classifier's error rate (a label-preserving transform may move an image the classifier finds
    hard across its boundary, about as often as the classifier is wrong), taken at its
    Clopper-Pearson upper bound at level ALPHA/2; the transform is flagged when P(K >= k) under
    Binomial(n, bound) is below ALPHA/2. A transform that truly changes predictions no more often
    than the classifier errs is flagged with probability at most ALPHA (union bound over the two
    steps), treating the test images as a random sample. ``threshold`` replaces the bound.
    """
    ref = _reference(split)
    n = len(ref.test_labels)
    outputs = []
    with rngs_restored():
        seed_everything(0)
        for pixels in ref.test_pixels:
            out = subject.apply(pixels)
            if not isinstance(out, torch.Tensor) or out.numel() != pixels.size:
                return _not_applicable(invariant, f"the output ({type(out).__name__} {tuple(getattr(out, 'shape', ()))}) is not one {pixels.shape} image the reference classifier can read")
            outputs.append(out.reshape(1, *pixels.shape).float())
    transformed = torch.stack(outputs)
    if transformed.min() < -1e-6 or transformed.max() > 1 + 1e-6:
        return _not_applicable(invariant, f"outputs span {float(transformed.min()):g}..{float(transformed.max()):g}, not ToTensor's [0, 1] that the reference classifier reads")
    with torch.no_grad():
        predictions = ref.model(transformed).argmax(1)
    changed = (predictions != ref.clean_predictions).nonzero().flatten().tolist()
    k, e = len(changed), ref.errors
    error_bound = threshold if threshold is not None else float(stats.binomtest(e, n).proportion_ci(1 - ALPHA, method="exact").high)
    pvalue = float(stats.binomtest(k, n, error_bound, alternative="greater").pvalue)
    observed = (
        f"changed {k} of {n} predictions ({k / n:.1%}); allowed {error_bound:.1%} "
        + ("(given threshold)" if threshold is not None else f"(classifier error {e / n:.1%}, upper bound at alpha {ALPHA / 2:g})")
        + f"; one-sided binomial p {'= %.3g' % pvalue if pvalue > 0 else '< 1e-300'}"
    )
    if pvalue >= ALPHA / 2:
        return Result(invariant.name, Status.PASSED, invariant.checks, observed)
    return Result(invariant.name, Status.FAILED, invariant.fix, observed, _most_changed(ref, predictions))


def _most_changed(ref: _Reference, predictions: torch.Tensor) -> str:
    """The three classes the transform changes most, each with one image that was rightly classified before."""
    labels, clean = ref.test_labels, ref.clean_predictions
    rates = torch.stack([(predictions[labels == c] != clean[labels == c]).float().mean() for c in range(int(labels.max()) + 1)])
    parts = []
    for c in rates.argsort(descending=True)[:3].tolist():
        flipped = ((labels == c) & (clean == c) & (predictions != c)).nonzero().flatten()
        shown = f", e.g. #{int(flipped[0])} read as {int(predictions[flipped[0]])}" if len(flipped) else ""
        parts.append(f"class {c}: {rates[c]:.0%} changed{shown}")
    return f"test images of {ref.source}: " + "; ".join(parts)


def check_transform(
    transform: Any,
    *,
    split: Optional[Split] = None,
    value_range: Optional[tuple[float, float]] = (0.0, 1.0),
    label_threshold: Optional[float] = None,
    max_examples: int = MAX_EXAMPLES,
    name: Optional[str] = None,
) -> Report:
    """Every transform invariant on ``transform`` (PIL image or tensor in, tensor out; a zero-argument factory is called once).

    ``split`` holds the clean images the reference classifier learns from and is tested on
    (default: 200 + 200 embedded digits per class); ``value_range=None`` skips the range check
    (for a pipeline ending in Normalize); ``label_threshold`` fixes the allowed change rate.
    """
    if label_threshold is not None and not 0 < label_threshold < 1:
        raise CheckUsageError(f"label_threshold is a rate of changed predictions, strictly between 0 and 1; got {label_threshold!r}")
    inv = TRANSFORM_INVARIANTS
    with rngs_restored():
        subject = _transform_subject(transform)
        results = [
            _property_result(inv["output_shape_dtype_range"], functools.partial(_prop_output, subject, value_range=value_range), {"image": images()}, max_examples),
            _property_result(inv["reproducible_under_seed"], functools.partial(_prop_reproducible, subject), {"image": images(), "seed": st.integers(0, 2**16 - 1)}, max_examples),
            _label_preservation(inv["label_preservation"], subject, split, label_threshold),
        ]
    return Report(name or name_of(transform), "transform", results, {"input": "PIL image" if subject.takes == "pil" else "tensor (1, H, W)", "examples": max_examples})


# ------------------------------------------------------------------------------ what the object is

INVARIANTS = {"model": tuple(MODEL_INVARIANTS), "loss": tuple(LOSS_INVARIANTS), "transform": tuple(TRANSFORM_INVARIANTS)}


def _parameters(obj: Any) -> list[inspect.Parameter]:
    """The call (or constructor) signature's parameters, without self."""
    try:
        return list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return []


def _is_factory(obj: Any) -> bool:
    """A class, function or partial callable with no arguments (an object instance is the thing itself, not its maker)."""
    if not (inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, functools.partial)):
        return False
    return not any(p.default is inspect.Parameter.empty and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in _parameters(obj))


def _named_like(param: inspect.Parameter, names: Sequence[str]) -> bool:
    """A parameter called like one of ``names``, or annotated as a model (for MODEL_NAMES) or an image (for IMAGE_NAMES)."""
    annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    hint = r"(torch\.)?(nn\.)?Module" if names is MODEL_NAMES else r"(PIL\.)?(Image\.)?Image|(torch\.)?Tensor"
    return param.name.lower().strip("_") in names or re.fullmatch(hint, annotation) is not None


def _is_torchvision_transform(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("torchvision.transforms") or (getattr(obj, "__module__", "") or "").startswith("torchvision.transforms")


def kind_of(obj: Any) -> str:
    """"model", "loss" or "transform", by inspection; CheckUsageError when the object does not say."""
    if _is_torchvision_transform(obj):
        return "transform"
    if isinstance(obj, PenaltyLoss) or (inspect.isclass(obj) and issubclass(obj, PenaltyLoss)):
        return "loss"
    if isinstance(obj, nn.Module):
        return "model"
    if not callable(obj):
        raise CheckUsageError(f"{name_of(obj)} is a {type(obj).__name__}, not a model, loss or transform (nor a callable making one)")
    params = [p for p in _parameters(obj) if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if len(required) >= 2 and _named_like(required[1], MODEL_NAMES):
        return "loss"  # the notebook's Loss(base_criterion, model, lam)
    if len(required) == 1:
        if _named_like(required[0], MODEL_NAMES):
            return "loss"
        if _named_like(required[0], IMAGE_NAMES):
            return "transform"
    if not required and _is_factory(obj):
        if inspect.isclass(obj) and issubclass(obj, nn.Module):
            return "model"
        made = _made(obj)  # a factory: what it makes says what it is
        if _is_torchvision_transform(made) or (callable(made) and not isinstance(made, nn.Module) and not inspect.isclass(made)):
            return "transform"
        if isinstance(made, nn.Module):
            return "model"
    signature = f"({', '.join(p.name for p in required)})"
    raise CheckUsageError(f"cannot tell what {name_of(obj)}{signature} is: name the argument model or img, or pass --kind model|loss|transform")


def check(obj: Any, *, kind: Optional[str] = None, name: Optional[str] = None, **options: Any) -> Report:
    """The checks for whatever ``obj`` is (or ``kind`` says); options that do not apply to that kind are ignored."""
    kind = kind or kind_of(obj)
    runners = {"model": check_model, "loss": check_loss, "transform": check_transform}
    if kind not in runners:
        raise CheckUsageError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    accepted = inspect.signature(runners[kind]).parameters
    return runners[kind](obj, name=name, **{k: v for k, v in options.items() if k in accepted and v is not None})


def load_target(target: str) -> Any:
    """``module:attribute`` (attribute may be dotted) imported from sys.path; CheckUsageError with one line on any problem."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise CheckUsageError(f"{target!r} is not MODULE:ATTRIBUTE (e.g. my_models:MyNet)")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name) and (module_name == error.name or module_name[len(error.name)] == "."):
            raise CheckUsageError(f"module {module_name!r} not found on the current directory or PYTHONPATH") from None
        raise CheckUsageError(f"importing {module_name!r} failed: {error}") from None
    except Exception as error:
        raise CheckUsageError(f"importing {module_name!r} failed: {type(error).__name__}: {_first_line(error)}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise CheckUsageError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return obj


def check_target(target: str, **options: Any) -> Report:
    """``check(load_target(target))``, the report named by the target as typed."""
    return check(load_target(target), name=target, **options)


def name_of(obj: Any) -> str:
    """module:qualname for a class or function; a transform's short repr (Compose(RandomRotation(...), ToTensor())); else module:Type()."""
    if hasattr(obj, "__qualname__"):
        return f"{obj.__module__}:{obj.__qualname__}"
    if _is_torchvision_transform(obj):
        text = re.sub(r"\s+", " ", repr(obj)).replace("( ", "(").replace(" )", ")").replace(") ", "), ")
        return text if len(text) <= 100 else text[:97] + "..."
    return f"{type(obj).__module__}:{type(obj).__qualname__}()"
