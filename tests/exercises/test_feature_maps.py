"""The checkers of the feature-map exercises (cnnlib.exercises.feature_maps) accept right answers
(written independently of cnnlib where the exercise allows) and name each typical mistake."""

import copy
import functools

import numpy as np
import pytest

from cnnlib import exercises
from cnnlib.datasets import DATA_ROOT
from cnnlib.exercises import ExerciseError
from cnnlib.models import LeNet5
from cnnlib.training import evaluate, load_params, predict

from .helpers import checker_tests, names_the_mistake, stub


def feature_maps(model, x, layer_name):
    for name, layer_ in model.layers.items():
        x = layer_.forward(x)
        if name == layer_name:
            return x


def maps_of(offset):
    """The maps of the layer ``offset`` places away from the one asked for (-1: the one before)."""
    def wrong(model, x, layer_name):
        names = list(model.layers)
        k = names.index(layer_name) + offset
        return x if k < 0 else feature_maps(model, x, names[min(k, len(names) - 1)])
    return wrong


def two_layers_back(model, x, layer_name):
    names = list(model.layers)
    k = names.index(layer_name)
    return feature_maps(model, x, names[k - 2] if k >= 2 else layer_name)


def not_fed(model, x, layer_name):
    """Every layer gets the input x, not the previous layer's output."""
    for name, layer_ in model.layers.items():
        out = layer_.forward(x)
        if name == layer_name:
            return out


DIGITS = np.random.default_rng(0).random((5, 1, 28, 28))     # a "global x_test" of the notebook


def class_means(strength, labels):
    return np.stack([strength[labels == k].mean(axis=0) for k in range(10)])


def reassigning_drop(model, x, y, f):
    """Replaces the dict entries of a copy's params: Sequential.params is rebuilt on each call."""
    damaged = copy.deepcopy(model)
    w, b = damaged.params["conv1.W"].copy(), damaged.params["conv1.b"].copy()
    w[f], b[f] = 0, 0
    damaged.params["conv1.W"], damaged.params["conv1.b"] = w, b
    return 100 * (evaluate(model, x, y) - evaluate(damaged, x, y))


def favourite(strength, labels, reduce=np.mean, axis=0):
    table = np.stack([reduce(strength[labels == k], axis=0) for k in range(10)])
    return table.argmax(axis=axis)


@pytest.fixture(scope="module")
def trained_lenet(mnist):
    """The shipped LeNet-5 and the first 500 test digits (filter 0 drops them 2.4 points)."""
    model = LeNet5()
    load_params(model, DATA_ROOT / "lenet5_mnist.npz")
    _, (x_test, y_test) = mnist
    GLOBAL["x"], GLOBAL["y"] = x_test[:500], y_test[:500]
    return model, x_test[:500], y_test[:500]


@pytest.fixture
def check_knockout(trained_lenet):
    """check_knockout on the shipped LeNet-5 and 500 test digits."""
    return lambda fn: exercises.check_knockout(fn, *trained_lenet)


def accuracy_drop(model, x, y, f, *, keep_bias=False, scale=100, in_place=False, filter_=None):
    damaged = model if in_place else copy.deepcopy(model)
    before = evaluate(model, x, y)
    f = f if filter_ is None else filter_
    damaged.params["conv1.W"][f] = 0
    if not keep_bias:
        damaged.params["conv1.b"][f] = 0
    return scale * (before - evaluate(damaged, x, y))


def drop_restoring(model, x, y, f):
    """Damages the model itself, measures, then puts the filter back."""
    w, b = model.params["conv1.W"], model.params["conv1.b"]
    before = np.mean(predict(model, x) == y)
    saved = w[f].copy(), b[f].copy()
    w[f], b[f] = 0, 0
    after = np.mean(predict(model, x) == y)
    w[f], b[f] = saved
    return 100 * (before - after)


def drop_in_a_new_network(model, x, y, f):
    """Copies every parameter into a new LeNet5, then scales the filter by 0."""
    damaged = LeNet5()
    for name, param in model.params.items():
        damaged.params[name][...] = param
    damaged.params["conv1.W"][f] *= 0
    damaged.params["conv1.b"][f] *= 0
    percent = lambda net: 100 * (predict(net, x) == y).sum() / len(y)    # noqa: E731
    return percent(model) - percent(damaged)


def drop_by_conv2_slices(model, x, y, f):
    """The same knockout one layer later: conv2 ignores input channel f (the map a silent
    conv1 filter f would give is all zeros after its ReLU and pooling)."""
    damaged = copy.deepcopy(model)
    damaged.layers["conv2"].params["W"][:, f] = 0
    return float(100 * evaluate(model, x, y) - 100 * evaluate(damaged, x, y))


GLOBAL = {}          # the notebook's x_test[:500], y_test[:500], set by the trained_lenet fixture


