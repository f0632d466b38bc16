"""Checkers of the two-layer network exercises (notebook 03): its backward pass, one SGD step,
counting parameters, finding badly classified examples; with the references
:func:`two_layer_backward` and :func:`sgd_step`.
"""

import numpy as np

from ..functions import softmax
from ..gradcheck import numerical_gradient
from ..models import TwoLayerNet
from ..optim import SGD
from .diagnosis import (
    ExerciseError,
    call,
    caller_unchanged,
    compare,
    correct,
    keeps_float32,
    unchanged,
)

TWO_LAYER_KEYS = ("affine2.W", "affine2.b", "affine1.W", "affine1.b")   # in backprop order


FIXED_TWO_LAYER = (
    "on the fixed case x = [[1, 2], [-1, 1]], y = [0, 1], W1 = [[1, -1, 0.5], [0, 1, -0.25]], "
    "W2 = [[1, 0], [0, 1], [1, -1]], zero biases (N = 2, D = 2, H = 3, C = 2; so "
    "h = [[1, 1, 0], [-1, 2, -0.75]])")


def _two_layer_net(params):
    """A ``TwoLayerNet`` holding copies of ``params`` (keys ``affine1.W`` ... ``affine2.b``)."""

    w1, w2 = np.asarray(params["affine1.W"]), np.asarray(params["affine2.W"])
    net = TwoLayerNet(w1.shape[0], w1.shape[1], w2.shape[1], dtype=w1.dtype,
                      rng=np.random.default_rng(0))
    for name, param in net.params.items():
        param[...] = params[name]
    return net


def two_layer_backward(params, x, y, h, a, p):
    """cnnlib's answer to notebook 03's exercise: the gradients of the mean loss of a
    ``TwoLayerNet`` holding ``params``, from its own layers' backward passes.

    ``x`` (N, D), ``y`` int labels (N,); ``h``, ``a``, ``p`` (the forward pass's pre-activation,
    activation and probabilities) are not needed: the network runs its own forward pass. Returns
    ``{"affine1.W": (D, H), "affine1.b": (H,), "affine2.W": (H, C), "affine2.b": (C,)}``.
    """
    net = _two_layer_net(params)
    net.loss(x, y)
    net.backward()
    return {name: grad.copy() for name, grad in net.grads.items()}


def sgd_step(params, grads, lr):
    """cnnlib's answer to notebook 03's exercise: ``SGD(lr).update(params, grads)``, in place."""

    SGD(lr).update(params, grads)


def _two_layer_variants(params, x, y, h, a, p):
    """The right gradients and the typical wrong ones: ``(grads, [(wrong_grads, message)])``."""
    n, w2 = len(x), params["affine2.W"]
    t = np.eye(p.shape[1])[y]

    def grads(g_s, mask=lambda g_a: g_a * (h > 0), dw2_input=a, reduce=np.sum, over_n=1):
        g_h = mask(g_s @ w2.T)
        return {"affine2.W": dw2_input.T @ g_s / over_n, "affine2.b": reduce(g_s, axis=0),
                "affine1.W": x.T @ g_h / over_n, "affine1.b": reduce(g_h, axis=0)}

    g_s = (p - t) / n
    wrong = [
        (grads(p - t), "divide by the batch size N: the loss is the MEAN over the batch "
         "(step 1)"),
        (grads(p / n), "subtract the one-hot labels t (step 1)"),
        (grads(g_s, mask=lambda g_a: g_a * (h >= 0)), "at h = 0 the ReLU's slope is 0: mask "
         "with h > 0, not h >= 0"),
        (grads(g_s, mask=lambda g_a: g_a * (h <= 0)), "the ReLU passes the gradient where h > 0 "
         "(units that were on) and blocks it elsewhere; your mask is the other way round"),
        (grads(g_s, mask=lambda g_a: g_a * (h < 0)), "the ReLU passes the gradient where h > 0 "
         "(units that were on) and blocks it elsewhere; your mask is the other way round"),
        (grads(g_s, mask=lambda g_a: g_a), "multiply by the ReLU's mask (step 3): without it the "
         "gradient flows through units that were off"),
        (grads(g_s, mask=lambda g_a: np.maximum(g_a, 0)), "the ReLU's mask comes from the "
         "forward pass (h > 0), not from the sign of the gradient"),
        (grads(g_s, mask=lambda g_a: g_a * a), "the ReLU's factor is its slope, 1 where h > 0 "
         "and 0 elsewhere, not the activation a itself"),
        (grads((p - t) / p.shape[1]), "divide by the batch size N (rows of p), not by the "
         "number of classes C (columns): the loss is the mean over the examples"),
        (grads(g_s, dw2_input=h), "dW2 comes from affine2's input, which is the ReLU's "
         "OUTPUT a, not h"),
        (grads(g_s, reduce=np.mean, over_n=n), "step 1 already averages over the batch "
         "(/ N): db is the SUM of g over the batch (axis 0), and dW needs no second / N"),
    ]
    return grads(g_s), wrong


