"""Decoupled weight decay (AdamW, Loshchilov and Hutter 2019): one step moves each penalized weight by the Adam step
on the base loss plus -lr * wd * w, moves every other parameter by the Adam step alone, and differs from Adam +
RidgeLoss.
"""

from __future__ import annotations

import copy

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from properties.support import assert_values_close, is_penalized, seeded
from regbench.checks import strategies as gen
from regbench.configs import Config
from regbench.losses import RidgeLoss
from regbench.models import FullyConnected


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimizer regbench builds for a config with optimizer=AdamW (parameter groups by the penalty rule)."""
    config = Config(
        name="adamw", model=FullyConnected, optimizer=torch.optim.AdamW, optimizer_args={"weight_decay": weight_decay}
    )
    return config.build_optimizer(model, lr)


STEP_INPUTS = dict(
    case=gen.model_cases(min_batch=2),
    weight_decay=st.floats(1e-3, 1.0),
    lr=st.floats(1e-4, 1e-1),
    seed=gen.seeds(),
)


def _one_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
    device,
) -> None:
    """One optimizer step on loss_fn(model(x), targets), dropout masks drawn from ``seed``."""
    with seeded(seed, device):
        loss_fn(model(x), targets).backward()
    optimizer.step()


def _case(case: gen.ModelCase, seed: int, device) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The case's model in float64 (so the decay term -lr*wd*w is far above rounding) and its batch with targets."""
    model = case.spec.build(device=device).double().train()
    x = case.inputs.to(device).double()
    with seeded(seed, device):
        targets = torch.randint(case.spec.output_size, (len(x),), device=device)
    return model, x, targets


def check_decoupled_step(
    optimizer_factory, device, *, case: gen.ModelCase, weight_decay: float, lr: float, seed: int
) -> None:
    """After one step: penalized w == Adam's w - lr * wd * w_before; biases and 1-D parameters == Adam's, exactly as
    without decay.
    """
    decayed, x, targets = _case(case, seed, device)
    plain = copy.deepcopy(decayed)
    before = {name: p.detach().clone() for name, p in decayed.named_parameters()}
    base = nn.CrossEntropyLoss()
    _one_step(decayed, optimizer_factory(decayed, lr, weight_decay), base, x, targets, seed, device)
    _one_step(plain, torch.optim.Adam(plain.parameters(), lr=lr), base, x, targets, seed, device)
    for (name, p), q in zip(decayed.named_parameters(), plain.parameters(), strict=True):
        expected = q.detach() - lr * weight_decay * before[name] if is_penalized(name, p) else q.detach()
        what = (
            "the Adam step plus -lr * wd * w"
            if is_penalized(name, p)
            else "the Adam step alone (no decay on biases and 1-D parameters)"
        )
        assert_values_close(p.detach(), expected, rtol=1e-9, atol=1e-12, what=f"{name} did not move by {what}")


@given(**STEP_INPUTS)
def test_one_adamw_step_is_adam_plus_decoupled_decay(device, case, weight_decay, lr, seed):
    """What defines decoupled weight decay: the shrinkage is added to the Adam step, not fed through Adam's
    normalization.
    """
    check_decoupled_step(adamw, device, case=case, weight_decay=weight_decay, lr=lr, seed=seed)


def check_differs_from_coupled_ridge(
    optimizer_factory, device, *, case: gen.ModelCase, weight_decay: float, lr: float, seed: int
) -> None:
    """Adam on base + RidgeLoss(wd / 2) (the same pull, 2 * lambda * w = wd * w, coupled into the gradient) lands
    elsewhere.
    """
    decoupled, x, targets = _case(case, seed, device)
    coupled = copy.deepcopy(decoupled)
    _one_step(
        decoupled, optimizer_factory(decoupled, lr, weight_decay), nn.CrossEntropyLoss(), x, targets, seed, device
    )
    _one_step(
        coupled,
        torch.optim.Adam(coupled.parameters(), lr=lr),
        RidgeLoss(nn.CrossEntropyLoss(), coupled, weight_decay / 2),
        x,
        targets,
        seed,
        device,
    )
    gaps = [
        float((p - q).detach().abs().max())
        for (name, p), q in zip(decoupled.named_parameters(), coupled.parameters())
        if is_penalized(name, p)
    ]
    assert max(gaps) > 1e-12, (
        "one step of the decoupled decay equals one step of Adam + RidgeLoss: the decay is coupled into Adam's"
        " normalization"
    )


@given(**STEP_INPUTS)
def test_adamw_differs_from_adam_with_ridge(device, case, weight_decay, lr, seed):
    """The coupling AdamW removes: Adam normalizes a Ridge gradient away, AdamW's decay is proportional to the
    weight.
    """
    check_differs_from_coupled_ridge(adamw, device, case=case, weight_decay=weight_decay, lr=lr, seed=seed)
