"""The notebook's transforms: what each contains, sized by input_shape, and that the digit preset never flips;
BatchAugment on square images draws and outputs exactly what the digits' committed records were made with."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

from regbench import augment
from regbench.augment import (
    AugmentParams,
    BatchAugment,
    digit_train_transform,
    notebook_train_transform,
    test_transform,
)
from regbench.data import embedded_digits

# The CPU kernels the digits' committed records were made with: the square formula is bit-identical to them there.
RECORDS_KERNELS = json.loads((Path(__file__).parent / "data" / "digits_records_f9c75e7.json").read_text())[
    "cpu_capability"
]


def kinds(compose):
    return [type(t) for t in compose.transforms]


def test_notebook_train_transform_is_the_notebook_pipeline():
    """Flip, rotation 10, crop 28 at scale (0.8, 1), ToTensor, in that order."""
    t = notebook_train_transform()
    assert kinds(t) == [
        transforms.RandomHorizontalFlip,
        transforms.RandomRotation,
        transforms.RandomResizedCrop,
        transforms.ToTensor,
    ]
    assert t.transforms[0].p == 0.5 and list(t.transforms[1].degrees) == [-10.0, 10.0]
    assert t.transforms[2].size == (28, 28) and t.transforms[2].scale == (0.8, 1.0)


def test_digit_preset_is_the_same_without_the_flip():
    """The label-preserving preset drops only the flip."""
    assert kinds(digit_train_transform()) == kinds(notebook_train_transform())[1:]


def test_outputs_are_tensors_like_to_tensor():
    """Every transform returns float (1, 28, 28) in [0, 1]; the test transform is ToTensor exactly."""
    image, _ = embedded_digits()[7]
    torch.manual_seed(0)
    for t in (notebook_train_transform(), digit_train_transform(), test_transform()):
        out = t(image)
        assert out.shape == (1, 28, 28) and out.dtype == torch.float32
        assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert torch.equal(test_transform()(image), transforms.ToTensor()(image))


def test_digit_preset_never_mirrors():
    """Over many draws the notebook transform mirrors an asymmetric digit about half the time; the preset never.

    An output counts as mirrored when it correlates better with the flipped original than with
    the original: a +-10 degree rotation and an 80-100% crop move a 7 far less than a flip does.
    """
    digits = embedded_digits()
    corr = lambda a, b: float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])  # noqa: E731
    sevens = [digits[int(i)][0] for i in (digits.targets == 7).nonzero()[:50, 0]]
    image = min(sevens, key=lambda im: corr(transforms.ToTensor()(im), transforms.ToTensor()(im).flip(-1)))
    base = transforms.ToTensor()(image)[0]

    def mirrored(out):
        return corr(out[0], base.flip(-1)) > corr(out[0], base)

    torch.manual_seed(0)
    preset = [mirrored(digit_train_transform()(image)) for _ in range(40)]
    notebook = [mirrored(notebook_train_transform()(image)) for _ in range(40)]
    assert not any(preset)
    assert 8 <= sum(notebook) <= 32  # Binomial(40, 0.5) lies in 8..32 with probability 1 - 6e-5


@pytest.mark.parametrize("factory", [notebook_train_transform, digit_train_transform], ids=["notebook", "digit"])
def test_input_shape_sizes_the_crop(factory):
    """The crop is resized back to (H, W) of input_shape; without one, or with the digits' (1, 28, 28), to 28x28
    as in the notebook; a shape that is not one image's (C, H, W) is refused by name."""
    crop = lambda t: next(s for s in t.transforms if isinstance(s, transforms.RandomResizedCrop))  # noqa: E731
    assert crop(factory()).size == crop(factory(input_shape=(1, 28, 28))).size == (28, 28)
    assert crop(factory(input_shape=(3, 20, 36))).size == (20, 36)
    assert crop(factory(input_shape=[3, 32, 32])).size == (32, 32)
    with pytest.raises(ValueError, match=r"input_shape \(784,\) is not one image's \(C, H, W\)"):
        factory(input_shape=(784,))


