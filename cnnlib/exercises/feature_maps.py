"""Checkers of the feature-map exercises (notebook 08): one layer's output, each filter's
favourite class, knocking out a filter; with the reference :func:`accuracy_drop`.
"""

import copy

import numpy as np

from .. import layers
from ..models import LeNet5, Sequential
from ..training import evaluate
from .diagnosis import ExerciseError, call, close, compare, correct


def _tiny_net():
    """conv (one 3x3 filter that passes the centre pixel, bias -0.5, pad 1) -> ReLU -> 2x2 max pool:
    its maps are x - 0.5, then max(x - 0.5, 0), then the maximum of each 2x2 block."""

    conv_layer = layers.Conv2D(1, 1, 3, pad=1, dtype=np.float64, rng=np.random.default_rng(0))
    conv_layer.params["W"][...] = 0
    conv_layer.params["W"][0, 0, 1, 1] = 1
    conv_layer.params["b"][...] = -0.5
    return Sequential(("conv", conv_layer), ("relu", layers.ReLU()), ("pool", layers.MaxPool2D(2)))


def _no_shortcut(model):
    """``model`` with its ``activations`` method replaced by one that explains the exercise."""
    def activations(*args, **kwargs):
        raise ExerciseError("feature_maps should run the layers itself, one by one, in the order "
                            "of model.layers; model.activations does that for every layer at "
                            "once: it is what this exercise rebuilds, so don't call it")
    model.activations = activations
    return model


def _layer_alone(model, x, name):
    """Layer ``name`` applied to the input x itself (None where it cannot take x)."""
    try:
        return model.layers[name].forward(x.copy())
    except Exception:                      # e.g. conv2 given a one-channel image
        return None


def _feature_map_mistakes(outputs, x, name, alone=None):
    """``(wrong maps, message)`` for the typical mistakes when asking for layer ``name``
    (``alone``: that layer applied to x itself)."""
    names = list(outputs)
    k = names.index(name)
    before = x if k == 0 else outputs[names[k - 1]]
    before_what = "the input x itself" if k == 0 else f"the output of '{names[k - 1]}'"
    wrong = []
    if k > 0 and alone is not None:
        wrong.append((alone, f"that is layer '{name}' alone applied to the input x: each layer "
                      f"must receive the previous layer's output (keep what each forward returns "
                      f"and give it to the next layer)"))
    wrong.append((before, f"one layer too early: that is {before_what}, what '{name}' receives; "
                  f"run the named layer too, then return its output"))
    if k + 1 < len(names):
        wrong.append((outputs[names[k + 1]], f"one layer too far: that is the output of "
                      f"'{names[k + 1]}', the layer after '{name}'; return as soon as the named "
                      f"layer has run"))
    wrong += [(out, f"that is the output of layer '{other}', not of '{name}': compare each "
               f"layer's name with layer_name") for other, out in outputs.items() if other != name]
    expected = outputs[name]
    wrong.append((expected[0], "keep the batch dimension: return (N, C, H, W), the maps of every "
                  "image of x, not those of the first image alone"))
    if len(x) > 1:
        wrong.append((np.broadcast_to(expected[:1], expected.shape),
                      "every image got the maps of image 0: run the whole batch x through the "
                      "layers"))
    return wrong


def _check_maps_shape(got, expected, x, probe, name, asked, where):
    """Name a list returned for an array, or maps of another batch than ``x`` (another size, or
    28x28 digits where ``x`` holds other images); return the shape of ``got`` (None if it has
    none)."""
    if isinstance(got, (list, tuple)):
        what = ("a list or tuple holding it" if len(got) == 1 else
                f"a {type(got).__name__} of {len(got)} items")
        raise ExerciseError(f"{asked} {where}: return the maps themselves, one array "
                            f"(N, C, H, W), not {what}")
    try:
        got_shape = np.shape(got)
    except (TypeError, ValueError):
        got_shape = None
    elsewhere = ("did you run another array than x (a global such as x_test?) through "
                 "the layers?")
    if got_shape is not None and len(got_shape) == 4 and \
            got_shape[1:] == expected.shape[1:] and got_shape[0] != len(x):
        raise ExerciseError(f"{asked} {where}: expected the maps of the {len(x)} images "
                            f"of x, got {got_shape[0]}: {elsewhere}")
    if probe is not None and got_shape is not None and len(got_shape) == 4 and \
            got_shape != expected.shape and got_shape[1:] == probe[name].shape[1:]:
        images = f"{len(x)} image{'s' if len(x) > 1 else ''}"
        raise ExerciseError(f"{asked} {where}: got maps of shape {got_shape}, those of "
                            f"28x28 digits, where x holds {images} of "
                            f"{x.shape[-2]}x{x.shape[-1]} pixels: {elsewhere}")
    return got_shape


