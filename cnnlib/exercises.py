"""Checkers for the learners' exercises, and the generator of the student edition.

Each ``check_*`` takes the learner's class or function, compares it with ``cnnlib``'s reference on
seeded random inputs, with a numerical gradient where a gradient is asked, and on a small fixed case
a learner can work out by hand. A wrong answer raises :class:`ExerciseError` with a message that
says what is wrong; a right one prints one line ``correct: ...``. A checker of a class returns
the class, so a notebook can write ``ReLU = check_relu(MyReLU)``: the later cells use the
learner's class once it passes, and ``cnnlib``'s until then.

:func:`student_notebook` turns a worked notebook into its student edition: every block between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``raise NotImplementedError(hint)`` (the
hint from a ``# HINT: ...`` line in the block), outputs are cleared, cells whose first line is
``# WORKED EDITION ONLY`` are replaced by a note, and each check cell (the first code cell after a
solution) is tagged ``raises-exception``. ``python -m cnnlib exercises`` writes them all.
"""

import copy
import textwrap
from pathlib import Path

import numpy as np

from . import conv, graph, layers, pool
from .functions import softmax
from .gradcheck import numerical_gradient, rel_error

TOLERANCE = 1e-6


class ExerciseError(AssertionError):
    """An exercise's answer is wrong (or not written yet); the message says what is wrong."""


# --- helpers -----------------------------------------------------------------------------------