def test_rgb_and_grayscale_non_square_images():
    """An 'RGB' and an 'L' image of 20x36 come out as (3, 20, 36) and (1, 20, 36); a digit with input_shape
    (1, 28, 28) comes out exactly as without it (the same draws, the same tensor)."""
    pixels = torch.randint(256, (20, 36, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8).numpy()
    torch.manual_seed(0)
    assert notebook_train_transform(input_shape=(3, 20, 36))(Image.fromarray(pixels)).shape == (3, 20, 36)
    assert digit_train_transform(input_shape=(1, 20, 36))(Image.fromarray(pixels[..., 0])).shape == (1, 20, 36)
    image, _ = embedded_digits()[3]
    outputs = []
    for factory in (lambda: notebook_train_transform(), lambda: notebook_train_transform(input_shape=(1, 28, 28))):
        torch.manual_seed(1)
        outputs.append(factory()(image))
    assert torch.equal(*outputs)


# --- square images: the draws and outputs the committed digit records depend on ------------------


def _stream_params(seed: int, n: int, side: int, flip: bool) -> list[tuple[float, int, int, int, int, bool]]:
    """get_params' rule for a side x side image in plain Python, on the generator's float64 stream read in
    regbench's order: n angles, n x 10 areas, n x 10 log-ratios, n tops, n lefts, then n flip coins."""
    u = torch.rand(n * (23 + flip), generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()
    angles, areas, ratios = u[:n], u[n : 11 * n], u[11 * n : 21 * n]
    tops, lefts, coins = u[21 * n : 22 * n], u[22 * n : 23 * n], u[23 * n :]
    low, high = math.log(3 / 4), math.log(4 / 3)
    out = []
    for k in range(n):
        for a in range(10 * k, 10 * k + 10):
            target = side * side * (areas[a] * (1.0 - 0.8) + 0.8)
            aspect = math.exp(ratios[a] * (high - low) + low)
            w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < w <= side and 0 < h <= side:
                break
        else:
            h = w = side  # the fallback of a square image: all of it (its top and left draws then give 0)
        top, left = math.floor(tops[k] * (side - h + 1)), math.floor(lefts[k] * (side - w + 1))
        out.append((angles[k] * 20 - 10, top, left, h, w, flip and coins[k] < 0.5))
    return out


@pytest.mark.parametrize("seed, side, flip", [(0, 28, True), (1, 28, False), (2, 32, True), (3, 5, True)])
def test_square_params_are_get_params_on_the_generator_stream(seed, side, flip):
    """On a square image every parameter is the draw the digits' committed records were made with: get_params'
    rule on the generator's stream, in regbench's order, and the generator ends where that stream ends."""
    generator = torch.Generator().manual_seed(seed)
    p = augment.sample_params(200, size=(side, side), flip=flip, generator=generator)
    drawn = zip(p.angle.tolist(), p.top.tolist(), p.left.tolist(), p.height.tolist(), p.width.tolist(), p.flip.tolist())
    assert list(drawn) == _stream_params(seed, 200, side, flip)
    stream = torch.Generator().manual_seed(seed)
    torch.rand(200 * (23 + flip), generator=stream, dtype=torch.float64)
    assert torch.equal(generator.get_state(), stream.get_state())


def _square_reference(images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """The square-only resampling the committed records were made with, kept verbatim: one scale 2/S for both axes."""
    n, size = len(images), images.shape[-1]
    k = 2.0 / size
    cos, sin = torch.cos(torch.deg2rad(params.angle)), torch.sin(torch.deg2rad(params.angle))
    mirror = 1.0 - 2.0 * params.flip.to(cos.dtype)
    half_w, half_h = params.width / 2, params.height / 2
    dx, dy = params.left + half_w - size / 2, params.top + half_h - size / 2
    row_x = torch.stack([cos * half_w, -sin * half_h, cos * dx - sin * dy], dim=1) * (k * mirror)[:, None]
    row_y = torch.stack([sin * half_w, cos * half_h, sin * dx + cos * dy], dim=1) * k
    theta = torch.stack([row_x, row_y], dim=1).to(images.dtype)
    centres = (torch.arange(size, dtype=images.dtype) * 2 + 1) / size - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    base = torch.stack([xs.flatten(), ys.flatten(), torch.ones_like(xs.flatten())], dim=1)
    grid = torch.bmm(base.expand(n, -1, -1), theta.transpose(1, 2)).view(n, size, size, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@pytest.mark.parametrize("shape", [(64, 1, 28, 28), (16, 3, 32, 32)])
def test_square_batches_are_bit_identical_to_the_square_formula(shape):
    """BatchAugment on square images gives exactly (torch.equal) the square-only formula's output for the same draws, on
    the
    kernels the digits' committed records were made with (elsewhere, within 1e-5: a wrong formula moves pixels by far
    more).
    """
    images = torch.rand(shape, generator=torch.Generator().manual_seed(7))
    for seed in (0, 1):
        for flip in (True, False):
            params = augment.sample_params(
                shape[0], size=shape[-2:], flip=flip, generator=torch.Generator().manual_seed(seed)
            )
            expected = _square_reference(images, params)
            found = BatchAugment(flip=flip)(images, torch.Generator().manual_seed(seed))
            if torch.backends.cpu.get_cpu_capability() == RECORDS_KERNELS:
                assert torch.equal(found, expected)
            # other kernels (AVX512's fused multiply-adds) round the reference's matrix product differently, by ~1e-6
            else:
                torch.testing.assert_close(found, expected, rtol=0, atol=1e-5)
