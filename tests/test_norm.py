"""Normalisation and dropout layers: forward against the definitions, backward against numerical
gradients in float64, train/eval behaviour, buffers in checkpoints, and the switch in Sequential,
fit and evaluate."""

import numpy as np
import pytest

from cnnlib.gradcheck import check_layer, check_model, numerical_gradient, rel_error
from cnnlib.layers import Affine, Conv2D, Flatten, MaxPool2D, ReLU
from cnnlib.models import LeNet5, Sequential
from cnnlib.norm import BatchNorm1D, BatchNorm2D, Dropout, GroupNorm, normalisation_backward
from cnnlib.optim import SGD, Adam
from cnnlib.training import evaluate, fit, load_params, predict, save_params, scores
from cnnlib.tuned import CNHWBatchNorm2D, ConvReLUPool, TunedConv2D, fuse


def _random_affine(layer, seed=0):
    """Give gamma and beta random values (gamma = 1, beta = 0 would hide mistakes)."""
    rng = np.random.default_rng(seed)
    for key, value in layer.params.items():
        value[...] = rng.standard_normal(value.shape) + (1.0 if key == "gamma" else 0.0)
    return layer


def _x(shape, seed=1, scale=3.0, shift=2.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale + shift


# --- forward -------------------------------------------------------------------------------------

def test_batchnorm2d_normalises_each_channel_over_n_h_w():
    x = _x((4, 3, 5, 5))
    bn = BatchNorm2D(3, dtype=np.float64)
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps makes it a little below
    _random_affine(bn)
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    expected = (bn.params["gamma"].reshape(1, 3, 1, 1) * (x - mean) / np.sqrt(var + 1e-5)
                + bn.params["beta"].reshape(1, 3, 1, 1))
    np.testing.assert_allclose(bn.forward(x), expected, rtol=1e-12)


def test_batchnorm_running_averages_update_in_training_only():
    x = _x((8, 2, 3, 3))
    bn = BatchNorm2D(2, momentum=0.75, dtype=np.float64)
    bn.forward(x)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.25 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn.buffers["running_var"], 0.75 + 0.25 * x.var(axis=(0, 2, 3)))
    before = {k: v.copy() for k, v in bn.buffers.items()}
    bn.training = False
    y = bn.forward(x)
    for key in before:
        np.testing.assert_array_equal(bn.buffers[key], before[key])
    expected = (x - before["running_mean"].reshape(1, 2, 1, 1)) / np.sqrt(
        before["running_var"].reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    # in evaluation an image's output does not depend on the rest of its batch
    np.testing.assert_allclose(bn.forward(x[:1]), y[:1], rtol=1e-12)
    # the buffers are not parameters: an optimizer step moves gamma and beta, not them
    SGD(lr=0.5).update(bn.params, {key: np.ones_like(value) for key, value in bn.params.items()})
    np.testing.assert_array_equal(bn.params["gamma"], 0.5)
    for key in before:
        np.testing.assert_array_equal(bn.buffers[key], before[key])
    assert set(bn.params) == {"gamma",
                              "beta"} and set(bn.buffers) == {"running_mean", "running_var"}


def test_batchnorm1d_normalises_each_feature_over_the_batch():
    x = _x((6, 4))
    y = BatchNorm1D(4, dtype=np.float64).forward(x)
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_groupnorm_normalises_each_image_over_its_groups(groups):
    x = _x((3, 6, 4, 4))
    y = GroupNorm(6, groups, dtype=np.float64).forward(x)
    g = x.reshape(3, groups, -1)
    expected = ((g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + 1e-5))
    np.testing.assert_allclose(y, expected.reshape(x.shape), rtol=1e-12)


def test_groupnorm_does_not_depend_on_the_batch_but_batchnorm_does():
    x = _x((128, 4, 6, 6), seed=3)
    gn, bn = GroupNorm(4, 2, dtype=np.float64), BatchNorm2D(4, dtype=np.float64)
    np.testing.assert_allclose(gn.forward(x[:2]), gn.forward(x)[:2], rtol=1e-12)
    assert np.abs(bn.forward(x[:2]) - bn.forward(x)[:2]).max() > 0.01


def test_layer_norm_is_groupnorm_with_one_group_on_features():
    x = _x((5, 8))
    y = GroupNorm(8, 1, dtype=np.float64).forward(x)
    expected = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_dropout_is_inverted_and_off_in_evaluation():
    x = np.ones((200, 50), dtype=np.float32)
    drop = Dropout(0.3, rng=np.random.default_rng(0))
    y = drop.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.unique(y), [0, 1 / 0.7], rtol=1e-6)
    assert abs((y == 0).mean() - 0.3) < 0.01 and abs(y.mean() - 1) < 0.02
    dout = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(drop.backward(dout), dout * (y / x))
    drop.training = False
    assert drop.forward(x) is x and drop.backward(dout) is dout
    assert Dropout(0.0).forward(x) is x