def _call(what, fn, *args, **kwargs):
    """``fn(*args)``; a NotImplementedError becomes ExerciseError("... not written yet: hint")."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        hint = str(err) or "replace the raise NotImplementedError line with your code"
        raise ExerciseError(f"{what} is not written yet: {hint}") from None


def _close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and rel_error(a, b) < TOLERANCE


def _compare(name, got, expected, mistakes=(), where=""):
    """Raise ExerciseError unless ``got`` matches ``expected``; say how it differs.

    ``mistakes``: ``(wrong_value, message)`` pairs for the typical mistakes, tried after the
    shape check (so a specific mistake is named before the generic messages).
    """
    where = f" {where}" if where else ""
    if got is None:
        raise ExerciseError(f"{name} is None{where}: did you forget to return it?")
    expected = np.asarray(expected, dtype=np.float64)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{name}{where}: expected a number or array, got {type(got).__name__}")\
            from None
    if got.shape == expected.shape and _close(got, expected):
        return
    for wrong, message in mistakes:
        if _close(got, wrong):
            raise ExerciseError(f"{name}{where}: {message}")
    if got.shape != expected.shape:
        extra = ""
        if got.ndim >= 2 and got.shape == expected.shape[:-2] + expected.shape[:-3:-1]:
            extra = " (transposed?)"
        elif got.shape[1:] == expected.shape and got.ndim == expected.ndim + 1:
            extra = " (a sum over the batch, axis 0, is missing)"
        raise ExerciseError(f"{name} has the wrong shape{where}: expected {expected.shape}, got "
                            f"{got.shape}{extra}")
    if not np.all(np.isfinite(got)):
        raise ExerciseError(f"{name}{where} holds nan or inf")
    if not np.any(got) and np.any(expected):
        raise ExerciseError(f"{name}{where} is all zeros")
    if np.any(expected) and _close(-got, expected):
        raise ExerciseError(f"{name}{where} has its sign flipped")
    if got.ndim >= 2 and _close(np.swapaxes(got, -1, -2), expected):
        raise ExerciseError(f"{name}{where} is transposed (rows and columns swapped)")
    index = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape) if got.ndim else ()
    at = f" at index {tuple(int(i) for i in index)}" if got.ndim else ""
    raise ExerciseError(f"{name} is wrong{where}: relative error {rel_error(got, expected):.1e}; "
                        f"first large difference{at}: expected {expected[index]:.6g}, got "
                        f"{got[index]:.6g}")


def _copy_checked(name, dout, fn):
    """Call ``fn(dout_copy)`` and raise if it changed the array it was given."""
    given = dout.copy()
    result = fn(given)
    if not np.array_equal(given, dout):
        raise ExerciseError(f"{name} changed dout in place: compute a new array (dout * mask, not "
                            f"dout[...] = 0), the caller may still need dout")
    return result


def _correct(message):
    print(f"correct: {message}")


# --- notebook 01: graph nodes ------------------------------------------------------------------

def _check_node(cls, reference, name, mistakes_of):
    rng = np.random.default_rng(0)
    cases = [(3.0, -2.0, 1.0, "on the fixed case x=3, y=-2, dout=1"),
             (3.0, -2.0, 2.0, "on the fixed case x=3, y=-2, dout=2")]
    x, y, dout = (rng.standard_normal((2, 3)) for _ in range(3))
    cases.append((x, y, dout, "on random (2, 3) arrays"))
    for x, y, dout, where in cases:
        node, ref = _call(f"{name}()", cls), reference()
        out = _call(f"{name}.forward", node.forward, x, y)
        _compare(f"{name}.forward", out, ref.forward(x, y), where=where)
        got = _call(f"{name}.backward", node.backward, dout)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseError(f"{name}.backward must return a pair (dx, dy), got {got!r}")
        expected = ref.backward(dout)
        for i, label in enumerate(("dx", "dy")):
            _compare(f"{name}.backward's {label}", got[i], expected[i], mistakes_of(x, y, dout)[i],
                     where)
    # the numerical gradient of sum(forward(x, y) * dout) agrees
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal(4)
    node = cls()
    node.forward(x, y)
    dx, dy = node.backward(dout)
    fresh = cls()
    numeric_dx = numerical_gradient(lambda v: np.sum(fresh.forward(v, y) * dout), x.copy())
    numeric_dy = numerical_gradient(lambda v: np.sum(fresh.forward(x, v) * dout), y.copy())
    _compare(f"{name}.backward's dx", dx, numeric_dx, where="against the numerical gradient")
    _compare(f"{name}.backward's dy", dy, numeric_dy, where="against the numerical gradient")


def check_mul_layer(cls):
    """Check a MulLayer class: ``forward(x, y) -> x*y``, ``backward(dout) -> (dout*y, dout*x)``."""
    def mistakes(x, y, dout):
        swapped = "each input gets dout times the OTHER input (dx = dout * y), not its own"
        no_dout = "multiply by dout: the gradient from further down the graph (chain rule)"
        return ([(dout * x, swapped), (np.broadcast_to(y, np.shape(dout)), no_dout)],
                [(dout * y, swapped), (np.broadcast_to(x, np.shape(dout)), no_dout)])
    _check_node(cls, graph.MulLayer, "MulLayer", mistakes)
    _correct("MulLayer matches cnnlib and the numerical gradient (fixed case and random arrays)")
    return cls


def check_add_layer(cls):
    """Check an AddLayer class: ``forward(x, y) -> x+y``, ``backward(dout) -> (dout, dout)``."""
    def mistakes(x, y, dout):
        ones = "an add node passes dout on unchanged, not 1 (chain rule: dout * 1)"
        half = "each input gets the whole dout, not a share of it (both local slopes are 1)"
        pair = [(np.ones_like(np.asarray(dout, dtype=float)), ones), (np.asarray(dout) / 2, half)]
        return pair, pair
    _check_node(cls, graph.AddLayer, "AddLayer", mistakes)
    _correct("AddLayer matches cnnlib and the numerical gradient (fixed case and random arrays)")
    return cls


def check_shipping(fn):
    """Exercise: ``fn(fruit_total, shipping, tax) -> (price, d_shipping)`` through graph nodes."""
    for args in [(650.0, 30.0, 1.1), (100.0, 5.0, 1.2), (10.0, 0.0, 2.0)]:
        got = _call("your function", fn, *args)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseError(f"return a pair (price, d_shipping), got {got!r}")
        fruit_total, shipping, tax = args
        where = f"for fruit_total={fruit_total}, shipping={shipping}, tax={tax}"
        _compare("price", got[0], (fruit_total + shipping) * tax, where=where)
        numeric = numerical_gradient(lambda s: (fruit_total + s[0]) * tax, np.array([shipping]))
        _compare("d_shipping", got[1], numeric[0], [(1.0, "the add node passes on dout, which "
                                                     "here is d price / d sum = tax, not 1")],
                 where)
    _correct("price and d price / d shipping for three bills")


def check_add_mul(fn):
    """Exercise: ``fn(x, y, z) -> (f, (dx, dy, dz))`` for ``f = (x + y) * z``."""
    for x, y, z in [(-2.0, 5.0, -4.0), (1.0, 2.0, 3.0), (0.5, -1.5, 2.0)]:
        got = _call("your function", fn, x, y, z)
        if not isinstance(got, tuple) or len(got) != 2 or len(got[1]) != 3:
            raise ExerciseError(f"return (f, (dx, dy, dz)), got {got!r}")
        where = f"at x={x}, y={y}, z={z}"
        _compare("f", got[0], (x + y) * z, where=where)
        numeric = numerical_gradient(lambda v: (v[0] + v[1]) * v[2], np.array([x, y, z]))
        _compare("(dx, dy, dz)", np.array(got[1], dtype=float), numeric,
                 [([1.0, 1.0, x + y], "dx and dy are dout * z: the add node passes on what the "
                   "multiply node sends it")], where)
    _correct("f and its three gradients at three points")


def check_passes(fn):
    """Exercise: ``fn(n_params) -> (numeric_evals, backward_passes)``."""
    for n in [5, 61706, 1]:
        got = _call("your function", fn, n)
        _compare("(numeric_evals, backward_passes)", np.array(got, dtype=float), [2 * n, 1],
                 [([n, 1], "central differences evaluate the function twice per parameter"),
                  ([2 * n, n], "one backward pass gives the gradient of every parameter at once")],
                 f"for {n} parameters")
    _correct("two evaluations per parameter numerically, one backward pass for all")


# --- notebook 02: layers -----------------------------------------------------------------------

def _fresh(cls, name, *args, **kwargs):
    return _call(f"{name}(...)", cls, *args, **kwargs)


def _check_activation(cls, reference, name, fixed_x, mistakes_of):
    """Forward and backward of an elementwise layer against cnnlib and the numerical gradient."""
    rng = np.random.default_rng(1)
    random_x = rng.standard_normal((3, 4))
    for x, where in [(fixed_x, f"on the fixed input {fixed_x.tolist()} with dout = 2"),
                     (random_x, "on a random (3, 4) batch")]:
        dout = np.full_like(x, 2.0) if x is fixed_x else rng.standard_normal(x.shape)
        layer, ref = _fresh(cls, name), reference()
        _compare(f"{name}.forward", _call(f"{name}.forward", layer.forward, x.copy()),
                 ref.forward(x), where=where)
        got = _copy_checked(f"{name}.backward", dout,
                            lambda d: _call(f"{name}.backward", layer.backward, d))
        _compare(f"{name}.backward", got, ref.backward(dout), mistakes_of(x, dout), where)
    layer = _fresh(cls, name)
    dout = rng.standard_normal(random_x.shape)
    layer.forward(random_x)
    got = layer.backward(dout)
    numeric = numerical_gradient(lambda v: np.sum(reference().forward(v) * dout), random_x.copy())
    _compare(f"{name}.backward", got, numeric, where="against the numerical gradient")


def check_relu(cls):
    """Check a ReLU layer class: forward ``max(x, 0)``, backward ``dout * (x > 0)``."""
    def mistakes(x, dout):
        return [(dout * (x >= 0), "at x = 0 the slope is 0: use x > 0, not x >= 0"),
                ((x > 0).astype(float), "multiply the mask by dout (chain rule)"),
                (dout * (x <= 0), "the gradient passes where the input was POSITIVE")]
    _check_activation(cls, layers.ReLU, "ReLU", np.array([[1.0, -0.5, 0.0, 3.0]]), mistakes)
    _correct("ReLU matches cnnlib and the numerical gradient; dout is left unchanged")
    return cls


def check_sigmoid(cls):
    """Check a Sigmoid layer class: backward ``dout * y * (1 - y)`` with the saved output y."""
    def mistakes(x, dout):
        y = 1 / (1 + np.exp(-x))
        sy = 1 / (1 + np.exp(-y))
        return [(dout * y, "the slope is y * (1 - y), not y"),
                (y * (1 - y), "multiply the slope by dout (chain rule)"),
                (dout * sy * (1 - sy), "use the saved OUTPUT y: the slope is y * (1 - y); you "
                 "applied the sigmoid to it again"),
                (dout * x * (1 - x), "the slope is y * (1 - y) with the output y, not the input x")]
    _check_activation(cls, layers.Sigmoid, "Sigmoid", np.array([[0.0, 2.0, -2.0]]), mistakes)
    _correct("Sigmoid matches cnnlib and the numerical gradient; dout is left unchanged")
    return cls


def check_tanh(cls):
    """Check a Tanh layer class: forward ``tanh(x)``, backward ``dout * (1 - y**2)``."""
    class Reference(layers.Layer):
        def forward(self, x):
            self.out = np.tanh(x)
            return self.out

        def backward(self, dout):
            return dout * (1 - self.out ** 2)

    def mistakes(x, dout):
        y = np.tanh(x)
        return [(dout * (1 - x ** 2), "the slope is 1 - y**2 with the output y, not the input x"),
                (1 - y ** 2, "multiply the slope by dout (chain rule)"),
                (dout * (1 - y), "the slope is 1 - y**2 (y squared)")]
    _check_activation(cls, Reference, "Tanh", np.array([[0.0, 1.0, -1.0]]), mistakes)
    _correct("Tanh matches tanh and the numerical gradient; dout is left unchanged")
    return cls


def check_affine(cls):
    """Check an Affine class built as ``cls(in_features, out_features, dtype=..., rng=...)``:
    backward returns dx in x's shape and sets ``grads['W'] = x.T @ dout``, ``grads['b']``."""
    rng = np.random.default_rng(2)
    fixed = (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]]))
    random = (rng.standard_normal((4, 1, 2, 3)), rng.standard_normal((4, 5)))
    for (x, dout), where in [(fixed, "on a fixed batch of 2 examples, 2 -> 3 features"),
                             (random, "on a random batch of 4 images (1, 2, 3), 6 -> 5")]:
        d_in, d_out = int(np.prod(x.shape[1:])), dout.shape[1]
        seed = int(rng.integers(1 << 30))
        layer = _fresh(cls, "Affine", d_in, d_out, dtype=np.float64,
                       rng=np.random.default_rng(seed))
        ref = layers.Affine(d_in, d_out, dtype=np.float64, rng=np.random.default_rng(seed))
        for key in ("W", "b"):
            if key not in getattr(layer, "params", {}):
                raise ExerciseError(f"Affine has no params['{key}']: build it like cnnlib's Affine")
        layer.params["b"][...] = ref.params["b"][...] = np.arange(d_out) / 10
        _compare("Affine.forward", _call("Affine.forward", layer.forward, x.copy()),
                 ref.forward(x), where=where)
        dx = _copy_checked("Affine.backward", dout,
                           lambda d: _call("Affine.backward", layer.backward, d))
        dx_ref = ref.backward(dout)
        x2, w = x.reshape(len(x), -1), ref.params["W"]
        _compare("Affine.backward's dx", dx, dx_ref,
                 [((dout @ w.T).reshape(len(x), -1), "give dx back in the shape of x "
                   "(reshape(self.x_shape))")], where)
        _compare("grads['W']", layer.grads.get("W"), ref.grads["W"],
                 [(dout.T @ x2, "dW = x.T @ dout, of shape (in, out); you have its transpose")],
                 where)
        _compare("grads['b']", layer.grads.get("b"), ref.grads["b"],
                 [(dout.mean(axis=0), "db is the SUM of dout over the batch, not the mean"),
                  (dout[0], "db sums dout over the whole batch (axis 0), not only the first row")],
                 where)
    layer = _fresh(cls, "Affine", 3, 2, dtype=np.float64, rng=np.random.default_rng(3))
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
        _compare(f"Affine's {key}", got, numeric[key], where="against the numerical gradient")
    _correct("Affine's dx, dW and db match cnnlib and the numerical gradient (images too)")
    return cls