def _check_grad_dict(got, expected, keys, wrong=(), where=""):
    if not isinstance(got, dict):
        raise ExerciseError(f"return a dict {{name: gradient}} with the keys of params, got "
                            f"{type(got).__name__}")
    if got and not any(key in got for key in keys):
        raise ExerciseError(f"use the parameter names as keys ('affine1.W', 'affine1.b', "
                            f"'affine2.W', 'affine2.b'): got {sorted(map(str, got))}")
    for key in keys:
        if key not in got:
            raise ExerciseError(f"the gradients have no {key!r}: return one for every parameter, "
                                f"the biases too (db = g summed over the batch)")
        if not isinstance(got[key], np.ndarray):
            raise ExerciseError(f"grads[{key!r}] is a {type(got[key]).__name__}, not a numpy "
                                f"array: the SGD step subtracts it from an array, so return one")
        value, shape = np.asarray(got[key]), expected[key].shape
        if value.ndim == 2 and value.shape == shape[::-1] and shape[0] != shape[1]:
            raise ExerciseError(f"grads[{key!r}] has shape {value.shape}, the transpose of W's "
                                f"{shape}{' ' + where if where else ''}: dW = (input).T @ g has "
                                f"the shape of W, (inputs, outputs)")
        compare(f"grads[{key!r}]", got[key], expected[key],
                [(w[key], message) for w, message in wrong], where)


def check_two_layer_backward(fn):
    """Check ``fn(params, x, y, h, a, p) -> {name: gradient}``, the two-layer network's backward
    pass, against ``TwoLayerNet`` and numerical gradients; returns ``fn``.

    ``params``: ``affine1.W`` (D, H), ``affine1.b`` (H,), ``affine2.W`` (H, C), ``affine2.b``
    (C,); ``x`` (N, D); ``y`` int labels (N,); ``h = x @ W1 + b1`` and ``a = ReLU(h)`` (N, H);
    ``p`` the softmax probabilities (N, C).
    """
    rng = np.random.default_rng(30)
    fixed = ({"affine1.W": np.array([[1.0, -1.0, 0.5], [0.0, 1.0, -0.25]]),
              "affine1.b": np.zeros(3), "affine2.W": np.array([[1.0, 0.0], [0.0, 1.0],
                                                                [1.0, -1.0]]),
              "affine2.b": np.zeros(2)},
             np.array([[1.0, 2.0], [-1.0, 1.0]]), np.array([0, 1]), FIXED_TWO_LAYER)
    sizes = {"affine1.W": (6, 7), "affine1.b": (7,), "affine2.W": (7, 4), "affine2.b": (4,)}
    random = ({k: rng.standard_normal(s) for k, s in sizes.items()},
              rng.standard_normal((5, 6)), rng.integers(0, 4, 5),
              "on a random batch (N = 5, D = 6, H = 7, C = 4)")
    single = ({k: rng.standard_normal(s).astype(np.float32) for k, s in sizes.items()},
              rng.standard_normal((3, 6)).astype(np.float32), rng.integers(0, 4, 3),
              "on a random float32 batch (N = 3, D = 6, H = 7, C = 4)")
    for params, x, y, where in (fixed, single, random):
        h = x @ params["affine1.W"] + params["affine1.b"]
        a = np.maximum(h, 0)
        p = softmax(a @ params["affine2.W"] + params["affine2.b"])
        cache = {"x": x, "y": y, "h": h, "a": a, "p": p}
        saved = {k: v.copy() for k, v in cache.items()}
        saved_params = {k: v.copy() for k, v in params.items()}
        try:
            got = call("your backward", fn, dict(params), x, y, h, a, p)
        except ExerciseError:
            raise
        except Exception as err:
            raise ExerciseError(
                f"your backward raised {type(err).__name__} {where}: {err}. Check the shape of "
                f"each factor of each product against the table (g_s is (N, C), W2 is (H, C), "
                f"g_h is (N, H)), and take every size from the arrays (N = len(x), C = "
                f"p.shape[1] classes): nothing may be hard-coded (784, 50, 10)") from err
        unchanged("params[{key!r}]", saved_params, params, "the backward pass only computes "
                  "gradients; the step comes after it, once every gradient is known (step 2 "
                  "needs W2 as it was in the forward pass)")
        unchanged("the forward pass's {key}", saved, cache, "copy an array before changing it "
                  "(g = p.copy()); the caller still needs it")
        _, wrong = _two_layer_variants(params, x, y, h, a, p)
        reference = two_layer_backward(params, x, y, h, a, p)
        _check_grad_dict(got, reference, TWO_LAYER_KEYS, wrong, where)
        if x.dtype == np.float32:
            for key in TWO_LAYER_KEYS:
                keeps_float32(f"grads[{key!r}]", got[key], where)
    net = _two_layer_net(random[0])      # ``got`` holds the gradients of the random case
    x, y = random[1], random[2]
    numeric = {name: numerical_gradient(lambda _: net.loss(x, y), param)
               for name, param in net.params.items()}
    _check_grad_dict(got, numeric, TWO_LAYER_KEYS, where="against the numerical gradient")
    correct("the two-layer backward pass matches TwoLayerNet and the numerical gradient")
    return fn


