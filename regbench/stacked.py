"""The stacked engine: many runs of one architecture trained at once, along a leading "member" dimension.

A member is one (config, seed) run (execution ``"sweep"`` in its record). Members whose built
model is one of the notebook's MLPs with the same widths (plain and dropout together; BatchNorm
apart) train together: weights stacked as (M, out, in), the layers as batched matrix products,
BatchNorm with per-member running statistics, dropout with a per-member rate, the penalties with
per-member, per-layer lambda tensors. Each member is built by ``experiment.prepare``, exactly as
its lone run is, and keeps its own randomness in the same order (initial weights, data order
and augmentation, dropout masks), so it follows the trajectory of ``experiment.run_one`` with
the same seed, up to float rounding.

What a member means is read off the objects its config built (``plan``), never re-derived from
names: layer widths from the weights, the dropout rate from the Dropout module, BatchNorm's eps
and momentum from the BatchNorm module, lambdas and norms from the PenaltyLoss terms, lr, betas
and eps from the Adam optimizer. Anything it cannot represent exactly (another model, loss,
optimizer, or an augmentation that draws from the global RNG) gets a reason, and the matrix
trains that config one by one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from regbench import losses, models
from regbench.data import Split, TensorLoader, as_inputs
from regbench.experiment import Cell, Prepared, Settings, make_record, measure, prepare
from regbench.records import RunRecord
from regbench.train import EpochStats, History, TrainingDiverged, epoch_entry, rngs_restored, synchronize

__all__ = ["Architecture", "MemberPlan", "StackedMLP", "plan", "run_group"]

LAYERS = ("linear_1", "linear_2")
EVAL_CHUNK = 1024  # test samples per stacked forward: bounds (M, chunk, hidden) activations
MODELS = (
    models.FullyConnected,
    models.FullyConnectedDropout,
    models.FullyConnectedBatchNorm,
)  # exact types: a subclass may change forward


@dataclass(frozen=True)
class Architecture:
    """What members must share to be stacked: parameter shapes, BatchNorm's constants, Adam's settings."""

    sizes: tuple[int, int, int]  # input, hidden, output
    batchnorm: Optional[tuple[float, float]]  # (eps, momentum), or None without BatchNorm
    adam: tuple[float, tuple[float, float], float]  # lr, betas, eps
    label_smoothing: float = 0.0  # the cross-entropy's, one for the whole stack


@dataclass(frozen=True)
class MemberPlan:
    """One member as the stacked engine represents it."""

    architecture: Architecture
    dropout: float
    l1: tuple[float, float]  # lambda per layer (linear_1, linear_2)
    l2: tuple[float, float]


def plan(run: Prepared) -> Union[MemberPlan, str]:
    """How the stacked engine represents a built run, or why it cannot represent it exactly."""
    model, loss_fn, optimizer = run.model, run.loss_fn, run.optimizer
    if run.stopping is not None:
        return "early stopping ends each run at its own epoch"
    if type(model) not in MODELS:
        return (
            f"the model is {type(model).__name__}, not one of the notebook's MLPs"
            f" ({', '.join(m.__name__ for m in MODELS)})"
        )
    dropout = 0.0
    if isinstance(model, models.FullyConnectedDropout):
        if type(model.dropout) is not nn.Dropout:
            return f"its dropout layer is {type(model.dropout).__name__}, not nn.Dropout"
        dropout = float(model.dropout.p)
    batchnorm = None
    if isinstance(model, models.FullyConnectedBatchNorm):
        bn = model.bn_1
        if type(bn) is not nn.BatchNorm1d or not bn.affine or not bn.track_running_stats or bn.momentum is None:
            return "its BatchNorm is not an affine nn.BatchNorm1d with running statistics and a momentum"
        batchnorm = (float(bn.eps), float(bn.momentum))
    base = loss_fn.base if isinstance(loss_fn, losses.PenaltyLoss) else loss_fn
    smoothing = _label_smoothing(base)
    if smoothing is None:
        return f"the base criterion is {base!r}, not cross-entropy with mean reduction and no class weights"
    lambdas = _layer_lambdas(loss_fn, model)
    if isinstance(lambdas, str):
        return lambdas
    adam = _adam_settings(optimizer, model)
    if isinstance(adam, str):
        return adam
    if _augment_uses_global_rng(run.train):
        return (
            "its augmentation draws from torch's global RNG instead of the generator it is given, so a member could not"
            " replay it"
        )
    sizes = (model.linear_1.in_features, model.linear_1.out_features, model.linear_2.out_features)
    return MemberPlan(Architecture(sizes, batchnorm, adam, smoothing), dropout, *lambdas)


def _label_smoothing(criterion: object) -> Optional[float]:
    """The label smoothing of a criterion the stacked step can compute (mean cross-entropy without class weights), or
    None.
    """
    if type(criterion) is nn.CrossEntropyLoss and criterion.weight is None and criterion.reduction == "mean":
        return float(criterion.label_smoothing)
    return None


def _layer_lambdas(loss_fn: nn.Module, model: nn.Module) -> Union[tuple[tuple[float, float], tuple[float, float]], str]:
    """Per-layer (L1, L2) lambdas read off the built loss's terms, or why the loss is not stackable."""
    l1, l2 = [0.0, 0.0], [0.0, 0.0]
    if not isinstance(loss_fn, losses.PenaltyLoss):
        return (0.0, 0.0), (0.0, 0.0)  # the criterion alone, already checked
    overridden = [
        m for m in ("forward", "parts", "penalty") if getattr(type(loss_fn), m) is not getattr(losses.PenaltyLoss, m)
    ]
    if overridden:
        return f"{type(loss_fn).__name__} overrides PenaltyLoss.{overridden[0]}"
    layer_of = {id(getattr(model, name).weight): k for k, name in enumerate(LAYERS)}
    for term in loss_fn.terms:
        target = l1 if term.norm is losses.l1_norm else l2 if term.norm is losses.squared_l2_norm else None
        if type(term) is not losses.PenaltyTerm or target is None:
            return f"the {term.name} penalty term is not regbench's L1 or squared-L2 norm"
        for p in term.params:
            if id(p) not in layer_of:
                return f"the {term.name} penalty acts on a parameter other than the two weight matrices"
            target[layer_of[id(p)]] += term.lam
    return (l1[0], l1[1]), (l2[0], l2[1])