def check_softmax_with_loss(cls):
    """Check a SoftmaxWithLoss class: ``backward(dout=1.0)`` returns ``dout * (p - t) / N``."""
    rng = np.random.default_rng(4)
    cases = [(np.array([[2.0, 1.0, 0.0]]), np.array([1]), 1.0,
              "on the fixed case scores (2, 1, 0), label 1"),
             (np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([0, 1]), 2.0,
              "on the fixed case of two examples with equal scores, labels 0 and 1, dout = 2"),
             (rng.standard_normal((5, 4)), rng.integers(0, 4, 5), 1.0, "on a random batch of 5"),
             (rng.standard_normal((3, 4)), np.eye(4)[[3, 0, 0]], 0.5, "with one-hot labels")]
    for scores, labels, dout, where in cases:
        layer, ref = _fresh(cls, "SoftmaxWithLoss"), layers.SoftmaxWithLoss()
        _compare("the loss", _call("SoftmaxWithLoss.forward", layer.forward, scores.copy(), labels),
                 ref.forward(scores, labels), where=where)
        got = _call("SoftmaxWithLoss.backward", layer.backward, dout)
        n, p = len(scores), softmax(scores)
        t = labels if np.ndim(labels) == 2 else np.eye(scores.shape[1])[labels]
        unscaled = [((p - t) * dout, "divide by the batch size N: the loss is the MEAN over "
                      "the batch")] if n > 1 else []
        _compare("dscores", got, ref.backward(dout), unscaled + [
                  ((t - p) * dout / n, "the sign is flipped: the gradient is p - t, not t - p"),
                  ((p - t) / n, "multiply by dout (it is 1 at the end of the graph, not always)"),
                  (p * dout / n, "subtract the one-hot targets t: dscores = (p - t) / N")], where)
    layer = _fresh(cls, "SoftmaxWithLoss")
    scores, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    layer.forward(scores, labels)
    numeric = numerical_gradient(lambda s: layers.SoftmaxWithLoss().forward(s, labels),
                                 scores.copy())
    _compare("dscores", layer.backward(), numeric, where="against the numerical gradient")
    _correct("SoftmaxWithLoss's dscores = dout * (p - t) / N, as cnnlib and the numerical gradient")
    return cls


