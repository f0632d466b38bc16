import numpy as np
import pytest

from cnnlib.conv import conv2d_backward_naive, conv2d_forward_naive
from cnnlib.fused import (conv_relu_pool_backward, conv_relu_pool_forward, first_conv_relu_pool_backward,
                          first_conv_relu_pool_forward)
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.models import LeNet5
from cnnlib.pool import max_pool2d_backward_naive, max_pool2d_forward_naive

# (x shape, w shape, pad): every case has an even convolution output
CASES = [((3, 1, 28, 28), (6, 1, 5, 5), 2), ((2, 3, 10, 12), (4, 3, 3, 3), 1), ((2, 2, 7, 9), (3, 2, 4, 4), 1),
         ((2, 3, 8, 8), (2, 3, 5, 5), 0), ((4, 2, 12, 10), (3, 2, 3, 3), 0), ((2, 1, 7, 7), (3, 1, 2, 2), 1),
         ((1, 2, 9, 6), (5, 2, 4, 3), 1), ((2, 2, 4, 4), (2, 2, 1, 1), 0)]



def _first_route_backward(dout, cache):
    return (None, *first_conv_relu_pool_backward(dout, cache))


# (forward, backward returning (dx or None, dw, db), whether dx is computed)
ROUTES = {"general": (conv_relu_pool_forward, conv_relu_pool_backward, True),
          "first": (first_conv_relu_pool_forward, _first_route_backward, False)}


def _reference(x, w, b, pad, dout):
    """Output and (dx, dw, db) of naive convolution -> ReLU -> naive 2x2 max pooling, layer after layer."""
    conv = conv2d_forward_naive(x, w, b, 1, pad)
    relu = np.maximum(conv, 0)
    out = max_pool2d_forward_naive(relu)
    d_relu = max_pool2d_backward_naive(dout, relu)
    return (out, *conv2d_backward_naive(d_relu * (conv > 0), x, w, 1, pad))


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("x_shape, w_shape, pad", CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_matches_the_layers_one_after_another(route, x_shape, w_shape, pad, ties):
    forward, backward, gives_dx = ROUTES[route]
    rng = np.random.default_rng(len(x_shape) + sum(w_shape) + pad)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    if ties:  # small integers: many equal maxima inside the pooling tiles, and exact zeros
        x, w, b = np.round(x), np.round(w), np.round(b)
    out, cache = forward(x, w, b, pad)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx, ref_dw, ref_db = _reference(x, w, b, pad, dout)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    dx, dw, db = backward(dout, cache)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, ref_db, rtol=1e-10, atol=1e-10)
    if gives_dx:
        np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-10)
    else:
        assert dx is None


def test_general_route_can_skip_the_input_gradient():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 10, 12)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = conv_relu_pool_forward(x, w, b, 1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_relu_pool_backward(dout, cache, input_grad=False)
    assert dx is None
    _, dw_all, db_all = conv_relu_pool_backward(dout, cache)
    np.testing.assert_array_equal(dw, dw_all)
    np.testing.assert_array_equal(db, db_all)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("x_shape, w_shape, pad", CASES[1:4])
def test_gradient_check(route, x_shape, w_shape, pad):
    forward, backward, gives_dx = ROUTES[route]
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = forward(x, w, b, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = backward(dout, cache)
    for analytic, array in ((dx, x), (dw, w), (db, b)) if gives_dx else ((dw, w), (db, b)):
        numeric = numerical_gradient(lambda _: np.sum(forward(x, w, b, pad)[0] * dout), array)
        assert rel_error(analytic, numeric) < 1e-7


@pytest.mark.parametrize("route", ROUTES)
def test_float32_preserved_and_inputs_untouched(route):
    forward, backward, gives_dx = ROUTES[route]
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 1, 28, 28), (6, 1, 5, 5), (6,)))
    x_before = x.copy()
    out, cache = forward(x, w, b, 2)
    dout = np.ones(out.shape, np.float32)
    dout_before = dout.copy()
    dx, dw, db = backward(dout, cache)
    assert out.dtype == dw.dtype == db.dtype == np.float32 and (dx is None or dx.dtype == np.float32)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize("route", ROUTES)
def test_bad_arguments(route):
    forward, backward, _ = ROUTES[route]
    x, w, b = np.zeros((2, 1, 9, 9)), np.zeros((3, 1, 3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="even convolution output, got 7x7"):
        forward(x, w, b, 0)
    with pytest.raises(ValueError, match="channel mismatch"):
        forward(x, np.zeros((3, 2, 3, 3)), b, 1)
    out, cache = forward(np.zeros((2, 1, 10, 10)), w, b, 1)
    assert out.shape == (2, 3, 5, 5)
    with pytest.raises(ValueError, match=r"dout: expected the forward output's shape \(2, 3, 5, 5\)"):
        backward(np.zeros((2, 3, 5, 6)), cache)


def test_lenet_fused_step_equals_the_layer_by_layer_step():
    rng = np.random.default_rng(1)
    x, y = rng.random((5, 1, 28, 28)), rng.integers(0, 10, 5)
    fused, layered = LeNet5(dtype=np.float64, rng=np.random.default_rng(2)), LeNet5(dtype=np.float64, rng=np.random.default_rng(2))
    layered.fused = False
    assert fused.fused
    for model in (fused, layered):
        for name, param in model.params.items():
            if name.endswith(".b"):
                param[:] = np.random.default_rng(len(name)).standard_normal(param.shape) * 0.1
    np.testing.assert_allclose(fused.loss(x, y), layered.loss(x, y), rtol=1e-12)
    assert fused.backward() is None and layered.backward() is None
    for name, grad in fused.grads.items():
        np.testing.assert_allclose(grad, layered.grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(fused.forward(x), layered.forward(x), rtol=1e-12)
