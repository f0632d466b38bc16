import numpy as np
import pytest

from cnnlib.datasets import load_mnist
from cnnlib.gradcheck import check_model
from cnnlib.layers import Affine, ReLU
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.optim import SGD
from cnnlib.training import evaluate, fit


def test_sequential_names_and_params():
    model = Sequential(Affine(4, 3), ReLU(), ("out", Affine(3, 2)))
    assert list(model.layers) == ["affine0", "relu1", "out"]
    assert [name for name, _, _ in model.named_params()] == ["affine0.W", "affine0.b", "out.W", "out.b"]
    assert model.params["out.W"] is model.layers["out"].params["W"]
    with pytest.raises(ValueError, match="duplicate layer name 'a'"):
        Sequential(("a", ReLU()), ("a", ReLU()))
    with pytest.raises(TypeError, match="expected Layer objects"):
        Sequential(np.zeros(3))


def test_two_layer_net_backprop_matches_numerical():
    rng = np.random.default_rng(0)
    model = TwoLayerNet(10, 8, 4, dtype=np.float64, rng=rng)
    for layer in model.layers.values():
        for b in [p for k, p in layer.params.items() if k == "b"]:
            b[:] = rng.standard_normal(b.shape) * 0.1
    x, y = rng.standard_normal((6, 10)), rng.integers(0, 4, 6)
    errors = check_model(model, x, y)
    assert len(errors) == 4 and max(errors.values()) < 1e-6, errors


def test_lenet_shapes_and_gradients():
    model = LeNet5(dtype=np.float64, input_grad=True)
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28))
    shapes = {name: out.shape for name, out in model.activations(x).items()}
    assert shapes["conv1"] == (2, 6, 28, 28) and shapes["pool1"] == (2, 6, 14, 14)
    assert shapes["conv2"] == (2, 16, 10, 10) and shapes["pool2"] == (2, 16, 5, 5)
    assert shapes["flatten"] == (2, 400) and shapes["fc3"] == (2, 10)
    assert LeNet5().params["conv1.W"].dtype == np.float32
    model.loss(x, np.array([3, 7]))
    dx = model.backward()
    assert dx.shape == x.shape
    assert sum(p.size for p in model.params.values()) == 61706
    fast = LeNet5()
    fast.loss(x.astype(np.float32), np.array([3, 7]))
    assert fast.backward() is None and fast.grads["conv1.W"].shape == (6, 1, 5, 5)


def test_two_layer_net_reaches_95_percent_on_mnist():
    (x, y), (x_test, y_test) = load_mnist(flatten=True)
    model = TwoLayerNet(784, 100, 10)
    fit(model, SGD(lr=0.2), x, y, epochs=5, batch_size=100, progress=False)
    accuracy = evaluate(model, x_test, y_test)
    assert accuracy >= 0.95, accuracy
