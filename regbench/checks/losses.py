"""Invariants of a user's penalty loss: lambda = 0, what the penalty touches, linearity, sign."""

from __future__ import annotations

import copy
import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from hypothesis import strategies as st
from torch import nn

from regbench.checks.engine import Invariant
from regbench.checks.models import model_subject
from regbench.checks.objects import IMAGE_NAMES, name_of, named_like, signature_parameters
from regbench.checks.report import MAX_EXAMPLES, CheckUsageError, Report
from regbench.checks.strategies import ModelSpec, lambdas, model_specs
from regbench.losses import PenaltyLoss, loss_parts, penalized_parameters
from regbench.train import rngs_restored


@dataclass(frozen=True)
class LabelForm:
    """What a loss is trained on: the logits' shape per sample, the targets drawn for them, and the base criterion
    that takes both.
    """

    name: str
    description: str
    base: Callable[[], nn.Module]
    default_shape: tuple[int, ...]  # one sample's logits when the loss is built on regbench's models
    draw: Callable[[int, tuple[int, ...], torch.Generator], torch.Tensor]  # (batch, logits shape, generator) -> targets
    accepts: Callable[[tuple[int, ...]], bool]  # which logits shapes these targets fit


LABEL_FORMS = {
    form.name: form
    for form in (
        LabelForm(
            "classes",
            "(N, C) logits, class indices",
            nn.CrossEntropyLoss,
            (10,),
            lambda n, shape, g: torch.randint(shape[0], (n,), generator=g),
            lambda shape: len(shape) == 1,
        ),
        LabelForm(
            "probabilities",
            "(N, C) logits, class probabilities (soft labels)",
            nn.CrossEntropyLoss,
            (10,),
            lambda n, shape, g: torch.softmax(torch.randn(n, *shape, generator=g, dtype=torch.float64), dim=1),
            lambda shape: len(shape) == 1,
        ),
        LabelForm(
            "dense",
            "(N, C, H, W) logits, a class index per pixel (segmentation)",
            nn.CrossEntropyLoss,
            (10, 4, 4),
            lambda n, shape, g: torch.randint(shape[0], (n, *shape[1:]), generator=g),
            lambda shape: len(shape) >= 2,
        ),
        LabelForm(
            "binary",
            "logits of any shape, float targets in [0, 1] (BCEWithLogitsLoss)",
            nn.BCEWithLogitsLoss,
            (),
            lambda n, shape, g: torch.rand(n, *shape, generator=g, dtype=torch.float64),
            lambda shape: True,
        ),
    )
}


