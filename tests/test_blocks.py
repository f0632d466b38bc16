import numpy as np
import pytest

from cnnlib.blocks import (
    Block,
    GlobalAvgPool2D,
    Residual,
    basic_block,
    projection,
    small_resnet,
)
from cnnlib.gradcheck import check_layer, check_model, numerical_gradient, rel_error
from cnnlib.interpret import score_gradient
from cnnlib.layers import Affine, Conv2D, ReLU
from cnnlib.models import Sequential
from cnnlib.norm import BatchNorm2D
from cnnlib.optim import SGD
from cnnlib.training import evaluate, fit, load_params, save_params

F64 = {"dtype": np.float64}


def images(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def tiny_resnet(shortcuts=True, seed=0, **kwargs):
    """Widths 2/3/4 on 1x8x8 images: small enough for numerical gradients of every parameter."""
    return small_resnet((2, 3, 4), shortcuts=shortcuts, num_classes=3,
                        rng=np.random.default_rng(seed), **kwargs)


def conv_bias(name):
    """Whether ``name`` is a convolution's bias (in ``small_resnet`` batch norm follows every
    convolution)."""
    return name.endswith(".b") and name.split(".")[-2].startswith("conv")


def assert_gradients_agree(errors, grads, zero=lambda name: False):
    """Relative errors below 1e-7, except for the parameters ``zero(name)`` picks: biases of
    convolutions that batch norm follows. Batch norm subtracts the channel mean, so such a bias has
    no effect on the output and its true gradient is 0 (the relative error of two rounding
    residues means nothing): check that it is 0 up to rounding."""
    for key, error in errors.items():
        name = key[1:] if key[1:] in grads else key
        if zero(name):
            assert np.abs(grads[name]).max() < 1e-12, (name, grads[name])
        else:
            assert error < 1e-7, (key, error)


# --- GlobalAvgPool2D ---------------------------------------------------------------------------

def test_global_avg_pool_values_dtype_and_backward():
    x = images((2, 3, 4, 5), dtype=np.float32)
    pool = GlobalAvgPool2D()
    out = pool.forward(x)
    assert out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, x.reshape(2, 3, -1).mean(axis=2), rtol=1e-6)
    dout = images((2, 3), seed=1, dtype=np.float32)
    dx = pool.backward(dout)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_allclose(dx[1, 2], np.full((4, 5), dout[1, 2] / 20), rtol=1e-6)


def test_global_avg_pool_gradcheck():
    errors = check_layer(GlobalAvgPool2D(), images((2, 3, 4, 5)))
    assert errors["dx"] < 1e-7, errors


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_global_avg_pool_rejects_non_4d(shape):
    with pytest.raises(ValueError) as err:
        GlobalAvgPool2D().forward(np.zeros(shape))
    expected = f"GlobalAvgPool2D: expected a 4-D input (N, C, H, W), got shape {shape}"
    assert str(err.value) == expected


def test_global_avg_pool_rejects_wrong_dout():
    pool = GlobalAvgPool2D()
    pool.forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"expected the forward output's shape \(2, 3\), "
                                         r"got \(3, 2\)"):
        pool.backward(np.zeros((3, 2)))


# --- Residual ----------------------------------------------------------------------------------

def test_residual_identity_gradcheck():
    rng = np.random.default_rng(0)
    block = Residual(("conv1", Conv2D(3, 3, 3, pad=1, rng=rng, **F64)),
                     ("bn1", BatchNorm2D(3, **F64)),
                     ("relu1", ReLU()),
                     ("conv2", Conv2D(3, 3, 3, pad=1, rng=rng, **F64)))
    errors = check_layer(block, images((2, 3, 5, 5)))
    assert set(errors) == {"dx", "dconv1.W", "dconv1.b", "dbn1.gamma", "dbn1.beta", "dconv2.W",
                           "dconv2.b"}
    assert_gradients_agree(errors, block.grads, zero=lambda name: name == "conv1.b")


def test_residual_projection_gradcheck():
    block = basic_block(2, 4, stride=2, rng=np.random.default_rng(1), **F64)
    x = images((2, 2, 5, 5))
    assert block.forward(x).shape == (2, 4, 3, 3)
    errors = check_layer(block, x)
    assert {"dshortcut.conv.W", "dshortcut.bn.gamma"} <= set(errors)
    assert_gradients_agree(errors, block.grads, zero=conv_bias)


