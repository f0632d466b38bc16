"""The tuned path of the small ResNet (cnnlib.tuned.resnet) against its plain twins."""

import numpy as np
import pytest

from cnnlib import checkpoints, conv, tuned
from cnnlib.blocks import Block, Residual, small_resnet
from cnnlib.layers import Conv2D
from cnnlib.norm import BatchNorm2D
from cnnlib.optim import SGD, Adam
from cnnlib.training import evaluate
from cnnlib.tuned import resnet
from cnnlib.tuned.resnet import CNHWBatchNorm2D, CNHWConv2D

# (x shape, w shape, stride, pad): small_resnet's shapes (3x3 pad 1 at stride 1 and 2, 1x1 at
# stride 1 and 2) and others: odd sizes, no padding, pad 2, rectangular kernels
CONV_CASES = [((3, 1, 9, 9), (4, 1, 3, 3), 1, 1), ((2, 3, 8, 8), (5, 3, 3, 3), 2, 1),
              ((2, 3, 7, 7), (4, 3, 3, 3), 2, 1), ((3, 4, 6, 6), (2, 4, 1, 1), 1, 0),
              ((2, 4, 7, 7), (6, 4, 1, 1), 2, 0), ((2, 2, 9, 7), (3, 2, 5, 3), 1, 2),
              ((1, 2, 10, 11), (3, 2, 3, 2), 3, 0), ((5, 3, 5, 6), (2, 3, 2, 2), 1, 0)]


def _arrays(rng, x_shape, w_shape):
    return (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
            rng.standard_normal(w_shape[0]))


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
@pytest.mark.parametrize("layout", ["nchw", "channel-major"])
def test_conv_matches_the_plain_convolution(x_shape, w_shape, stride, pad, layout):
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape) + 7 * stride + pad)
    x, w, b = _arrays(rng, x_shape, w_shape)
    if layout == "channel-major":    # the input as a tuned layer hands it on: a view
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    x_before = x.copy()
    out, cache = resnet.conv2d_forward(x, w, b, stride, pad)
    ref, ref_cache = conv.conv2d_forward(x, w, b, stride, pad)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for input_grad in (True, False):
        dx, dw, db = resnet.conv2d_backward(dout, cache, input_grad)
        ref_dx, ref_dw, ref_db = conv.conv2d_backward(dout, ref_cache, input_grad)
        np.testing.assert_allclose(dw, ref_dw, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(db, ref_db, rtol=1e-12, atol=1e-11)
        if input_grad:
            assert dx.shape == x.shape
            np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-11)
        else:
            assert dx is None
    np.testing.assert_array_equal(x, x_before)


def test_conv_keeps_float32_and_its_output_is_channel_major():
    rng = np.random.default_rng(3)
    x, w, b = (a.astype(np.float32) for a in _arrays(rng, (4, 3, 8, 8), (5, 3, 3, 3)))
    out, cache = resnet.conv2d_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32 and out.transpose(1, 0, 2, 3).flags.c_contiguous
    dx, dw, db = resnet.conv2d_backward(np.ones_like(out), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_allclose(out, conv.conv2d_forward(x, w, b, 1, 1)[0], rtol=1e-5, atol=1e-5)


def test_conv_checks_its_arguments():
    x, w, b = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3)), np.zeros(4)
    with pytest.raises(ValueError):
        resnet.conv2d_forward(x, np.zeros((4, 2, 3, 3)), b, 1, 1)       # channels differ
    with pytest.raises(ValueError):
        resnet.conv2d_forward(x[0], w, b, 1, 1)                         # not 4-D
    with pytest.raises(ValueError):
        resnet.conv2d_forward(x, w, b, 0, 1)                            # stride 0
    _, cache = resnet.conv2d_forward(x, w, b, 2, 1)
    with pytest.raises(ValueError):
        resnet.conv2d_backward(np.zeros((2, 4, 8, 8)), cache)           # stride-1 shape


BN_SHAPES = [(4, 3, 5, 5), (2, 16, 7, 7), (7, 2, 3, 1), (3, 5, 1, 1)]