def drop_on_a_global(model, x, y, f):
    """Measures on the notebook's first 500 test digits whatever x it was given."""
    return accuracy_drop(model, GLOBAL["x"], GLOBAL["y"], f)


def shallow_copy_drop(model, x, y, f):
    damaged = copy.copy(model)
    damaged.params["conv1.W"][f] = 0
    damaged.params["conv1.b"][f] = 0
    return 100 * (evaluate(model, x, y) - evaluate(damaged, x, y))


def relative_drop(model, x, y, f):
    return accuracy_drop(model, x, y, f) / evaluate(model, x, y)


def accuracy_after(model, x, y, f):
    return 100 * evaluate(model, x, y) - accuracy_drop(model, x, y, f)


def feature_maps_as_float64(model, x, layer_name):
    out = np.asarray(x, dtype=np.float64)
    for name, layer_ in model.layers.items():
        out = layer_.forward(out)
        if name == layer_name:
            return out


def feature_maps_recursive(model, x, layer_name):
    """Written as a recursion over the list of layers."""
    def run(items, out):
        name, layer = items[0]
        out = layer.forward(out)
        return out if name == layer_name else run(items[1:], out)
    return run(list(model.layers.items()), x)


def feature_maps_until(model, x, layer_name):
    """Collects the layers up to the named one, then runs them."""
    names = list(model.layers)
    out = x
    for name in names[:names.index(layer_name) + 1]:
        out = model.layers[name].forward(out)
    return out


def favourite_by_loops(strength, labels):
    """Plain Python loops over channels and classes."""
    result = []
    for c in range(strength.shape[1]):
        means = []
        for k in range(10):
            column = [strength[i, c] for i in range(len(labels)) if labels[i] == k]
            means.append(sum(column) / len(column))
        result.append(max(range(10), key=lambda k: means[k]))
    return np.array(result)


def favourite_by_bincount(strength, labels):
    counts = np.bincount(labels, minlength=10)
    sums = np.stack([np.bincount(labels, weights=strength[:, c], minlength=10)
                     for c in range(strength.shape[1])], axis=1)
    return np.argmax(sums / counts[:, None], axis=0)


def favourite_sorts_in_place(strength, labels):
    answer = favourite(strength, labels)
    labels.sort()
    return answer


REFERENCES = [
    (exercises.check_feature_maps, feature_maps),
    (exercises.check_feature_maps, feature_maps_recursive),
    (exercises.check_feature_maps, feature_maps_until),
    (exercises.check_favourite_class, favourite),
    (exercises.check_favourite_class, favourite_by_loops),
    (exercises.check_favourite_class, favourite_by_bincount),
]

RETURN_THE_FUNCTION = set()


WRONG = [
    (exercises.check_favourite_class, favourite_sorts_in_place, "your favourite_class changed the "
     "labels it was given"),
    (exercises.check_feature_maps, stub, "your feature_maps is not written yet: the hint"),
    (exercises.check_feature_maps, lambda m, x, n: 0 * feature_maps(m, x, n),
     "feature_maps(model, x, 'conv') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image is all zeros"),
    (exercises.check_feature_maps, maps_of(-1), "one layer too early: that is the input x itself"),
    (exercises.check_feature_maps, maps_of(+1),
     "one layer too far: that is the output of 'relu', the layer after 'conv'"),
    (exercises.check_feature_maps, two_layers_back,
     "feature_maps(model, x, 'pool') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image: that is the output of "
     "layer 'conv', not of 'pool'"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x, n)[0],
     "keep the batch dimension: return (N, C, H, W)"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x, n).swapaxes(-1, -2),
     "feature_maps(model, x, 'conv') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image is transposed"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, np.repeat(x[:1], len(x), 0), n),
     "feature_maps(model, x, 'conv1') on a LeNet5 (random weights) and a batch of 3 random "
     "images: every image got the maps of image 0"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x[::-1].copy(), n),
     "maps[0] are those of image 2: keep the images in the order of x"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x[:1], n),
     "expected the maps of the 3 images of x, got 1: did you run another array than x"),
    (exercises.check_feature_maps, lambda m, x, n: m.activations(x)[n],
     "model.activations does that for every layer at once: it is what this exercise rebuilds"),
    (exercises.check_feature_maps, feature_maps_as_float64, "on a float32 LeNet5 (as notebook "
     "08's) and 2 float32 images: the maps are float64, where the layers give float32"),
    (exercises.check_favourite_class, stub, "your favourite_class is not written yet"),
    (exercises.check_favourite_class, lambda s, y: np.zeros(s.shape[1], dtype=int),
     "the favourite classes on the fixed case of 18 images, 2 channels is all zeros (the fixed "
     "case: in channel 0 the three 0s have strengths 5, 0, 0, the two 1s 2 and 2, the six 2s 1 "
     "each, every other digit 0, so the best mean is class 1's)"),
    (exercises.check_favourite_class, functools.partial(favourite, reduce=np.sum),
     "use each class's MEAN strength, not its sum"),
    (exercises.check_favourite_class, functools.partial(favourite, reduce=np.max),
     "not its single strongest image"),
    (exercises.check_favourite_class, functools.partial(favourite, axis=1),
     "that is, for each class, its favourite CHANNEL"),
    (exercises.check_favourite_class, lambda s, y: favourite(-s, y), "the LOWEST mean"),
    (exercises.check_feature_maps, lambda m, x, n: [feature_maps(m, x, n)],
     "return the maps themselves, one array (N, C, H, W), not a list or tuple holding it"),
    (exercises.check_feature_maps, lambda m, x, n: m.layers[n].forward(x),
     "feature_maps(model, x, 'relu') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image: that is layer 'relu' "
     "alone applied to the input x: each layer must receive the previous layer's output"),
    (exercises.check_feature_maps, not_fed, "each layer must receive the previous layer's output"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, DIGITS, n),
     "got maps of shape (5, 1, 28, 28), those of 28x28 digits, where x holds 1 image of 4x4 "
     "pixels: did you run another array than x (a global such as x_test?)"),
    (exercises.check_favourite_class, class_means,
     "the favourite classes on the fixed case of 18 images, 2 channels: that is a (10, C) table, "
     "one row per class: take the argmax over the classes (axis 0)"),
    (exercises.check_favourite_class, lambda s, y: class_means(s, y).max(axis=0),
     "the favourite classes on the fixed case of 18 images, 2 channels: that is the highest mean "
     "itself (.max(0)): return the CLASS that has it (.argmax(0)) (the fixed case: in channel 0"),
]

