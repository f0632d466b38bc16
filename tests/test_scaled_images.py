"""ScaledImages: uint8 storage that reads as the float images load_mnist returns, batch by batch."""

import numpy as np
import pytest

from cnnlib.datasets import ScaledImages
from cnnlib.models import LeNet5
from cnnlib.optim import Adam
from cnnlib.training import evaluate, fit, predict


@pytest.fixture(scope="module")
def pixels():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(300, 1, 28, 28), dtype=np.uint8)


def as_floats(pixels, dtype=np.float32):
    """The float images, computed the way load_mnist computes them (the whole set at once)."""
    return pixels.astype(dtype) / np.dtype(dtype).type(255)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batches_equal_the_whole_set_scaled(pixels, dtype):
    images, expected = ScaledImages(pixels, dtype), as_floats(pixels, dtype)
    index = np.random.default_rng(0).permutation(len(pixels))[:64]
    for key in (index, slice(10, 40), 7, (slice(None), 0, 3)):
        got = images[key]
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected[key])
    np.testing.assert_array_equal(np.asarray(images), expected)
    assert images.shape == pixels.shape and images.ndim == 4 and len(images) == 300
    assert images.pixels.nbytes * 4 == expected.astype(np.float32).nbytes


def test_training_and_evaluation_give_the_same_numbers(pixels):
    labels = np.random.default_rng(1).integers(0, 10, size=len(pixels))
    runs = []
    for x in (as_floats(pixels), ScaledImages(pixels)):
        model = LeNet5(rng=np.random.default_rng(0))
        history = fit(model, Adam(lr=1e-3), x, labels, epochs=2, batch_size=64, progress=False,
                      x_val=x[:100], y_val=labels[:100], threads=1)
        runs.append((history.loss, history.val_acc, evaluate(model, x, labels), predict(model, x)))
    (loss_a, val_a, acc_a, pred_a), (loss_b, val_b, acc_b, pred_b) = runs
    assert loss_a == loss_b and val_a == val_b and acc_a == acc_b
    np.testing.assert_array_equal(pred_a, pred_b)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="pixels: expected a uint8 array, got float32"):
        ScaledImages(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="dtype: expected a float dtype, got int32"):
        ScaledImages(np.zeros((2, 3), np.uint8), dtype=np.int32)
    with pytest.raises(ValueError,
                       match=r"pixels: expected an array of images \(N, ...\), got shape \(\)"):
        ScaledImages(np.uint8(3))


def test_subset_and_reshape_stay_uint8_views(pixels):
    images = ScaledImages(pixels, np.float64)
    head, tail = images.subset(0, 250), images.subset(250)
    assert isinstance(head, ScaledImages) and head.dtype == np.float64
    assert np.shares_memory(head.pixels, pixels) and len(head) == 250 and len(tail) == 50
    np.testing.assert_array_equal(head[:], as_floats(pixels[:250], np.float64))
    np.testing.assert_array_equal(tail[[0, -1]], as_floats(pixels[[250, 299]], np.float64))
    flat = images.reshape(-1, 784)
    assert flat.shape == (300, 784) and np.shares_memory(flat.pixels, pixels)
    np.testing.assert_array_equal(flat[5], as_floats(pixels[5], np.float64).ravel())


def test_subset_and_reshape_name_bad_arguments(pixels):
    images = ScaledImages(pixels)
    with pytest.raises(TypeError, match="stop: expected an int, got float"):
        images.subset(0, 2.5)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape images of shape "
                                         r"\(300, 1, 28, 28\) to \(-1, 97\)"):
        images.reshape(-1, 97)
