"""The notebook's transforms: what each contains, and that the digit preset never flips."""

import torch
from torchvision import transforms

from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.data import embedded_digits


def kinds(compose):
    return [type(t) for t in compose.transforms]


def test_notebook_train_transform_is_the_notebook_pipeline():
    """Flip, rotation 10, crop 28 at scale (0.8, 1), ToTensor, in that order."""
    t = notebook_train_transform()
    assert kinds(t) == [transforms.RandomHorizontalFlip, transforms.RandomRotation, transforms.RandomResizedCrop, transforms.ToTensor]
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
