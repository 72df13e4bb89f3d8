"""All three models in eval mode: a sample's prediction is the same alone or inside any batch; one prediction per sample."""

from __future__ import annotations

import dataclasses
import math

import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from properties import strategies as gen
from properties.support import seeded
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout

CLASSES = {"plain": FullyConnected, "dropout": FullyConnectedDropout, "batchnorm": FullyConnectedBatchNorm}
INPUTS = dict(case=gen.model_cases(), data=st.data())
# float32 matmuls of different batch sizes may take different kernels and summation orders; for
# widths <= 24 and |x| <= 1 that moves a logit by a few float32 ulps, far below 1e-4. The mutants
# below change predictions by amounts of the order of the logits themselves.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def trained_state(model: torch.nn.Module, spec: gen.ModelSpec, device: torch.device) -> torch.nn.Module:
    """Give BatchNorm non-trivial running statistics and affine parameters, as after training."""
    if hasattr(model, "bn_1"):
        with torch.no_grad(), seeded(spec.seed, device):
            model.bn_1.weight.uniform_(0.5, 2.0)
            model.bn_1.bias.uniform_(-1.0, 1.0)
            model.train()(torch.randn(8, spec.input_size, device=device) * 2 + 0.5)
    return model.eval()


def check_batch_independent_in_eval(model_class, device, *, case: gen.ModelCase, data: st.DataObject) -> None:
    """Predict sample i alone, in the generated batch, and among other generated samples: all agree."""
    model = trained_state(case.spec.build(model_class, device), case.spec, device)
    x = case.inputs.to(device)
    i = data.draw(st.integers(0, len(x) - 1), label="sample")
    others = data.draw(gen.batches(case.spec.input_size, min_size=0), label="other samples").to(device)
    j = data.draw(st.integers(0, len(others)), label="position among them")
    with torch.no_grad():
        try:
            alone = model(x[i : i + 1])[0]
        except Exception as error:  # a crash is a wrong answer too, but report it as the property's failure
            raise AssertionError(f"eval-mode prediction of a single sample raised {error!r}") from error
        in_batch = model(x)[i]
        among_others = model(torch.cat([others[:j], x[i : i + 1], others[j:]]))[j]
    torch.testing.assert_close(in_batch, alone, **TOLERANCE, msg="prediction in the batch differs from the sample alone")
    torch.testing.assert_close(among_others, alone, **TOLERANCE, msg="prediction depends on the other samples in the batch")


@given(**INPUTS)
def test_eval_prediction_independent_of_batch(device, case, data):
    """Deployment predicts one sample at a time, evaluation predicts batches: they must agree, for every model."""
    check_batch_independent_in_eval(CLASSES[case.spec.kind], device, case=case, data=data)


def inputs_for(kind: str) -> dict:
    """The same property's inputs restricted to one model kind (a mutant is one class)."""
    return dict(case=gen.model_cases(kinds=(kind,)), data=st.data())


# ------------------------------------------------------------------------- inputs of the wrong size


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


def check_one_prediction_per_sample(model_class, device, *, case: gen.ModelCase) -> None:
    """N samples of input_size values give N predictions; samples of another size are a ValueError naming input_size."""
    model = case.spec.build(model_class, device).eval()
    x = case.inputs.to(device)
    per_sample = math.prod(x.shape[1:])
    if per_sample == case.spec.input_size:
        assert model(x).shape == (len(x), case.spec.output_size)
        return
    try:
        out = model(x)
    except ValueError as error:
        assert str(case.spec.input_size) in str(error), f"the error does not say the model takes {case.spec.input_size} values: {error}"
        return
    except Exception as error:
        raise AssertionError(f"samples of {per_sample} values for input_size={case.spec.input_size} raised {error!r}, not a ValueError saying what fits") from error
    raise AssertionError(f"{len(x)} samples of {per_sample} values (input_size={case.spec.input_size}) gave {tuple(out.shape)}: the samples were silently re-batched")


@given(**SIZE_INPUTS)
def test_one_prediction_per_sample_or_a_clear_error(device, case):
    """A batch of the wrong image size must be refused, not turned into a different number of samples."""
    check_one_prediction_per_sample(CLASSES[case.spec.kind], device, case=case)