def check_softmax(fn):
    """Check a stable ``softmax(scores)`` over the last axis, for one row or a batch of rows."""
    cases = [(np.array([1.0, 2.0, 3.0]), "for the scores (1, 2, 3)"),
             (np.array([1000.0, 1001.0, 1002.0]), "for the scores (1000, 1001, 1002)"),
             (np.array([[1000.0, 1001.0], [-1000.0, -999.0]]),
              "for the batch [[1000, 1001], [-1000, -999]]"),
             (np.random.default_rng(5).standard_normal((4, 3)) * 5, "for a random (4, 3) batch")]
    for v, where in cases:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            got = _call("your softmax", fn, v.copy())
            col = np.exp(v - v.max(axis=-1, keepdims=True))
            by_column = col / col.sum(axis=0, keepdims=True)
        _compare("softmax", got, softmax(v),
                 [(by_column, "normalise each ROW (sum over the last axis, keepdims=True)")]
                 if v.ndim == 2 else [], where)
    _correct("softmax is right and finite for large scores, row by row")


# --- notebook 06: pooling ----------------------------------------------------------------------

POOL_X = np.array([[1, 3, 2, 0],
                   [4, 2, 1, 1],
                   [0, 1, 5, 6],
                   [2, 2, 7, 1]], dtype=np.float64).reshape(1, 1, 4, 4)


def _pool_cases():
    rng = np.random.default_rng(6)
    return [(POOL_X, 2, None, "on the 4x4 example of section 1 (2x2 windows)"),
            (rng.standard_normal((2, 3, 6, 6)), 2, None, "on a random (2, 3, 6, 6) batch"),
            (rng.standard_normal((1, 2, 7, 5)), 3, 2, "with 3x3 windows, stride 2, on 7x5"),
            (rng.standard_normal((1, 1, 4, 4)), 2, 1, "with overlapping 2x2 windows, stride 1")]