def _adam_settings(
    optimizer: torch.optim.Optimizer, model: nn.Module
) -> Union[tuple[float, tuple[float, float], float], str]:
    """(lr, betas, eps) of a plain Adam over all the model's parameters, or why the optimizer is not stackable."""
    if type(optimizer) is not torch.optim.Adam:
        return f"the optimizer is {type(optimizer).__name__}, not torch.optim.Adam"
    groups = optimizer.param_groups
    if sorted(id(p) for g in groups for p in g["params"]) != sorted(id(p) for p in model.parameters()):
        return "the optimizer does not update exactly the model's parameters"
    if any(
        g["weight_decay"]
        or g["amsgrad"]
        or g["maximize"]
        or g.get("decoupled_weight_decay")
        or isinstance(g["lr"], torch.Tensor)
        for g in groups
    ):
        return "the optimizer is Adam with weight decay, AMSGrad, maximize or a tensor lr"
    settings = {(float(g["lr"]), (float(g["betas"][0]), float(g["betas"][1])), float(g["eps"])) for g in groups}
    if len(settings) != 1:
        return "the optimizer's parameter groups have different lr, betas or eps"
    return settings.pop()


def _augment_uses_global_rng(train: object) -> bool:
    """Run the augmentation once on two images: does it move torch's global RNG (which members do not replay)?"""
    if not isinstance(train, TensorLoader):
        return True  # the notebook engine's DataLoader: never stacked
    if train.transform is None:
        return False
    with rngs_restored():
        before = torch.get_rng_state()
        train.transform(as_inputs(train.inputs[:2]), torch.Generator().manual_seed(0))
        return not torch.equal(before, torch.get_rng_state())


