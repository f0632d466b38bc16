"""cnnlib.bridge: every model the series builds goes to torch and back exactly, and both libraries
compute the same scores, gradients and Adam steps (float64)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlib import norm
from cnnlib.blocks import Block, GlobalAvgPool2D, Residual, small_resnet
from cnnlib.bridge import from_torch, to_torch, torch_grads, torch_parameters
from cnnlib.gradcheck import rel_error
from cnnlib.layers import (
    Affine,
    AvgPool2D,
    Conv2D,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Sigmoid,
)
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.optim import Adam
from cnnlib.training import scores

torch = pytest.importorskip("torch")

F = torch.nn.functional
ROOT = Path(__file__).resolve().parent.parent


def small_convnet(rng, dtype):
    return Sequential(("conv1", Conv2D(1, 4, 3, stride=2, pad=1, dtype=dtype, rng=rng)),
                      ("sig1", Sigmoid()),
                      ("pool1", AvgPool2D(2)),
                      ("conv2", Conv2D(4, 6, 3, pad=1, dtype=dtype, rng=rng)),
                      ("relu2", ReLU()),
                      ("pool2", MaxPool2D(3, stride=2)),
                      ("flatten", Flatten()),
                      ("fc", Affine(6 * 3 * 3, 10, dtype=dtype, rng=rng)))


def normed_convnet(rng, dtype):
    return Sequential(("conv1", Conv2D(1, 4, 3, pad=1, dtype=dtype, rng=rng)),
                      ("bn1", norm.BatchNorm2D(4, dtype=dtype)),
                      ("relu1", ReLU()),
                      ("pool1", MaxPool2D(2)),
                      ("conv2", Conv2D(4, 8, 3, pad=1, dtype=dtype, rng=rng)),
                      ("gn2", norm.GroupNorm(8, 2, dtype=dtype)),
                      ("relu2", ReLU()),
                      ("pool2", MaxPool2D(2)),
                      ("flatten", Flatten()),
                      ("fc1", Affine(8 * 7 * 7, 16, dtype=dtype, rng=rng)),
                      ("bn3", norm.BatchNorm1D(16, momentum=0.8, eps=1e-3, dtype=dtype)),
                      ("relu3", ReLU()),
                      ("drop", norm.Dropout(0.3, rng=np.random.default_rng(5))),
                      ("fc2", Affine(16, 10, dtype=dtype, rng=rng)))


def nested_blocks(rng, dtype):
    """Blocks in residual blocks in blocks, an identity shortcut around a block and a bare layer as
    a projection shortcut: any nesting converts, not only small_resnet's."""
    def conv(c, f, k=3, **kwargs):
        return Conv2D(c, f, k, pad=k // 2, dtype=dtype, rng=rng, **kwargs)

    inner = Residual(("body", Block(("conv", conv(3, 3)), ("act", Sigmoid()))),
                     ("conv", conv(3, 3)))
    return Sequential(("stem", conv(1, 3, stride=2)),
                      ("outer", Block(("res", inner), ("relu", ReLU()),
                                      ("pool", MaxPool2D(2)))),
                      ("down", Residual(("conv", conv(3, 5, stride=2)), ("relu", ReLU()),
                                        shortcut=Conv2D(3, 5, 1, stride=2, dtype=dtype, rng=rng))),
                      ("gap", GlobalAvgPool2D()),
                      ("fc", Affine(5, 10, dtype=dtype, rng=rng)))


MODELS = {
    "lenet5": lambda rng, dtype: LeNet5(rng=rng, dtype=dtype),
    "lenet5_tuned": lambda rng, dtype: LeNet5(rng=rng, dtype=dtype, tuned=True),
    "two_layer_net": lambda rng, dtype: TwoLayerNet(784, 32, 10, rng=rng, dtype=dtype),
    "small_convnet": small_convnet,
    "normed_convnet": normed_convnet,
    # notebook 11: nested blocks, residual (projection shortcuts in stages 2 and 3) and plain
    "small_resnet": lambda rng, dtype: small_resnet((4, 8, 8), rng=rng, dtype=dtype),
    "small_resnet_plain": lambda rng, dtype: small_resnet((4, 8, 8), shortcuts=False, rng=rng,
                                                          dtype=dtype),
    "nested_blocks": nested_blocks,
}
RESNETS = ["small_resnet", "small_resnet_plain"]


def build(kind, seed=0, dtype=np.float64):
    model = MODELS[kind](np.random.default_rng(seed), dtype)
    for name, value in model.buffers.items():     # running statistics other than 0 and 1
        value[...] = np.random.default_rng(len(name)).uniform(0.5, 1.5, value.shape)
    for name, value in model.params.items():      # gamma and beta other than 1 and 0
        if name.rsplit(".", 1)[-1] in ("gamma", "beta"):  # (inside blocks too)
            value[...] = np.random.default_rng(7).uniform(0.5, 1.5, value.shape)
    return model


def conv_bias_before_batch_norm(kind, name):
    """Batch norm subtracts the channel mean, so the bias of a convolution it follows has no effect
    and a true gradient of 0: the relative error of two rounding residues means nothing."""
    return ((kind == "normed_convnet" and name in ("conv1.b", "fc1.b"))
            or (kind in RESNETS and name.endswith(".b") and name != "fc.b"))


def batch(kind, n=16, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shape = (n, 784) if kind == "two_layer_net" else (n, 1, 28, 28)
    return rng.random(shape).astype(dtype), rng.integers(0, 10, n)


def state(model):
    return {**{k: v.copy() for k, v in model.params.items()},
            **{k: v.copy() for k, v in model.buffers.items()}}


@pytest.mark.parametrize("kind", MODELS)
def test_round_trip_is_exact(kind):
    model = build(kind)
    module = to_torch(model)
    other = build(kind, seed=3)
    assert any(not np.array_equal(v, state(other)[k]) for k, v in state(model).items())
    assert from_torch(module, other) is other
    for name, value in state(model).items():
        assert np.array_equal(state(other)[name], value), name
        assert state(other)[name].dtype == value.dtype


@pytest.mark.parametrize("kind", MODELS)
def test_to_torch_copies_and_leaves_the_model_alone(kind):
    model = build(kind)
    model.eval()
    before = state(model)
    module = to_torch(model)
    x, _ = batch(kind)
    module(torch.from_numpy(x)).sum().backward()
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(1.0)
    after = state(model)
    assert all(np.array_equal(after[k], v) for k, v in before.items())
    assert model.training is False and module.training is False


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_eval_scores_agree(kind, dtype):
    model = build(kind, dtype=dtype)
    module = to_torch(model).eval()
    assert {p.dtype for p in module.parameters()} == {getattr(torch, np.dtype(dtype).name)}
    x, _ = batch(kind, dtype=dtype)
    expected = scores(model, x)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    assert got.dtype == dtype
    assert rel_error(got, expected) < (1e-5 if dtype == np.float32 else 1e-12)
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))


