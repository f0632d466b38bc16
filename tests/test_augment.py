import numpy as np
import pytest

from cnnlib.augment import Augmented, shift_flip
from cnnlib.datasets import ScaledImages


class FixedDraws:
    """A stand-in Generator: every shift is (dy, dx) and every image is flipped or none is."""

    def __init__(self, dy, dx, flip):
        self.values, self.flip = iter([dy, dx]), flip

    def integers(self, low, high, size):
        return np.full(size, next(self.values))

    def random(self, size):
        return np.full(size, 0.0 if self.flip else 1.0)


def test_a_shift_moves_each_pixel_down_and_right_by_dy_dx_and_fills_zeros():
    images = np.arange(2 * 3 * 5 * 6, dtype=np.float32).reshape(2, 3, 5, 6) + 1
    out = shift_flip(images, FixedDraws(1, -2, False), max_shift=2)
    expected = np.zeros_like(images)
    expected[:, :, 1:, :-2] = images[:, :, :-1, 2:]
    np.testing.assert_array_equal(out, expected)


def test_a_flip_mirrors_left_to_right_after_the_shift():
    images = np.random.default_rng(0).random((4, 1, 7, 7)).astype(np.float32)
    out = shift_flip(images, FixedDraws(0, 0, True), max_shift=3, flip=True)
    np.testing.assert_array_equal(out, images[..., ::-1])
    shifted = shift_flip(images, FixedDraws(2, 1, False), max_shift=2)
    flipped = shift_flip(images, FixedDraws(2, 1, True), max_shift=2, flip=True)
    np.testing.assert_array_equal(flipped, shifted[..., ::-1])


def test_random_shifts_stay_within_max_shift_keep_dtype_and_leave_the_input_alone():
    rng = np.random.default_rng(1)
    images = np.zeros((200, 1, 9, 9), np.float32)
    images[:, :, 4, 4] = 1                           # one bright pixel in the middle
    before = images.copy()
    out = shift_flip(images, rng, max_shift=2)
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_array_equal(images, before)
    ys, xs = np.nonzero(out[:, 0])[1:]
    assert len(ys) == 200                            # nothing fell off a 9x9 image
    assert set(ys) == set(range(2, 7)) and set(xs) == set(range(2, 7))   # every shift drawn


def test_about_half_are_flipped():
    images = np.zeros((1000, 1, 4, 4))
    images[:, :, :, 0] = 1
    out = shift_flip(images, np.random.default_rng(2), max_shift=0, flip=True)
    flipped = out[:, 0, 0, -1] == 1
    assert 400 < flipped.sum() < 600


@pytest.mark.parametrize("images, max_shift, message", [
    (np.zeros((3, 28, 28)), 2, "expected (N, C, H, W), got shape (3, 28, 28)"),
    (np.zeros((3, 1, 28, 28)), -1, "max_shift: expected a non-negative int, got -1"),
    (np.zeros((3, 1, 28, 28)), 1.5, "max_shift: expected a non-negative int, got 1.5"),
])
def test_bad_arguments_are_named(images, max_shift, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        shift_flip(images, np.random.default_rng(0), max_shift)


def test_augmented_reads_like_the_set_and_repeats_with_its_seed():
    pixels = np.random.default_rng(3).integers(0, 256, (50, 1, 28, 28), dtype=np.uint8)
    images = ScaledImages(pixels)
    a, b = Augmented(images, seed=5, flip=True), Augmented(images, seed=5, flip=True)
    assert len(a) == 50 and a.shape == (50, 1, 28, 28) and a.ndim == 4
    idx = np.array([3, 1, 4, 1, 5])
    batch = a[idx]
    assert batch.dtype == np.float32 and batch.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(batch, b[idx])
    assert not np.array_equal(a[idx], batch)
    assert a[0].shape == (1, 28, 28)
    none = Augmented(images, max_shift=0)
    np.testing.assert_array_equal(none[idx], images[idx])
    with pytest.raises(ValueError, match="expected \\(N, C, H, W\\)"):
        Augmented(np.zeros((5, 784)))