def check_feature_maps(fn):
    """Check ``fn(model, x, layer_name) -> maps``: the output of the layer called ``layer_name``
    when the batch ``x`` runs through ``model.layers`` in order, shaped ``(N, C, H, W)``."""
    rng = np.random.default_rng(10)
    tiny_x = (np.arange(16, dtype=np.float64) / 16).reshape(1, 1, 4, 4)
    lenet_x = rng.random((3, 1, 28, 28))
    cases = [(_tiny_net, tiny_x, ["conv", "relu", "pool"],
              "on a tiny net (conv that passes the centre pixel with bias -0.5, so its map is "
              "x - 0.5; ReLU; 2x2 max pool) and one 4x4 image"),
             (lambda: LeNet5(dtype=np.float64, rng=np.random.default_rng(0)), lenet_x,
              ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"],
              "on a LeNet5 (random weights) and a batch of 3 random images"),
             (lambda: LeNet5(dtype=np.float64, rng=np.random.default_rng(1)), lenet_x[1:2],
              ["relu2"], "on a LeNet5 and a batch of ONE image"),
             (lambda: LeNet5(rng=np.random.default_rng(2)), lenet_x[:2].astype(np.float32),
              ["pool1", "relu2"], "on a float32 LeNet5 (as notebook 08's) and 2 float32 images")]
    for build, x, names, where in cases:
        model = build()
        outputs = type(model).activations(model, x)
        digit = np.zeros((1, 1, 28, 28))          # what the maps of an MNIST digit look like
        probe = type(model).activations(model, digit) if x.shape[-2:] != (28, 28) else None
        _no_shortcut(model)
        for name in names:
            given = x.copy()
            got = call("your feature_maps", fn, model, given, name,
                       signature=f"feature_maps(model, x, {name!r})")
            if not np.array_equal(given, x):
                raise ExerciseError("feature_maps changed the images x it was given: feed each "
                                    "layer's output to the next in a new variable")
            expected = outputs[name]
            asked = f"feature_maps(model, x, {name!r})"
            got_shape = _check_maps_shape(got, expected, x, probe, name, asked, where)
            if isinstance(got, np.ndarray) and got.dtype != expected.dtype:
                raise ExerciseError(f"{asked} {where}: the maps are {got.dtype}, where the layers "
                                    f"give {expected.dtype}: hand x to the first layer as it is, "
                                    f"without converting it")
            mistakes = _feature_map_mistakes(outputs, x, name, _layer_alone(model, x, name))
            if got_shape == expected.shape and len(x) > 1 and not close(got, expected):
                for wrong, message in mistakes:
                    if close(got, wrong):
                        raise ExerciseError(f"{asked} {where}: {message}")
                for i in range(len(x)):
                    for j in range(len(x)):
                        if i != j and close(np.asarray(got)[i], expected[j]):
                            raise ExerciseError(f"{asked} {where}: maps[{i}] are those of image "
                                                f"{j}: keep the images in the order of x")
            compare(asked, got, expected, mistakes, where)
    correct("feature_maps returns each named layer's output for the whole batch, as "
            "Sequential.activations does")


def _favourite_reference(strength, labels):
    means = np.stack([strength[labels == k].mean(axis=0) for k in range(10)])
    return means.argmax(axis=0)