def grads_both(kind, train):
    model = build(kind)
    model.train(train)
    module = to_torch(model)
    x, y = batch(kind)
    loss = model.loss(x, y)
    model.backward()
    torch_loss = F.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    return model, module, loss, torch_loss.item()


@pytest.mark.parametrize("kind", MODELS)
def test_gradients_agree_with_autograd(kind):
    # in training mode (batch norm on the batch's statistics), except for dropout's random masks
    train = kind != "normed_convnet"
    model, module, loss, torch_loss = grads_both(kind, train)
    assert abs(loss - torch_loss) <= 1e-12 * abs(loss)
    got = torch_grads(module, model)
    assert sorted(got) == sorted(model.grads)
    for name, grad in model.grads.items():
        assert got[name].shape == grad.shape
        if train and conv_bias_before_batch_norm(kind, name):
            assert np.max(np.abs(got[name])) < 1e-12 and np.max(np.abs(grad)) < 1e-12, name
        else:
            assert rel_error(got[name], grad) < 1e-6, name


def test_batch_norm_in_training_matches_and_only_running_var_differs():
    model = build("normed_convnet")
    model.layers["drop"].p = 0.0  # no random masks: everything else in training mode
    module = to_torch(model)
    module.drop.p = 0.0
    loss, torch_loss = _train_step(model, module)
    assert abs(loss - torch_loss) <= 1e-12 * abs(loss)
    got = torch_grads(module, model)
    for name, grad in model.grads.items():
        if conv_bias_before_batch_norm("normed_convnet", name):   # a true gradient of 0
            assert np.max(np.abs(got[name])) < 1e-12 and np.max(np.abs(grad)) < 1e-12
        else:
            assert rel_error(got[name], grad) < 1e-6, name
    for name, m in [("bn1", 16 * 28 * 28), ("bn3", 16)]:
        layer, torch_bn = model.layers[name], module.get_submodule(name)
        assert torch_bn.momentum == pytest.approx(1 - layer.momentum)
        assert rel_error(torch_bn.running_mean.numpy(), layer.buffers["running_mean"]) < 1e-12
        # torch keeps the unbiased variance (m - 1), cnnlib the biased one (m): the documented
        # difference, (1 - momentum) * var * (m / (m - 1) - 1)
        before = build("normed_convnet").buffers[f"{name}.running_var"]
        var = (layer.buffers["running_var"] - layer.momentum * before) / (1 - layer.momentum)
        unbiased = layer.momentum * before + (1 - layer.momentum) * var * m / (m - 1)
        assert rel_error(torch_bn.running_var.numpy(), unbiased) < 1e-12