@pytest.mark.parametrize("layer", [BatchNorm2D(3), GroupNorm(3, 3), Dropout(0.5)], ids=repr)
def test_float32_stays_float32(layer):
    x = _x((4, 3, 4, 4)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    assert all(b.dtype == np.float32 for b in layer.buffers.values())


# --- backward: numerical gradients in float64
# ------------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda: BatchNorm2D(3, dtype=np.float64), (4, 3, 3, 3)),
    (lambda: BatchNorm2D(2, dtype=np.float64), (1, 2, 4, 5)),
    (lambda: BatchNorm1D(5, dtype=np.float64), (6, 5)),
    (lambda: GroupNorm(6, 2, dtype=np.float64), (3, 6, 3, 3)),
    (lambda: GroupNorm(4, 1, dtype=np.float64), (2, 4, 3, 2)),
    (lambda: GroupNorm(5, 1, dtype=np.float64), (4, 5)),
    (lambda: GroupNorm(4, 4, dtype=np.float64), (2, 4, 3, 3)),
], ids=["bn2d", "bn2d-one-image", "bn1d", "gn-2-groups", "layer-norm", "layer-norm-features",
        "instance-norm"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_backward_matches_numerical_gradient(make, shape, training):
    layer = _random_affine(make())
    x = _x(shape)
    layer.forward(x)                          # running averages that differ from 0 and 1
    layer.training = training
    errors = check_layer(layer, x)
    assert set(errors) == {"dx", "dgamma", "dbeta"}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("shape, axes", [((4, 3, 2, 5), (0, 2, 3)), ((6, 4), (0,)),
                                         ((3, 2, 7), (2,)), ((2, 3, 4, 4), (1, 2, 3))])
def test_normalisation_backward_matches_numerical_gradient(shape, axes):
    rng = np.random.default_rng(3)
    x, dxhat = _x(shape), rng.standard_normal(shape)

    def normalise(v):
        mean = v.mean(axis=axes, keepdims=True)
        return (v - mean) / np.sqrt(((v - mean) ** 2).mean(axis=axes, keepdims=True) + 1e-5)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    dx = normalisation_backward(dxhat, normalise(x), inv_std, axes)
    numeric = numerical_gradient(lambda v: np.sum(normalise(v) * dxhat), x.copy())
    assert dx.shape == shape and rel_error(dx, numeric) < 1e-7


def test_normalisation_backward_keeps_float32():
    x = _x((4, 3, 2, 2)).astype(np.float32)
    inv_std = (1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5)).astype(np.float32)
    xhat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) * inv_std
    assert normalisation_backward(np.ones_like(x), xhat, inv_std, (0, 2, 3)).dtype == np.float32


def test_dropout_backward_matches_numerical_gradient_for_a_fixed_mask():
    class Fixed(Dropout):
        def forward(self, x):
            self.rng = np.random.default_rng(5)     # the same mask on every call
            return super().forward(x)
    errors = check_layer(Fixed(0.4), _x((3, 4, 2, 2)))
    assert errors["dx"] < 1e-7


def test_a_model_with_norm_layers_passes_the_gradient_check():
    rng = np.random.default_rng(0)
    model = Sequential(Conv2D(1, 4, 3, pad=1, dtype=np.float64, rng=rng),
                       BatchNorm2D(4, dtype=np.float64),
                       ReLU(), MaxPool2D(2), GroupNorm(4, 2, dtype=np.float64), Flatten(),
                       Affine(16, 6, dtype=np.float64, rng=rng),
                       BatchNorm1D(6, dtype=np.float64), ReLU(),
                       Affine(6, 3, dtype=np.float64, rng=rng))
    x = rng.standard_normal((5, 1, 4, 4))
    errors = check_model(model, x, np.array([0, 1, 2, 1, 0]))
    assert len(errors) == 12
    # a shift that is the same for every example before batch norm (a conv or affine bias, and
    # group norm's beta, seen through fc) is subtracted again with the batch mean: its gradient is 0
    # up to rounding, so a relative error means nothing there
    for name in ("conv2d0.b", "groupnorm4.beta", "affine6.b"):
        assert np.abs(model.grads[name]).max() < 1e-12
        del errors[name]
    assert max(errors.values()) < 1e-7, errors