class StackedMLP:
    """M members' parameters and per-member settings, with a batched forward pass."""

    def __init__(
        self, runs: list[Prepared], plans: list[MemberPlan], dropout_rngs: list[torch.Generator], device: torch.device
    ) -> None:
        architectures = {p.architecture for p in plans}
        if len(architectures) != 1:
            raise ValueError(f"a stacked group needs members of one architecture, got {len(architectures)}")
        self.architecture = architectures.pop()
        self.device, self.size, self.dropout_rngs = device, len(runs), dropout_rngs
        states = [{k: v.detach() for k, v in r.model.state_dict().items()} for r in runs]
        stack = lambda key: torch.stack([s[key] for s in states]).to(device)  # noqa: E731
        self.params = {k: stack(k).requires_grad_() for k in ("linear_1.weight", "linear_1.bias", "linear_2.weight")}
        if self.architecture.batchnorm is not None:
            self.params.update({k: stack(k).requires_grad_() for k in ("bn_1.weight", "bn_1.bias")})
            self.running_mean, self.running_var = stack("bn_1.running_mean"), stack("bn_1.running_var")
        self.l1 = torch.tensor([p.l1 for p in plans], device=device)  # (M, 2): lambda per member and layer
        self.l2 = torch.tensor([p.l2 for p in plans], device=device)
        self.dropout = [p.dropout for p in plans]

    def forward(self, x: torch.Tensor, *, training: bool) -> torch.Tensor:
        """x: (M, B, features) or (B, features) shared by all members -> logits (M, B, classes)."""
        p = self.params
        hidden = torch.matmul(x, p["linear_1.weight"].transpose(1, 2)) + p["linear_1.bias"][:, None, :]
        if self.architecture.batchnorm is not None:
            hidden = self._batchnorm(hidden, training=training)
        hidden = F.relu(hidden)
        if training and any(self.dropout):
            hidden = torch.stack([self._dropout(h, k) for k, h in enumerate(hidden.unbind(0))])
        return torch.bmm(hidden, p["linear_2.weight"].transpose(1, 2))

    def _batchnorm(self, hidden: torch.Tensor, *, training: bool) -> torch.Tensor:
        """Members' features side by side as one BatchNorm over M*H features: each keeps its own statistics."""
        m, b, h = hidden.shape
        eps, momentum = self.architecture.batchnorm
        flat = hidden.transpose(0, 1).reshape(b, m * h)
        out = F.batch_norm(
            flat,
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.params["bn_1.weight"].reshape(-1),
            self.params["bn_1.bias"].reshape(-1),
            training=training,
            momentum=momentum,
            eps=eps,
        )
        return out.view(b, m, h).transpose(0, 1)

    def _dropout(self, hidden: torch.Tensor, k: int) -> torch.Tensor:
        """F.dropout's own arithmetic (bernoulli mask / (1 - p), then multiply) on member k's generator."""
        p = self.dropout[k]
        if p == 0.0:
            return hidden
        noise = torch.empty_like(hidden).bernoulli_(1 - p, generator=self.dropout_rngs[k])
        return hidden * noise.div_(1 - p)

    def penalty(self) -> torch.Tensor:
        """(M,) penalty per member: sum over layers of lambda_1 |W|_1 + lambda_2 |W|_2^2."""
        total = torch.zeros(self.size, device=self.device)
        for k, name in enumerate(LAYERS):
            w = self.params[f"{name}.weight"]
            total = total + self.l1[:, k] * w.abs().sum((1, 2)) + self.l2[:, k] * w.square().sum((1, 2))
        return total

    def load_member(self, k: int, model: nn.Module) -> nn.Module:
        """Copy member k's trained state into its own built model, so it is measured by the same code as a lone run."""
        state = {name: t[k].detach() for name, t in self.params.items()}
        if self.architecture.batchnorm is not None:
            state.update({"bn_1.running_mean": self.running_mean[k], "bn_1.running_var": self.running_var[k]})
        missing = model.load_state_dict(
            state, strict=False
        ).missing_keys  # copies in place: the loss's references stay valid
        if set(missing) - {
            "bn_1.num_batches_tracked"
        }:  # the stacked engine does not count batches; nothing else may be missing
            raise RuntimeError(f"stacked state lacks {missing}")
        return model


def _generator_like_global(device: torch.device) -> torch.Generator:
    """A generator in the state the global RNG has now: where a lone run's dropout masks come from."""
    if device.type == "cuda":  # a lone CUDA run draws masks from the CUDA generator, fresh after seeding
        return torch.Generator(device=device).manual_seed(torch.cuda.initial_seed())
    generator = torch.Generator()
    generator.set_state(torch.get_rng_state())
    return generator