def check_max_pool_forward(fn):
    """Check ``fn(x, size=2, stride=None) -> out (N, C, OH, OW)``, max pooling by loops."""
    for x, size, stride, where in _pool_cases():
        got = _call("your max_pool_forward", fn, x.copy(), size, stride)
        avg = pool.avg_pool2d_forward_naive(x, size, stride)
        _compare("out", got, pool.max_pool2d_forward_naive(x, size, stride),
                 [(avg, "that is the window's MEAN: max pooling takes its maximum")], where)
    _correct("max pooling forward matches cnnlib (fixed case, channels, stride, overlap)")


def _all_max(dout, x, size, stride):
    return pool.pool2d_backward_naive(dout, x, lambda w: (w == w.max()).astype(w.dtype), size,
                                      stride)


def _last_max(dout, x, size, stride):
    def last(window):
        grad = np.zeros_like(window)
        flat = window.ravel()
        grad.flat[len(flat) - 1 - np.argmax(flat[::-1])] = 1
        return grad
    return pool.pool2d_backward_naive(dout, x, last, size, stride)


def check_max_pool_backward(fn):
    """Check ``fn(dout, x, size=2, stride=None) -> dx``: each dout to its window's FIRST maximum."""
    rng = np.random.default_rng(7)
    tie = np.array([[2, 2, 0, 1], [1, 0, 3, 3], [5, 1, 4, 4], [5, 5, 4, 4]],
                   dtype=np.float64).reshape(1, 1, 4, 4)
    cases = [*_pool_cases(), (tie, 2, None, "on [[2, 2, 0, 1], [1, 0, 3, 3], [5, 1, 4, 4], "
                              "[5, 5, 4, 4]], whose windows hold tied maxima")]
    for x, size, stride, where in cases:
        out = pool.max_pool2d_forward_naive(x, size, stride)
        dout = (np.arange(1, out.size + 1, dtype=np.float64) * 10).reshape(out.shape)
        if x is not POOL_X and x is not tie:
            dout = rng.standard_normal(out.shape)
        got = _copy_checked("your max_pool_backward", dout,
                            lambda d: _call("your max_pool_backward", fn, d, x.copy(), size,
                                            stride))
        expected = pool.max_pool2d_backward_naive(dout, x, size, stride)
        _compare("dx", got, expected, [
            (_all_max(dout, x, size, stride), "tie rule: a window with several equal maxima "
             "sends its gradient only to the FIRST one in row-major order (np.argmax), not to "
             "every one"),
            (_last_max(dout, x, size, stride), "tie rule: send the gradient to the FIRST "
             "maximum in row-major order; yours went to a later one"),
            (pool.avg_pool2d_backward_naive(dout, x, size, stride), "that spreads dout over the "
             "window (average pooling): max pooling routes it to the maximum only"),
            (pool.max_pool2d_backward_naive(np.ones_like(dout), x, size, stride),
             "multiply by dout: each window's maximum receives that window's dout"),
            *[(_overwrite(dout, x, size, stride, whole), "where windows overlap, ADD the "
               "gradients (dx[...] += ...): an input that wins two windows gets both")
              for whole in (True, False)]], where)
    x = rng.standard_normal((1, 2, 4, 6))
    dout = rng.standard_normal((1, 2, 2, 3))
    numeric = numerical_gradient(
        lambda v: np.sum(pool.max_pool2d_forward_naive(v) * dout), x.copy())
    _compare("dx", fn(dout, x.copy(), 2, None), numeric, where="against the numerical gradient")
    _correct("max pooling backward routes dout to the first maximum, adds overlaps, as cnnlib")


def _overwrite(dout, x, size, stride, whole):
    """The typical mistake with overlapping windows: ``dx[window] = ...`` instead of ``+=``
    (``whole``: the whole window is assigned, else only its maximum)."""
    stride = stride or size
    dx = np.zeros_like(x)
    n_images, channels, oh, ow = dout.shape
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * stride, i * stride + size)
                    cols = slice(j * stride, j * stride + size)
                    window = x[n, c, rows, cols]
                    mask = np.zeros_like(window)
                    mask[np.unravel_index(np.argmax(window), window.shape)] = 1
                    keep = 0 if whole else dx[n, c, rows, cols]
                    dx[n, c, rows, cols] = np.where(mask > 0, dout[n, c, i, j], keep)
    return dx


def check_routed_fraction(fn):
    """Check ``fn(x, size, stride) -> fraction`` of x's entries that max pooling sends gradient
    to."""
    rng = np.random.default_rng(8)
    for shape, size, stride in [((2, 3, 8, 8), 2, 2), ((1, 2, 9, 9), 3, 3), ((2, 2, 6, 6), 2, 1),
                                ((1, 1, 7, 7), 3, 2)]:
        x = rng.standard_normal(shape)
        out, cache = pool.max_pool2d_forward(x, size, stride)
        expected = np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out), cache)) / x.size
        got = _call("your routed_fraction", fn, x.copy(), size, stride)
        where = f"for {size}x{size} windows, stride {stride}, x of shape {shape}"
        _compare("the fraction", got, expected,
                 [(1 / size ** 2, "1/size**2 holds only when windows tile the input; count the "
                   "nonzero entries of a backward pass of ones instead")], where)
    _correct("the routed fraction for tiling and for overlapping windows")