def check_favourite_class(fn):
    """Check ``fn(strength, labels) -> classes (C,)``: for every channel, the digit class whose
    images have the highest MEAN strength. strength ``(N, C)``, labels ints ``(N,)`` in 0..9."""
    fixed_labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9])
    fixed_strength = np.array([[5, 0, 0, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
                               [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 1, 1, 1, 1, 1]],
                              dtype=np.float64).T
    rng = np.random.default_rng(11)
    labels = rng.choice(10, size=300, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum())
    strength = rng.random((300, 16)) + 0.3 * (labels[:, None] == rng.integers(0, 10, 16))
    strength[rng.integers(0, 300, 16), np.arange(16)] += 5          # a few outliers
    cases = [(fixed_strength, fixed_labels, "on the fixed case of 18 images, 2 channels",
              " (the fixed case: in channel 0 the three 0s have strengths 5, 0, 0, the two 1s 2 "
              "and 2, the six 2s 1 each, every other digit 0, so the best mean is class 1's)"),
             (strength, labels, "on random strengths of 300 images, 16 channels, classes of "
              "unequal size", "")]
    for s, y, where, detail in cases:
        given_s, given_y = s.copy(), y.copy()
        got = call("your favourite_class", fn, given_s, given_y,
                   signature="favourite_class(strength, labels)")
        for saved, given, what in [(s, given_s, "strength"), (y, given_y, "labels")]:
            if given.shape != saved.shape or not np.array_equal(given, saved):
                raise ExerciseError(f"your favourite_class changed the {what} it was given "
                                    f"(values or shape): the caller still needs them; compute "
                                    f"new arrays instead of writing into these")
        try:
            _check_favourites(got, s, y, where)
        except ExerciseError as err:
            raise ExerciseError(f"{err}{detail}") from None
    correct("the class with the highest mean strength, for every channel")


def _check_favourites(got, s, y, where):
    """Compare the learner's favourite classes for strengths ``s`` and labels ``y``."""
    sums = np.stack([s[y == k].sum(axis=0) for k in range(10)])
    maxes = np.stack([s[y == k].max(axis=0) for k in range(10)])
    means = np.stack([s[y == k].mean(axis=0) for k in range(10)])
    try:
        got_shape = np.shape(got)
    except (TypeError, ValueError):
        got_shape = None
    if got_shape == means.shape:
        raise ExerciseError(f"the favourite classes {where}: that is a (10, C) table, one row per "
                            f"class: take the argmax over the classes (axis 0), one class per "
                            f"channel")
    compare("the favourite classes", got, _favourite_reference(s, y), [
       (sums.argmax(axis=0), "use each class's MEAN strength, not its sum: a class with more "
        "images would win just by being frequent"),
       (maxes.argmax(axis=0), "use each class's MEAN strength, not its single strongest "
        "image: one outlier would decide"),
       (y[s.argmax(axis=0)], "that is the label of each channel's single strongest image: "
        "average over all the images of each class instead"),
       (means.argmax(axis=1), "that is, for each class, its favourite CHANNEL: the question "
        "asks, for each channel, the class (argmax over the classes, axis 0 of a (10, C) "
        "table)"),
       (means.argmin(axis=0), "that is the class with the LOWEST mean: use argmax"),
       (means.max(axis=0), "that is the highest mean itself (.max(0)): return the CLASS "
        "that has it (.argmax(0))")], where)


def _knocked_out(model, f, keep_bias=False):
    damaged = copy.deepcopy(model)
    damaged.params["conv1.W"][f] = 0
    if not keep_bias:
        damaged.params["conv1.b"][f] = 0
    return damaged


def accuracy_drop(model, x, y, f):
    """cnnlib's answer to notebook 08's knockout exercise: the accuracy of ``model`` on images
    ``x (N, 1, 28, 28)`` with labels ``y (N,)`` minus that of a copy whose conv1 filter ``f``
    (weights and bias) is zero, in percentage points; ``model`` is left unchanged."""

    return 100 * (evaluate(model, x, y) - evaluate(_knocked_out(model, f), x, y))


def _knockout_mistakes(model, xs, ys, f, base, expected, x, y):
    """The usual wrong drops for filter ``f`` on ``xs, ys`` (the first images of ``x, y``), as
    (thunk, message): each thunk computes its value only when called, since each costs
    evaluations."""
    def drop_of(other, keep_bias=False):
        return 100 * (base - evaluate(_knocked_out(model, other, keep_bias), xs, ys))
    mistakes = [(lambda: 0.0, "0 points: knocking out a filter changes some predictions; did "
                 "you evaluate the same (undamaged or damaged) model twice? model.params "
                 "builds a new dict on each call, so putting a new array into that dict is "
                 "lost: write zeros into the arrays it holds, by indexing into them"),
                (lambda: expected / 100, "give the drop in percentage POINTS: the two "
                 "accuracies as percentages, before minus after"),
                (lambda: expected / base, "that is the drop relative to the accuracy before; "
                 "give it in percentage POINTS, the plain difference of the two accuracies as "
                 "percentages"),
                (lambda: 100 * base - expected, "that is the damaged copy's accuracy: return the "
                 "DROP, the accuracy before minus the accuracy after"),
                (lambda: -expected, "accuracy BEFORE minus accuracy after: a damaged model "
                 "that does worse has a positive drop"),
                (lambda: drop_of(f, keep_bias=True), "set the filter's bias to zero too "
                 "(params['conv1.b'][f]): with only its weights zeroed the filter still adds "
                 "its bias everywhere")]
    if len(xs) < len(x):
        mistakes.append((lambda: 100 * (evaluate(model, x, y) - evaluate(_knocked_out(model, f),
                                                                       x, y)),
                         f"that is the drop on {len(x)} images, not on the {len(xs)} the check "
                         f"passed: use the x and y given, not a global such as x_test"))
    mistakes += [(lambda other=other: drop_of(other), f"that is the drop for filter {other}: "
                  f"knock out filter f = {f}, the argument")
                 for other in range(model.params["conv1.W"].shape[0]) if other != f]
    return mistakes


def check_knockout(fn, model, x, y):
    """Check ``fn(model, x, y, f) -> drop``: the test accuracy of ``model`` on ``x, y`` minus that
    of a copy whose conv1 filter ``f`` (weights and bias) is zero, in percentage points; ``model``
    must be left unchanged. Tried with filter 0 on all of ``x`` and filter 1 on its first 300.
    Returns ``fn``, so a notebook can write ``accuracy_drop = check_knockout(my_accuracy_drop,
    ...)``."""

    before = {name: param.copy() for name, param in model.params.items()}
    for f, n in [(0, len(x)), (1, min(300, len(x)))]:
        xs, ys = x[:n], y[:n]
        got = call("your accuracy_drop", fn, model, xs, ys, f,
                   signature=f"accuracy_drop(model, x, y, {f})")
        changed = [name for name, param in model.params.items()
                   if not np.array_equal(param, before[name])]
        if changed:
            for name in changed:
                model.params[name][...] = before[name]
            raise ExerciseError(f"accuracy_drop changed the model it was given "
                                f"({', '.join(changed)}; restored now): damage a deep copy (a "
                                f"shallow copy shares the layers' arrays with the model), the "
                                f"caller still needs the original")
        base = evaluate(model, xs, ys)
        expected = 100 * (base - evaluate(_knocked_out(model, f), xs, ys))
        where = f"for filter {f} on {n} images"
        try:
            got = float(got)
        except (TypeError, ValueError):
            compare("the drop", got, expected, where=where)     # says what it got instead
        if close(got, expected):
            continue
        mistakes = _knockout_mistakes(model, xs, ys, f, base, expected, x, y)
        for wrong, message in mistakes:          # computed one at a time: each costs evaluations
            if close(got, wrong()):
                raise ExerciseError(f"the drop {where}: {message}")
        compare("the drop", got, expected, where=where)
    correct("the accuracy drop in points when one conv1 filter is knocked out, model untouched")
    return fn
