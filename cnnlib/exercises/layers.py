"""Checkers of the layer exercises (notebook 02): ReLU, Sigmoid, Tanh, Affine, softmax and
SoftmaxWithLoss; :class:`Tanh` is the reference of the Tanh exercise.
"""

import numpy as np

from .. import layers
from ..functions import softmax
from ..gradcheck import numerical_gradient, rel_error
from .diagnosis import (
    TOLERANCE,
    ExerciseError,
    call,
    caller_unchanged,
    compare,
    copy_checked,
    correct,
    fresh,
    keeps_float32,
)


def _an_array(name, got, where):
    """Raise unless ``got`` is a numpy array: the next layer does array arithmetic on it."""
    if got is not None and not isinstance(got, np.ndarray):
        raise ExerciseError(f"{name} {where} is a {type(got).__name__}, not a numpy array: the "
                            f"layer that receives it computes with arrays, so return one")


def _same_twice(name, first, second, where):
    """Raise unless a second backward pass gave ``first`` again: backward must leave what forward
    kept as it was."""
    if not np.array_equal(np.asarray(first), np.asarray(second), equal_nan=True):
        raise ExerciseError(f"{name} gives another answer when it is called a second time "
                            f"{where}: it changed what forward kept (an attribute such as "
                            f"self.out, self.mask or self.probs); compute the result in a new "
                            f"array and leave those as they were")


def _check_activation(cls, reference, name, fixed_x, mistakes_of):
    """Forward and backward of an elementwise layer against cnnlib and the numerical gradient."""
    rng = np.random.default_rng(1)
    random_x = rng.standard_normal((3, 4))
    single_x = rng.standard_normal((2, 5)).astype(np.float32)
    for x, where in [(fixed_x, f"on the fixed input {fixed_x.tolist()} with dout = 2"),
                     (random_x, "on a random (3, 4) batch"),
                     (single_x, "on a random float32 (2, 5) batch")]:
        dout = np.full_like(x, 2.0) if x is fixed_x else rng.standard_normal(x.shape)
        dout = dout.astype(x.dtype)
        layer, ref = fresh(cls, name), reference()
        given = x.copy()
        out = call(f"{name}.forward", layer.forward, given)
        compare(f"{name}.forward", out, ref.forward(x), where=where)
        caller_unchanged("the input x", given, x, f"in {name}.forward {where}")
        got = copy_checked(f"{name}.backward", dout,
                           lambda d, layer=layer: call(f"{name}.backward", layer.backward, d))
        _an_array(f"{name}.forward's output", out, where)
        compare(f"{name}.backward", got, ref.backward(dout), mistakes_of(x, dout), where)
        _an_array(f"{name}.backward's dx", got, where)
        _same_twice(f"{name}.backward", got, layer.backward(dout.copy()), where)
        if x.dtype == np.float32:
            keeps_float32(f"{name}.forward's output", out, where)
            keeps_float32(f"{name}.backward's dx", got, where)
    layer = fresh(cls, name)
    dout = rng.standard_normal(random_x.shape)
    layer.forward(random_x)
    got = layer.backward(dout)
    numeric = numerical_gradient(lambda v: np.sum(reference().forward(v) * dout), random_x.copy())
    compare(f"{name}.backward", got, numeric, where="against the numerical gradient")


def check_relu(cls):
    """Check a ReLU layer class: forward ``max(x, 0)``, backward ``dout * (x > 0)``."""
    def mistakes(x, dout):
        return [(dout * (x >= 0), "at x = 0 the slope is 0: use x > 0, not x >= 0"),
                ((x > 0).astype(float), "multiply the mask by dout (chain rule)"),
                (dout * (x <= 0), "the gradient passes where the input was POSITIVE"),
                (dout, "multiply dout by the mask: without it the gradient also flows where the "
                 "input was negative")] + ([
                (dout * (dout > 0), "the mask comes from the forward pass's input (what forward "
                 "kept), not from the sign of dout")] if np.any(dout < 0) else [])
    _check_activation(cls, layers.ReLU, "ReLU", np.array([[1.0, -0.5, 0.0, 3.0]]), mistakes)
    correct("ReLU matches cnnlib and the numerical gradient; dout is left unchanged")
    return cls