def test_residual_backward_adds_the_identity_gradient():
    """The identity path copies dout to the input: a block whose output ignores its input (zero
    weights) still passes dout through unchanged."""
    conv = Conv2D(2, 2, 3, pad=1, rng=np.random.default_rng(0), **F64)
    conv.params["W"][...] = 0
    block = Residual(conv)
    x = images((1, 2, 4, 4))
    np.testing.assert_array_equal(block.forward(x), x)
    dout = images((1, 2, 4, 4), seed=3)
    np.testing.assert_array_equal(block.backward(dout), dout)


def test_residual_float32_in_float32_out():
    block = basic_block(2, 4, stride=2, rng=np.random.default_rng(0))
    x = images((2, 2, 6, 6), dtype=np.float32)
    out = block.forward(x)
    assert out.dtype == np.float32 and block.backward(np.ones_like(out)).dtype == np.float32


def test_residual_shape_change_without_projection_is_an_error():
    block = Residual(Conv2D(2, 4, 3, pad=1))
    with pytest.raises(ValueError, match=r"Residual: the block maps its input of shape "
                                         r"\(1, 2, 5, 5\) to shape \(1, 4, 5, 5\)"
                                         r".*projection shortcut"):
        block.forward(np.zeros((1, 2, 5, 5), dtype=np.float32))


def test_residual_projection_with_wrong_channels_is_an_error():
    body = [Conv2D(2, 4, 3, stride=2, pad=1)]
    wrong_out = Residual(*body, shortcut=projection(2, 3))
    with pytest.raises(ValueError, match=r"Residual: the projection shortcut gives shape "
                                         r"\(1, 3, 3, 3\), expected the block's output shape "
                                         r"\(1, 4, 3, 3\)"):
        wrong_out.forward(np.zeros((1, 2, 5, 5), dtype=np.float32))
    wrong_in = Residual(*body, shortcut=projection(5, 4))
    with pytest.raises(ValueError, match=r"Residual: the projection shortcut does not fit the "
                                         r"input of shape \(1, 2, 5, 5\): channel mismatch"):
        wrong_in.forward(np.zeros((1, 2, 5, 5), dtype=np.float32))


def test_block_argument_errors():
    with pytest.raises(TypeError, match="Block: expected Layer objects"):
        Block(np.zeros(3))
    with pytest.raises(ValueError, match="Block: duplicate layer name 'a'"):
        Block(("a", ReLU()), ("a", ReLU()))
    with pytest.raises(TypeError, match="Residual: shortcut: expected a Layer or None, got int"):
        Residual(ReLU(), shortcut=3)
    with pytest.raises(ValueError, match="the name 'shortcut' is taken"):
        Residual(("shortcut", ReLU()))


# --- nesting in Sequential ---------------------------------------------------------------------

def test_nested_names_are_dotted_and_stable():
    names = [name for name, _, _ in tiny_resnet().named_params()]
    assert names[:6] == ["stem.conv.W", "stem.conv.b", "stem.bn.gamma", "stem.bn.beta",
                         "stage1.block0.conv1.W", "stage1.block0.conv1.b"]
    assert "stage2.block0.shortcut.conv.W" in names and "stage3.block0.shortcut.bn.beta" in names
    assert names[-2:] == ["fc.W", "fc.b"]
    assert names == [name for name, _, _ in tiny_resnet(seed=5).named_params()]
    plain = [name for name, _, _ in tiny_resnet(shortcuts=False).named_params()]
    assert plain == [name for name in names if ".shortcut." not in name]
    assert "stage1.block0.bn1.running_mean" in tiny_resnet().buffers


def test_nested_params_are_the_layers_arrays():
    model = tiny_resnet()
    conv = model.layers["stage2"].layers["block0"].layers["conv1"]
    assert model.params["stage2.block0.conv1.W"] is conv.params["W"]
    x, y = images((4, 1, 8, 8), dtype=np.float64), np.array([0, 1, 2, 0])
    model = tiny_resnet(dtype=np.float64)
    model.loss(x, y)
    model.backward()
    before = {name: p.copy() for name, p in model.params.items()}
    SGD(lr=0.1).update(model.params, model.grads)
    for name, p in model.params.items():
        np.testing.assert_allclose(p, before[name] - 0.1 * model.grads[name], atol=1e-12)


@pytest.mark.parametrize("shortcuts", [True, False])
def test_nested_model_gradcheck(shortcuts):
    model = tiny_resnet(shortcuts, dtype=np.float64)
    x, y = images((3, 1, 8, 8)), np.array([0, 2, 1])
    errors = check_model(model, x, y)
    assert len(errors) == len(model.params)
    assert_gradients_agree(errors, model.grads, zero=conv_bias)