@dataclass(frozen=True)
class LossCase:
    """A model, a lambda and a batch of (fixed, model-independent) logits and class targets."""

    net: ModelSpec
    lam: float
    batch_size: int
    seed: int

    def outputs(
        self, shape: tuple[int, ...], labels: LabelForm, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """float64 logits of one sample's ``shape`` (so base + penalty - base keeps the penalty's digits) and targets
        drawn for them.
        """
        g = torch.Generator().manual_seed(self.seed)
        logits = torch.randn(self.batch_size, *shape, generator=g, dtype=torch.float64)
        return logits.to(device), labels.draw(self.batch_size, shape, g).to(device)

    def __str__(self) -> str:
        return f"{self.net}, lambda {self.lam:.4g}, {self.batch_size} logit rows from seed {self.seed}"


@dataclass
class LossSubject:
    """How to build the user's loss on a model, and what its constructor takes."""

    factory: Callable[..., nn.Module]
    takes_base: bool  # the notebook's Loss(base_criterion, model, lam) convention
    lambda_names: tuple[str, ...]
    model_factory: Optional[Callable[[], nn.Module]]
    shape: tuple[int, ...]  # one sample's logits
    labels: LabelForm  # the targets' form, and so the base criterion
    device: torch.device | str = "cpu"

    def build(self, model: nn.Module, lam: Optional[float] = None) -> nn.Module:
        """The loss on ``model``; with ``lam``, every lambda argument set to it."""
        if not self.takes_base:
            return self.factory(model)
        lambdas = {} if lam is None else {name: lam for name in self.lambda_names}
        return self.factory(self.labels.base(), model, **lambdas)

    def penalty(self, loss_fn: nn.Module, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss minus base criterion: regbench's own split for a PenaltyLoss, else the total minus the base we
        passed.
        """
        if isinstance(loss_fn, PenaltyLoss):
            return loss_parts(loss_fn, outputs, targets).penalty
        return loss_fn(outputs, targets) - self.labels.base()(outputs, targets)

    def example(self, case: LossCase) -> tuple[torch.Tensor, torch.Tensor]:
        """The case's fixed logits and targets."""
        return case.outputs(self.shape, self.labels, self.device)

    def model(self, case: LossCase) -> nn.Module:
        """The case's model, built on the subject's device."""
        return case.net.build(self.model_factory, self.device)

    def nets(self) -> st.SearchStrategy[ModelSpec]:
        """regbench's three models with widths 1..12 (BatchNorm's 1-D weights included), or the user's model."""
        if self.model_factory is not None:
            return st.builds(ModelSpec, kind=st.just("yours"), seed=st.integers(0, 2**16 - 1))
        return model_specs(max_width=12)

    @functools.cached_property
    def probe(self) -> nn.Module:
        """A model to read the loss's scope on: the user's, or regbench's BatchNorm MLP (biases and 1-D weights
        both).
        """
        return ModelSpec("yours" if self.model_factory else "batchnorm", 3, 3, 10).build(
            self.model_factory, self.device
        )

    @functools.cached_property
    def unpenalized(self) -> list[str]:
        """Trainable parameters the penalty rule leaves out: biases, 1-D parameters."""
        penalized = {n for n, _ in penalized_parameters(self.probe)}
        return [n for n, p in self.probe.named_parameters() if p.requires_grad and n not in penalized]

    @functools.cached_property
    def separable(self) -> bool:
        """Whether the penalty can be read apart from the base criterion."""
        return self.takes_base or isinstance(self.build(self.probe), PenaltyLoss)

    def cases(self, *, lam: Optional[float] = None) -> st.SearchStrategy[LossCase]:
        """Cases with lambdas log-uniform in [1e-4, 1] (they span decades in practice), or all at ``lam``."""
        return st.builds(
            LossCase,
            net=self.nets(),
            lam=st.just(lam) if lam is not None else lambdas(),
            batch_size=st.integers(1, 8),
            seed=st.integers(0, 2**16 - 1),
        )


def loss_subject(
    factory: Any,
    model: Any = None,
    input_shape: Optional[Sequence[int]] = None,
    targets: str = "classes",
    device: torch.device | str = "cpu",
) -> LossSubject:
    """Read the constructor: (base_criterion, model, lambdas...) or (model); lambdas are required arguments after the
    model or numeric defaults named *lam*.
    """
    if isinstance(factory, nn.Module):
        raise CheckUsageError(
            f"{name_of(factory)} is a loss already built on one model; pass its class, or a function taking a model and"
            " returning the loss"
        )
    params = signature_parameters(factory)
    positional = [
        p for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if len(required) == 1 and not named_like(required[0], IMAGE_NAMES):
        takes_base, rest = False, []
    elif len(positional) >= 2 and len(required) >= 2:
        takes_base, rest = True, params[2:]
    else:
        raise CheckUsageError(
            f"{name_of(factory)} takes neither (base_criterion, model, lam, ...) nor (model); cannot build it as a loss"
        )
    lambda_names = tuple(
        p.name
        for p in rest
        if p.kind is not inspect.Parameter.VAR_POSITIONAL
        and p.kind is not inspect.Parameter.VAR_KEYWORD
        and (
            p.default is inspect.Parameter.empty
            or ("lam" in p.name.lower() and isinstance(p.default, (int, float)) and not isinstance(p.default, bool))
        )
    )
    if targets not in LABEL_FORMS:
        raise CheckUsageError(f"unknown targets {targets!r}; choose one of {', '.join(LABEL_FORMS)}")
    labels = LABEL_FORMS[targets]
    model_factory, shape = None, labels.default_shape
    if model is not None:
        model_factory = (lambda: copy.deepcopy(model)) if isinstance(model, nn.Module) else model
        subject = model_subject(model_factory, input_shape)
        with torch.no_grad(), rngs_restored():
            shape = tuple(subject.forward_on(subject.fresh().eval()).shape[1:])
        if not labels.accepts(shape):
            fitting = [form.name for form in LABEL_FORMS.values() if form.accepts(shape)]
            raise CheckUsageError(
                f"your model's output is (N, {', '.join(map(str, shape))}), which {targets} targets do not fit"
                f" ({labels.description}); pass targets (--loss-targets) {' or '.join(fitting)}"
            )
    return LossSubject(factory, takes_base, lambda_names, model_factory, shape, labels, device)


def _prop_lambda_zero(subject: LossSubject, case: LossCase) -> None:
    model = subject.model(case)
    loss_fn = subject.build(model, case.lam)
    outputs, targets = subject.example(case)
    total, base = loss_fn(outputs, targets), subject.labels.base()(outputs, targets)
    assert torch.allclose(total.double(), base.double(), rtol=1e-6, atol=1e-12), (
        f"with lambda = 0 the loss is {float(total.detach()):.6g}, the base criterion {float(base):.6g}"
    )
    total.backward()
    touched = [n for n, p in model.named_parameters() if p.grad is not None and p.grad.any()]
    assert not touched, f"with lambda = 0 the loss still has a gradient on {', '.join(touched[:4])}"


def _prop_skips_unpenalized(subject: LossSubject, case: LossCase) -> None:
    model = subject.model(case)
    loss_fn = subject.build(model, case.lam)
    outputs, targets = subject.example(case)
    value = loss_fn(outputs, targets)  # the logits are constants: any dependence on the model is the penalty's
    value.backward()
    penalized = {n for n, _ in penalized_parameters(model)}
    for name, p in model.named_parameters():
        if name in penalized:
            continue
        assert p.grad is None or not p.grad.any(), f"the penalty has a gradient on {name} (shape {tuple(p.shape)})"
        saved = p.detach().clone()
        with torch.no_grad():
            p.add_(
                torch.rand(p.shape, generator=torch.Generator().manual_seed(case.seed)).to(p) + 0.5
            )  # +0.5..1.5 everywhere
            changed = loss_fn(outputs, targets)
            p.copy_(saved)
        assert torch.equal(changed.detach(), value.detach()), (
            f"changing {name} changed the loss from {float(value.detach()):.8g} to {float(changed):.8g}"
        )


def _prop_linear_in_lambda(subject: LossSubject, case: LossCase, scale: float) -> None:
    outputs, targets = subject.example(case)
    model = subject.model(case)
    with torch.no_grad():
        low = subject.penalty(subject.build(model, case.lam), outputs, targets).double()
        high = subject.penalty(subject.build(model, case.lam * scale), outputs, targets).double()
    assert torch.allclose(high, scale * low, rtol=1e-4, atol=1e-10), (
        f"penalty {float(low):.6g} at lambda {case.lam:.4g} but {float(high):.6g} at {scale:g} x lambda (expected"
        f" {scale * float(low):.6g})"
    )


def _prop_non_negative(subject: LossSubject, case: LossCase) -> None:
    outputs, targets = subject.example(case)
    with torch.no_grad():
        penalty = float(subject.penalty(subject.build(subject.model(case), case.lam), outputs, targets))
    assert penalty >= -1e-9, f"the penalty is {penalty:.6g}"


NO_LAMBDA = (
    "the constructor takes no lambda argument (only (base_criterion, model, lam, ...) constructors can be scaled)"
)


def _needs_lambda(subject: LossSubject) -> Optional[str]:
    return None if subject.lambda_names else NO_LAMBDA


LOSS_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "lambda_zero_is_base",
            "with every lambda = 0 the loss equals the base criterion and puts no gradient on the model",
            "lambda = 0 still penalizes: a default like `lam or 1e-4`, or a penalty not multiplied by lambda; "
            "use `if lam is None` for defaults and multiply the whole penalty by lambda",
            _prop_lambda_zero,
            lambda subject: {"case": subject.cases(lam=0.0)},
            _needs_lambda,
        ),
        Invariant(
            "penalty_skips_biases_and_1d",
            "changing a bias or another 1-D parameter (BatchNorm's weight and bias) leaves the loss unchanged, with"
            " zero gradient there",
            "the penalty reaches biases or 1-D parameters, which shift or rescale activations without simplifying the "
            "model; select weights with regbench.losses.penalized_parameters(model) (trainable, not a bias, ndim > 1)",
            _prop_skips_unpenalized,
            lambda subject: {"case": subject.cases()},
            lambda subject: (
                None if subject.unpenalized else "the model has no bias or 1-D parameter for a penalty to leave out"
            ),
        ),
        Invariant(
            "penalty_linear_in_lambda",
            "scaling every lambda by c scales the penalty (loss minus base criterion) by c",
            "the penalty is not lambda times a norm (lambda applied twice, or added rather than multiplied); "
            "return base + lam * norm(weights)",
            _prop_linear_in_lambda,
            lambda subject: {"case": subject.cases(), "scale": st.sampled_from((2.0, 3.0, 10.0, 0.5))},
            _needs_lambda,
        ),
        Invariant(
            "penalty_non_negative",
            "the penalty (loss minus base criterion) is never negative",
            "the penalty can be negative, so minimizing it grows weights instead of shrinking them (a sum of W "
            "without abs(), a sign error); use sum(|W|) or sum(W**2)",
            _prop_non_negative,
            lambda subject: {"case": subject.cases()},
            lambda subject: (
                None
                if subject.separable
                else (
                    "the loss is built by a function of the model alone, so its base criterion is unknown; pass a"
                    " (base_criterion, model, lam) class, or return a regbench PenaltyLoss"
                )
            ),
        ),
    )
}


