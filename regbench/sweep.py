"""Train many runs of one architecture at once, stacked along a leading "member" dimension.

A sweep member is one (config, seed) run. Members that share an architecture (the plain and
dropout MLPs; the BatchNorm MLP) are trained together: weights stacked as (M, out, in), the
layers as batched matrix products (``torch.baddbmm``), BatchNorm with per-member running
statistics, dropout with a per-member rate, and the penalties with per-member, per-layer lambda
tensors. Each member keeps its own randomness, drawn in the same order as a run alone draws
it (initial weights, data order and augmentation, dropout masks), so a member follows the
trajectory of ``experiment.run_one`` with the same seed, up to float rounding.

Whether this pays depends on the device: on a 2-core CPU the update of M x 400k weights
dominates and one-by-one training is as fast or faster; on a GPU the stacked step replaces M
small kernel launches by one. ``choose_execution`` times both for a few steps and picks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from regbench import losses
from regbench.configs import Config
from regbench.data import Split, TensorLoader
from regbench.experiment import Settings, make_loaders, measure, prepare
from regbench.pool import default_workers, run_many, usable_workers, worker_threads
from regbench.train import EpochStats, TrainingDiverged, epoch_entry, seed_everything, synchronize, train_model

__all__ = ["EXECUTIONS", "Member", "StackedMLP", "choose_execution", "run_group", "run_matrix"]

EXECUTIONS = ("sweep", "single")
LAYERS = ("linear_1", "linear_2")
EVAL_CHUNK = 1024  # test samples per stacked forward: bounds (M, chunk, hidden) activations


@dataclass(frozen=True)
class Member:
    """One run inside a sweep."""

    config: Config
    seed: int


def architecture(config: Config) -> str:
    """Configs with the same parameter shapes can share one sweep (dropout has no parameters)."""
    return "batchnorm" if config.model == "batchnorm" else "mlp"


def _layer_lambdas(loss_fn: nn.Module, model: nn.Module) -> tuple[list[float], list[float]]:
    """Per-layer (L1, L2) lambdas read off a built loss, so the sweep never re-encodes what a config means."""
    l1, l2 = [0.0, 0.0], [0.0, 0.0]
    if isinstance(loss_fn, losses.PenaltyLoss):
        layer_of = {id(getattr(model, name).weight): k for k, name in enumerate(LAYERS)}
        for term in loss_fn.terms:
            target = l1 if term.norm is losses.l1_norm else l2 if term.norm is losses.squared_l2_norm else None
            if target is None:
                raise ValueError(f"the sweep engine supports L1 and squared-L2 penalties, not {term.norm!r}")
            for p in term.params:
                target[layer_of[id(p)]] += term.lam
    return l1, l2


class StackedMLP:
    """M members' parameters and per-member settings, with a batched forward pass."""

    def __init__(self, members: list[Member], device: torch.device) -> None:
        kinds = {architecture(m.config) for m in members}
        if len(kinds) != 1:
            raise ValueError(f"a sweep needs members of one architecture, got {sorted(kinds)}")
        self.members, self.device = members, device
        self.batchnorm = kinds == {"batchnorm"}
        states, l1, l2, self.dropout_rngs = [], [], [], []
        for m in members:
            seed_everything(m.seed)  # the same initial weights as run_one(m.config, m.seed)
            model = m.config.build_model()
            self.dropout_rngs.append(_generator_like_global(device))  # dropout draws continue this stream
            states.append({k: v.detach() for k, v in model.state_dict().items()})
            lam1, lam2 = _layer_lambdas(m.config.build_loss(model), model)
            l1.append(lam1)
            l2.append(lam2)
        stack = lambda key: torch.stack([s[key] for s in states]).to(device)  # noqa: E731
        self.params = {k: stack(k).requires_grad_() for k in ("linear_1.weight", "linear_1.bias", "linear_2.weight")}
        if self.batchnorm:
            self.params.update({k: stack(k).requires_grad_() for k in ("bn_1.weight", "bn_1.bias")})
            self.running_mean, self.running_var = stack("bn_1.running_mean"), stack("bn_1.running_var")
        self.l1 = torch.tensor(l1, device=device)  # (M, 2): lambda per member and layer
        self.l2 = torch.tensor(l2, device=device)
        self.dropout = [m.config.dropout if m.config.model == "dropout" else 0.0 for m in members]

    def forward(self, x: torch.Tensor, *, training: bool) -> torch.Tensor:
        """x: (M, B, 784) or (B, 784) shared by all members -> logits (M, B, classes)."""
        p = self.params
        hidden = torch.matmul(x, p["linear_1.weight"].transpose(1, 2)) + p["linear_1.bias"][:, None, :]
        if self.batchnorm:
            hidden = self._batchnorm(hidden, training=training)
        hidden = F.relu(hidden)
        if training and any(self.dropout):
            hidden = torch.stack([self._dropout(h, k) for k, h in enumerate(hidden.unbind(0))])
        return torch.bmm(hidden, p["linear_2.weight"].transpose(1, 2))

    def _batchnorm(self, hidden: torch.Tensor, *, training: bool) -> torch.Tensor:
        """Members' features side by side as one BatchNorm over M*H features: each keeps its own statistics."""
        m, b, h = hidden.shape
        flat = hidden.transpose(0, 1).reshape(b, m * h)
        out = F.batch_norm(
            flat, self.running_mean.view(-1), self.running_var.view(-1),
            self.params["bn_1.weight"].reshape(-1), self.params["bn_1.bias"].reshape(-1),
            training=training, momentum=0.1, eps=1e-5,  # nn.BatchNorm1d's defaults
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
        total = torch.zeros(len(self.members), device=self.device)
        for k, name in enumerate(LAYERS):
            w = self.params[f"{name}.weight"]
            total = total + self.l1[:, k] * w.abs().sum((1, 2)) + self.l2[:, k] * w.square().sum((1, 2))
        return total

    def member_model(self, k: int) -> nn.Module:
        """Member k as an ordinary model, so records are measured by the same code as single runs."""
        model = self.members[k].config.build_model().to(self.device)
        state = {name: t[k].detach() for name, t in self.params.items()}
        if self.batchnorm:
            state.update({"bn_1.running_mean": self.running_mean[k], "bn_1.running_var": self.running_var[k]})
        missing = model.load_state_dict(state, strict=False).missing_keys
        if set(missing) - {"bn_1.num_batches_tracked"}:  # the sweep does not count batches; nothing else may be missing
            raise RuntimeError(f"stacked state lacks {missing}")
        return model


def _generator_like_global(device: torch.device) -> torch.Generator:
    """A generator in the state the global RNG has now: where a lone run's dropout masks come from."""
    if device.type == "cuda":  # a lone CUDA run draws masks from the CUDA generator, fresh after seeding
        return torch.Generator(device=device).manual_seed(torch.cuda.initial_seed())
    generator = torch.Generator()
    generator.set_state(torch.get_rng_state())
    return generator


def _epoch_sums(logits: torch.Tensor, targets: torch.Tensor, penalty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """((M, 3) sums of base loss, penalty and correct predictions over a batch, (M,) mean base loss per member)."""
    m, b, c = logits.shape
    base = F.cross_entropy(logits.reshape(m * b, c), targets.reshape(m * b), reduction="none").view(m, b).mean(1)
    correct = (logits.argmax(2) == targets).sum(1)
    return torch.stack([base * b, penalty * b, correct.to(base.dtype)], dim=1), base


def _evaluate(net: StackedMLP, x: torch.Tensor, y: torch.Tensor) -> list[EpochStats]:
    """Eval-mode loss parts and accuracy of every member on one shared data set."""
    sums = torch.zeros(len(net.members), 3, device=net.device, dtype=torch.float64)
    with torch.no_grad():
        penalty = net.penalty()
        for xs, ys in zip(x.split(EVAL_CHUNK), y.split(EVAL_CHUNK)):
            logits = net.forward(xs.reshape(len(xs), -1), training=False)
            sums += _epoch_sums(logits, ys.expand(len(net.members), -1), penalty)[0].double()
    return [EpochStats.from_sums(*row, len(y)) for row in sums.cpu()]


def _train_group(net: StackedMLP, train_loaders: list[TensorLoader], test: TensorLoader, settings: Settings) -> tuple[list[list[dict]], float]:
    """Train all members together for settings.epochs: (each member's history, seconds spent in training steps)."""
    device = net.device
    train_y = train_loaders[0].targets
    histories: list[list[dict]] = [[] for _ in net.members]
    train_seconds, n = 0.0, len(train_y)
    rows = torch.arange(len(net.members), device=device)[:, None]
    optimizer = torch.optim.Adam(list(net.params.values()), lr=settings.lr, fused=True)
    for epoch in range(1, settings.epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        epochs = [lo.epoch() for lo in train_loaders]  # each member's augmentation and order, in run_one's draw order
        inputs = torch.stack([e[0] for e in epochs]).flatten(2)  # (M, N, 784)
        orders = torch.stack([e[1] for e in epochs])  # (M, N)
        sums = torch.zeros(len(net.members), 3, device=device, dtype=torch.float64)
        for idx in orders.split(settings.batch_size, dim=1):
            targets = train_y[idx]
            logits = net.forward(inputs[rows, idx], training=True)
            penalty = net.penalty()
            batch_sums, base = _epoch_sums(logits, targets, penalty.detach())
            optimizer.zero_grad(set_to_none=True)
            (base + penalty).sum().backward()  # members' losses are independent: the sum's gradient is each member's own
            optimizer.step()
            sums += batch_sums.detach().double()
        synchronize(device)
        train_seconds += time.perf_counter() - start
        train_stats = [EpochStats.from_sums(*row, n) for row in sums.cpu()]
        val_stats = _evaluate(net, test.inputs, test.targets)
        for k, (tr, va) in enumerate(zip(train_stats, val_stats)):
            histories[k].append(epoch_entry(epoch, tr, va))
    return histories, train_seconds


def run_group(members: list[Member], split: Split, settings: Settings) -> list[dict]:
    """Train all members together for settings.epochs; return one record per member, like run_one's."""
    started = time.perf_counter()
    device = torch.device(settings.device)
    net = StackedMLP(members, device)
    loaders = [make_loaders(m.config, m.seed, split, settings) for m in members]
    histories, train_seconds = _train_group(net, [lo[0] for lo in loaders], loaders[0][2], settings)
    samples = settings.epochs * len(split.train)
    records = []
    for k, m in enumerate(members):
        record = {"config": m.config.name, "seed": m.seed, "status": "ok", "engine": "fast", "execution": "sweep", "sweep_members": len(members)}
        last = histories[k][-1]
        if not all(torch.isfinite(torch.tensor([last["train_loss"], last["train_penalty"]]))):
            record.update(status="diverged", error=str(TrainingDiverged(
                f"{m.config.name} seed {m.seed}: the training loss became non-finite; lower the learning rate or the penalty lambda")))
            records.append(record)
            continue
        model = net.member_model(k)
        record.update(measure(model, m.config.build_loss(model), loaders[k][1], loaders[k][2], device))
        record.update(
            samples_per_second=samples / train_seconds,  # this member's share: all members trained in the same time
            torch_threads=torch.get_num_threads(),
            train_seconds=train_seconds,
            run_seconds=(time.perf_counter() - started) / len(members),
            history=histories[k],
        )
        records.append(record)
    return records


def choose_execution(members: list[Member], split: Split, settings: Settings, *, workers: int = 1, steps: int = 4) -> dict:
    """Time a few training steps both ways on this device and pick the faster: 'sweep' or 'single'.

    Only training steps are timed (no measuring of finished runs), after one warm-up step each
    way. One-by-one runs are timed for a spread of up to 8 members on one worker's share of the
    threads, scaled to all members, and credited with running on ``workers`` processes at once.
    """
    probe = Settings(epochs=1, batch_size=settings.batch_size, lr=settings.lr, device=settings.device, engine="fast")
    device = torch.device(settings.device)

    def shrunk(batches: int) -> Split:
        """The first few batches of training data and a token test set: enough to time steps."""
        n = min(len(split.train), batches * settings.batch_size)
        return Split(split.train.subset(torch.arange(n)), split.test.subset(torch.arange(min(len(split.test), 64))), split.source)

    def sweep(data: Split) -> float:
        loaders = [make_loaders(m.config, m.seed, data, probe) for m in members]
        return _train_group(StackedMLP(members, device), [lo[0] for lo in loaders], loaders[0][2], probe)[1]

    def single(data: Split) -> float:
        sample = members[::math.ceil(len(members) / 8)]  # runs alone do not slow each other: a spread of 8 stands for all
        with worker_threads(workers):
            runs = [prepare(m.config, m.seed, data, probe) for m in sample]
            seconds = sum(train_model(r.model, r.loss_fn, r.optimizer, r.train, r.test, 1, device=device, progress=False).train_seconds for r in runs)
        return seconds * len(members) / len(sample) / workers

    timings = {}
    for name, fn in (("sweep", sweep), ("single", single)):
        fn(shrunk(1))  # warm-up: first calls pay for allocation and kernel selection
        timings[name] = fn(shrunk(steps))
    choice = min(timings, key=timings.get)
    return {"choice": choice, "members": len(members), "workers": workers, "probe_train_seconds": timings}


def run_matrix(configs: list[Config], seeds: int, split: Split, settings: Settings, *, execution: Optional[str] = None,
               workers: Optional[int] = None) -> tuple[list[dict], dict]:
    """Every (config, seed), each architecture group swept or one by one as measured faster.

    ``execution`` forces 'sweep' or 'single' (None measures); the notebook engine always runs
    one by one. One-by-one runs go to ``workers`` processes (None: pool.default_workers).
    Returns the records in (config, seed) order and what was chosen per group.
    """
    if settings.engine == "notebook":
        execution = "single"
    elif execution not in (None, *EXECUTIONS):
        raise ValueError(f"unknown execution {execution!r}; choose one of {', '.join(EXECUTIONS)} or None to measure")
    groups: dict[str, list[Member]] = {}
    for config in configs:
        for seed in range(seeds):
            groups.setdefault(architecture(config), []).append(Member(config, seed))
    if workers is None:
        workers = default_workers(settings, len(configs) * seeds, samples=len(configs) * seeds * settings.epochs * len(split.train))
    workers = usable_workers(workers)  # before the probe, which credits one-by-one runs with the workers
    records, chosen, singles = {}, {}, []
    for name, members in groups.items():
        decision = {"choice": execution, "members": len(members)} if execution else choose_execution(members, split, settings, workers=workers)
        chosen[name] = decision
        if decision["choice"] == "sweep":
            records.update({(r["config"], r["seed"]): r for r in run_group(members, split, settings)})
        else:
            decision["workers"] = workers
            singles += members
    records.update({(r["config"], r["seed"]): r for r in run_many([(m.config, m.seed) for m in singles], split, settings, workers=workers)})
    return [records[(c.name, s)] for c in configs for s in range(seeds)], chosen