def check_avg_pool_as_conv(fn):
    """Check ``fn(x) -> out``: 2x2 average pooling, stride 2, of a one-channel x as a
    convolution."""
    rng = np.random.default_rng(9)
    for x, where in [(POOL_X, "on the 4x4 example"),
                     (rng.standard_normal((3, 1, 6, 8)), "on a random (3, 1, 6, 8) batch")]:
        got = _call("your avg_pool_as_conv", fn, x.copy())
        expected = pool.avg_pool2d_forward_naive(x)
        ones = conv.conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.zeros(1), stride=2)
        _compare("out", got, expected, [(ones, "the filter's weights must average: 1/4 each, "
                                         "not 1")], where)
    _correct("2x2 average pooling written as a convolution")


# --- notebook 09: training well (batch norm's backward pass, RMSprop's update) -------------------

from .norm import BatchNorm2D  # noqa: E402  (imported here, beside the checkers that use it)
from .optim import RMSprop  # noqa: E402


def _bn_backward_variant(x, gamma, dout, eps, *, axes=(0, 2, 3), m=None, mean_terms=True,
                         use_gamma=True):
    """Batch norm's dx by the compact form, with per-channel statistics as the forward pass computes
    them, and the sums of the backward pass over ``axes`` divided by ``m``: the reference with the
    defaults, a typical mistake otherwise."""
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
    xhat = (x - mean) * inv_std
    dxhat = dout * gamma.reshape(1, -1, 1, 1) if use_gamma else dout
    if not mean_terms:
        return dxhat * inv_std
    m = x.size // x.shape[1] if m is None else m
    return inv_std / m * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                          - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))


def _check_per_channel(name, got, x):
    """ExerciseError when a per-channel gradient was not summed (or summed over the batch only)."""
    shape = np.shape(got)
    n, c, h, w = x.shape
    if shape == x.shape:
        raise ExerciseError(f"{name} has the shape of x {x.shape}: sum it over N, H and W "
                            f"(axis=(0, 2, 3)) to one value per channel, shape ({c},)")
    if shape == (c, h, w):
        raise ExerciseError(f"{name} has shape {shape}: it is summed over the batch only; sum over "
                            f"N, H and W (axis=(0, 2, 3)) to shape ({c},)")