def check_loss(
    factory: Any,
    *,
    model: Any = None,
    input_shape: Optional[Sequence[int]] = None,
    targets: str = "classes",
    max_examples: int = MAX_EXAMPLES,
    name: Optional[str] = None,
) -> Report:
    """Every loss invariant on ``factory``: a class or callable ``(base_criterion, model, lam, ...)``, or ``model ->
    loss``.

    The loss is built on regbench's three models with generated widths, or on copies of ``model``
    (a factory or module; ``input_shape`` as for check_model) when given. It is called on fixed
    logits and targets, so whatever depends on the model is the penalty; ``targets`` says their
    form (LABEL_FORMS: "classes", "probabilities", "dense" or "binary") and so the base criterion
    passed to a (base_criterion, model, lam) constructor: CrossEntropyLoss, or BCEWithLogitsLoss
    for binary targets. With ``model``, the logits take the shape of its output.
    """
    with rngs_restored():
        subject = loss_subject(factory, model, input_shape, targets)
        results = [invariant.result(subject, max_examples) for invariant in LOSS_INVARIANTS.values()]
    options = {
        "lambdas": ", ".join(subject.lambda_names) or "none",
        "targets": f"{targets}: {subject.labels.description}",
        "models": "yours" if model is not None else "regbench's",
        "examples": max_examples,
    }
    return Report(name or name_of(factory), "loss", results, options)