def check_sigmoid(cls):
    """Check a Sigmoid layer class: backward ``dout * y * (1 - y)`` with the saved output y."""
    def mistakes(x, dout):
        y = 1 / (1 + np.exp(-x))
        sy = 1 / (1 + np.exp(-y))
        return [(dout * y, "the slope is y * (1 - y), not y"),
                (dout * (1 - y), "the slope is y * (1 - y): the factor y is missing"),
                (y * (1 - y), "multiply the slope by dout (chain rule)"),
                (dout * sy * (1 - sy), "use the saved OUTPUT y: the slope is y * (1 - y); you "
                 "applied the sigmoid to it again"),
                (dout * x * (1 - x), "the slope is y * (1 - y) with the output y, not the input x")]
    _check_activation(cls, layers.Sigmoid, "Sigmoid", np.array([[0.0, 2.0, -2.0]]), mistakes)
    correct("Sigmoid matches cnnlib and the numerical gradient; dout is left unchanged")
    return cls


class Tanh(layers.Layer):
    """The reference for notebook 02's Tanh exercise: forward ``tanh(x)``, backward
    ``dout * (1 - y**2)`` with the saved output y."""

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out ** 2)


def check_tanh(cls):
    """Check a Tanh layer class: forward ``tanh(x)``, backward ``dout * (1 - y**2)``."""
    def mistakes(x, dout):
        y = np.tanh(x)
        return [(dout * (1 - x ** 2), "the slope is 1 - y**2 with the output y, not the input x"),
                (1 - y ** 2, "multiply the slope by dout (chain rule)"),
                (dout * (1 - y), "the slope is 1 - y**2 (y squared)"),
                (dout * (1 - y) ** 2, "the slope is 1 - y**2: square y alone, not 1 - y"),
                (dout * (1 - np.tanh(y) ** 2), "use the saved OUTPUT y: the slope is 1 - y**2; "
                 "you applied tanh to it again"),
                (dout * y * (1 - y), "y * (1 - y) is the sigmoid's slope; tanh's is 1 - y**2"),
                (dout - y ** 2, "multiply dout by the whole slope 1 - y**2: mind the precedence "
                 "(* binds before -)")]
    _check_activation(cls, Tanh, "Tanh", np.array([[0.0, 1.0, -1.0]]), mistakes)
    correct("Tanh matches tanh and the numerical gradient; dout is left unchanged")
    return cls


def check_affine(cls):
    """Check an Affine class built as ``cls(in_features, out_features, dtype=..., rng=...)``:
    backward returns dx in x's shape and sets ``grads['W'] = x.T @ dout``, ``grads['b']``."""
    rng = np.random.default_rng(2)
    fixed = (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]]))
    random = (rng.standard_normal((4, 1, 2, 3)), rng.standard_normal((4, 5)))
    single = (rng.standard_normal((3, 4)).astype(np.float32),
              rng.standard_normal((3, 2)).astype(np.float32))
    for (x, dout), where in [(fixed, "on a fixed batch of 2 examples, 2 -> 3 features"),
                             (random, "on a random batch of 4 images (1, 2, 3), 6 -> 5"),
                             (single, "on a random float32 batch of 3 examples, 4 -> 2")]:
        d_in, d_out = int(np.prod(x.shape[1:])), dout.shape[1]
        seed = int(rng.integers(1 << 30))
        layer = fresh(cls, "Affine", d_in, d_out, dtype=x.dtype.type,
                      rng=np.random.default_rng(seed))
        ref = layers.Affine(d_in, d_out, dtype=x.dtype.type, rng=np.random.default_rng(seed))
        for key in ("W", "b"):
            if key not in getattr(layer, "params", {}):
                raise ExerciseError(f"Affine has no params['{key}']: build it like cnnlib's Affine")
        layer.params["b"][...] = ref.params["b"][...] = np.arange(d_out) / 10
        given = x.copy()
        compare("Affine.forward", call("Affine.forward", layer.forward, given),
                ref.forward(x), where=where)
        dx = copy_checked("Affine.backward", dout,
                          lambda d, layer=layer: call("Affine.backward", layer.backward, d))
        caller_unchanged("the input x", given, x, f"in Affine's forward or backward {where}")
        dx_ref = ref.backward(dout)
        x2, w = x.reshape(len(x), -1), ref.params["W"]
        db = layer.grads.get("b")
        if np.shape(db) == (len(x),) and len(x) != d_out:
            raise ExerciseError(f"grads['b'] has shape {np.shape(db)} {where}, one value per "
                                f"example: b has one entry per output, so sum dout over the "
                                f"batch (axis 0), not over the outputs (axis 1)")
        compare("Affine.backward's dx", dx, dx_ref,
                [((dout @ w.T).reshape(len(x), -1), "give dx back in the shape of x "
                  "(forward kept it)")], where)
        compare("grads['W']", layer.grads.get("W"), ref.grads["W"],
                [(dout.T @ x2, "dW has the shape of W, (in, out); you have its transpose")],
                where)
        compare("grads['b']", layer.grads.get("b"), ref.grads["b"],
                [(dout.mean(axis=0), "db is the SUM of dout over the batch, not the mean"),
                 (dout[0], "db sums dout over the whole batch (axis 0), not only the first row")],
                where)
        for label, value in [("dx", dx), ("grads['W']", layer.grads["W"]),
                             ("grads['b']", layer.grads["b"])]:
            _an_array(f"Affine.backward's {label}", value, where)
        first = {"dx": dx, "W": np.copy(layer.grads["W"]), "b": np.copy(layer.grads["b"])}
        again = {"dx": layer.backward(dout.copy()), "W": layer.grads["W"], "b": layer.grads["b"]}
        for key in ("W", "b"):
            if np.any(first[key]) and np.allclose(again[key], 2 * first[key]):
                raise ExerciseError(f"grads['{key}'] doubled when backward ran a second time "
                                    f"{where}: you add to the stored gradient; each backward "
                                    f"pass stores its own gradient afresh (nothing resets "
                                    f"grads between steps)")
        for key in first:
            _same_twice(f"Affine.backward ({key})", first[key], again[key], where)
        if x.dtype == np.float32:
            for label, value in [("dx", dx), ("grads['W']", layer.grads["W"]),
                                 ("grads['b']", layer.grads["b"])]:
                keeps_float32(f"Affine.backward's {label}", value, where)
    layer = fresh(cls, "Affine", 3, 2, dtype=np.float64, rng=np.random.default_rng(3))
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    dx = layer.backward(dout)
    ref = layers.Affine(3, 2, dtype=np.float64, rng=np.random.default_rng(3))
    f = lambda _: np.sum(ref.forward(x) * dout)  # noqa: E731
    numeric = {"dx": numerical_gradient(f, x),
               "grads['W']": numerical_gradient(f, ref.params["W"]),
               "grads['b']": numerical_gradient(f, ref.params["b"])}
    for key, got in [("dx", dx), ("grads['W']", layer.grads["W"]),
                     ("grads['b']", layer.grads["b"])]:
        compare(f"Affine's {key}", got, numeric[key], where="against the numerical gradient")
    correct("Affine's dx, dW and db match cnnlib and the numerical gradient (images too)")
    return cls


