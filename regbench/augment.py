"""The notebook's augmentations, as torchvision transforms on PIL images and batched on tensors.

``notebook_train_transform`` is the notebook's exact pipeline, horizontal flip included. A flip
does not preserve a digit's label (a mirrored 2, 3, 4, 7 is not that digit), so regbench keeps it
as its own configuration to show the cost, and offers ``digit_train_transform``, the same
rotation and crop without the flip, as the label-preserving preset.

Both forms hold for images of any shape (C, H, W): any number of channels, square or not. The
crop is resized back to (H, W), so the output has the input's shape; 1x28x28 digits get the
notebook's pipeline exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "AugmentParams",
    "BatchAugment",
    "affine_matrices",
    "apply_params",
    "digit_train_transform",
    "notebook_train_transform",
    "sample_params",
    "test_transform",
]

ROTATION_DEGREES = 10  # the notebook's +/-10 degrees: a slant people write, not a different digit
CROP_SCALE = (0.8, 1.0)  # keep at least 80% of the area so no stroke is cut away entirely
IMAGE_SIZE = 28  # the digits' side: the crop's output size when no input_shape is given


# torchvision is imported where a PIL pipeline is built, not with this module: its ops pull in
# torch._dynamo, a cost every command and every worker process would pay.


def _image_size(input_shape: Optional[Sequence[int]]) -> tuple[int, int]:
    """(H, W) of one sample shaped (C, H, W), (28, 28) without one: the size the crop is resized back to."""
    if input_shape is None:
        return IMAGE_SIZE, IMAGE_SIZE
    if len(input_shape) != 3 or min(input_shape) < 1:  # not a UsageError: a run reports this as not applicable
        raise ValueError(
            f"input_shape {tuple(input_shape)} is not one image's (C, H, W); "
            "pass the shape of one sample, such as (1, 28, 28)"
        )
    return int(input_shape[1]), int(input_shape[2])


def _geometry(input_shape: Optional[Sequence[int]]) -> list:
    """Rotation then random resized crop, the label-preserving part of the notebook's pipeline."""
    from torchvision import transforms

    return [
        transforms.RandomRotation(ROTATION_DEGREES),
        transforms.RandomResizedCrop(_image_size(input_shape), scale=CROP_SCALE),
    ]


def notebook_train_transform(*, input_shape: Optional[Sequence[int]] = None) -> "transforms.Compose":  # noqa: F821
    """The notebook's train transform: flip (p=0.5), rotation, crop back to (H, W) of ``input_shape``, ToTensor."""
    from torchvision import transforms

    return transforms.Compose([transforms.RandomHorizontalFlip(), *_geometry(input_shape), transforms.ToTensor()])


def digit_train_transform(*, input_shape: Optional[Sequence[int]] = None) -> "transforms.Compose":  # noqa: F821
    """The notebook's transform minus the flip: augmentation that keeps every digit's label."""
    from torchvision import transforms

    return transforms.Compose([*_geometry(input_shape), transforms.ToTensor()])


