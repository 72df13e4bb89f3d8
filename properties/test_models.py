"""All three models: one prediction per sample, or a clear error for samples of the wrong size (batch independence:
test_invariants.py).
"""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regbench.checks import strategies as gen
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout

CLASSES = {"plain": FullyConnected, "dropout": FullyConnectedDropout, "batchnorm": FullyConnectedBatchNorm}


@st.composite
def sized_cases(draw: st.DrawFn, *, kinds: tuple[str, ...] = gen.KINDS) -> gen.ModelCase:
    """A batch whose samples have any shape; about half the time their size is the model's input_size."""
    features = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6))
    spec = draw(gen.model_specs(kinds=kinds))
    size = math.prod(features) if draw(st.booleans()) else spec.input_size
    spec = dataclasses.replace(spec, input_size=size)
    n = draw(st.integers(1, gen.MAX_BATCH))
    return gen.ModelCase(spec, draw(gen.tensors((n, *features))))


SIZE_INPUTS = dict(case=sized_cases())


def check_one_prediction_per_sample(classes, device, *, case: gen.ModelCase) -> None:
    """N samples of input_size values give N predictions; samples of another size are a ValueError naming input_size.

    ``classes`` maps each kind to its model class (regbench's CLASSES, or mutants of them). Any other exception is a
    crash
    of the model, not this property's failure, and propagates as it is.
    """
    model = case.spec.build(classes[case.spec.kind], device).eval()
    x = case.inputs.to(device)
    per_sample = math.prod(x.shape[1:])
    if per_sample == case.spec.input_size:
        assert model(x).shape == (len(x), case.spec.output_size), f"{len(x)} samples gave {tuple(model(x).shape)}"
        return
    try:
        out = model(x)
    except ValueError as error:
        assert str(case.spec.input_size) in str(error), (
            f"the error does not say the model takes {case.spec.input_size} values: {error}"
        )
        return
    raise AssertionError(
        f"{len(x)} samples of {per_sample} values (input_size={case.spec.input_size}) gave {tuple(out.shape)}: the"
        " samples were silently re-batched"
    )


@given(**SIZE_INPUTS)
def test_one_prediction_per_sample_or_a_clear_error(device, case):
    """A batch of the wrong image size must be refused, not turned into a different number of samples."""
    check_one_prediction_per_sample(CLASSES, device, case=case)