def check_softmax_with_loss(cls):
    """Check a SoftmaxWithLoss class: ``backward(dout=1.0)`` returns ``dout * (p - t) / N``."""
    rng = np.random.default_rng(4)
    cases = [(np.array([[2.0, 1.0, 0.0]]), np.array([1]), 1.0,
              "on the fixed case scores (2, 1, 0), label 1"),
             (np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([0, 1]), 2.0,
              "on the fixed case of two examples with equal scores, labels 0 and 1, dout = 2"),
             (rng.standard_normal((5, 4)), rng.integers(0, 4, 5), 1.0, "on a random batch of 5"),
             (rng.standard_normal((3, 4)), np.eye(4)[[3, 0, 0]], 0.5, "with one-hot labels"),
             (rng.standard_normal((4, 3)).astype(np.float32), np.array([2, 0, 1, 1]), 1.0,
              "on a random float32 batch of 4")]
    for scores, labels, dout, where in cases:
        layer, ref = fresh(cls, "SoftmaxWithLoss"), layers.SoftmaxWithLoss()
        given = scores.copy()
        compare("the loss", call("SoftmaxWithLoss.forward", layer.forward, given, labels),
                ref.forward(scores, labels), where=where)
        got = call("SoftmaxWithLoss.backward", layer.backward, dout)
        caller_unchanged("the scores", given, scores, where)
        if scores.dtype == np.float32:
            keeps_float32("dscores", got, where)
        n, p = len(scores), softmax(scores)
        t = labels if np.ndim(labels) == 2 else np.eye(scores.shape[1])[labels]
        unscaled = [((p - t) * dout, "divide by the batch size N: the loss is the MEAN over "
                      "the batch")] if n > 1 else []
        c = scores.shape[1]
        if c != n:
            unscaled.append(((p - t) * dout / c, f"divide by N = {n}, the batch size (rows), not "
                             f"by C = {c}, the number of classes (columns): the loss is the mean "
                             f"over the examples"))
        compare("dscores", got, ref.backward(dout), unscaled + [
                 ((t - p) * dout / n, "the sign is flipped: the gradient is p - t, not t - p"),
                 ((p - t) / n, "multiply by dout (it is 1 at the end of the graph, not always)"),
                 (p * dout / n, "subtract the one-hot targets t (step 3)"),
                 ((p - t / n) * dout, "divide the whole difference p - t by N: mind the "
                  "precedence (/ binds before -)")], where)
        _an_array("dscores", got, where)
        _same_twice("SoftmaxWithLoss.backward", got, layer.backward(dout), where)
    layer = fresh(cls, "SoftmaxWithLoss")
    scores, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    layer.forward(scores, labels)
    numeric = numerical_gradient(lambda s: layers.SoftmaxWithLoss().forward(s, labels),
                                 scores.copy())
    compare("dscores", layer.backward(), numeric, where="against the numerical gradient")
    correct("SoftmaxWithLoss's dscores = dout * (p - t) / N, as cnnlib and the numerical gradient")
    return cls