def check_batchnorm_backward(cls):
    """Check a spatial batch norm class built as ``cls(C, dtype=np.float64)`` (cnnlib's
    :class:`~cnnlib.norm.BatchNorm2D` forward: it keeps ``xhat`` and ``inv_std``): in training mode,
    backward returns dx ``(N, C, H, W)`` and sets ``grads['gamma']``, ``grads['beta']`` ``(C,)``."""
    rng = np.random.default_rng(9)
    fixed = np.arange(16.0).reshape(2, 2, 2, 2) ** 2
    cases = [(fixed, np.ones_like(fixed), "on the fixed case x = arange(16).reshape(2, 2, 2, 2)**2, "
              "dout = 1 everywhere, where dx must be 0: the outputs sum to N*H*W*sum(beta) "
              "whatever x is"),
             (rng.standard_normal((4, 3, 3, 5)) * 2 + 1, None, "on a random (4, 3, 3, 5) batch"),
             (rng.standard_normal((2, 2, 4, 4)) * 3 - 2, None, "on a random (2, 2, 4, 4) batch")]
    for x, dout, where in cases:
        n, c, h, w = x.shape
        dout = rng.standard_normal(x.shape) if dout is None else dout
        seed = int(rng.integers(1 << 30))
        layer, ref = _fresh(cls, "BatchNorm2D", c, dtype=np.float64), BatchNorm2D(c, dtype=np.float64)
        for key in ("gamma", "beta"):
            if key not in getattr(layer, "params", {}):
                raise ExerciseError(f"BatchNorm2D has no params['{key}']: build it on cnnlib's "
                                    f"BatchNorm2D")
        values = np.random.default_rng(seed).standard_normal((2, c))
        for target in (layer, ref):
            target.params["gamma"][...] = values[0] + 1.5
            target.params["beta"][...] = values[1]
            target.training = True
        gamma, eps = ref.params["gamma"], ref.eps
        _compare("BatchNorm2D.forward", _call("BatchNorm2D.forward", layer.forward, x.copy()),
                 ref.forward(x), where=where)
        got = _copy_checked("BatchNorm2D.backward", dout,
                            lambda d: _call("BatchNorm2D.backward", layer.backward, d))
        expected = ref.backward(dout)

        def variant(**mistake):
            return _bn_backward_variant(x, gamma, dout, eps, **mistake)
        _compare("dx", got, expected, [
            (variant(mean_terms=False), "dx misses the terms from the mean and the variance: they "
             "depend on x too. dx = inv_std / m * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * "
             "xhat))"),
            (variant(use_gamma=False), "you forgot gamma: the output is gamma * xhat + beta, so "
             "dxhat = gamma * dout (gamma reshaped to (1, C, 1, 1))"),
            (variant(m=n), f"m is the number of values behind each mean, N*H*W = {n * h * w}, not "
             f"the batch size N = {n}"),
            (variant(axes=(0,), m=n), "the sums run over N, H and W (axis=(0, 2, 3)), not over the "
             "batch axis only"),
            (variant(axes=(1, 2, 3), m=c * h * w), "those sums are per example (axis=(1, 2, 3)): "
             "batch norm's statistics are per CHANNEL, over N, H and W (axis=(0, 2, 3))"),
            (variant(axes=(2, 3), m=h * w), "those sums are per image and channel (axis=(2, 3)): "
             "batch norm's statistics are per channel over the whole batch, axis=(0, 2, 3)")],
            where)
        xhat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(
            x.var(axis=(0, 2, 3), keepdims=True) + eps)
        grads = getattr(layer, "grads", {})
        for key, mistakes in [
                ("gamma", [((dout * x).sum(axis=(0, 2, 3)), "dgamma = sum(dout * xhat) with the "
                            "NORMALISED input xhat, not x"),
                           (dout.sum(axis=(0, 2, 3)), "that is dbeta: dgamma = sum(dout * xhat)")]),
                ("beta", [((dout * xhat).sum(axis=(0, 2, 3)), "that is dgamma: dbeta = sum(dout)"),
                          ((dout * gamma.reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3)),
                           "dbeta = sum(dout): beta is added as it is, not times gamma")])]:
            if key not in grads:
                raise ExerciseError(f"set self.grads['{key}'] in backward")
            _check_per_channel(f"grads['{key}']", grads[key], x)
            _compare(f"grads['{key}']", grads[key], ref.grads[key], mistakes, where)
    # against the numerical gradient of sum(forward(x) * dout)
    x, dout = rng.standard_normal((3, 2, 2, 3)), rng.standard_normal((3, 2, 2, 3))
    layer, ref = cls(2, dtype=np.float64), BatchNorm2D(2, dtype=np.float64)
    for target in (layer, ref):
        target.params["gamma"][...] = [0.7, -1.3]
        target.params["beta"][...] = [0.2, 0.5]
    layer.forward(x)
    dx = layer.backward(dout)

    def f(_):
        return np.sum(ref.forward(x) * dout)
    numeric = {"dx": numerical_gradient(f, x), "grads['gamma']": numerical_gradient(f, ref.params["gamma"]),
               "grads['beta']": numerical_gradient(f, ref.params["beta"])}
    for key, got in [("dx", dx), ("grads['gamma']", layer.grads["gamma"]),
                     ("grads['beta']", layer.grads["beta"])]:
        _compare(key, got, numeric[key], where="against the numerical gradient")
    _correct("batch norm's dx, dgamma and dbeta match cnnlib and the numerical gradient")
    return cls


def _rmsprop_variant(params, grads_per_step, lr, rho, eps, kind):
    """The parameters after RMSprop steps done with the typical mistake ``kind``."""
    params = {name: p.copy() for name, p in params.items()}
    h = {name: np.zeros_like(p) for name, p in params.items()}
    for grads in grads_per_step:
        for name, p in params.items():
            g = grads[name]
            if kind == "adagrad":
                h[name] += g * g
            elif kind == "swapped":
                h[name] = (1 - rho) * h[name] + rho * g * g
            elif kind == "forget":
                h[name] = (1 - rho) * g * g
            else:
                h[name] = rho * h[name] + (1 - rho) * g * g
            root = h[name] if kind == "no_sqrt" else np.sqrt(h[name])
            step = lr * g / (root + eps)
            p += step if kind == "ascent" else -step
    return params


