import numpy as np
import pytest

from cnnlib.gradcheck import check_layer
from cnnlib.layers import (
    Affine,
    AvgPool2D,
    Conv2D,
    Flatten,
    MaxPool2D,
    ReLU,
    Sigmoid,
    SoftmaxWithLoss,
)

F64 = dict(dtype=np.float64)


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


LAYERS = [
    (lambda rng: ReLU(), (4, 7)),
    (lambda rng: ReLU(), (2, 3, 5, 5)),
    (lambda rng: Sigmoid(), (4, 7)),
    (lambda rng: Sigmoid(), (3, 2, 4)),
    (lambda rng: Affine(7, 5, rng=rng, **F64), (4, 7)),
    (lambda rng: Affine(12, 3, init="xavier", rng=rng, **F64), (2, 3, 2, 2)),
    (lambda rng: Affine(1, 1, rng=rng, **F64), (1, 1)),
    (lambda rng: Conv2D(3, 4, 3, rng=rng, **F64), (2, 3, 6, 6)),
    (lambda rng: Conv2D(2, 3, (3, 2), stride=2, pad=1, rng=rng, **F64), (2, 2, 7, 5)),
    (lambda rng: Conv2D(1, 2, 5, pad=2, rng=rng, **F64), (1, 1, 8, 8)),
    (lambda rng: Conv2D(1, 2, 3, pad=1, rng=rng, **F64), (2, 1, 16, 16)),   # one product per image
    (lambda rng: MaxPool2D(2), (2, 3, 6, 6)),
    (lambda rng: MaxPool2D(3, 2), (2, 2, 7, 7)),
    (lambda rng: AvgPool2D(2), (2, 3, 6, 6)),
    (lambda rng: AvgPool2D(3, 1), (1, 2, 5, 6)),
    (lambda rng: Flatten(), (2, 3, 4, 4)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_gradient_check_float64(make, shape):
    layer = make(np.random.default_rng(1))
    errors = check_layer(layer, _x(shape))
    assert set(errors) == {"dx", *(f"d{k}" for k in layer.params)}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("shape", [(3, 5), (8, 10), (1, 2)])
@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_gradient(shape, one_hot):
    labels = np.random.default_rng(2).integers(0, shape[1], shape[0])
    if one_hot:
        labels = np.eye(shape[1])[labels]
    errors = check_layer(SoftmaxWithLoss(), _x(shape), labels=labels)
    assert errors["dx"] < 1e-7


def test_softmax_with_loss_values_and_extremes():
    layer = SoftmaxWithLoss()
    loss = layer.forward(np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]]), np.array([1, 2]))
    assert np.isfinite(loss) and loss == pytest.approx((2e4 + np.log(3)) / 2)
    d = layer.backward()
    assert np.isfinite(d).all()
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(d[0], [0.5, -0.5, 0.0])


@pytest.mark.parametrize("make, shape", LAYERS)
def test_float32_preserved_and_dout_untouched(make, shape):
    layer = make(np.random.default_rng(1))
    for key in layer.params:
        layer.params[key] = layer.params[key].astype(np.float32)
    x = _x(shape).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    dout = _x(out.shape, seed=3).astype(np.float32)
    before = dout.copy()
    dx = layer.backward(dout)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    np.testing.assert_array_equal(dout, before)


def test_layer_float32_by_default_and_seeded():
    a, b = Affine(4, 3, rng=np.random.default_rng(5)), Affine(4, 3, rng=np.random.default_rng(5))
    assert a.params["W"].dtype == np.float32 and a.params["b"].dtype == np.float32
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert np.std(Affine(1000, 500).params["W"]) == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert np.std(Affine(1000, 500, init="xavier").params["W"]) == pytest.approx(
        np.sqrt(1 / 1000), rel=0.02
    )
    with pytest.raises(ValueError, match="init"):
        Affine(3, 2, init="glorious")


def test_affine_rejects_wrong_feature_count():
    layer = Affine(784, 10)
    with pytest.raises(ValueError, match=r"expected input \(N, 784\).*got shape \(2, 785\)"):
        layer.forward(np.zeros((2, 785), np.float32))
    assert layer.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


def test_softmax_with_loss_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"labels: values must be in \[0, 10\), got 10"):
        SoftmaxWithLoss().forward(np.zeros((2, 10)), np.array([3, 10]))
    with pytest.raises(ValueError, match=r"scores: expected shape \(N, C\)"):
        SoftmaxWithLoss().forward(np.zeros(10), np.array([3]))


def test_conv_layer_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="channel mismatch: x has 3 channels"):
        Conv2D(1, 6, 5).forward(np.zeros((2, 3, 28, 28), np.float32))


def test_layers_built_without_rng_get_their_own_streams():
    a, b = Affine(100, 100), Affine(100, 100)
    assert not np.array_equal(a.params["W"], b.params["W"])
    c, d = Conv2D(3, 4, 3), Conv2D(3, 4, 3)
    assert not np.array_equal(c.params["W"], d.params["W"])


@pytest.mark.parametrize("make",
                         [lambda: Affine(3, 2, dtype=np.float64),
                          lambda: Conv2D(2, 3, 3, dtype=np.float32)])
def test_gradients_start_as_zeros_shaped_like_the_parameters(make):
    layer = make()
    assert list(layer.grads) == list(layer.params) == ["W", "b"]
    for key, param in layer.params.items():
        grad = layer.grads[key]
        assert grad.shape == param.shape and grad.dtype == param.dtype and not grad.any()
        assert grad is not param


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=0), "stride: expected a positive integer, got 0"),
    (dict(stride=1.0), "stride: expected a positive integer, got 1.0"),
    (dict(stride=True), "stride: expected a positive integer, got True"),
    (dict(pad=-1), "pad: expected a non-negative integer, got -1"),
])
def test_conv_layer_checks_stride_and_pad_in_one_message_style(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(1, 2, 3, **kwargs)