def _same_with_nan(got, wrong):
    """Whether ``got`` equals ``wrong`` where ``wrong`` is finite and is nan/inf where it is not."""
    got, wrong = np.asarray(got, dtype=np.float64), np.asarray(wrong, dtype=np.float64)
    if got.shape != wrong.shape:
        return False
    finite = np.isfinite(wrong)
    return bool(np.array_equal(np.isfinite(got), finite)
                and (not finite.any() or rel_error(got[finite], wrong[finite]) < TOLERANCE))


def _softmax_mistakes(v):
    """``(wrong softmax of v, message)`` for the typical mistakes of a hand-written softmax."""
    def normalised(e, keepdims=True):
        return e / e.sum(axis=-1, keepdims=keepdims)
    not_max = ("subtract the row's MAX; after subtracting the min or the mean, exp of the "
               "largest score can still overflow to inf, and inf / inf is nan")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        wrong = [(normalised(np.exp(v - v.min(axis=-1, keepdims=True))), not_max),
                 (normalised(np.exp(v - v.mean(axis=-1, keepdims=True))), not_max),
                 (normalised(np.exp(v)), "subtract each row's max before exp: np.exp of a score "
                  "near 1000 overflows to inf, and inf / inf is nan")]
        if v.ndim == 2:
            wrong += [
                (normalised(np.exp(v - v.max())), "use the max of each row, not of the whole "
                 "batch (axis=-1, keepdims=True): a row whose scores are far below the batch's "
                 "max underflows to exp(...) = 0 everywhere, and 0 / 0 is nan"),
                (np.exp(v - v.max(axis=-1, keepdims=True))
                 / np.exp(v - v.max(axis=-1, keepdims=True)).sum(axis=0, keepdims=True),
                 "normalise each ROW (sum over the last axis, keepdims=True)")]
            if v.shape[0] == v.shape[1]:
                e = np.exp(v - v.max(axis=-1))
                wrong.append((e / e.sum(axis=-1), "keep the row axis (keepdims=True) in max and "
                              "sum: without it, a (N,) vector broadcasts along the rows and each "
                              "COLUMN gets another row's max or sum"))
    return wrong


def check_softmax(fn):
    """Check a stable ``softmax(scores)`` over the last axis, for one row or a batch of rows."""
    cases = [(np.array([1.0, 2.0, 3.0]), "for the scores (1, 2, 3)"),
             (np.array([1000.0, 1001.0, 1002.0]), "for the scores (1000, 1001, 1002)"),
             (np.array([[1000.0, 1001.0], [-1000.0, -999.0]]),
              "for the batch [[1000, 1001], [-1000, -999]]"),
             (np.array([[-1000.0, 0.0, 1000.0]]), "for the wide row [[-1000, 0, 1000]]"),
             (np.random.default_rng(5).standard_normal((4, 3)) * 5, "for a random (4, 3) batch"),
             (np.random.default_rng(6).standard_normal((3, 5)).astype(np.float32) * 5,
              "for a random float32 (3, 5) batch")]
    for v, where in cases:
        given = v.copy()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            got = call("your softmax", fn, given, signature="stable_softmax(scores)")
        if not np.array_equal(given, v):
            raise ExerciseError(f"your softmax changed the scores it was given {where}: compute "
                                f"new arrays (shifted = scores - ...), not scores -= ...; the "
                                f"caller may still need its scores")
        mistakes = _softmax_mistakes(v)
        try:
            finite = bool(np.all(np.isfinite(np.asarray(got, dtype=np.float64))))
        except (TypeError, ValueError):
            finite = True                      # not an array: compare says so
        if not finite:
            for wrong, message in mistakes:
                if _same_with_nan(got, wrong):
                    raise ExerciseError(f"softmax {where} holds nan or inf: {message}")
        compare("softmax", got, softmax(v), [m for m in mistakes if np.all(np.isfinite(m[0]))],
                where)
        _an_array("softmax", got, where)
        if v.dtype == np.float32:
            keeps_float32("softmax", got, where)
    correct("softmax is right and finite for large scores, row by row")