def _train_step(model, module):
    x, y = batch("normed_convnet")
    loss = model.loss(x, y)
    model.backward()
    torch_loss = F.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    return loss, torch_loss.item()


@pytest.mark.parametrize("kind", ["lenet5", "lenet5_tuned", "two_layer_net", *RESNETS,
                                  "nested_blocks"])
def test_adam_steps_agree(kind):
    model, module, _, _ = grads_both(kind, True)
    hyper = {"lr": 1e-2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-7, "weight_decay": 1e-3}
    params = torch_parameters(module, model)
    # cnnlib decays weights only (coupled L2, like torch.optim.Adam's weight_decay)
    groups = [{"params": [p for n, p in params.items() if Adam.decays(n)], "weight_decay": 1e-3},
              {"params": [p for n, p in params.items() if not Adam.decays(n)], "weight_decay": 0}]
    torch_adam = torch.optim.Adam(groups, lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]),
                                  eps=hyper["eps"])
    adam = Adam(**hyper)
    x, y = batch(kind, seed=2)
    for step in range(3):
        if step:                                    # a fresh batch's gradients in both
            model.loss(x, y)
            model.backward()
            torch_adam.zero_grad()
            F.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        adam.update(model.params, model.grads)
        torch_adam.step()
    moved = build(kind)
    updated = from_torch(module, moved)
    for name, value in model.params.items():
        if conv_bias_before_batch_norm(kind, name):
            # gradients of rounding residues (~1e-16): Adam moves these by ~lr * 1e-16 / eps each
            # step, a different residue in each library
            assert np.max(np.abs(updated.params[name] - value)) < 1e-8, name
            continue
        assert rel_error(updated.params[name], value) < 1e-6, name
        assert not np.array_equal(value, build(kind).params[name]), name


@pytest.mark.parametrize("kind", [*RESNETS, "nested_blocks"])
def test_dotted_names_map_both_ways(kind):
    model = build(kind)
    module = to_torch(model)
    params = torch_parameters(module, model)
    assert list(params) == list(model.params)
    torch_names = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}
    for name, tensor in params.items():   # stage2.block0.shortcut.bn.gamma: ...shortcut.bn.weight
        owner, key = name.rsplit(".", 1)
        assert module.get_parameter(f"{owner}.{torch_names[key]}") is tensor, name
    for name, value in model.buffers.items():
        assert np.array_equal(module.get_buffer(name).numpy(), value), name
    expected = {f"{n.rsplit('.', 1)[0]}.{torch_names[n.rsplit('.', 1)[1]]}" for n in model.params}
    assert {n for n, _ in module.named_parameters()} == expected


def test_residual_modules_and_their_shortcuts():
    module = to_torch(build("small_resnet"))
    residual = type(module.stage1.block0)
    assert residual.__name__ == "TorchResidual" and residual.__module__ == "cnnlib.bridge"
    assert "shortcut" not in dict(module.stage1.block0.named_children())
    assert list(dict(module.stage2.block0.named_children())) == ["conv1", "bn1", "relu1", "conv2",
                                                                 "bn2", "shortcut"]
    assert "shortcut(x) + body(x)" in repr(module.stage2.block0)
    plain = to_torch(build("small_resnet_plain"))
    assert isinstance(plain.stage2.block0, torch.nn.Sequential)
    assert "shortcut" not in dict(plain.stage2.block0.named_children())


def test_a_converted_resnet_pickles():
    import io

    import cnnlib.bridge

    model = build("small_resnet").eval()
    module = to_torch(model)
    assert cnnlib.bridge.TorchResidual is type(module.stage1.block0)
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x, _ = batch("small_resnet")
    with torch.no_grad():
        assert torch.equal(loaded(torch.from_numpy(x)), module(torch.from_numpy(x)))


@pytest.mark.parametrize("kind", RESNETS)
def test_resnet_batch_norm_running_statistics_in_training(kind):
    model = build(kind)
    module = to_torch(model)
    sizes = {}                                     # values per channel, m = N * H * W

    def count(name):
        def hook(_, inputs, __):
            sizes[name] = inputs[0].numel() // inputs[0].shape[1]
        return hook

    for name, child in module.named_modules():
        if isinstance(child, torch.nn.BatchNorm2d):
            child.register_forward_hook(count(name))
    buffers_before = build(kind).buffers
    x, y = batch(kind)
    model.loss(x, y)
    F.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    assert len(sizes) == len(model.buffers) // 2      # every batch norm, each with two buffers
    assert all(f"{name}.running_var" in model.buffers for name in sizes)
    for name, m in sizes.items():
        momentum = module.get_submodule(name).momentum
        assert momentum == pytest.approx(0.1)
        mean = module.get_buffer(f"{name}.running_mean").numpy()
        assert rel_error(mean, model.buffers[f"{name}.running_mean"]) < 1e-12, name
        before = buffers_before[f"{name}.running_var"]
        after = model.buffers[f"{name}.running_var"]
        var = (after - (1 - momentum) * before) / momentum      # the batch's biased variance
        unbiased = (1 - momentum) * before + momentum * var * m / (m - 1)
        got = module.get_buffer(f"{name}.running_var").numpy()
        assert rel_error(got, unbiased) < 1e-12, name