# (accuracy_drop written with a typical mistake, what check_knockout says)
KNOCKOUT_WRONG = [
    (stub, "your accuracy_drop is not written yet"),
    (lambda m, x, y, f: 0.0, "the drop for filter 0 on 500 images: 0 points"),
    (functools.partial(accuracy_drop, scale=1), "in percentage POINTS"),
    (functools.partial(accuracy_drop, scale=-100),
     "accuracy BEFORE minus accuracy after"),
    (functools.partial(accuracy_drop, keep_bias=True),
     "set the filter's bias to zero too"),
    (functools.partial(accuracy_drop, in_place=True),
     "accuracy_drop changed the model it was given (conv1.W, conv1.b; restored now)"),
    (functools.partial(accuracy_drop, filter_=0),
     "the drop for filter 1 on 300 images: that is the drop for filter 0"),
    (lambda m, x, y, f: None, "the drop is None for filter 0 on 500 images"),
    (lambda m, x, y, f: np.zeros(3), "the drop has the wrong shape"),
    (lambda m, x, y: 1.0, "the check calls accuracy_drop(model, x, y, 0)"),
    (shallow_copy_drop, "damage a deep copy (a shallow copy shares the layers' arrays"),
    (relative_drop, "that is the drop relative to the accuracy before"),
    (accuracy_after, "that is the damaged copy's accuracy"),
    (drop_on_a_global, "the drop for filter 1 on 300 images: that is the drop on 500 images, "
     "not on the 300 the check passed"),
    (reassigning_drop,
     "the drop for filter 0 on 500 images: 0 points: knocking out a filter changes some "
     "predictions; did you evaluate the same (undamaged or damaged) model twice? model.params "
     "builds a new dict on each call"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)


@pytest.mark.parametrize("answer", [accuracy_drop, drop_restoring, drop_in_a_new_network,
                                    drop_by_conv2_slices])
def test_the_knockout_check_accepts_a_right_answer(capsys, check_knockout, answer):
    assert check_knockout(answer) is answer
    assert capsys.readouterr().out.startswith("correct: ")


@pytest.mark.parametrize("wrong, message", KNOCKOUT_WRONG,
                         ids=[f"check_knockout-{i}" for i in range(len(KNOCKOUT_WRONG))])
def test_the_knockout_check_names_the_mistake(capsys, check_knockout, wrong, message):
    names_the_mistake(capsys, check_knockout, wrong, message)


def test_the_knockout_check_leaves_the_model_as_it_was(trained_lenet, check_knockout):
    model, x, y = trained_lenet
    before = {name: param.copy() for name, param in model.params.items()}
    with pytest.raises(ExerciseError):
        check_knockout(functools.partial(accuracy_drop, in_place=True))
    assert all(np.array_equal(model.params[name], before[name]) for name in before)


def test_cnnlibs_accuracy_drop_passes_the_knockout_check(capsys, check_knockout):
    assert check_knockout(exercises.accuracy_drop) is exercises.accuracy_drop
    assert capsys.readouterr().out.startswith("correct: ")
