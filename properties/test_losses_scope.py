"""The mixed loss penalizes exactly the layers it names, once each, and refuses names that match no weight (biases
and 1-D parameters: test_invariants.py).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from properties.support import assert_penalty_gradient, is_penalized
from regbench.checks import strategies as gen
from regbench.losses import MixedL1L2Loss

# ------------------------------------------------------------------------------------- mixed loss

LAYERS = ("linear_1", "linear_2")
layer_lists = st.lists(st.sampled_from(LAYERS), min_size=1, max_size=len(LAYERS), unique=True)
MIXED_INPUTS = dict(
    spec=gen.model_specs(), l1_layers=layer_lists, l2_layers=layer_lists, l1=gen.lambdas(), l2=gen.lambdas()
)


def check_mixed_penalizes_named_layers(
    mixed_factory, device, *, spec: gen.ModelSpec, l1_layers: list[str], l2_layers: list[str], l1: float, l2: float
) -> None:
    """Gradient of the mixed penalty: l1*sign(W) on the l1 layers' weights, plus 2*l2*W on the l2 layers', zero
    elsewhere.
    """
    model = spec.build(device=device)
    mixed_factory(nn.MSELoss(), model, l1, l2, l1_layers=l1_layers, l2_layers=l2_layers).penalty().backward()
    for name, p in model.named_parameters():
        layer = name.rsplit(".", 1)[0]
        expected = torch.zeros_like(p)
        if is_penalized(name, p):
            expected = (
                expected
                + (l1 * torch.sign(p.detach()) if layer in l1_layers else 0)
                + (2 * l2 * p.detach() if layer in l2_layers else 0)
            )
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        assert_penalty_gradient(
            grad, expected, what=f"mixed penalty gradient on {name} (l1 on {l1_layers}, l2 on {l2_layers})"
        )


@given(**MIXED_INPUTS)
def test_mixed_loss_penalizes_exactly_the_named_layers(device, spec, l1_layers, l2_layers, l1, l2):
    """The notebook's exercise: Lasso on one layer, Ridge on another, nothing anywhere else."""
    check_mixed_penalizes_named_layers(
        MixedL1L2Loss, device, spec=spec, l1_layers=l1_layers, l2_layers=l2_layers, l1=l1, l2=l2
    )


# A typo, a parameter's name instead of its layer's, a container, a layer with no weight matrix.
BAD_LAYERS = ("linear_3", "Linear_1", "linear_1.weight", "linear", "", "bn_1")
BAD_LAYER_INPUTS = dict(
    spec=gen.model_specs(),
    good=layer_lists,
    bad=st.sampled_from(BAD_LAYERS),
    position=st.integers(0, len(LAYERS)),
    in_l1=st.booleans(),
)


def check_mixed_rejects_unknown_layers(
    mixed_factory, device, *, spec: gen.ModelSpec, good: list[str], bad: str, position: int, in_l1: bool
) -> None:
    """A layer name with no weight matrix behind it is a ValueError that names it, never a penalty silently left off."""
    model = spec.build(device=device)
    named = [*good[:position], bad, *good[position:]]
    l1_layers, l2_layers = (named, ["linear_1"]) if in_l1 else (["linear_2"], named)
    try:
        mixed_factory(nn.MSELoss(), model, 1e-4, 1e-3, l1_layers=l1_layers, l2_layers=l2_layers)
    except ValueError as error:
        assert repr(bad) in str(error), f"the error does not name the layer {bad!r}: {error}"
    else:
        raise AssertionError(f"layer {bad!r} in {'l1' if in_l1 else 'l2'}_layers={named} was accepted")


@given(**BAD_LAYER_INPUTS)
def test_mixed_loss_rejects_unknown_layers(device, spec, good, bad, position, in_l1):
    """A typo in a layer name must not turn a penalty off without a word."""
    check_mixed_rejects_unknown_layers(
        MixedL1L2Loss, device, spec=spec, good=good, bad=bad, position=position, in_l1=in_l1
    )


REPEATED_INPUTS = dict(
    spec=gen.model_specs(),
    l1_layers=st.lists(st.sampled_from(LAYERS), min_size=1, max_size=4),
    l2_layers=st.lists(st.sampled_from(LAYERS), min_size=1, max_size=4),
    l1=gen.lambdas(),
    l2=gen.lambdas(),
)


@given(**REPEATED_INPUTS)
def test_mixed_loss_penalizes_a_repeated_layer_once(device, spec, l1_layers, l2_layers, l1, l2):
    """Naming a layer twice (a list built by concatenation, say) must not double its penalty."""
    check_mixed_penalizes_named_layers(
        MixedL1L2Loss, device, spec=spec, l1_layers=l1_layers, l2_layers=l2_layers, l1=l1, l2=l2
    )
