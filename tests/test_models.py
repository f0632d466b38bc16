import numpy as np
import pytest

from cnnlib.datasets import DATA_ROOT, load_mnist
from cnnlib.gradcheck import check_model
from cnnlib.layers import Affine, ReLU
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.optim import SGD
from cnnlib.training import evaluate, fit, load_params


def test_sequential_names_and_params():
    model = Sequential(Affine(4, 3), ReLU(), ("out", Affine(3, 2)))
    assert list(model.layers) == ["affine0", "relu1", "out"]
    assert [name for name, _, _ in model.named_params()] == ["affine0.W", "affine0.b", "out.W",
                                                             "out.b"]
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
    for tuned in (False, True):
        fast = LeNet5(tuned=tuned)
        fast.loss(x.astype(np.float32), np.array([3, 7]))
        assert fast.backward() is None and fast.grads["conv1.W"].shape == (6, 1, 5, 5)


@pytest.mark.parametrize("tuned", [False, True])
def test_backward_from_scores_gives_the_gradient_of_one_class_score(tuned):
    model = LeNet5(dtype=np.float64, input_grad=True, tuned=tuned)
    x = np.random.default_rng(3).random((2, 1, 28, 28))
    scores = model.forward(x)
    pick = np.zeros_like(scores)
    pick[:, 4] = 1.0
    saliency = model.backward_from_scores(pick)
    assert saliency.shape == x.shape
    probe = np.zeros_like(x)
    probe[1, 0, 14, 9] = 1e-6
    numerical = (model.forward(x + probe)[1, 4] - model.forward(x - probe)[1, 4]) / 2e-6
    assert abs(saliency[1, 0, 14, 9] - numerical) < 1e-6 * max(1.0, abs(numerical))


def test_input_grad_switch_and_loss_keeps_scores():
    model = TwoLayerNet(6, 5, 3, dtype=np.float64)
    x, y = np.random.default_rng(0).standard_normal((4, 6)), np.array([0, 2, 1, 1])
    loss = model.loss(x, y)
    np.testing.assert_array_equal(model.last_scores, model.forward(x))
    assert np.isfinite(loss) and model.backward() is None
    model.input_grad = True
    model.loss(x, y)
    assert model.backward().shape == x.shape
    lenet = LeNet5()
    assert lenet.layers["conv1"].input_grad is False and lenet.layers["conv2"].input_grad is True
    lenet.input_grad = True
    assert lenet.layers["conv1"].input_grad is True


def test_model_weights_do_not_depend_on_what_was_built_before():
    first = LeNet5().params["fc1.W"].copy()
    Affine(400, 120)
    TwoLayerNet()
    np.testing.assert_array_equal(LeNet5().params["fc1.W"], first)
    np.testing.assert_array_equal(LeNet5(tuned=True).params["fc1.W"], first)


def test_two_layer_net_reaches_95_percent_on_mnist():
    (x, y), (x_test, y_test) = load_mnist(flatten=True)
    model = TwoLayerNet(784, 100, 10)
    fit(model, SGD(lr=0.2), x, y, epochs=5, batch_size=100, progress=False)
    accuracy = evaluate(model, x_test, y_test)
    assert accuracy >= 0.95, accuracy


def test_shipped_weights_reach_99_percent_on_both_routes():
    _, (x_test, y_test) = load_mnist()
    for tuned in (False, True):
        model = LeNet5(tuned=tuned)
        load_params(model, DATA_ROOT / "lenet5_mnist.npz")
        assert evaluate(model, x_test, y_test) >= 0.99, tuned


def test_batched_prediction_has_one_implementation():
    from cnnlib import models, training

    assert training.predict is models.predict and training.scores is models.scores
    x = np.random.default_rng(0).random((7, 1, 28, 28)).astype(np.float32)
    model = LeNet5()
    np.testing.assert_array_equal(model.predict(x, batch_size=3),
                                  models.scores(model, x).argmax(axis=1))
    assert model.training, "predict computes in evaluation mode and restores the training mode"