def test_max_pool_ties_go_to_the_first_maximum_in_both():
    model = Sequential(("pool", MaxPool2D(2)), ("flatten", Flatten()))
    x = np.ones((1, 1, 2, 2))
    model.forward(x)
    dx = model.layers["flatten"].backward(np.ones((1, 1)))
    expected = model.layers["pool"].backward(dx)
    xt = torch.from_numpy(x).requires_grad_()
    to_torch(model)(xt).sum().backward()
    assert np.array_equal(xt.grad.numpy(), expected)


class Doubling(Layer):
    def forward(self, x):
        return 2 * x

    def backward(self, dout):
        return 2 * dout


class MyReLU(ReLU):
    pass


@pytest.mark.parametrize("layer", [Doubling(), MyReLU()])
def test_an_unknown_layer_is_named(layer):
    model = Sequential(("odd", layer), ("fc", Affine(3, 2)))
    with pytest.raises(TypeError, match=f"layer 'odd' is a {type(layer).__name__}.*CONVERTERS"):
        to_torch(model)


def test_an_unknown_layer_inside_a_block_is_named_with_its_path():
    model = Sequential(("stage", Block(("res", Residual(("odd", Doubling()))),)),
                       ("fc", Affine(3, 2)))
    with pytest.raises(TypeError, match="layer 'stage.res.odd' is a Doubling.*CONVERTERS"):
        to_torch(model)


def test_not_a_model_is_a_type_error():
    with pytest.raises(TypeError, match="model: expected a cnnlib Sequential.*got list"):
        to_torch([Affine(3, 2)])


def test_from_torch_checks_shapes_first_and_names_the_parameter():
    model = build("lenet5")
    module = to_torch(LeNet5(num_classes=7, dtype=np.float64))
    before = state(model)
    with pytest.raises(ValueError, match=r"fc3\.W has shape \(84, 7\).*expected \(84, 10\)"):
        from_torch(module, model)
    assert all(np.array_equal(state(model)[k], v) for k, v in before.items())


def test_from_torch_names_a_missing_submodule():
    module = to_torch(TwoLayerNet(4, 3, 2))
    with pytest.raises(ValueError, match="no submodule 'conv1'"):
        from_torch(module, LeNet5())


def test_from_torch_names_a_structure_mismatch():
    module = to_torch(LeNet5(tuned=True))
    with pytest.raises(ValueError, match="Sequential has no 'weight'.*tuned"):
        from_torch(module, LeNet5())


def test_from_torch_names_a_nested_shape_mismatch_and_a_missing_shortcut():
    model = build("small_resnet")
    wider = small_resnet((4, 8, 6), dtype=np.float64)
    before = state(model)
    with pytest.raises(ValueError, match=r"stage3\.block0\.conv1\.W has shape \(6, 8, 3, 3\)"):
        from_torch(to_torch(wider), model)
    with pytest.raises(ValueError, match="no submodule 'stage2.block0.shortcut'"):
        from_torch(to_torch(build("small_resnet_plain")), model)
    assert all(np.array_equal(state(model)[k], v) for k, v in before.items())


def test_torch_grads_before_backward_is_an_error():
    model = build("two_layer_net")
    with pytest.raises(ValueError, match="affine1.W has no gradient"):
        torch_grads(to_torch(model), model)


def test_the_shipped_lenet5_gives_the_same_predictions():
    from cnnlib.datasets import load_mnist
    from cnnlib.widgets import load_lenet5

    model = load_lenet5()
    _, (x_test, _) = load_mnist()
    x = x_test[:2000]
    module = to_torch(model).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    expected = scores(model, x)
    assert got.dtype == np.float32
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    assert np.max(np.abs(got - expected)) < 1e-4 * np.max(np.abs(expected))


def test_cnnlib_never_needs_torch():
    blocker = "import sys; sys.modules['torch'] = None\n"
    code = blocker + ("import cnnlib, cnnlib.models, cnnlib.training, cnnlib.bridge\n"
                      "from cnnlib.bridge import to_torch\n"
                      "try:\n    to_torch(cnnlib.models.TwoLayerNet(4, 3, 2))\n"
                      "except ImportError as err:\n    print('ImportError', err)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=False, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ImportError")