def _epoch_sums(
    logits: torch.Tensor, targets: torch.Tensor, penalty: torch.Tensor, smoothing: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """((M, 3) sums of base loss, penalty and correct predictions over a batch, (M,) mean base loss per member)."""
    m, b, c = logits.shape
    base = (
        F.cross_entropy(logits.reshape(m * b, c), targets.reshape(m * b), reduction="none", label_smoothing=smoothing)
        .view(m, b)
        .mean(1)
    )
    correct = (logits.argmax(2) == targets).sum(1)
    return torch.stack([base * b, penalty * b, correct.to(base.dtype)], dim=1), base


def _evaluate(net: StackedMLP, x: torch.Tensor, y: torch.Tensor) -> list[EpochStats]:
    """Eval-mode loss parts and accuracy of every member on one shared data set."""
    sums = torch.zeros(net.size, 3, device=net.device, dtype=torch.float64)
    with torch.no_grad():
        penalty = net.penalty()
        for xs, ys in zip(x.split(EVAL_CHUNK), y.split(EVAL_CHUNK)):
            logits = net.forward(as_inputs(xs).reshape(len(xs), -1), training=False)
            sums += _epoch_sums(logits, ys.expand(net.size, -1), penalty, net.architecture.label_smoothing)[0].double()
    return [EpochStats.from_sums(*row, len(y)) for row in sums.cpu()]


def _train_group(
    net: StackedMLP, train_loaders: list[TensorLoader], test: TensorLoader, settings: Settings
) -> tuple[list[list[dict]], list[float]]:
    """Train all members together for settings.epochs: (each member's history, each epoch's seconds in training
    steps).
    """
    device = net.device
    train_y = train_loaders[0].targets
    histories: list[list[dict]] = [[] for _ in range(net.size)]
    epoch_seconds, n = [], len(train_y)
    rows = torch.arange(net.size, device=device)[:, None]
    lr, betas, eps = net.architecture.adam
    optimizer = torch.optim.Adam(list(net.params.values()), lr=lr, betas=betas, eps=eps, fused=True)
    for epoch in range(1, settings.epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        epochs = [lo.epoch() for lo in train_loaders]  # each member's augmentation and order, in run_one's draw order
        inputs = torch.stack([as_inputs(e[0]) for e in epochs]).flatten(2)  # (M, N, features)
        orders = torch.stack([e[1] for e in epochs])  # (M, N)
        sums = torch.zeros(net.size, 3, device=device, dtype=torch.float64)
        for idx in orders.split(settings.batch_size, dim=1):
            targets = train_y[idx]
            logits = net.forward(inputs[rows, idx], training=True)
            penalty = net.penalty()
            batch_sums, base = _epoch_sums(logits, targets, penalty.detach(), net.architecture.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            (
                base + penalty
            ).sum().backward()  # members' losses are independent: the sum's gradient is each member's own
            optimizer.step()
            sums += batch_sums.detach().double()
        synchronize(device)
        epoch_seconds.append(time.perf_counter() - start)
        train_stats = [EpochStats.from_sums(*row, n) for row in sums.cpu()]
        val_stats = _evaluate(net, test.inputs, test.targets)
        for k, (tr, va) in enumerate(zip(train_stats, val_stats)):
            histories[k].append(epoch_entry(epoch, tr, va))
    return histories, epoch_seconds


def _stack(cells: list[Cell], split: Split, settings: Settings) -> tuple[list[Prepared], StackedMLP]:
    """Each member built as its lone run is, its dropout stream taken where that run's would start, then stacked."""
    device = torch.device(settings.device)
    runs, plans, rngs = [], [], []
    for cell in cells:
        run = prepare(cell.config, cell.seed, split, settings)
        rngs.append(
            _generator_like_global(device)
        )  # right after prepare, as in run_one: the next global draws are dropout masks
        member = plan(run)
        if isinstance(member, str):
            raise ValueError(f"{cell.config.name} cannot be stacked: {member}")
        runs.append(run)
        plans.append(member)
    return runs, StackedMLP(runs, plans, rngs, device)


def run_group(cells: list[Cell], split: Split, settings: Settings) -> list[RunRecord]:
    """Train all cells together for settings.epochs; one record per cell, as run_one's."""
    started = time.perf_counter()
    device = torch.device(settings.device)
    runs, net = _stack(cells, split, settings)
    histories, epoch_seconds = _train_group(net, [r.train for r in runs], runs[0].test, settings)
    share = [seconds / len(cells) for seconds in epoch_seconds]  # each member's share of the stack's time
    samples = settings.epochs * len(split.train)
    records = []
    for k, (cell, run) in enumerate(zip(cells, runs)):
        shared = dict(execution="sweep", members=len(cells), run_seconds=(time.perf_counter() - started) / len(cells))
        last = histories[k][-1]
        if not all(torch.isfinite(torch.tensor([last["train_loss"], last["train_penalty"]]))):
            error = TrainingDiverged(
                f"{cell.config.name} seed {cell.seed}: the training loss became non-finite; lower the learning rate or"
                " the penalty lambda"
            )
            records.append(make_record(cell, settings, error=str(error), **shared))
            continue
        model = net.load_member(k, run.model)
        # a member's time is its share of the stack's: samples/s then means what a lone run's does (its samples per
        # second
        # of the machine's training time spent on it), and equals the whole stack's throughput
        history = History(histories[k], train_seconds=sum(share), train_samples=samples, epoch_seconds=share)
        records.append(
            make_record(
                cell,
                settings,
                measurement=measure(model, run.loss_fn, run.clean_train, run.test, device),
                history=history,
                **shared,
            )
        )
    return records