def check_sgd_step(fn):
    """Check ``fn(params, grads, lr)``: ``params[name] -= lr * grads[name]`` for every name, in
    place (the model holds the same arrays), against ``cnnlib.optim.SGD``; returns ``fn``."""

    rng = np.random.default_rng(31)
    fixed = [({"W": np.array([[1.0, 2.0]]), "b": np.array([0.5])},
              {"W": np.array([[0.5, -1.0]]), "b": np.array([2.0])}, 0.1,
              "on the fixed case W = [[1, 2]], b = [0.5], dW = [[0.5, -1]], db = [2], lr = 0.1")]
    shapes = {"affine1.W": (4, 3), "affine1.b": (3,), "affine2.W": (3, 2), "affine2.b": (2,)}
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    steps = [(params, {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()},
              0.05, f"on step {i + 1} of three on random float32 parameters, lr = 0.05")
             for i in range(3)]
    for params, grads, lr, where in fixed + steps:
        arrays, before = dict(params), {k: v.copy() for k, v in params.items()}
        saved_grads = {k: v.copy() for k, v in grads.items()}
        expected = {k: v.copy() for k, v in params.items()}
        SGD(lr).update(expected, grads)
        result = call("your sgd_step", fn, params, grads, lr)
        unchanged("grads[{key!r}]", saved_grads, grads, "compute lr * grads[name] as a new array; "
                  "the gradients are not yours to change")
        for key in before:
            if params.get(key) is not arrays[key]:
                raise ExerciseError(
                    f"params[{key!r}] is a new array {where}: params[name] = params[name] - ... "
                    f"builds a new array, and the model still holds the old one; change the "
                    f"array itself, in place (an augmented assignment)")
            if np.array_equal(arrays[key], before[key]):
                if isinstance(result, dict):
                    raise ExerciseError(f"params did not change {where}: you returned new "
                                        f"arrays, but the model holds the old ones; update them "
                                        f"in place, the arrays the model holds")
                raise ExerciseError(f"params[{key!r}] did not change {where}: update every "
                                    f"parameter (the biases too), in place")
            g = grads[key]
            compare(f"params[{key!r}] after the step", arrays[key], expected[key], [
               (before[key] - g, "multiply the gradient by the learning rate lr"),
               (before[key] + lr * g, "step DOWNHILL: subtract lr * grad (you added it)"),
               (-lr * g, "subtract the step from the parameter (params[name] -= ...); you "
                "replaced the parameter by the step"),
               (before[key] - lr * g.sum(), "each parameter moves by its own gradient: "
                "lr * grads[name], not a sum")], where)
            if before[key].dtype == np.float32:
                keeps_float32(f"params[{key!r}] after the step", arrays[key], where)
    correct("one SGD step moves every parameter by -lr * grad, in place, as cnnlib's SGD")
    return fn


def check_n_params(fn):
    """Check ``fn(sizes) -> int``: the parameter count of fully connected layers of ``sizes``,
    e.g. ``(784, 100, 10)``: ``784 * 100 + 100 + 100 * 10 + 10``."""
    for sizes in [(784, 100, 10), (2, 3, 1), (784, 50, 20, 10), (5, 5)]:
        pairs = list(zip(sizes[:-1], sizes[1:]))
        got = call("your n_params", fn, sizes)
        if np.ndim(got) == 1 and len(got) == len(pairs) > 1:
            raise ExerciseError(f"got {len(got)} numbers for the layer sizes {sizes}, one per "
                                f"layer: return the total, one number")
        compare("the count", got, sum(i * o + o for i, o in pairs), [
           (sum(i * o for i, o in pairs), "add the biases: each layer has one per output"),
           (sum(i * o + i for i, o in pairs), "a layer's bias has one entry per OUTPUT (b has "
            "shape (out,)), not per input"),
           (sum(sizes), "count the weights and biases, not the units: W is (in, out)"),
           (sum(i * o for i, o in pairs) + sum(sizes), "the input units have no bias: a layer's "
            "bias has one entry per OUTPUT"),
           (sum(i * o + o for i, o in pairs[:-1]), "the last layer is missing: k sizes make "
            "k - 1 layers, and the last one joins the last two sizes"),
           (sum(i * o + o for i, o in pairs[1:]), "the first layer is missing: k sizes make "
            "k - 1 layers, and the first one joins the first two sizes")],
           f"for the layer sizes {sizes}")
    correct("weights (in * out) and biases (out) of every layer, for any sizes")