# --- bad input
# -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: BatchNorm2D(0), r"num_channels: expected a positive integer, got 0"),
    (lambda: BatchNorm2D(2.5), r"num_channels: expected a positive integer, got 2.5"),
    (lambda: BatchNorm2D(3, momentum=1.0), r"momentum: expected a number in \[0, 1\), got 1.0"),
    (lambda: BatchNorm1D(3, eps=0), r"eps: expected a positive number, got 0"),
    (lambda: GroupNorm(6, 4), r"num_groups: must divide num_channels 6, got 4"),
    (lambda: GroupNorm(6, 0), r"num_groups: expected a positive integer, got 0"),
    (lambda: Dropout(1.0), r"p: expected a drop probability in \[0, 1\), got 1.0"),
    (lambda: Dropout(-0.1), r"p: expected a drop probability"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("layer, shape, message", [
    (BatchNorm2D(3), (2, 4, 5, 5), r"x: expected shape \(N, 3, H, W\), got \(2, 4, 5, 5\)"),
    (BatchNorm2D(3), (2, 3), r"x: expected shape \(N, 3, H, W\), got \(2, 3\)"),
    (BatchNorm1D(3), (2, 3, 1, 1), r"x: expected shape \(N, 3\), got \(2, 3, 1, 1\)"),
    (BatchNorm1D(3), (1, 3), r"more than one value per channel \(got shape \(1, 3\)\)"),
    (GroupNorm(4, 2), (2, 3, 5, 5),
     r"x: expected shape \(N, 4, H, W\) or \(N, 4\), got \(2, 3, 5, 5\)"),
])
def test_bad_input_shapes_are_named(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer.forward(np.zeros(shape, dtype=np.float32))


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="x: expected a float array, got dtype int64"):
        BatchNorm2D(1).forward(np.zeros((2, 1, 2, 2), dtype=np.int64))


# --- train/eval in Sequential, fit, evaluate ------------------------------------------------------

def _bn_net(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(("conv1", Conv2D(1, 4, 3, pad=1, rng=rng)),
                      ("bn1", BatchNorm2D(4)), ("relu1", ReLU()),
                      ("pool1", MaxPool2D(2)), ("flatten", Flatten()),
                      ("drop", Dropout(0.5, rng=rng)),
                      ("fc", Affine(4 * 4 * 4, 3, rng=rng)))


def _images(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32) * 0.3
    for k in range(3):
        x[y == k, 0, k * 2:k * 2 + 3, :] += 1.0
    return x, y


def test_train_and_eval_set_every_layer_and_return_the_model():
    model = _bn_net()
    assert model.training and all(layer.training for layer in model.layers.values())
    assert model.eval() is model
    assert not model.training and not any(layer.training for layer in model.layers.values())
    assert model.train() is model and model.layers["drop"].training
    assert set(model.buffers) == {"bn1.running_mean", "bn1.running_var"}
    assert "bn1.running_mean" not in model.params and "bn1.gamma" in model.params


def test_evaluation_updates_no_running_average_and_drops_nothing():
    model = _bn_net()
    x, y = _images()
    model.loss(x, y)                                   # training mode: statistics move
    before = {k: v.copy() for k, v in model.buffers.items()}
    first = scores(model, x)
    assert model.training, "scores restores the mode it found"
    for call in (lambda: evaluate(model, x, y), lambda: predict(model, x),
                 lambda: scores(model, x, 7)):
        call()
    for key, value in model.buffers.items():
        np.testing.assert_array_equal(value, before[key])
    np.testing.assert_array_equal(scores(model, x), first)          # no random dropout mask
    np.testing.assert_allclose(scores(model, x[:5], batch_size=1), first[:5], rtol=1e-5, atol=1e-6)
    model.eval()
    evaluate(model, x, y)
    assert not model.training


def test_fit_trains_in_training_mode_and_validates_in_evaluation_mode():
    model = _bn_net()
    x, y = _images()
    seen = []
    forward = model.forward

    def spy(batch):
        seen.append(model.layers["bn1"].training)
        return forward(batch)
    model.forward = spy
    model.eval()
    history = fit(model, Adam(1e-2), x, y, epochs=3, batch_size=20, x_val=x[:30], y_val=y[:30],
                  progress=False)
    assert not model.training, "fit leaves the model in the mode it found"
    # fit's argument check, 3 validations
    assert seen.count(True) == 9 and seen.count(False) == 1 + 3
    assert np.all(model.buffers["bn1.running_var"] != 1), "the running averages were updated"
    assert history.val_acc[-1] > 0.6


def test_early_stopping_restores_the_best_running_averages_too():
    x, y = _images()
    x_val, y_val = _images(60, seed=1)
    y_val = (y_val + 1) % 3  # labels the model cannot learn: validation accuracy peaks early
    model = _bn_net()
    history = fit(model, SGD(0.05), x, y, epochs=12, batch_size=20,
                  x_val=x_val, y_val=y_val, patience=2,
                  progress=False, threads=1)
    assert history.stopped_early and history.best_epoch < len(history.val_acc) - 1
    assert evaluate(model, x_val, y_val) == pytest.approx(max(history.val_acc))
    # the same run stopped after the best epoch holds the same weights and running averages
    best = _bn_net()
    fit(best, SGD(0.05), x, y, epochs=history.best_epoch + 1, batch_size=20,
        progress=False, threads=1)
    for name, value in {**best.params, **best.buffers}.items():
        np.testing.assert_array_equal({**model.params, **model.buffers}[name], value, err_msg=name)


def test_checkpoints_save_and_load_the_buffers(tmp_path):
    model = _bn_net()
    x, y = _images()
    fit(model, Adam(1e-2), x, y, epochs=2, batch_size=20, progress=False)
    save_params(model, tmp_path / "bn.npz")
    with np.load(tmp_path / "bn.npz") as data:
        assert {"bn1.running_mean", "bn1.running_var", "bn1.gamma", "bn1.beta"} <= set(data.files)
    fresh = _bn_net(seed=1)
    load_params(fresh, tmp_path / "bn.npz")
    for name, value in model.buffers.items():
        np.testing.assert_array_equal(fresh.buffers[name], value)
    np.testing.assert_array_equal(scores(fresh, x), scores(model, x))
    # a checkpoint without the running averages, or with broken ones, does not load
    with np.load(tmp_path / "bn.npz") as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(tmp_path / "old.npz", **{k: v for k, v in arrays.items() if "running" not in k})
    with pytest.raises(ValueError, match=r"missing from .*bn1.running_mean \(4,\)"):
        load_params(fresh, tmp_path / "old.npz")
    np.savez(tmp_path / "bad.npz", **{**arrays, "bn1.running_var": np.full(4, np.nan, np.float32)})
    with pytest.raises(ValueError, match="NaN or inf values in bn1.running_var"):
        load_params(fresh, tmp_path / "bad.npz")
    np.savez(tmp_path / "shape.npz", **{**arrays, "bn1.running_mean": np.zeros(5, np.float32)})
    with pytest.raises(ValueError,
                       match=r"shape mismatch for bn1.running_mean: model \(4,\), file \(5,\)"):
        load_params(fresh, tmp_path / "shape.npz")


def test_no_optimizer_touches_the_buffers():
    model = _bn_net()
    x, y = _images()
    model.loss(x, y)
    model.backward()
    before = {k: v.copy() for k, v in model.buffers.items()}
    Adam(0.1, weight_decay=0.1).update(model.params, model.grads)
    for key, value in model.buffers.items():
        np.testing.assert_array_equal(value, before[key])


def test_models_without_norm_layers_have_no_buffers_and_the_same_checkpoint(tmp_path):
    model = LeNet5()
    assert model.buffers == {}
    save_params(model, tmp_path / "lenet.npz")
    with np.load(tmp_path / "lenet.npz") as data:
        assert sorted(data.files) == sorted(model.params)


def test_fuse_gives_batch_norm_its_channel_major_twin_sharing_its_state():
    model = _bn_net()
    x, y = _images(8)
    fused = fuse(model)
    kinds = [type(layer) for layer in fused.layers.values()]
    assert kinds[:2] == [TunedConv2D, CNHWBatchNorm2D] and ConvReLUPool not in kinds
    twin, bn = fused.layers["bn1"], model.layers["bn1"]
    assert twin.params is bn.params and twin.buffers is bn.buffers
    model.eval()
    fused.eval()
    np.testing.assert_allclose(fused.forward(x), model.forward(x), rtol=1e-5, atol=1e-6)
