import numpy as np
import pytest

from cnnlib import conv, tuned
from cnnlib.conv import conv2d_backward_naive, conv2d_forward_naive
from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.layers import Affine, Conv2D, Flatten, MaxPool2D, ReLU
from cnnlib.models import LeNet5, Sequential
from cnnlib.pool import max_pool2d_backward_naive, max_pool2d_forward_naive
from cnnlib.tuned import (
    ConvReLUPool,
    TunedConv2D,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    first_conv_relu_pool_backward,
    first_conv_relu_pool_forward,
)

# (x shape, w shape, pad): every case has an even convolution output
CASES = [((3, 1, 28, 28), (6, 1, 5, 5), 2), ((2, 3, 10, 12), (4, 3, 3, 3), 1),
         ((2, 2, 7, 9), (3, 2, 4, 4), 1),
         ((2, 3, 8, 8), (2, 3, 5, 5), 0), ((4, 2, 12, 10), (3, 2, 3, 3), 0),
         ((2, 1, 7, 7), (3, 1, 2, 2), 1),
         ((1, 2, 9, 6), (5, 2, 4, 3), 1), ((2, 2, 4, 4), (2, 2, 1, 1), 0)]


# (forward, backward returning (dx or None, dw, db), whether dx is computed)
ROUTES = {"general": (conv_relu_pool_forward, conv_relu_pool_backward, True),
          "first": (first_conv_relu_pool_forward, first_conv_relu_pool_backward, False)}


def _reference(x, w, b, pad, dout):
    """Output and (dx, dw, db) of naive convolution -> ReLU -> naive 2x2 max pooling, layer after
    layer."""
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
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
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
    x, w, b = (rng.standard_normal((2, 3, 10, 12)), rng.standard_normal((4, 3, 3, 3)),
               rng.standard_normal(4))
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
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
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
    x, w, b = (rng.standard_normal(s).astype(np.float32)
               for s in ((2, 1, 28, 28), (6, 1, 5, 5), (6,)))
    x_before = x.copy()
    out, cache = forward(x, w, b, 2)
    dout = np.ones(out.shape, np.float32)
    dout_before = dout.copy()
    dx, dw, db = backward(dout, cache)
    assert out.dtype == dw.dtype == db.dtype == np.float32 and (
        dx is None or dx.dtype == np.float32
    )
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
    with pytest.raises(ValueError,
                       match=r"dout: expected the forward output's shape \(2, 3, 5, 5\)"):
        backward(np.zeros((2, 3, 5, 6)), cache)


def test_first_route_refuses_an_input_gradient():
    x, w, b = np.zeros((1, 1, 8, 8)), np.zeros((2, 1, 3, 3)), np.zeros(2)
    out, cache = first_conv_relu_pool_forward(x, w, b, 1)
    with pytest.raises(ValueError,
                       match="input_grad: the space-to-depth route computes no input gradient"):
        first_conv_relu_pool_backward(out, cache, input_grad=True)


# --- the tuned convolution against the plain one ----------------------------------------------

def _random_conv_case(rng):
    n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    h, w_ = int(rng.integers(max(kh - 2 * pad, 1), 12)), int(rng.integers(max(kw - 2 * pad, 1), 12))
    return (rng.standard_normal((n, c, h, w_)), rng.standard_normal((f, c, kh, kw)),
            rng.standard_normal(f), stride, pad)


@pytest.mark.parametrize("seed", range(40))
def test_tuned_conv_equals_the_plain_conv(seed):
    rng = np.random.default_rng(seed)
    x, w, b, stride, pad = _random_conv_case(rng)
    out, cache = conv.conv2d_forward(x, w, b, stride, pad)
    tuned_out, tuned_cache = tuned.conv2d_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(tuned_out, out, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for plain, fast in zip(conv.conv2d_backward(dout, cache),
                           tuned.conv2d_backward(dout, tuned_cache)):
        np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape, w_shape, pad",
                         [((128, 1, 28, 28), (6, 1, 5, 5), 2), ((64, 6, 14, 14), (16, 6, 5, 5), 0)])