def _as_indices(got, where):
    """``got`` as an array of indices, or ExerciseError naming what else it is (None, the tuple
    of np.nonzero, a count, a mask, (row, column) pairs)."""
    if got is None:
        raise ExerciseError(f"your bad_examples returned None {where}: return the indices")
    if isinstance(got, tuple) and all(isinstance(v, np.ndarray) for v in got):
        raise ExerciseError(f"got a tuple of {len(got)} array(s) {where}: np.nonzero and "
                            f"np.where with one argument return a tuple, one index array per "
                            f"axis of the mask; return the array of example indices itself")
    got = np.asarray(got)
    if got.ndim == 0:
        raise ExerciseError(f"got the single number {got.item()!r} {where}: return the "
                            f"indices of the bad examples, one per example, not their "
                            f"count or a flag")
    if got.dtype == bool:
        raise ExerciseError(f"return the indices of the bad examples (np.flatnonzero of a "
                            f"mask), not a mask of {got.size} booleans")
    if got.ndim == 2:
        raise ExerciseError(f"got an array of shape {got.shape} {where}: return one index "
                            f"per bad example, not (row, column) pairs; reduce over each "
                            f"example's values with .any(axis=...)")
    return got


def check_bad_examples(fn):
    """Check ``fn(x) -> indices``: the sorted indices of the examples (first axis) of ``x`` that
    hold a NaN or an infinity anywhere."""
    rng = np.random.default_rng(32)
    rows = rng.random((6, 4))
    rows[2, 1] = np.nan
    mixed = rng.random((5, 3))
    mixed[0, 2], mixed[3, 0], mixed[4, 1] = np.inf, -np.inf, np.nan
    images = rng.random((4, 1, 2, 2))
    images[1, 0, 1, 1] = np.nan
    twice = rng.random((4, 3))
    twice[1, 0], twice[1, 2] = np.nan, np.inf
    cases = [(mixed, [0, 3, 4], "for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4)"),
             (rows, [2], "for 6 rows with a NaN in row 2"),
             (twice, [1], "for 4 rows, row 1 holding both a NaN and an inf"),
             (images, [1], "for 4 images (1, 2, 2) with a NaN in image 1"),
             (rng.random((3, 2)), [], "for 3 clean rows")]
    for x, expected, where in cases:
        given = x.copy()
        got = call("your bad_examples", fn, given)
        caller_unchanged("x", given, x, where)
        got = _as_indices(got, where)
        flat = x.reshape(len(x), -1)
        inf_only = list(np.flatnonzero(np.isinf(flat).any(axis=1)))
        if got.ndim == 1 and sorted(got.tolist()) == inf_only and inf_only != expected:
            raise ExerciseError(f"missed the NaNs {where}: np.isinf misses NaN (a NaN is not "
                                f"infinite); one numpy test is False for NaN, inf and -inf")
        if got.ndim == 1 and len(set(got.tolist())) < got.size:
            raise ExerciseError(f"got {got.tolist()} {where}: name each example once: reduce "
                                f"each example to one bool first (.any over all its values), "
                                f"then take the indices with np.flatnonzero")
        if got.shape == (0,) and expected:
            raise ExerciseError(f"found no bad example {where}: a NaN equals nothing, not even "
                                f"itself, so x == np.nan is always False; test with np.isnan "
                                f"or np.isfinite")
        nan_only = list(np.flatnonzero(np.isnan(flat).any(axis=1)))
        if sorted(got.tolist()) == nan_only and nan_only != expected:
            raise ExerciseError(f"missed the infinities {where}: np.isnan misses inf and -inf; "
                                f"one numpy test is False for all three")
        if got.size and not np.any(got) and any(expected):
            raise ExerciseError(f"the indices {where} are all zeros: expected {expected}")
        if sorted(got.tolist()) != expected:
            raise ExerciseError(f"the bad examples {where} are {expected}, got {got.tolist()}")
        if got.tolist() != expected:
            raise ExerciseError(f"got {got.tolist()} {where}: the right examples, but return "
                                f"them sorted, in increasing order")
    correct("every example holding NaN, inf or -inf, and no other")