def check_rmsprop(cls):
    """Check an RMSprop class built as ``cls(lr=..., rho=..., eps=...)`` whose ``update(params, grads)``
    changes the arrays of ``params`` in place: ``h = rho*h + (1-rho)*g**2``,
    ``p -= lr * g / (sqrt(h) + eps)``, one ``h`` per parameter kept between steps."""
    rng = np.random.default_rng(10)
    fixed = ({"w": np.array([1.0])}, [{"w": np.array([1.0])}], 0.01, 0.99, 1e-7,
             "on the fixed case p = 1, g = 1, lr = 0.01, rho = 0.99: h = 0.01, so p = 1 - 0.01 "
             "* 1 / 0.1 = 0.9")
    shapes = {"fc.W": (3, 4), "fc.b": (4,)}
    random = ({name: rng.standard_normal(shape) for name, shape in shapes.items()},
              [{name: rng.standard_normal(shape) for name, shape in shapes.items()} for _ in range(4)],
              0.05, 0.9, 1e-8, "after {steps} steps on two random parameters (3, 4) and (4,), lr = "
              "0.05, rho = 0.9")
    messages = {"adagrad": "h only grows: that is AdaGrad. RMSprop forgets: h = rho * h + (1 - rho) "
                           "* g**2",
                "swapped": "rho and 1 - rho are swapped: h = rho * h + (1 - rho) * g**2 keeps most "
                           "of the old h",
                "forget": "h must be kept between steps, one per parameter (self.state['h'][name]), "
                          "not recomputed from the current gradient alone",
                "no_sqrt": "divide by the ROOT of the mean square: sqrt(h) + eps",
                "ascent": "the step goes against the gradient: p -= lr * g / (sqrt(h) + eps)"}
    for params, grads_per_step, lr, rho, eps, where in (fixed, random):
        opt = _call("RMSprop(...)", cls, lr=lr, rho=rho, eps=eps)
        ref, expected = RMSprop(lr=lr, rho=rho, eps=eps), {name: p.copy() for name, p in params.items()}
        mine = {name: p.copy() for name, p in params.items()}
        for steps, grads in enumerate(grads_per_step, 1):
            before = {name: p.copy() for name, p in mine.items()}
            _call("RMSprop.update", opt.update, mine, {k: g.copy() for k, g in grads.items()})
            ref.update(expected, grads)
            done = grads_per_step[:steps]
            here = where.format(steps=steps)
            if all(np.array_equal(mine[name], before[name]) for name in mine):
                raise ExerciseError(f"update left the parameters unchanged {here}: change the arrays "
                                    f"in place (p -= ...); p = p - ... only rebinds a local name")
            for name in mine:
                _compare(f"the parameter {name!r}", mine[name], expected[name],
                         [(_rmsprop_variant(params, done, lr, rho, eps, kind)[name], message)
                          for kind, message in messages.items()], here)
    _correct("RMSprop's steps match cnnlib's over four steps, one running mean of g**2 per parameter")
    return cls


# --- the student edition -----------------------------------------------------------------------

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "# HINT:"
WORKED_ONLY = "# WORKED EDITION ONLY"
DEFAULT_HINT = "replace this line with your code"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _raise_lines(indent, hint, width=100):
    """``raise NotImplementedError(hint)`` at ``indent``, the hint split over lines of at most ``width``."""
    line = f"{indent}raise NotImplementedError({hint!r})"
    if len(line) <= width:
        return [line]
    parts = textwrap.wrap(hint, width - len(indent) - 8)
    quoted = [repr(part + " ") for part in parts[:-1]] + [repr(parts[-1])]
    return [f"{indent}raise NotImplementedError("] + [f"{indent}    {q}" for q in quoted[:-1]] + \
        [f"{indent}    {quoted[-1]})"]


def _stub(lines):
    """Replace every solution block in ``lines`` by a raise with the block's hint."""
    out, block = [], None
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            block = {"indent": line[:len(line) - len(line.lstrip())], "hint": DEFAULT_HINT}
        elif stripped == END:
            if block is None:
                raise ValueError(f"{END} without {BEGIN}")
            out.extend(_raise_lines(block["indent"], block["hint"]))
            block = None
        elif block is not None:
            if stripped.startswith(HINT):
                block["hint"] = stripped[len(HINT):].strip()
        else:
            out.append(line)
    if block is not None:
        raise ValueError(f"{BEGIN} without {END}")
    return out


def student_notebook(nb):
    """The student edition of a worked notebook (an ``nbformat`` node); ``nb`` is not changed."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells, expect_check = [], False
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            lines = cell.source.splitlines()
            if lines and lines[0].startswith(WORKED_ONLY):
                note = lines[0][len(WORKED_ONLY):].lstrip(" :") or "cnnlib's own code"
                cell = type(cell)(cell_type="markdown", id=cell.get("id"), metadata={},
                                  source=f"*(The worked edition shows {note} here. It would give "
                                         f"an answer away: look at it once your check passes.)*")
                cells.append(cell)
                continue
            if any(line.strip() in (BEGIN, END) for line in lines):
                cell.source = "\n".join(_stub(lines))
                expect_check = True
            elif expect_check:
                tags = cell.metadata.setdefault("tags", [])
                if "raises-exception" not in tags:
                    tags.append("raises-exception")
                expect_check = False
        cells.append(cell)
    nb.cells = cells
    return nb


def worked_notebooks(directory=NOTEBOOKS):
    """The notebooks in ``directory`` that hold solution markers, sorted by name."""
    return [path for path in sorted(Path(directory).glob("*.ipynb"))
            if BEGIN in path.read_text(encoding="utf-8")]


def student_edition_text(path):
    """The student edition of the worked notebook at ``path``, as the text written to disk."""
    import nbformat

    return nbformat.writes(student_notebook(nbformat.read(path, as_version=4))) + "\n"


def write_student_edition(directory=NOTEBOOKS, out=None):
    """Write ``<directory>/exercises/<name>.ipynb`` for each worked notebook; return the paths."""
    out = Path(directory) / "exercises" if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in worked_notebooks(directory):
        target = out / path.name
        target.write_text(student_edition_text(path), encoding="utf-8")
        written.append(target)
    return written