def test_tuned_conv_on_lenet_shapes_both_product_orders(x_shape, w_shape, pad):
    rng = np.random.default_rng(5)
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
    out, cache = conv.conv2d_forward(x, w, b, 1, pad)
    tuned_out, tuned_cache = tuned.conv2d_forward(x, w, b, 1, pad)
    np.testing.assert_allclose(tuned_out, out, rtol=1e-10, atol=1e-10)
    dout = rng.standard_normal(out.shape)
    for plain, fast in zip(conv.conv2d_backward(dout, cache),
                           tuned.conv2d_backward(dout, tuned_cache)):
        np.testing.assert_allclose(fast, plain, rtol=1e-9, atol=1e-9)


def test_tuned_conv_reads_views_and_float32():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((4, 3, 12, 14)).astype(np.float32)
    x = base[::2, :, 1:11, ::2]                                    # a strided, non-contiguous view
    w, b = rng.standard_normal((5, 3, 3, 3)).astype(np.float32), np.zeros(5, np.float32)
    out, cache = tuned.conv2d_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, conv.conv2d_forward(x, w, b, 1, 1)[0], rtol=1e-5, atol=1e-5)
    dx, dw, db = tuned.conv2d_backward(np.ones_like(out), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32 and dx.shape == x.shape


def test_tuned_conv2d_layer_gradient_check():
    rng = np.random.default_rng(0)
    layer = TunedConv2D(3, 4, 3, stride=2, pad=1, dtype=np.float64, rng=rng)
    errors = check_layer(layer, rng.standard_normal((2, 3, 7, 6)))
    assert max(errors.values()) < 1e-7, errors


# --- layers and models --------------------------------------------------------------------------

@pytest.mark.parametrize("in_channels, input_grad", [(1, False), (1, True), (6, True), (6, False)])
def test_conv_relu_pool_layer_equals_the_three_layers(in_channels, input_grad):
    rng = np.random.default_rng(in_channels)
    conv_layer = Conv2D(in_channels, 4, 3, pad=1, dtype=np.float64, rng=rng, input_grad=input_grad)
    conv_layer.params["b"][:] = rng.standard_normal(4) * 0.1
    plain = Sequential(("c", conv_layer), ReLU(), MaxPool2D(2), input_grad=input_grad)
    fused = tuned.fuse(plain)
    assert list(fused.layers) == ["c"] and isinstance(fused.layers["c"], ConvReLUPool)
    assert fused.params["c.W"] is plain.params["c.W"]
    x = rng.standard_normal((3, in_channels, 8, 10))
    np.testing.assert_allclose(fused.forward(x), plain.forward(x), rtol=1e-12)
    dscores = rng.standard_normal((3, 4, 4, 5))
    dx_plain, dx_fused = plain.backward_from_scores(dscores), fused.backward_from_scores(dscores)
    if input_grad:
        np.testing.assert_allclose(dx_fused, dx_plain, rtol=1e-10, atol=1e-12)
    else:
        assert dx_plain is None and dx_fused is None
    for name, grad in plain.grads.items():
        np.testing.assert_allclose(fused.grads[name], grad, rtol=1e-10, atol=1e-12)


def test_conv_relu_pool_gradient_check():
    rng = np.random.default_rng(1)
    layer = ConvReLUPool(Conv2D(2, 3, 3, pad=1, dtype=np.float64, rng=rng))
    layer.params["b"][:] = rng.standard_normal(3)
    errors = check_layer(layer, rng.standard_normal((2, 2, 6, 6)))
    assert max(errors.values()) < 1e-7, errors


def test_fuse_rewrites_only_conv_relu_pool_triples():
    rng = np.random.default_rng(0)
    model = Sequential(("a", Conv2D(1, 2, 3, pad=1, rng=rng)), ReLU(), MaxPool2D(2, stride=1),
                       ("b", Conv2D(2, 2, 3, pad=1, rng=rng)), ("r", ReLU()),
                       ("p", MaxPool2D(2)), Flatten(),
                       Affine(2 * 3 * 3, 3, rng=rng))
    fused = tuned.fuse(model)
    kinds = {name: type(layer).__name__ for name, layer in fused.layers.items()}
    assert kinds == {"a": "TunedConv2D", "relu1": "ReLU",
                     "maxpool2d2": "MaxPool2D", "b": "ConvReLUPool",
                     "flatten6": "Flatten", "affine7": "Affine"}
    assert list(fused.params) == list(model.params)
    x = rng.random((2, 1, 7, 7)).astype(np.float32)
    np.testing.assert_allclose(fused.forward(x), model.forward(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="conv_layer: expected a stride-1 Conv2D"):
        ConvReLUPool(Conv2D(1, 2, 3, stride=2))


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-9), (np.float32, 1e-5)])
@pytest.mark.parametrize("input_grad", [False, True])
def test_lenet_tuned_equals_plain(dtype, tolerance, input_grad):
    rng = np.random.default_rng(1)
    x, y = rng.random((5, 1, 28, 28)).astype(dtype), rng.integers(0, 10, 5)
    plain = LeNet5(dtype=dtype, rng=np.random.default_rng(2), input_grad=input_grad)
    fast = LeNet5(dtype=dtype, rng=np.random.default_rng(2), input_grad=input_grad, tuned=True)
    assert list(fast.params) == list(plain.params)
    assert [type(layer).__name__
            for layer in fast.layers.values()][:2] == ["ConvReLUPool", "ConvReLUPool"]
    for model in (plain, fast):
        for name, param in model.params.items():
            if name.endswith(".b"):
                param[:] = np.random.default_rng(len(name)).standard_normal(param.shape) * 0.1
    assert rel_error(fast.loss(x, y), plain.loss(x, y)) < tolerance
    assert rel_error(fast.last_scores, plain.last_scores) < tolerance
    dx_plain, dx_fast = plain.backward(), fast.backward()
    for name, grad in plain.grads.items():
        assert rel_error(fast.grads[name], grad) < tolerance, name
    if input_grad:
        assert dx_fast.shape == x.shape and rel_error(dx_fast, dx_plain) < tolerance
    else:
        assert dx_plain is None and dx_fast is None


