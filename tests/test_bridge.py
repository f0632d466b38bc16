"""cnnlib.bridge: every model the series builds goes to torch and back exactly, and both libraries
compute the same scores, gradients and Adam steps (float64)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlib import norm
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


MODELS = {
    "lenet5": lambda rng, dtype: LeNet5(rng=rng, dtype=dtype),
    "lenet5_tuned": lambda rng, dtype: LeNet5(rng=rng, dtype=dtype, tuned=True),
    "two_layer_net": lambda rng, dtype: TwoLayerNet(784, 32, 10, rng=rng, dtype=dtype),
    "small_convnet": small_convnet,
    "normed_convnet": normed_convnet,
}


def build(kind, seed=0, dtype=np.float64):
    model = MODELS[kind](np.random.default_rng(seed), dtype)
    for name, value in model.buffers.items():     # running statistics other than 0 and 1
        value[...] = np.random.default_rng(len(name)).uniform(0.5, 1.5, value.shape)
    for layer in model.layers.values():           # gamma and beta other than 1 and 0
        for key in ("gamma", "beta"):
            if key in layer.params:
                layer.params[key][...] = np.random.default_rng(7).uniform(
                    0.5, 1.5, layer.params[key].shape
                )
    return model


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
        if name in ("conv1.b", "fc1.b"):      # a bias before batch norm: its gradient is exactly 0
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


@pytest.mark.parametrize("kind", ["lenet5", "lenet5_tuned", "two_layer_net"])
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
        assert rel_error(updated.params[name], value) < 1e-6, name
        assert not np.array_equal(value, build(kind).params[name]), name


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
