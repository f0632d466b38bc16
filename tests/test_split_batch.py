"""cnnlib.tuned.SplitBatch and fit(workers=...): a batch split across threads gives the batch's
loss, scores and gradients (float64, to rounding); models it cannot split are refused by name."""

import numpy as np
import pytest

from cnnlib.blocks import Block
from cnnlib.layers import Affine, ReLU
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.norm import BatchNorm1D, Dropout
from cnnlib.optim import Adam
from cnnlib.training import fit
from cnnlib.tuned import SplitBatch


def batch(n, seed=0, shape=(1, 28, 28)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, 10, n)


@pytest.mark.parametrize("workers, n", [(2, 16), (2, 7), (3, 10), (4, 3), (3, 1)])
@pytest.mark.parametrize("tuned", [True, False])
def test_split_step_equals_the_whole_batch(workers, n, tuned):
    x, y = batch(n, seed=workers * 100 + n)
    whole = LeNet5(dtype=np.float64, tuned=tuned, rng=np.random.default_rng(1))
    split = LeNet5(dtype=np.float64, tuned=tuned, rng=np.random.default_rng(1))
    loss = whole.loss(x, y)
    whole.backward()
    with SplitBatch(split, workers) as step:
        split_loss = step.loss(x, y)
        step.backward()
    np.testing.assert_allclose(split_loss, loss, rtol=1e-12)
    np.testing.assert_allclose(split.last_scores, whole.last_scores, rtol=1e-12, atol=1e-14)
    assert split.last_scores.shape == (n, 10)
    for name, grad in whole.grads.items():
        np.testing.assert_allclose(split.grads[name], grad, rtol=1e-9, atol=1e-13, err_msg=name)


def test_replicas_share_parameters_but_not_gradients():
    model = TwoLayerNet(20, 8, 3, dtype=np.float64)
    with SplitBatch(model, 2) as step:
        twin = step.replicas[1]
        for name, layer in model.layers.items():
            for key in layer.params:
                assert twin.layers[name].params[key] is layer.params[key]
            assert twin.layers[name].grads is not layer.grads
        x, y = batch(6, shape=(20,))
        step.loss(x, y % 3)
        step.backward()
        # the replica's gradient is its own slice's, not the batch's
        assert not np.allclose(twin.grads["affine1.W"], model.grads["affine1.W"])


def test_fit_with_workers_matches_one_worker():
    x, y = batch(96, seed=5)
    histories, models = [], []
    for workers in (1, 2):
        model = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(3))
        histories.append(fit(model, Adam(1e-3), x, y, epochs=2, batch_size=32, progress=False,
                             threads=1, workers=workers))
        models.append(model)
    np.testing.assert_allclose(histories[1].loss, histories[0].loss, rtol=1e-10)
    assert histories[1].train_acc == histories[0].train_acc
    for name, p in models[0].params.items():
        np.testing.assert_allclose(models[1].params[name], p, rtol=1e-8, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("layer, reason", [
    (BatchNorm1D(8), "buffers"),
    (Dropout(0.5, rng=np.random.default_rng(0)), "random numbers"),
    (Block(Affine(8, 8)), "nests layers"),
])
def test_models_that_cannot_be_split_are_refused_by_layer(layer, reason):
    model = Sequential(("fc1", Affine(4, 8)), ("odd", layer), ("relu", ReLU()),
                       ("fc2", Affine(8, 3)))
    with pytest.raises(ValueError, match=f"layer 'odd'.*{reason}"):
        SplitBatch(model, 2)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2"])
def test_bad_worker_counts_are_named(workers):
    x, y = batch(8)
    with pytest.raises((ValueError, TypeError), match="workers"):
        fit(LeNet5(tuned=True), Adam(), x, y, epochs=1, progress=False, workers=workers)


def test_a_model_without_layers_is_a_type_error():
    with pytest.raises(TypeError, match="model: expected a Sequential"):
        SplitBatch(object(), 2)


def test_backward_combines_once():
    """A second backward call leaves the batch's gradients as they are (nothing added twice)."""
    x, y = batch(10, seed=11)
    whole = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(2))
    split = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(2))
    whole.loss(x, y)
    whole.backward()
    with SplitBatch(split, 2) as step:
        step.loss(x, y)
        step.backward()
        step.backward()
    for name, grad in whole.grads.items():
        np.testing.assert_allclose(split.grads[name], grad, rtol=1e-9, atol=1e-13, err_msg=name)


def test_each_slice_backward_is_seeded_with_its_share():
    """The replica's gradients are its slice's mean gradients times slice size / batch size."""
    x, y = batch(10, seed=12)
    alone = LeNet5(dtype=np.float64, rng=np.random.default_rng(4))
    alone.loss(x[5:], y[5:])
    alone.backward()
    split = LeNet5(dtype=np.float64, rng=np.random.default_rng(4))
    with SplitBatch(split, 2) as step:
        step.loss(x, y)
        twin = step.replicas[1]
        for name, grad in alone.grads.items():
            np.testing.assert_allclose(twin.grads[name], 0.5 * grad, rtol=1e-10, atol=1e-14,
                                       err_msg=name)


@pytest.mark.parametrize("bad", [1, 6])    # in the calling thread's slice, in the worker's
def test_a_non_finite_slice_gives_a_non_finite_loss(bad):
    x, y = batch(8, seed=13)
    x[bad, 0, 3, 3] = np.inf
    with SplitBatch(LeNet5(dtype=np.float64, tuned=True), 2) as step:
        with np.errstate(all="raise"):    # holds in the worker thread too
            with pytest.raises(FloatingPointError):
                step.loss(x, y)
        with np.errstate(all="ignore"):
            assert not np.isfinite(step.loss(x, y))


def test_a_non_finite_example_fails_fit_with_workers():
    x, y = batch(32, seed=13)
    x[9, 0, 3, 3] = np.inf
    with pytest.raises(FloatingPointError, match=r"NaN or inf values in examples \[9\]"):
        with np.errstate(all="ignore"):
            fit(LeNet5(dtype=np.float64, tuned=True), Adam(1e-3), x, y, epochs=1,
                batch_size=16, progress=False, workers=2, seed=0)