def test_tuned_conv_on_an_empty_batch_and_read_only_input():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((2, 3, 3, 3)), np.zeros(2)
    out, cache = tuned.conv2d_forward(np.zeros((0, 3, 8, 8)), w, b, 1, 1)
    assert out.shape == (0, 2, 8, 8)
    assert tuned.conv2d_backward(out, cache)[0].shape == (0, 3, 8, 8)
    x = rng.standard_normal((2, 3, 8, 8))
    x.flags.writeable = False
    np.testing.assert_allclose(tuned.conv2d_forward(x, w, b, 1, 1)[0],
                               conv.conv2d_forward(x, w, b, 1, 1)[0],
                               rtol=1e-12, atol=1e-12)


def test_fuse_returns_a_copy_of_the_model_with_fused_layers():
    model = LeNet5(rng=np.random.default_rng(0), input_grad=True).eval()
    fused = tuned.fuse(model)
    assert type(fused) is LeNet5 and fused is not model and not fused.training
    assert list(fused.layers) == ["conv1", "conv2", "flatten", "fc1",
                                  "relu3", "fc2", "relu4", "fc3"]
    assert len(model.layers) == 12, "the plain model keeps its own layers"
    assert fused.loss_layer is model.loss_layer
    assert fused.input_grad and fused.layers["conv1"].input_grad
    x = np.random.default_rng(1).random((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(fused.forward(x), model.forward(x), rtol=1e-5, atol=1e-6)


# --- workspaces: intermediate arrays reused from one call to the next ---------------------------

@pytest.mark.parametrize("route", ROUTES)
def test_a_workspace_reuses_its_arrays_and_changes_no_number(route):
    forward, backward, _ = ROUTES[route]
    rng = np.random.default_rng(7)
    w, b = np.round(rng.standard_normal((3, 1, 3, 3))), np.round(rng.standard_normal(3))
    workspace = {}
    # the same shape twice, another batch size, then the first again; small integers give ties in
    # the pooling tiles and exact zeros
    for batch in (3, 3, 2, 3):
        x = np.round(rng.standard_normal((batch, 1, 8, 6)) * 2)
        before = dict(workspace)
        out, cache = forward(x, w, b, 1, workspace)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = backward(dout, cache)
        fresh_out, fresh_cache = forward(x, w, b, 1)
        fresh_dx, fresh_dw, fresh_db = backward(dout, fresh_cache)
        np.testing.assert_array_equal(out, fresh_out)
        np.testing.assert_array_equal(dw, fresh_dw)
        np.testing.assert_array_equal(db, fresh_db)
        if dx is not None:
            np.testing.assert_array_equal(dx, fresh_dx)
        same_shape = before and before["cols"].shape[1] == workspace["cols"].shape[1]
        assert all((workspace[key] is array) == bool(same_shape) for key, array in before.items())
    assert {"cols", "pooled"} <= set(workspace)


def test_scratch_makes_new_arrays_for_new_shapes_and_keeps_zeros():
    workspace = {}
    first = tuned.conv.scratch(workspace, "a", (2, 3), np.float32, zeros=True)
    np.testing.assert_array_equal(first, 0)
    first[0] = 5
    assert tuned.conv.scratch(workspace, "a", (2, 3), np.float32, zeros=True) is first
    assert first[0, 0] == 5, "a reused array keeps what it holds"
    other = tuned.conv.scratch(workspace, "a", (3, 3), np.float32)
    assert other.shape == (3, 3) and workspace["a"] is other
    assert tuned.conv.scratch(workspace, "a", (3, 3), np.float64).dtype == np.float64
    assert tuned.conv.scratch(None, "a", (3, 3), np.float64) is not workspace["a"]


@pytest.mark.parametrize("in_channels", [1, 6])
def test_conv_relu_pool_layer_outputs_are_not_overwritten_by_the_next_batch(in_channels):
    rng = np.random.default_rng(in_channels)
    layer = ConvReLUPool(Conv2D(in_channels, 4, 3, pad=1, dtype=np.float64, rng=rng,
                                input_grad=in_channels > 1))
    x1, x2 = rng.standard_normal((2, 2, in_channels, 8, 8))
    out1 = layer.forward(x1)
    dx1 = layer.backward(np.ones_like(out1))
    saved_out, saved_dx = out1.copy(), None if dx1 is None else dx1.copy()
    out2 = layer.forward(x2)
    layer.backward(np.full_like(out2, 2.0))
    np.testing.assert_array_equal(out1, saved_out)
    if dx1 is not None:
        np.testing.assert_array_equal(dx1, saved_dx)
    assert layer.workspace, "training mode keeps the arrays"


def test_conv_relu_pool_layer_workspace_only_in_training_and_never_shared():
    import copy
    import pickle

    layer = ConvReLUPool(Conv2D(6, 4, 3, pad=1, rng=np.random.default_rng(0)))
    x = np.random.default_rng(1).random((2, 6, 8, 8)).astype(np.float32)
    layer.forward(x)
    assert layer.workspace
    twin, unpickled = copy.copy(layer), pickle.loads(pickle.dumps(layer))
    assert twin.workspace == {} and unpickled.workspace == {} and twin.params is layer.params
    twin.forward(x)
    assert all(twin.workspace[key] is not layer.workspace[key] for key in twin.workspace)
    layer.training = False
    layer.forward(x)
    assert layer.workspace == {}, "evaluation empties it"


def test_lenet_trained_with_workspaces_equals_one_without():
    from cnnlib.optim import Adam

    rng = np.random.default_rng(3)
    x, y = rng.random((24, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 24)
    models = [LeNet5(rng=np.random.default_rng(4), tuned=True) for _ in range(2)]
    optimizers = [Adam(1e-3), Adam(1e-3)]
    for step in range(4):
        part = slice(8 * (step % 3), 8 * (step % 3) + 8 - 2 * (step == 3))
        for model, optimizer in zip(models, optimizers):
            if model is models[1]:
                for layer in model.layers.values():
                    if isinstance(layer, ConvReLUPool):
                        layer.workspace.clear()    # every step from new arrays
            model.loss(x[part], y[part])
            model.backward()
            optimizer.update(model.params, model.grads)
    for name, param in models[0].params.items():
        np.testing.assert_array_equal(param, models[1].params[name])