def _plain_and_tuned_bn(channels, dtype=np.float64, rng=None):
    plain = BatchNorm2D(channels, momentum=0.8, eps=1e-3, dtype=dtype)
    plain.params["gamma"][...] = rng.standard_normal(channels)
    plain.params["beta"][...] = rng.standard_normal(channels)
    twin = BatchNorm2D(channels, momentum=0.8, eps=1e-3, dtype=dtype)
    for source, target in ((plain.params, twin.params), (plain.buffers, twin.buffers)):
        for key in source:
            target[key][...] = source[key]
    return plain, CNHWBatchNorm2D.sharing(twin)


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_the_plain_layer(shape, training):
    rng = np.random.default_rng(sum(shape) + training)
    plain, fast = _plain_and_tuned_bn(shape[1], rng=rng)
    variance = 0.5 + rng.random(shape[1])
    plain.buffers["running_var"][...] = fast.buffers["running_var"][...] = variance
    plain.training = fast.training = training
    for _ in range(2):
        x = 3 * rng.standard_normal(shape) + 1
        x_before = x.copy()
        out, ref = fast.forward(x), plain.forward(x)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        for key in plain.buffers:
            np.testing.assert_allclose(fast.buffers[key], plain.buffers[key], rtol=1e-13)
        dout = rng.standard_normal(shape)
        dout_before = dout.copy()
        np.testing.assert_allclose(fast.backward(dout), plain.backward(dout), rtol=1e-10,
                                   atol=1e-12)
        for key in plain.grads:
            np.testing.assert_allclose(fast.grads[key], plain.grads[key], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(dout, dout_before)


def test_batch_norm_float32_and_argument_checks():
    rng = np.random.default_rng(5)
    plain, fast = _plain_and_tuned_bn(3, dtype=np.float32, rng=rng)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    out = fast.forward(x)
    assert out.dtype == np.float32 and fast.backward(np.ones_like(out)).dtype == np.float32
    assert fast.grads["gamma"].dtype == np.float32
    np.testing.assert_allclose(out, plain.forward(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="expected shape"):
        fast.forward(np.zeros((4, 2, 5, 5)))
    with pytest.raises(ValueError, match="more than one value"):
        fast.forward(np.zeros((1, 3, 1, 1)))
    with pytest.raises(TypeError):
        fast.forward(np.zeros((4, 3, 5, 5), dtype=int))
    fast.forward(x)
    with pytest.raises(ValueError):
        fast.backward(np.zeros((4, 3, 5, 4)))


def _pair(shortcuts=True, blocks_per_stage=1, widths=(4, 6, 8)):
    kwargs = dict(widths=widths, blocks_per_stage=blocks_per_stage, shortcuts=shortcuts,
                  dtype=np.float64)
    return (small_resnet(rng=np.random.default_rng(0), **kwargs),
            small_resnet(rng=np.random.default_rng(0), tuned=True, **kwargs))


def _layers(layer):
    if isinstance(layer, Block):
        for _, child in layer.children():
            yield from _layers(child)
    else:
        yield layer


def test_tuned_small_resnet_has_tuned_layers_and_the_same_names():
    plain, fast = _pair(blocks_per_stage=2)
    assert list(fast.params) == list(plain.params)
    assert list(fast.buffers) == list(plain.buffers)
    kinds = {type(layer) for layer in _layers(Block(*fast.layers.items()))}
    assert CNHWConv2D in kinds and CNHWBatchNorm2D in kinds
    assert Conv2D not in kinds and BatchNorm2D not in kinds
    assert isinstance(fast.layers["stage2"].layers["block0"], Residual)
    # fuse shares the arrays: a plain model and its fused copy are one set of weights
    fused = tuned.fuse(plain)
    for key, value in plain.params.items():
        assert fused.params[key] is value


# Adam divides by the root of the squared gradients: the convolution biases just before a batch
# norm get gradients that are pure rounding noise (about 1e-16: batch norm removes any constant),
# and Adam turns that noise into steps of about lr. Those biases are compared with SGD only, and the
# running means, which carry them, to a looser tolerance after Adam.
@pytest.mark.parametrize("shortcuts", [True, False])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_tuned_small_resnet_trains_like_the_plain_one(shortcuts, optimizer):
    plain, fast = _pair(shortcuts=shortcuts, blocks_per_stage=2)
    rng = np.random.default_rng(1)
    make = (lambda: SGD(0.1)) if optimizer == "sgd" else (lambda: Adam(1e-2))
    opt_plain, opt_fast = make(), make()
    for step in range(4):
        x = rng.random((6 + step, 1, 12, 12))
        y = rng.integers(0, 10, len(x))
        losses = []
        for model, opt in ((plain, opt_plain), (fast, opt_fast)):
            losses.append(model.loss(x, y))
            model.backward()
            opt.update(model.params, model.grads)
        assert losses[0] == pytest.approx(losses[1], rel=1e-12)
    noise = {key for key in plain.params if optimizer == "adam" and key.endswith(".b")
             and key != "fc.b"}
    for key in plain.params:
        if key not in noise:
            np.testing.assert_allclose(fast.params[key], plain.params[key], rtol=0, atol=1e-10,
                                       err_msg=key)
    for key in plain.buffers:
        np.testing.assert_allclose(fast.buffers[key], plain.buffers[key], rtol=0,
                                   atol=1e-10 if optimizer == "sgd" else 1e-8, err_msg=key)
    x = rng.random((5, 1, 12, 12))
    plain.eval(), fast.eval()
    assert not any(layer.training for layer in _layers(Block(*fast.layers.items())))
    np.testing.assert_allclose(fast.forward(x), plain.forward(x), rtol=0,
                               atol=1e-10 if optimizer == "sgd" else 1e-7)


def test_input_gradient_checkpoints_and_evaluate(tmp_path):
    plain, fast = _pair()
    plain.input_grad = fast.input_grad = True
    rng = np.random.default_rng(2)
    x, y = rng.random((5, 1, 10, 10)), rng.integers(0, 10, 5)
    plain.loss(x, y), fast.loss(x, y)
    np.testing.assert_allclose(fast.backward(), plain.backward(), rtol=1e-10, atol=1e-13)
    path = tmp_path / "tuned.npz"
    checkpoints.save_params(fast, path)
    other = small_resnet(widths=(4, 6, 8), dtype=np.float64, rng=np.random.default_rng(9))
    checkpoints.load_params(other, path)
    for key, value in fast.params.items():
        np.testing.assert_array_equal(other.params[key], value)
    assert evaluate(fast, x, y) == evaluate(plain, x, y)


def test_bridge_converts_the_tuned_model():
    torch = pytest.importorskip("torch")
    from cnnlib import bridge

    _, fast = _pair()
    fast.eval()
    module = bridge.to_torch(fast)
    x = np.random.default_rng(4).random((3, 1, 12, 12))
    with torch.no_grad():
        scores = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(scores, fast.forward(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_count_does_not_change_a_single_bit(monkeypatch, threads):
    rng = np.random.default_rng(6)
    x, w, b = _arrays(rng, (3, 5, 9, 9), (4, 5, 3, 3))
    results = []
    for count in (2, threads):
        monkeypatch.setattr(resnet, "THREADS", count)
        for stride in (1, 2):
            out, cache = resnet.conv2d_forward(x, w, b, stride, 1)
            results.append([out, *resnet.conv2d_backward(np.cos(out), cache)])
        gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
        out, cache = resnet.batch_norm_forward(x, gamma, beta, 1e-5)
        results.append([out, *resnet.batch_norm_backward(np.cos(out), cache, gamma)])
        rng = np.random.default_rng(6)
        x, w, b = _arrays(rng, (3, 5, 9, 9), (4, 5, 3, 3))
    for first, second in zip(results[:3], results[3:]):
        for a, b_ in zip(first, second):
            np.testing.assert_array_equal(a, b_)


def test_in_parts_covers_every_index_once_and_raises_errors(monkeypatch):
    monkeypatch.setattr(resnet, "THREADS", 3)
    seen = np.zeros(10, dtype=int)

    def work(lo, hi):
        seen[lo:hi] += 1
    resnet.in_parts(10, work)
    np.testing.assert_array_equal(seen, 1)

    def fail(lo, hi):
        if lo > 0:
            raise ValueError("part")
    with pytest.raises(ValueError, match="part"):
        resnet.in_parts(10, fail)


@pytest.mark.parametrize("tuned_route", [False, True])
def test_first_block_skips_the_image_gradient_until_asked(tuned_route):
    model = small_resnet(widths=(4, 6), dtype=np.float64, rng=np.random.default_rng(0),
                         tuned=tuned_route)
    stem_conv = model.layers["stem"].layers["conv"]
    assert not stem_conv.input_grad and not model.layers["stem"].input_grad
    rng = np.random.default_rng(3)
    x, y = rng.random((4, 1, 8, 8)), rng.integers(0, 10, 4)
    model.loss(x, y)
    assert model.backward() is None
    model.input_grad = True
    assert stem_conv.input_grad
    model.loss(x, y)
    assert model.backward().shape == x.shape
    residual = model.layers["stage1"].layers["block0"]
    residual.input_grad = False        # a residual block always needs both paths' dx
    assert residual.input_grad and residual.layers["conv1"].input_grad


def _sum_in_parts(_):
    total = np.zeros(8)

    def work(lo, hi):
        total[lo:hi] = np.arange(lo, hi)
    resnet.in_parts(8, work)
    return total.sum()


def test_in_parts_works_in_a_forked_child(monkeypatch):
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(resnet, "THREADS", 2)
    assert _sum_in_parts(None) == 28          # the parent has its pool now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_sum_in_parts, [0]).get(timeout=60) == [28]