def test_transform() -> "transforms.Compose":  # noqa: F821
    """No randomness at test time: the model is judged on real images, not augmented ones."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor()])


test_transform.__test__ = False  # a name starting with "test" must not be collected by pytest where it is imported


# --- Batched augmentation on tensors -----------------------------------------------------------
# The same random geometry as the PIL pipeline above, drawn per sample and applied to a whole
# batch on its device in one resampling call: flip, rotation and crop compose into one affine map.

RATIO = (3 / 4, 4 / 3)  # RandomResizedCrop's default aspect-ratio range
CROP_ATTEMPTS = 10  # RandomResizedCrop.get_params tries 10 times before falling back to a central crop


@dataclass
class AugmentParams:
    """Per-sample parameters of one batch, as torchvision's get_params would draw them."""

    angle: torch.Tensor  # (N,) degrees, counter-clockwise, uniform in [-10, 10]
    top: torch.Tensor  # (N,) crop row i, integer-valued
    left: torch.Tensor  # (N,) crop column j
    height: torch.Tensor  # (N,) crop height h in pixels
    width: torch.Tensor  # (N,) crop width w
    flip: torch.Tensor  # (N,) bool: mirror left-right first

    def select(self, indices: torch.Tensor) -> "AugmentParams":
        """The parameters of these samples, in this order: a batch's share of a whole pass's draws."""
        return AugmentParams(*(getattr(self, f.name).index_select(0, indices) for f in dataclasses.fields(self)))

    @classmethod
    def cat(cls, parts: list["AugmentParams"]) -> "AugmentParams":
        """One set of parameters from consecutive draws."""
        return (
            parts[0]
            if len(parts) == 1
            else cls(*(torch.cat([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)))
        )


def sample_params(
    n: int,
    *,
    size: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE),
    flip: bool,
    degrees: float = ROTATION_DEGREES,
    scale: tuple[float, float] = CROP_SCALE,
    generator: Optional[torch.Generator] = None,
) -> AugmentParams:
    """Draw n samples' parameters for images of ``size`` (H, W) from torchvision's distributions
    (RandomHorizontalFlip, RandomRotation, RandomResizedCrop.get_params with its 10 attempts and
    central fallback); the draws are the same in number and order whatever the size."""

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, dtype=torch.float64) * (high - low) + low

    image_h, image_w = size
    angle = uniform(n, low=-degrees, high=degrees)
    area = image_h * image_w
    target_area = area * uniform(n, CROP_ATTEMPTS, low=scale[0], high=scale[1])
    aspect = torch.exp(uniform(n, CROP_ATTEMPTS, low=math.log(RATIO[0]), high=math.log(RATIO[1])))
    w = torch.round(torch.sqrt(target_area * aspect))  # round half to even, like Python's round()
    h = torch.round(torch.sqrt(target_area / aspect))
    ok = (w > 0) & (w <= image_w) & (h > 0) & (h <= image_h)
    first = ok.to(torch.int8).argmax(dim=1)  # first valid attempt
    found = ok.any(dim=1)
    fallback_h, fallback_w = _central_crop(image_h, image_w)

    def pick(attempts: torch.Tensor, fallback: int) -> torch.Tensor:  # the first fitting attempt, else the fallback
        return torch.where(found, attempts.gather(1, first[:, None])[:, 0], torch.full_like(attempts[:, 0], fallback))

    width, height = pick(w, fallback_w), pick(h, fallback_h)
    top = torch.where(found, torch.floor(uniform(n) * (image_h - height + 1)), (image_h - height) // 2)
    left = torch.where(found, torch.floor(uniform(n) * (image_w - width + 1)), (image_w - width) // 2)
    flips = uniform(n) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    return AugmentParams(angle, top, left, height, width, flips)


def _central_crop(image_h: int, image_w: int) -> tuple[int, int]:
    """(h, w) of get_params' fallback: the whole image, or its largest central part with an aspect ratio in RATIO."""
    in_ratio = image_w / image_h
    if in_ratio < min(RATIO):
        return round(image_w / min(RATIO)), image_w
    if in_ratio > max(RATIO):
        return image_h, round(image_h * max(RATIO))
    return image_h, image_w


def affine_matrices(params: AugmentParams, size: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE)) -> torch.Tensor:
    """(N, 2, 3) maps from output to input coordinates in normalized [-1, 1] space (affine_grid's),
    for images of ``size`` (H, W).

    In pixel coordinates (x right, y down, centre c = (W/2, H/2)), output point u (normalized)
    comes from the crop: p = crop centre + (w/2 u_x, h/2 u_y); un-rotating about c by the angle
    gives r - c = R (p - c) with R = [[cos, -sin], [sin, cos]]; un-flipping mirrors x about c; and
    the normalization is n = ((r - c)_x * 2/W, (r - c)_y * 2/H). Written out, each row is linear in
    u, so the whole chain is one affine map per sample.
    """
    image_h, image_w = size
    kx, ky = 2.0 / image_w, 2.0 / image_h
    theta = torch.deg2rad(params.angle)
    cos, sin = torch.cos(theta), torch.sin(theta)
    mirror = 1.0 - 2.0 * params.flip.to(cos.dtype)  # -1 where flipped
    half_w, half_h = params.width / 2, params.height / 2
    dx = params.left + half_w - image_w / 2  # crop centre relative to the image centre
    dy = params.top + half_h - image_h / 2
    row_x = torch.stack([cos * half_w, -sin * half_h, cos * dx - sin * dy], dim=1) * (kx * mirror)[:, None]
    row_y = torch.stack([sin * half_w, cos * half_h, sin * dx + cos * dy], dim=1) * ky
    return torch.stack([row_x, row_y], dim=1)


def _sampling_grid(theta: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, H, W, 2) sampling points: theta applied to every pixel centre, as F.affine_grid(theta, ...,
    align_corners=False) places them.

    Each coordinate is (a x + b y) + c per sample, broadcast over the rows and columns: the same
    roundings as the homogeneous matrix product (x, y, 1) theta^T, in a fraction of its time.
    """
    h, w = size
    cols, rows = ((torch.arange(side, device=theta.device, dtype=theta.dtype) * 2 + 1) / side - 1 for side in (w, h))
    grid = torch.empty(len(theta), h, w, 2, device=theta.device, dtype=theta.dtype)
    for k in range(2):  # k = 0: the x coordinate sampled, 1: the y coordinate
        a, b, c = (theta[:, k, j, None, None] for j in range(3))
        torch.add(a * cols[None, None, :] + b * rows[None, :, None], c, out=grid[..., k])
    return grid


def apply_params(images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Resample a batch (N, C, H, W) with each sample's own flip, rotation and crop, in one call."""
    size = (images.shape[-2], images.shape[-1])
    theta = affine_matrices(params, size).to(device=images.device, dtype=images.dtype)
    return F.grid_sample(
        images, _sampling_grid(theta, size), mode="bilinear", padding_mode="zeros", align_corners=False
    )


class BatchAugment:
    """Per-sample random flip/rotation/crop of a whole batch (N, C, H, W): the tensor twin of the PIL transforms.

    ``BatchAugment(flip=True)`` matches ``notebook_train_transform``; ``flip=False`` matches
    ``digit_train_transform``. Parameters come from ``generator`` (CPU), so a seed fixes them.
    """

    def __init__(self, *, flip: bool) -> None:
        self.flip = flip

    def __call__(self, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """images: float (N, C, H, W) in [0, 1] on any device -> same shape, dtype, device and range."""
        return self.apply(images, self.draw(len(images), (images.shape[-2], images.shape[-1]), generator))

    def draw(self, n: int, size: tuple[int, int], generator: Optional[torch.Generator] = None) -> AugmentParams:
        """Parameters for n images of size (H, W): with ``apply``, a loader draws a whole pass's and applies them a
        batch at a time.
        """
        return sample_params(n, size=size, flip=self.flip, generator=generator)

    def apply(self, images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """The images resampled with these parameters (one per image): each image's result does not depend on the
        others.
        """
        return apply_params(images, params)

    def __repr__(self) -> str:
        return f"BatchAugment(flip={self.flip}, degrees={ROTATION_DEGREES}, scale={CROP_SCALE})"