def test_train_and_eval_reach_nested_layers():
    model = tiny_resnet()
    inner = [model.layers["stem"].layers["bn"],
             model.layers["stage1"].layers["block0"].layers["bn2"],
             model.layers["stage3"].layers["block0"].shortcut.layers["bn"]]
    model.eval()
    assert not any(layer.training for layer in inner)
    model.train()
    assert all(layer.training for layer in inner)
    model.eval()
    x, y = images((8, 1, 8, 8), dtype=np.float32), np.arange(8) % 3
    fit(model, SGD(lr=0.01), x, y, epochs=1, batch_size=4, progress=False)
    assert not any(layer.training for layer in inner)     # fit restores the mode it found


def test_checkpoint_round_trip_with_nested_buffers(tmp_path):
    model = tiny_resnet()
    x, y = images((16, 1, 8, 8), dtype=np.float32), np.arange(16) % 3
    history = fit(model, SGD(lr=0.05), x, y, epochs=2, batch_size=8, progress=False)
    assert np.isfinite(history.loss).all()
    running = model.buffers["stage2.block0.shortcut.bn.running_mean"]
    assert np.any(running != 0)                            # training moved the nested buffers
    save_params(model, tmp_path / "resnet.npz")
    with np.load(tmp_path / "resnet.npz") as saved:
        assert set(saved.files) == set(model.params) | set(model.buffers)
    other = tiny_resnet(seed=7)
    load_params(other, tmp_path / "resnet.npz")
    for name, value in {**model.params, **model.buffers}.items():
        np.testing.assert_array_equal({**other.params, **other.buffers}[name], value)
    model.eval(), other.eval()
    np.testing.assert_array_equal(other.forward(x), model.forward(x))
    assert evaluate(other, x, y) == evaluate(model, x, y)
    save_params(tiny_resnet(shortcuts=False), tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="missing from .*: stage2.block0.shortcut.conv.W"):
        load_params(tiny_resnet(), tmp_path / "plain.npz")


def test_input_gradient_through_nested_model():
    model = tiny_resnet(dtype=np.float64, input_grad=True).eval()
    x = images((2, 1, 8, 8))
    target = np.array([1, 2])
    grads = score_gradient(model, x, target)
    for n, cls in enumerate(target):
        def class_score(xn, cls=cls):
            return model.forward(xn[None])[0, cls]

        numeric = numerical_gradient(class_score, x[n].copy())
        assert rel_error(grads[n], numeric) < 1e-7


# --- small_resnet ------------------------------------------------------------------------------

def test_small_resnet_shapes_and_dtype():
    model = small_resnet(rng=np.random.default_rng(0))
    x = images((2, 1, 28, 28), dtype=np.float32)
    shapes = {name: out.shape for name, out in model.activations(x).items()}
    assert shapes == {"stem": (2, 16, 28, 28), "stage1": (2, 16, 28, 28), "stage2": (2, 32, 14, 14),
                      "stage3": (2, 64, 7, 7), "pool": (2, 64), "fc": (2, 10)}
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert model.forward(x).dtype == np.float32


def test_small_resnet_depth_and_widths():
    model = small_resnet((4, 8), blocks_per_stage=3, num_classes=5, in_channels=3,
                         rng=np.random.default_rng(0))
    stage2 = model.layers["stage2"].layers
    assert list(stage2) == ["block0", "relu0", "block1", "relu1", "block2", "relu2"]
    assert stage2["block0"].shortcut is not None and stage2["block1"].shortcut is None
    assert model.layers["stage1"].layers["block0"].shortcut is None
    assert model.forward(images((1, 3, 12, 12), dtype=np.float32)).shape == (1, 5)
    plain = small_resnet((4, 8), blocks_per_stage=3, shortcuts=False, rng=np.random.default_rng(0))
    assert not any(isinstance(layer, Residual) for layer in plain.layers["stage2"].layers.values())


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": ()}, "widths: expected at least one stage width"),
    ({"widths": (16, 0)}, "widths: expected a positive integer, got 0"),
    ({"blocks_per_stage": 0}, "blocks_per_stage: expected a positive integer, got 0"),
    ({"blocks_per_stage": 1.5}, "blocks_per_stage: expected a positive integer, got 1.5"),
])
def test_small_resnet_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"small_resnet: {message}"):
        small_resnet(**kwargs)


def test_sequential_repr_indents_nested_blocks():
    text = repr(Sequential(("block", Block(("fc", Affine(2, 2)))), ReLU()))
    assert "  (block): Block(\n    (fc): Affine(2, 2)\n  )\n  (relu1): ReLU()" in text
