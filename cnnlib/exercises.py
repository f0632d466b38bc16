"""Checkers for the learners' exercises, and the generator of the student edition.

Each ``check_*`` takes the learner's class or function, compares it with ``cnnlib``'s reference on
seeded random inputs, with a numerical gradient where a gradient is asked, and on a small fixed case
a learner can work out by hand. A wrong answer raises :class:`ExerciseError` with a message that
says what is wrong; a right one prints one line ``correct: ...``. A checker of a class returns
the class, so a notebook can write ``ReLU = check_relu(MyReLU)``: the later cells use the
learner's class once it passes, and ``cnnlib``'s until then. The checkers of functions that later
cells call (naive convolution forward and backward, im2col, col2im, the convolution as one product,
dW by im2col) return the function in the same way.

:func:`student_notebook` turns a worked notebook into its student edition: every block between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``raise NotImplementedError(hint)`` (the
hint from a ``# HINT: ...`` line in the block), outputs are cleared, cells whose first line is
``# WORKED EDITION ONLY`` are replaced by a note (quoting the cell's code, when short, for the learner
to run once the check passes), and each check cell (the first code cell after a
solution) is tagged ``raises-exception``. ``python -m cnnlib exercises`` writes them all.
"""

import contextlib
import copy
import textwrap
import types
from pathlib import Path

import numpy as np

from . import conv, graph, layers, pool
from .functions import softmax
from .gradcheck import numerical_gradient, rel_error
from .interpret import fgsm, saliency, score_gradient
from .models import LeNet5, Sequential, TwoLayerNet
from .norm import BatchNorm2D
from .optim import SGD, Adam, RMSprop
from .training import evaluate

TOLERANCE = 1e-6


class ExerciseError(AssertionError):
    """An exercise's answer is wrong (or not written yet); the message says what is wrong."""

    def _render_traceback_(self):
        """How IPython (Jupyter) shows the error: the traceback without this module's frames (the
        checker's inner workings, which would push the message down the screen), then the message.
        IPython calls this method instead of formatting the whole traceback."""
        from IPython import get_ipython

        shell, kept, tb = get_ipython(), [], self.__traceback__
        if shell is None:
            return [f"{type(self).__name__}: {self}"]
        while tb is not None:
            if tb.tb_frame.f_code.co_filename != __file__:
                kept.append(tb)
            tb = tb.tb_next
        short = None
        for tb in reversed(kept):
            short = types.TracebackType(short, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
        return shell.InteractiveTB.structured_traceback(type(self), self, short)


# --- helpers -----------------------------------------------------------------------------------

def _describe(value):
    """How an argument of a check's call reads in a message: arrays by shape, others by repr."""
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, (bool, int, float, str, type(None), np.generic)):
        text = repr(value)
        if len(text) <= 40:
            return text
    return f"<{type(value).__name__}>"


def _call(what, fn, *args, signature=None, **kwargs):
    """``fn(*args, **kwargs)``; a NotImplementedError becomes ExerciseError("... not written yet:
    hint"), and a TypeError raised by the call itself (a function or class whose parameters do
    not match the exercise's) becomes an ExerciseError naming the expected call, ``signature``
    (by default the call the check makes). A TypeError raised further inside the learner's code
    is left alone: its traceback points at the learner's line."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        hint = str(err) or "replace the raise NotImplementedError line with your code"
        raise ExerciseError(f"{what} is not written yet: {hint}") from None
    except TypeError as err:
        if err.__traceback__ is None or err.__traceback__.tb_next is not None:
            raise                      # raised inside the learner's code, not by the call itself
        if signature is None:
            given = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
            signature = f"{getattr(fn, '__name__', what)}({', '.join(given)})"
        raise ExerciseError(f"{what} cannot be called the way the exercise asks: the check calls "
                            f"{signature}, and Python said: {err}. Keep the parameters the "
                            f"exercise gives.") from None


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
            extra = (" (drop the kept axis of length 1: keepdims=False, or reshape)"
                     if got.shape[0] == 1 else " (a sum over the batch, axis 0, is missing)")
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
        raise ExerciseError(f"{name} changed dout in place: compute a new array (e.g. dout * "
                            f"slope), not dout *= ... or dout[...] = ...; the caller may still "
                            f"need dout")
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
                (dout * (1 - y), "the slope is 1 - y**2 (y squared)")]
    _check_activation(cls, Tanh, "Tanh", np.array([[0.0, 1.0, -1.0]]), mistakes)
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
        c = scores.shape[1]
        if c != n:
            unscaled.append(((p - t) * dout / c, f"divide by N = {n}, the batch size (rows), not "
                             f"by C = {c}, the number of classes (columns): the loss is the mean "
                             f"over the examples"))
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
             (np.random.default_rng(5).standard_normal((4, 3)) * 5, "for a random (4, 3) batch")]
    for v, where in cases:
        given = v.copy()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            got = _call("your softmax", fn, given, signature="stable_softmax(scores)")
        if not np.array_equal(given, v):
            raise ExerciseError(f"your softmax changed the scores it was given {where}: compute "
                                f"new arrays (shifted = scores - ...), not scores -= ...; the "
                                f"caller may still need its scores")
        mistakes = _softmax_mistakes(v)
        try:
            finite = bool(np.all(np.isfinite(np.asarray(got, dtype=np.float64))))
        except (TypeError, ValueError):
            finite = True                      # not an array: _compare says so
        if not finite:
            for wrong, message in mistakes:
                if _same_with_nan(got, wrong):
                    raise ExerciseError(f"softmax {where} holds nan or inf: {message}")
        _compare("softmax", got, softmax(v), [m for m in mistakes if np.all(np.isfinite(m[0]))],
                 where)
    _correct("softmax is right and finite for large scores, row by row")


# --- notebook 03: the two-layer network's backward pass, one SGD step --------------------------

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
        (grads(p - t), "divide by the batch size N: the loss is the MEAN over the batch, so "
         "g_s = (p - t) / N"),
        (grads(p / n), "subtract the one-hot labels t: g_s = (p - t) / N (step 1)"),
        (grads(g_s, mask=lambda g_a: g_a * (h >= 0)), "at h = 0 the ReLU's slope is 0: mask "
         "with h > 0, not h >= 0"),
        (grads(g_s, mask=lambda g_a: g_a * (h <= 0)), "the ReLU passes the gradient where h > 0 "
         "(units that were on) and blocks it elsewhere; your mask is the other way round"),
        (grads(g_s, mask=lambda g_a: g_a * (h < 0)), "the ReLU passes the gradient where h > 0 "
         "(units that were on) and blocks it elsewhere; your mask is the other way round"),
        (grads(g_s, mask=lambda g_a: g_a), "multiply by the ReLU's mask (step 3: g_h = g_a * "
         "(h > 0)): without it the gradient flows through units that were off"),
        (grads(g_s, mask=lambda g_a: np.maximum(g_a, 0)), "the ReLU's mask comes from the "
         "forward pass (h > 0), not from the sign of the gradient"),
        (grads(g_s, dw2_input=h), "dW2 = a.T @ g_s: affine2's input is the ReLU's OUTPUT a, "
         "not h"),
        (grads(g_s, reduce=np.mean, over_n=n), "g_s = (p - t) / N already averages over the "
         "batch: db is the SUM of g over the batch (axis 0), and dW needs no second / N"),
    ]
    return grads(g_s), wrong


def _unchanged(what, before, after, message):
    """Raise if an array of ``after`` differs from its copy in ``before``; ``what`` names it."""
    for key, value in before.items():
        if not np.array_equal(value, after[key], equal_nan=True):
            raise ExerciseError(f"your function changed {what.format(key=key)} in place: {message}")


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
        value, shape = np.asarray(got[key]), expected[key].shape
        if value.ndim == 2 and value.shape == shape[::-1] and shape[0] != shape[1]:
            raise ExerciseError(f"grads[{key!r}] has shape {value.shape}, the transpose of W's "
                                f"{shape}{' ' + where if where else ''}: dW = (input).T @ g has "
                                f"the shape of W, (inputs, outputs)")
        _compare(f"grads[{key!r}]", got[key], expected[key],
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
    for params, x, y, where in (fixed, random):
        h = x @ params["affine1.W"] + params["affine1.b"]
        a = np.maximum(h, 0)
        p = softmax(a @ params["affine2.W"] + params["affine2.b"])
        cache = {"x": x, "y": y, "h": h, "a": a, "p": p}
        saved = {k: v.copy() for k, v in cache.items()}
        saved_params = {k: v.copy() for k, v in params.items()}
        try:
            got = _call("your backward", fn, dict(params), x, y, h, a, p)
        except ExerciseError:
            raise
        except Exception as err:
            raise ExerciseError(
                f"your backward raised {type(err).__name__} {where}: {err}. Take every size "
                f"from the arrays (N = len(x), C = p.shape[1] classes); nothing may be "
                f"hard-coded (784, 50, 10)") from err
        _unchanged("params[{key!r}]", saved_params, params, "the backward pass only computes "
                   "gradients; the step comes after it, once every gradient is known (step 2 "
                   "needs W2 as it was in the forward pass)")
        _unchanged("the forward pass's {key}", saved, cache, "copy an array before changing it "
                   "(g = p.copy()); the caller still needs it")
        _, wrong = _two_layer_variants(params, x, y, h, a, p)
        reference = two_layer_backward(params, x, y, h, a, p)
        _check_grad_dict(got, reference, TWO_LAYER_KEYS, wrong, where)
    net = _two_layer_net(random[0])      # ``got`` holds the gradients of the random case
    x, y = random[1], random[2]
    numeric = {name: numerical_gradient(lambda _: net.loss(x, y), param)
               for name, param in net.params.items()}
    _check_grad_dict(got, numeric, TWO_LAYER_KEYS, where="against the numerical gradient")
    _correct("the two-layer backward pass matches TwoLayerNet and the numerical gradient")
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
        result = _call("your sgd_step", fn, params, grads, lr)
        _unchanged("grads[{key!r}]", saved_grads, grads, "compute lr * grads[name] as a new array; "
                   "the gradients are not yours to change")
        for key in before:
            if params.get(key) is not arrays[key]:
                raise ExerciseError(
                    f"params[{key!r}] is a new array {where}: params[name] = params[name] - ... "
                    f"builds a new array, and the model still holds the old one; change the "
                    f"array in place: params[name] -= lr * grads[name]")
            if np.array_equal(arrays[key], before[key]):
                if isinstance(result, dict):
                    raise ExerciseError(f"params did not change {where}: you returned new "
                                        f"arrays, but the model holds the old ones; update them "
                                        f"in place: params[name] -= lr * grads[name]")
                raise ExerciseError(f"params[{key!r}] did not change {where}: update every "
                                    f"parameter (the biases too), in place")
            g = grads[key]
            _compare(f"params[{key!r}] after the step", arrays[key], expected[key], [
                (before[key] - g, "multiply the gradient by the learning rate lr"),
                (before[key] + lr * g, "step DOWNHILL: subtract lr * grad (you added it)"),
                (-lr * g, "subtract the step from the parameter (params[name] -= ...); you "
                 "replaced the parameter by the step"),
                (before[key] - lr * g.sum(), "each parameter moves by its own gradient: "
                 "lr * grads[name], not a sum")], where)
    _correct("one SGD step moves every parameter by -lr * grad, in place, as cnnlib's SGD")
    return fn


def check_n_params(fn):
    """Check ``fn(sizes) -> int``: the parameter count of fully connected layers of ``sizes``,
    e.g. ``(784, 100, 10)``: ``784 * 100 + 100 + 100 * 10 + 10``."""
    for sizes in [(784, 100, 10), (2, 3, 1), (784, 50, 20, 10), (5, 5)]:
        pairs = list(zip(sizes[:-1], sizes[1:]))
        got = _call("your n_params", fn, sizes)
        _compare("the count", got, sum(i * o + o for i, o in pairs), [
            (sum(i * o for i, o in pairs), "add the biases: each layer has one per output"),
            (sum(i * o + i for i, o in pairs), "a layer's bias has one entry per OUTPUT (b has "
             "shape (out,)), not per input"),
            (sum(sizes), "count the weights and biases, not the units: W is (in, out)")],
            f"for the layer sizes {sizes}")
    _correct("weights (in * out) and biases (out) of every layer, for any sizes")


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
        got = _call("your bad_examples", fn, x.copy())
        if got is None:
            raise ExerciseError(f"your bad_examples returned None {where}: return the indices")
        got = np.asarray(got)
        flat = x.reshape(len(x), -1)
        if got.dtype == bool:
            raise ExerciseError(f"return the indices of the bad examples (np.flatnonzero of a "
                                f"mask), not a mask of {got.size} booleans")
        if got.ndim == 2:
            raise ExerciseError(f"got an array of shape {got.shape} {where}: return one index "
                                f"per bad example, not (row, column) pairs; reduce over each "
                                f"example's values with .any(axis=...)")
        inf_only = list(np.flatnonzero(np.isinf(flat).any(axis=1)))
        if got.ndim == 1 and sorted(got.tolist()) == inf_only and inf_only != expected:
            raise ExerciseError(f"missed the NaNs {where}: np.isinf misses NaN (a NaN is not "
                                f"infinite); ~np.isfinite(x) catches NaN, inf and -inf")
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
                                f"~np.isfinite(x) catches all three")
        if got.size and not np.any(got) and any(expected):
            raise ExerciseError(f"the indices {where} are all zeros: expected {expected}")
        if sorted(got.tolist()) != expected:
            raise ExerciseError(f"the bad examples {where} are {expected}, got {got.tolist()}")
    _correct("every example holding NaN, inf or -inf, and no other")


# --- notebook 04: convolution forward ----------------------------------------------------------

CONV_X = np.array([[1, 2, 3, 0],
                   [4, 5, 6, 1],
                   [7, 8, 9, 2],
                   [0, 1, 2, 3]], dtype=np.float64).reshape(1, 1, 4, 4)
CONV_W = np.array([[1, 0], [0, -1]], dtype=np.float64).reshape(1, 1, 2, 2)
_EVERY_SIDE = "pad the same number of zeros, pad, on EVERY side: top and bottom, left and right"
_CHANNELS = ("sum over the input channels too: each output adds the products of all C slices of "
             "w[f] with the window (np.sum(window * w[f]) over c, u, v)")


_PAD_ALL = ("did np.pad(x, pad) also pad the batch and channel axes? use "
            "((0,0),(0,0),(pad,pad),(pad,pad))")
_PAD_PAIRS = ("np.pad takes one (before, after) pair per axis of x, four for (N, C, H, W): "
              "((0,0),(0,0),(pad,pad),(pad,pad))")


@contextlib.contextmanager
def _watching_np_pad():
    """Record the learner's ``np.pad`` calls as ``(ndim of the array, pad_width)`` pairs."""
    calls, original = [], np.pad

    def pad(array, pad_width, *args, **kwargs):
        calls.append((np.ndim(array), pad_width))
        return original(array, pad_width, *args, **kwargs)
    np.pad = pad
    try:
        yield calls
    finally:
        np.pad = original


def _pad_mistake(calls):
    """The message for an np.pad call on a 4-D array that pads N or C, or lacks pairs; else None."""
    for ndim, width in calls:
        if ndim != 4:
            continue
        try:
            widths = np.broadcast_to(np.asarray(width), (4, 2))
        except ValueError:
            return _PAD_PAIRS
        if np.any(widths[:2]):
            return _PAD_ALL
    return None


def _run(what, fn, where, *args):
    """``(fn(*args), np.pad calls)`` for the learner's ``fn``. An error raised inside it becomes an
    ExerciseError naming the case (``where``), the error and, if np.pad was misused, that mistake."""
    with _watching_np_pad() as calls:
        try:
            return _call(what, fn, *args), calls
        except ExerciseError:
            raise
        except Exception as err:
            mistake, kind = _pad_mistake(calls), type(err).__name__
            raise ExerciseError(f"{what} raised {kind} {where}: " + (
                f"{mistake} (the error: {kind}: {err})" if mistake else str(err))) from None


def _check_pad(name, calls, got, expected, where):
    """If ``got`` is not ``expected`` and the learner's np.pad padded N or C, say so."""
    mistake = _pad_mistake(calls)
    if mistake and not (_shape_of(got) == np.shape(expected) and _close(got, expected)):
        raise ExerciseError(f"{name} is wrong {where}: {mistake}")


def _not_cnnlibs(fn, reference):
    """Reject cnnlib's own function handed in as the learner's."""
    if fn is reference:
        raise ExerciseError(f"that is cnnlib's own {reference.__name__}, which the check "
                            "compares with: write your own version")


def _shape_of(value):
    try:
        return np.shape(value)
    except ValueError:
        return None


def _check_shape(name, got, expected_shape, hints, where):
    """If ``got`` has the wrong shape, raise ExerciseError with the hint for that shape."""
    shape = _shape_of(got)
    if got is None or shape is None or shape == tuple(expected_shape):
        return
    for wrong_shape, message in hints:
        if shape == tuple(wrong_shape):
            raise ExerciseError(f"{name} has the wrong shape {where}: expected "
                                f"{tuple(expected_shape)}, got {shape}: {message}")


def _compare_lazy(name, got, expected, mistakes, where):
    """``_compare``, with ``mistakes()`` (a callable) evaluated only when ``got`` is wrong."""
    shape = _shape_of(got)
    if got is not None and shape == np.shape(expected) and _close(got, expected):
        return
    _compare(name, got, expected, mistakes(), where)


def _sizes(size, kernel, stride, pad):
    """Output sizes: (right, unpadded, stride 1, padded once, without the + 1)."""
    return ((size + 2 * pad - kernel) // stride + 1, (size - kernel) // stride + 1,
            size + 2 * pad - kernel + 1, (size + pad - kernel) // stride + 1,
            (size + 2 * pad - kernel) // stride)


def _conv_shape_hints(n, f, c, height, width, kh, kw, stride, pad):
    (oh, oh0, oh1, ohp, ohm), (ow, ow0, ow1, owp, owm) = (_sizes(height, kh, stride, pad),
                                                          _sizes(width, kw, stride, pad))
    hints = [((n, f, c, oh, ow), _CHANNELS)]
    if pad:
        hints += [((n, f, oh0, ow0), f"that is the size without padding: pad x with pad={pad} "
                   "zeros on every side first, then slide the window over the padded x")]
    if stride > 1:
        hints += [((n, f, oh1, ow1), f"that is the size for stride 1: with stride {stride} the "
                   "window moves by stride pixels, OH = (H + 2*pad - KH) // stride + 1")]
    if pad:
        hints += [((n, f, ohp, owp), "padding adds pad rows at the top AND at the bottom: "
                   "OH = (H + 2*pad - KH) // stride + 1")]
    hints += [((n, f, ohm, owm), "OH = (H + 2*pad - KH) // stride + 1: the + 1 counts the "
               "window's first position")]
    return hints


def _one_sided(x, before, after):
    return np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))


def _conv_cases():
    """(x, w, b, stride, pad, where): notebook 04's 4x4 example, then random cases."""
    rng = np.random.default_rng(10)
    fixed = "on the 4x4 example of section 2 (filter [[1, 0], [0, -1]], bias 1"

    def random(x_shape, w_shape):
        return (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
                rng.standard_normal(w_shape[0]))
    return [(CONV_X, CONV_W, np.ones(1), 1, 0, f"{fixed})"),
            (CONV_X, CONV_W, np.ones(1), 1, 1, f"{fixed}, pad 1)"),
            (CONV_X, CONV_W, np.ones(1), 2, 0, f"{fixed}, stride 2)"),
            (*random((2, 3, 5, 6), (4, 3, 3, 2)), 1, 0,
             "on a random (2, 3, 5, 6) batch with 4 filters (3, 3, 2)"),
            (*random((2, 2, 7, 6), (3, 2, 3, 3)), 2, 1,
             "on a random (2, 2, 7, 6) batch with 3 filters (2, 3, 3), stride 2, pad 1"),
            (*random((1, 3, 6, 7), (2, 3, 2, 3)), 3, 2,
             "on a random (1, 3, 6, 7) image with 2 filters (3, 2, 3), stride 3, pad 2")]


def check_conv_forward_naive(fn):
    """Check ``fn(x, w, b, stride=1, pad=0) -> out (N, F, OH, OW)``, convolution by loops; return
    ``fn`` (so a notebook can write ``conv2d_forward_naive = check_conv_forward_naive(mine)``)."""
    forward = conv.conv2d_forward_naive
    _not_cnnlibs(fn, forward)
    for x, w, b, stride, pad, where in _conv_cases():
        got, calls = _run("your conv_forward_naive", fn, where, x.copy(), w.copy(), b.copy(),
                          stride, pad)
        expected = forward(x, w, b, stride, pad)
        _check_pad("out", calls, got, expected, where)
        _check_shape("out", got, expected.shape, _conv_shape_hints(*x.shape[:1], *w.shape[:2],
                     *x.shape[2:], *w.shape[2:], stride, pad), where)

        def mistakes(x=x, w=w, b=b, stride=stride, pad=pad, expected=expected):
            c, kh, kw = w.shape[1:]
            oh, ow = expected.shape[2:]
            no_bias = forward(x, w, np.zeros_like(b), stride, pad)
            return [
                (forward(x, w[:, :, ::-1, ::-1], b, stride, pad), "you flipped the kernel (a "
                 "mathematician's convolution): here, as in every deep-learning library, "
                 "out[n, f, i, j] = sum(window * w[f]) with w[f] as it is (cross-correlation)"),
                (no_bias, "the bias is missing: add b[f] to every output of filter f, once, after "
                 "the sum np.sum(window * w[f])"),
                (forward(x, w, b * (c * kh * kw), stride, pad), "add b[f] once per output, after "
                 "the sum: np.sum(window * w[f]) + b[f], not np.sum(window * w[f] + b[f])"),
                (forward(x, w, b, 1, pad)[:, :, :oh, :ow], f"the window of output (i, j) starts "
                 f"at row i*stride, column j*stride of the padded x (stride {stride}); yours moved "
                 "by one pixel"),
                (forward(_one_sided(x, 0, 2 * pad), w, b, stride, 0), _EVERY_SIDE),
                (forward(_one_sided(x, 2 * pad, 0), w, b, stride, 0), _EVERY_SIDE),
                (forward(x[:, :1], w[:, :1], b, stride, pad), f"{_CHANNELS}; yours used only the "
                 "first channel"),
                (forward(x[:, -1:], w[:, -1:], b, stride, pad), f"{_CHANNELS}; yours kept only the "
                 "last channel (= instead of +=?)")]
        _compare_lazy("out", got, expected, mistakes, where)
    _correct("conv_forward_naive matches cnnlib (the 4x4 example, padding, stride, channels)")
    return fn


def check_im2col(fn):
    """Check ``fn(x, kh, kw, stride=1, pad=0) -> cols (N*OH*OW, C*KH*KW)``: one row per window,
    rows in (image, output row, output column) order, columns in (channel, kernel row, kernel
    column) order; return ``fn``."""
    rng = np.random.default_rng(11)
    cases = [(np.arange(16.0).reshape(1, 1, 4, 4), 3, 3, 1, 0,
              "on the 4x4 image 0..15 of section 5 with a 3x3 window"),
             (CONV_X, 2, 2, 1, 1, "on the 4x4 example of section 2 with a 2x2 window, pad 1"),
             (rng.standard_normal((2, 3, 5, 4)), 3, 2, 2, 1,
              "on a random (2, 3, 5, 4) batch, 3x2 window, stride 2, pad 1"),
             (rng.standard_normal((3, 2, 4, 5)), 2, 2, 1, 0,
              "on a random (3, 2, 4, 5) batch, 2x2 window")]
    _not_cnnlibs(fn, conv.im2col)
    for x, kh, kw, stride, pad, where in cases:
        got, calls = _run("your im2col", fn, where, x.copy(), kh, kw, stride, pad)
        expected = conv.im2col(x, kh, kw, stride, pad)
        _check_pad("cols", calls, got, expected, where)
        n, c, height, width = x.shape
        (oh, oh0, oh1, _, _), (ow, ow0, ow1, _, _) = (_sizes(height, kh, stride, pad),
                                                      _sizes(width, kw, stride, pad))
        rows, columns = expected.shape
        hints = [((columns, rows), "one ROW per window, (N*OH*OW, C*KH*KW); yours is transposed"),
                 ((n, oh, ow, c, kh, kw), "the entries may be right, but reshape to 2-D: "
                  "(N*OH*OW, C*KH*KW)"),
                 ((n, c, oh, ow, kh, kw), "reshape to 2-D (N*OH*OW, C*KH*KW), with the windows' "
                  "(n, i, j) axes first")]
        if pad:
            hints.append(((n * oh0 * ow0, columns), f"that many windows fit without padding: pad "
                          f"x with pad={pad} zeros on every side first"))
        if stride > 1:
            hints.append(((n * oh1 * ow1, columns), f"that many windows fit at stride 1: with "
                          f"stride {stride} window (i, j) starts at (i*stride, j*stride)"))
        _check_shape("cols", got, expected.shape, hints, where)

        def mistakes(x=x, kh=kh, kw=kw, stride=stride, pad=pad, expected=expected, n=n, c=c,
                     oh=oh, ow=ow):
            rows, columns = expected.shape
            by_entry = expected.reshape(rows, c, kh, kw)
            return [
                (expected.reshape(n, oh * ow, columns).transpose(1, 0, 2).reshape(rows, columns),
                 "rows go image by image (order n, i, j): all windows of image 0 first; yours go "
                 "position by position across the batch"),
                (expected.reshape(n, oh, ow, columns).transpose(0, 2, 1, 3).reshape(rows, columns),
                 "within an image the windows go along the output row first: (i, j) = (0, 0), "
                 "(0, 1), ...; yours go down the columns"),
                (by_entry.transpose(0, 2, 3, 1).reshape(rows, columns), "each row lists the whole "
                 "window of channel 0, then of channel 1, ... (order c, u, v, as "
                 "w.reshape(F, -1)); yours is channel-last (u, v, c)"),
                (by_entry.transpose(0, 1, 3, 2).reshape(rows, columns), "read each window row by "
                 "row (kernel row u, then column v); yours went column by column"),
                (conv.im2col(_one_sided(x, 0, 2 * pad), kh, kw, stride), _EVERY_SIDE),
                (conv.im2col(_one_sided(x, 2 * pad, 0), kh, kw, stride), _EVERY_SIDE)]
        _compare_lazy("cols", got, expected, mistakes, where)
    _correct("im2col matches cnnlib (row and column order, padding, stride, channels, batch)")
    return fn


def check_conv_forward_im2col(fn):
    """Check ``fn(x, w, b, stride=1, pad=0) -> out (N, F, OH, OW)`` computed with im2col and one
    matrix product; return ``fn``."""
    for x, w, b, stride, pad, where in _conv_cases():
        got, _ = _run("your conv_forward_im2col", fn, where, x.copy(), w.copy(), b.copy(), stride,
                      pad)
        expected = conv.conv2d_forward_naive(x, w, b, stride, pad)
        n, f, oh, ow = expected.shape
        _check_shape("out", got, expected.shape, [
            ((n * oh * ow, f), "the product gives one row per window and one column per filter: "
             "reshape it to (N, OH, OW, F), then move F forward with transpose(0, 3, 1, 2)"),
            ((n, oh, ow, f), "move the filter axis forward: transpose(0, 3, 1, 2) gives NCHW")],
            where)

        def mistakes(expected=expected, x=x, w=w, b=b, stride=stride, pad=pad):
            flat = expected.transpose(0, 2, 3, 1).reshape(-1)
            n, f, oh, ow = expected.shape
            by_columns = conv.im2col(x, *w.shape[2:], stride, pad) @ w.reshape(-1, f) + b
            return [(flat.reshape(expected.shape), "the product's rows are (n, i, j) and its "
                     "columns f: reshape to (N, OH, OW, F) and transpose(0, 3, 1, 2); a direct "
                     "reshape to (N, F, OH, OW) mixes filters and positions"),
                    (expected - b[None, :, None, None], "add the bias b (one per filter, "
                     "a column of the product)"),
                    (by_columns.reshape(n, oh, ow, f).transpose(0, 3, 1, 2), "W = w.reshape(F, "
                     "-1) has one ROW per filter; w.reshape(-1, F) is not its transpose W.T, it "
                     "mixes the filters' weights")]
        _compare_lazy("out", got, expected, mistakes, where)
    _correct("the convolution as one matrix product matches the loops")
    return fn


def check_blur(fn):
    """Check ``fn(size) -> (size, size)`` filter that replaces each pixel by the mean of its
    ``size x size`` neighbourhood."""
    for size in (3, 5, 1):
        where = f"for size {size}"
        got, _ = _run("your blur_filter", fn, where, size)
        _compare("the filter", got, np.full((size, size), 1 / size ** 2), [
            (np.ones((size, size)), f"the weights must average the {size * size} pixels: "
             f"1/{size * size} each, not 1 (a sum makes the image brighter)"),
            (np.full((size, size), 1 / size), f"a {size}x{size} neighbourhood holds "
             f"{size * size} pixels: 1/{size * size} each")], where)
    _correct("the filters average their neighbourhood (weights 1/size**2, total 1)")


# --- notebook 05: convolution backward ---------------------------------------------------------

def _backward_loops(dout, x, w, stride, pad, *, dx_step=None, dw_step=None, overwrite_dx=False,
                    overwrite_dw=False, rotate=False, dw_unpadded=False):
    """The naive backward loops with the typical mistakes switched on; returns (dx_padded, dw).
    With ``dw_unpadded`` dw reads its windows from x instead of the padded x (numpy broadcasting
    the windows cut short at the border, as a learner's ``+=`` would; None where it cannot)."""
    kh, kw = w.shape[2:]
    xp = conv.pad_images(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kernel = w[:, :, ::-1, ::-1] if rotate else w
    sx, sw = dx_step or stride, dw_step or stride
    for n, f, i, j in np.ndindex(dout.shape):
        grad = dout[n, f, i, j]
        window = (x if dw_unpadded else xp)[n, :, i * sw:i * sw + kh, j * sw:j * sw + kw]
        if dw_unpadded and not window.size:
            return dxp, None
        try:
            dw[f] = grad * window if overwrite_dw else dw[f] + grad * window
        except ValueError:
            return dxp, None
        rows, cols = slice(i * sx, i * sx + kh), slice(j * sx, j * sx + kw)
        dxp[n, :, rows, cols] = grad * kernel[f] if overwrite_dx else \
            dxp[n, :, rows, cols] + grad * kernel[f]
    return dxp, dw


_EMPTY_CROP = "pad:-pad is empty when pad = 0; crop with dxp[:, :, pad:pad + H, pad:pad + W]"


def _crop(dxp, shape, pad):
    return dxp[:, :, pad:pad + shape[2], pad:pad + shape[3]]


def check_conv_backward_naive(fn):
    """Check ``fn(dout, x, w, stride=1, pad=0) -> (dx, dw, db)``, the convolution's gradients by
    loops, against cnnlib and the numerical gradient; return ``fn``."""
    rng = np.random.default_rng(12)
    delta = np.array([[2.0, 1, 0], [-2, -1, -3], [-3, -3, -2]]).reshape(1, 1, 3, 3)
    x, w = np.arange(25.0).reshape(1, 1, 5, 5), np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    fixed = "on section 1's example (x = 0..24 as 5x5, kernel 1..9 as 3x3, its 3x3 dout"
    cases = [(delta, x, w, 1, 0, f"{fixed})"), (delta, x, w, 2, 1, f"{fixed}, stride 2, pad 1)")]
    for x_shape, w_shape, stride, pad in [((2, 3, 5, 6), (4, 3, 3, 2), 1, 0),
                                          ((2, 2, 7, 6), (3, 2, 3, 3), 2, 1),
                                          ((2, 2, 6, 7), (2, 2, 2, 3), 3, 2)]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        out_shape = conv.conv2d_forward_naive(x, w, np.zeros(len(w)), stride, pad).shape
        cases.append((rng.standard_normal(out_shape), x, w, stride, pad,
                      f"on a random {x_shape} batch with {w_shape[0]} filters {w_shape[1:]}, "
                      f"stride {stride}, pad {pad}"))
    _not_cnnlibs(fn, conv.conv2d_backward_naive)
    for dout, x, w, stride, pad, where in cases:
        got, calls = _copy_checked("your conv_backward_naive", dout, lambda d: _run(
            "your conv_backward_naive", fn, where, d, x.copy(), w.copy(), stride, pad))
        if isinstance(got, (tuple, list)) and len(got) == 3:
            for name, grad, right in zip(("dx", "dw", "db"), got,
                                         conv.conv2d_backward_naive(dout, x, w, stride, pad)):
                _check_pad(name, calls, grad, right, where)
        _check_grads(got, dout, x, w, stride, pad, where)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3))
    b = rng.standard_normal(2)
    dout = rng.standard_normal((2, 2, 3, 3))
    where = "against the numerical gradient (stride 2, pad 1)"
    (dx, dw, db), _ = _run("your conv_backward_naive", fn, where, dout, x.copy(), w.copy(), 2, 1)

    def loss(x=x, w=w, b=b):
        return np.sum(conv.conv2d_forward(x, w, b, 2, 1)[0] * dout)
    _compare("dx", dx, numerical_gradient(lambda v: loss(x=v), x.copy()), where=where)
    _compare("dw", dw, numerical_gradient(lambda v: loss(w=v), w.copy()), where=where)
    _compare("db", db, numerical_gradient(lambda v: loss(b=v), b.copy()), where=where)
    _correct("conv_backward_naive's dx, dw and db match cnnlib and the numerical gradient")
    return fn


def _check_grads(got, dout, x, w, stride, pad, where):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        count = f" of {len(got)}" if isinstance(got, (tuple, list)) else ""
        raise ExerciseError(f"return the three gradients (dx, dw, db), got a "
                            f"{type(got).__name__}{count}")
    shapes = [_shape_of(g) for g in got]
    wanted = [x.shape, w.shape, (w.shape[0],)]
    if shapes != wanted and sorted(map(str, shapes)) == sorted(map(str, wanted)):
        raise ExerciseError(f"return (dx, dw, db) in this order, shaped like x, w and b: got "
                            f"shapes {shapes}")
    dx, dw, db = got
    ref_dx, ref_dw, ref_db = conv.conv2d_backward_naive(dout, x, w, stride, pad)
    n, f, oh, ow = dout.shape
    _check_shape("db", db, ref_db.shape, [
        (dout.shape, "db sums dout over the batch AND over every output position: "
         "dout.sum(axis=(0, 2, 3))"),
        ((f, oh, ow), "sum over the output positions too: dout.sum(axis=(0, 2, 3))"),
        ((n, f), "sum over the batch (axis 0) too: dout.sum(axis=(0, 2, 3))")], where)
    _compare_lazy("db", db, ref_db, lambda: [
        (dout.mean(axis=(0, 2, 3)), "db is the SUM of dout over the batch and the positions, "
         "not the mean"),
        *([(dout[0].sum(axis=(1, 2)), "db sums over every image of the batch, not only the "
            "first")] if n > 1 else [])], where)
    _check_shape("dw", dw, ref_dw.shape, [
        ((n, *w.shape), "dw sums over the batch: every image adds its contribution to the same "
         "dw[f]")], where)

    def dw_mistakes():
        mistakes = [
            (_backward_loops(dout, x, w, stride, pad, overwrite_dw=True)[1], "every output "
             "ADDS dout * window to dw[f] (dw[f] += ...); yours kept only the last one"),
            (_backward_loops(dout, x, w, stride, pad, dw_step=1)[1], f"output (i, j) read the "
             f"window at row i*stride, column j*stride of the padded x (stride {stride})")]
        unpadded = _backward_loops(dout, x, w, stride, pad, dw_unpadded=True)[1]
        if pad and unpadded is not None:
            mistakes.append((unpadded, f"dw's windows come from the PADDED input xp (pad {pad}), "
                             "as in the forward pass; yours read them from x"))
        if n > 1:
            mistakes += [
                (conv.conv2d_backward_naive(dout[:1], x[:1], w, stride, pad)[1], "dw sums over "
                 "every image of the batch, not only the first"),
                (conv.conv2d_backward_naive(dout[-1:], x[-1:], w, stride, pad)[1], "dw sums over "
                 "every image of the batch (dw[f] += ...); yours kept only the last image"),
                (ref_dw / n, "dw is the SUM over the batch, not the mean")]
        return mistakes
    _compare_lazy("dw", dw, ref_dw, dw_mistakes, where)
    height, width = x.shape[2:]
    hints = [((n, x.shape[1], height + 2 * pad, width + 2 * pad), f"that is the gradient of the "
              f"PADDED input: crop pad={pad} rows and columns from every side, "
              "dxp[:, :, pad:pad + H, pad:pad + W]")] if pad else [
        ((n, x.shape[1], 0, 0), _EMPTY_CROP)]
    _check_shape("dx", dx, ref_dx.shape, hints, where)

    def dx_mistakes():
        overwritten = _backward_loops(dout, x, w, stride, pad, overwrite_dx=True)[0]
        padded = _backward_loops(dout, x, w, stride, pad)[0]
        return [
            (_crop(overwritten, x.shape, pad), "where windows overlap (and over the filters f), "
             "ADD the gradients: dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]"),
            (_crop(_backward_loops(dout, x, w, stride, pad, dx_step=1)[0], x.shape, pad),
             f"output (i, j) read the window at row i*stride, column j*stride (stride {stride}): "
             "send dout * w[f] back to that window"),
            (_crop(_backward_loops(dout, x, w, stride, pad, rotate=True)[0], x.shape, pad),
             "in the loops each window gets dout * w[f] as it is; the 180° rotation belongs to "
             "the full-convolution form"),
            (padded[:, :, :height, :width], "crop pad rows and columns from EVERY side: "
             "dxp[:, :, pad:pad + H, pad:pad + W]"),
            (padded[:, :, 2 * pad:, 2 * pad:], "crop pad rows and columns from EVERY side: "
             "dxp[:, :, pad:pad + H, pad:pad + W]")]
    _compare_lazy("dx", dx, ref_dx, dx_mistakes, where)


def check_col2im(fn):
    """Check ``fn(cols, x_shape, kh, kw, stride=1, pad=0) -> dx`` of shape ``x_shape``: the adjoint
    of im2col, which adds every row back onto its window (summing overlaps) and crops the padding;
    return ``fn``."""
    rng = np.random.default_rng(13)
    cases = [(np.ones((9, 9)), (1, 1, 5, 5), 3, 3, 1, 0, "for rows of ones, a 5x5 image and 3x3 "
              "windows (each pixel gets the number of windows that cover it)"),
             (np.ones((25, 4)), (1, 1, 4, 4), 2, 2, 1, 1, "for rows of ones, a 4x4 image, 2x2 "
              "windows and pad 1")]
    for x_shape, kh, kw, stride, pad in [((2, 3, 5, 4), 3, 2, 2, 1), ((2, 2, 5, 5), 3, 3, 1, 2),
                                         ((1, 2, 7, 6), 3, 2, 3, 0)]:
        rows = conv.im2col(np.zeros(x_shape), kh, kw, stride, pad).shape
        cases.append((rng.standard_normal(rows), x_shape, kh, kw, stride, pad,
                      f"for random rows, x_shape {x_shape}, {kh}x{kw} windows, stride {stride}, "
                      f"pad {pad}"))
    _not_cnnlibs(fn, conv.col2im)
    for cols, x_shape, kh, kw, stride, pad, where in cases:
        got, _ = _run("your col2im", fn, where, cols.copy(), x_shape, kh, kw, stride, pad)
        expected = conv.col2im(cols, x_shape, kh, kw, stride, pad)
        n, c, height, width = x_shape
        _check_shape("dx", got, x_shape, [
            ((n, c, height + 2 * pad, width + 2 * pad), f"that is the PADDED image: crop pad={pad} "
             "rows and columns from every side")] if pad else [((n, c, 0, 0), _EMPTY_CROP)],
            where)
        if _shape_of(got) == tuple(x_shape) and _close(got, expected):
            continue
        mistakes = _col2im_mistakes(cols, x_shape, kh, kw, stride, pad, expected)
        for wrong, message in mistakes:
            if _shape_of(got) == tuple(x_shape) and _close(got, wrong):
                raise ExerciseError(f"dx {where}: {message}")
        if _shape_of(got) == tuple(x_shape) and np.any(cols != 1):
            x = rng.standard_normal(x_shape)
            left = float(np.sum(conv.im2col(x, kh, kw, stride, pad) * cols))
            right = float(np.sum(x * np.asarray(got, dtype=np.float64)))
            raise ExerciseError(f"your col2im is not the adjoint of im2col {where}: for a "
                                f"random x, <im2col(x), cols> = {left:.6g} but "
                                f"<x, col2im(cols)> = {right:.6g}")
        _compare("dx", got, expected, where=where)
    _correct("col2im is the adjoint of im2col: overlaps summed, padding cropped, as cnnlib")
    return fn


def _col2im_mistakes(cols, x_shape, kh, kw, stride, pad, expected):
    n, c, height, width = x_shape
    oh = (height + 2 * pad - kh) // stride + 1
    ow = (width + 2 * pad - kw) // stride + 1
    windows = cols.reshape(n, oh, ow, c, kh, kw)
    padded = np.zeros((n, c, height + 2 * pad, width + 2 * pad))
    overwritten, unstrided = padded.copy(), padded.copy()
    for b, i, j in np.ndindex(n, oh, ow):
        overwritten[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = windows[b, i, j]
        padded[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += windows[b, i, j]
        unstrided[b, :, i:i + kh, j:j + kw] += windows[b, i, j]
    counts = conv.col2im(np.ones_like(cols), x_shape, kh, kw, stride, pad)
    rows, columns = cols.shape
    channel_last = cols.reshape(rows, kh, kw, c).transpose(0, 3, 1, 2).reshape(rows, columns)
    by_position = cols.reshape(oh * ow, n, columns).transpose(1, 0, 2).reshape(rows, columns)
    every_side = "crop pad rows and columns from EVERY side: dxp[:, :, pad:pad + H, pad:pad + W]"
    return [
        (_crop(overwritten, x_shape, pad), "where windows overlap, ADD the rows (+=): a pixel "
         "copied into several rows gets the SUM of their gradients (not the last one, not their "
         "mean)"),
        (np.divide(expected, counts, out=np.zeros_like(expected), where=counts > 0),
         "SUM the copies of each pixel, do not average them"),
        (_crop(unstrided, x_shape, pad), f"row (n, i, j) goes back to the window at row i*stride, "
         f"column j*stride (stride {stride})"),
        (padded[:, :, :height, :width], every_side),
        (padded[:, :, 2 * pad:, 2 * pad:], every_side),
        (conv.col2im(channel_last, x_shape, kh, kw, stride, pad), "read each row in im2col's "
         "column order (channel, kernel row, kernel column); yours read it channel-last"),
        (conv.col2im(by_position, x_shape, kh, kw, stride, pad), "the rows go image by image "
         "(order n, i, j), as im2col writes them")]


def check_dw_by_im2col(fn):
    """Check ``fn(dout, x, kh, kw, stride=1, pad=0) -> dw (F, C, KH, KW)`` computed with im2col
    and one matrix product, ``dW = D.T @ cols``; return ``fn``."""
    rng = np.random.default_rng(14)
    for x_shape, f, kh, kw, stride, pad in [((1, 1, 4, 4), 1, 2, 2, 1, 0), ((2, 3, 9, 9), 4, 3, 3,
                                            2, 0), ((2, 2, 6, 7), 3, 3, 2, 2, 1)]:
        x = CONV_X if x_shape == CONV_X.shape else rng.standard_normal(x_shape)
        w_shape = (f, x_shape[1], kh, kw)
        dout = rng.standard_normal(conv.conv2d_forward_naive(
            x, np.zeros(w_shape), np.zeros(f), stride, pad).shape)
        where = f"for x {x_shape}, {f} filter{'s' * (f > 1)} {kh}x{kw}, stride {stride}, pad {pad}"
        got, _ = _copy_checked("your dw_by_im2col", dout, lambda d: _run(
            "your dw_by_im2col", fn, where, d, x.copy(), kh, kw, stride, pad))
        expected = conv.conv2d_backward_naive(dout, x, np.zeros(w_shape), stride, pad)[1]
        columns = x_shape[1] * kh * kw
        _check_shape("dw", got, w_shape, [
            ((f, columns), "reshape D.T @ cols, (F, C*KH*KW), to w's shape (F, C, KH, KW)"),
            ((columns, f), "dW = D.T @ cols is (F, C*KH*KW); yours is its transpose")], where)

        def mistakes(dout=dout, x=x, kh=kh, kw=kw, stride=stride, pad=pad, f=f, w_shape=w_shape):
            cols = conv.im2col(x, kh, kw, stride, pad)
            d = dout.transpose(0, 2, 3, 1).reshape(-1, f)
            return [((dout.reshape(-1, f).T @ cols).reshape(w_shape), "lay dout out as rows in "
                     "im2col's order (n, i, j), one column per filter: dout.transpose(0, 2, 3, 1)"
                     ".reshape(-1, F); a plain reshape mixes filters and positions"),
                    ((cols.T @ d).reshape(w_shape), "dW = D.T @ cols is (F, C*KH*KW); cols.T @ D "
                     "is its transpose, and reshaping it scrambles the weights"),
                    (expected / len(cols), "dW is the SUM over all windows (the product D.T @ "
                     "cols), not the mean"),
                    *([(expected / len(x), "dW is the SUM over the batch, not the mean")]
                      if len(x) > 1 else [])]
        _compare_lazy("dw", got, expected, mistakes, where)
    _correct("dW as one matrix product D.T @ cols matches the loops")
    return fn


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


_NO_STRIDE = ("window (i, j) starts at row i*stride, column j*stride: multiply the output "
              "indices by the stride in the slice, x[n, c, i*stride:i*stride + size, ...]")


def _unstrided_windows(x, size, stride):
    """The window origins ``(i, j)`` and slices of the typical mistake that forgets the stride in
    the slice: window (i, j) read at row i, column j."""
    stride = stride or size
    oh, ow = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    for i in range(oh):
        for j in range(ow):
            yield i, j, slice(i, i + size), slice(j, j + size)


def _unstrided_forward(x, size, stride):
    out = pool.max_pool2d_forward_naive(x, size, stride).copy()
    for i, j, rows, cols in _unstrided_windows(x, size, stride):
        out[:, :, i, j] = x[:, :, rows, cols].max(axis=(-2, -1))
    return out


def _unstrided_backward(dout, x, size, stride):
    dx = np.zeros_like(x)
    for i, j, rows, cols in _unstrided_windows(x, size, stride):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                dx[n, c, rows, cols] += dout[n, c, i, j] * pool._first_max(x[n, c, rows, cols])
    return dx


def check_max_pool_forward(fn):
    """Check ``fn(x, size=2, stride=None) -> out (N, C, OH, OW)``, max pooling by loops."""
    for x, size, stride, where in _pool_cases():
        got = _call("your max_pool_forward", fn, x.copy(), size, stride,
                    signature="max_pool_forward(x, size, stride)")
        avg = pool.avg_pool2d_forward_naive(x, size, stride)
        _compare("out", got, pool.max_pool2d_forward_naive(x, size, stride),
                 [(avg, "that is the window's MEAN: max pooling takes its maximum"),
                  (_unstrided_forward(x, size, stride), _NO_STRIDE)], where)
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
                                            stride, signature="max_pool_backward(dout, x, "
                                            "size, stride)"))
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
              for whole in (True, False)],
            (_unstrided_backward(dout, x, size, stride), _NO_STRIDE)], where)
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
        got = _call("your routed_fraction", fn, x.copy(), size, stride,
                    signature="routed_fraction(x, size, stride)")
        where = f"for {size}x{size} windows, stride {stride}, x of shape {shape}"
        windows = out.size / x.size          # the sum (or mean) of dx: one per window
        _compare("the fraction", got, expected,
                 [(1 / size ** 2, "1/size**2 holds only when windows tile the input; count the "
                   "nonzero entries of a backward pass of ones instead"),
                  (windows, "that counts windows, not inputs (the sum or mean of dx): an input "
                   "that wins two windows is counted twice; count the nonzero entries"),
                  (expected * x.size, "that is a count: divide it by x.size to get a fraction"),
                  (windows * x.size, "that counts windows, not inputs (the sum of dx): an input "
                   "that wins two windows is counted twice; count the nonzero entries and "
                   "divide by x.size"),
                  (expected * x.size / out.size, "divide by x.size, the number of inputs, not "
                   "by out.size"),
                  (100 * expected, "give a fraction between 0 and 1, not a percentage")], where)
    _correct("the routed fraction for tiling and for overlapping windows")


def _pooling_spied(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), whether it ran cnnlib's pooling)``: cnnlib's naive and fast pooling
    both go through ``pool.pool2d_forward_naive`` or ``pool._combine_offsets``, spied on here."""
    called = []
    originals = {name: getattr(pool, name) for name in ("pool2d_forward_naive", "_combine_offsets")}

    def spy(original):
        def wrapper(*a, **k):
            called.append(original.__name__)
            return original(*a, **k)
        return wrapper
    try:
        for name, original in originals.items():
            setattr(pool, name, spy(original))
        result = fn(*args, **kwargs)
    finally:
        for name, original in originals.items():
            setattr(pool, name, original)
    return result, bool(called)


def check_avg_pool_as_conv(fn):
    """Check ``fn(x) -> out``: 2x2 average pooling, stride 2, of a one-channel x as a
    convolution (calling cnnlib's pooling functions is rejected)."""
    rng = np.random.default_rng(9)
    for x, where in [(POOL_X, "on the 4x4 example"),
                     (rng.standard_normal((3, 1, 6, 8)), "on a random (3, 1, 6, 8) batch")]:
        got, pooled = _pooling_spied(_call, "your avg_pool_as_conv", fn, x.copy(),
                                     signature="avg_pool_as_conv(x)")
        if pooled:
            raise ExerciseError("avg_pool_as_conv called cnnlib's pooling (avg_pool2d_forward_"
                                "naive or the like): compute it with conv2d_forward_naive and a "
                                "constant filter instead, that is the exercise")
        expected = pool.avg_pool2d_forward_naive(x)
        ones = conv.conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.zeros(1), stride=2)
        _compare("out", got, expected, [(ones, "the filter's weights must average: 1/4 each, "
                                         "not 1")], where)
    _correct("2x2 average pooling written as a convolution")


# --- notebook 07: assembling LeNet-5, one Adam update -------------------------------------------

# (name, layer class name, {attribute: value}, output shape of one image)
LENET5_LAYERS = [
    ("conv1", "Conv2D", {"W": (6, 1, 5, 5), "pad": 2, "stride": 1}, (6, 28, 28)),
    ("relu1", "ReLU", {}, (6, 28, 28)),
    ("pool1", "MaxPool2D", {"size": 2}, (6, 14, 14)),
    ("conv2", "Conv2D", {"W": (16, 6, 5, 5), "pad": 0, "stride": 1}, (16, 10, 10)),
    ("relu2", "ReLU", {}, (16, 10, 10)),
    ("pool2", "MaxPool2D", {"size": 2}, (16, 5, 5)),
    ("flatten", "Flatten", {}, (400,)),
    ("fc1", "Affine", {"W": (400, 120)}, (120,)),
    ("relu3", "ReLU", {}, (120,)),
    ("fc2", "Affine", {"W": (120, 84)}, (84,)),
    ("relu4", "ReLU", {}, (84,)),
    ("fc3", "Affine", {"W": (84, 10)}, (10,)),
]


def _fc1_inputs(pad1, pad2):
    """How many values reach fc1 when conv1 and conv2 are padded by ``pad1`` and ``pad2``."""
    size = (28 + 2 * pad1 - 4) // 2
    size = (size + 2 * pad2 - 4) // 2
    return 16 * size * size


def _check_lenet5_layer(index, got_name, layer, spec, x):
    """Check one layer's type, settings, parameters and output for the input ``x``; return the
    output."""
    name, kind, settings, shape = spec
    label = f"layer {index + 1} ({name}, LeNet-5's {kind})"
    expected_type = getattr(layers, kind)
    if not isinstance(layer, expected_type):
        previous = LENET5_LAYERS[index - 1][0] if index else "the input"
        following = [s for s in LENET5_LAYERS[index + 1:index + 2]
                     if isinstance(layer, getattr(layers, s[1]))]
        if kind == "ReLU" and following:
            raise ExerciseError(f"a ReLU is missing after {previous}: {label} should be ReLU(), "
                                f"got {layer!r}")
        if kind == "MaxPool2D" and isinstance(layer, layers.AvgPool2D):
            raise ExerciseError(f"{label} is average pooling: LeNet-5 here takes each window's "
                                f"maximum, MaxPool2D(2)")
        if kind == "Flatten" and isinstance(layer, layers.Affine):
            raise ExerciseError(f"{label}: add Flatten() before fc1, (N, 16, 5, 5) -> (N, 400)")
        raise ExerciseError(f"{label} should be a {kind}, got {layer!r}")
    if kind == "Conv2D":
        w = layer.params["W"]
        if w.shape != settings["W"]:
            f, c, kh, kw = settings["W"]
            raise ExerciseError(f"{label} has weights of shape {w.shape}: expected {f} filters of "
                                f"{c} x {kh} x {kw}, W of shape {settings['W']}")
        if layer.pad != settings["pad"] or layer.stride != settings["stride"]:
            pads = (layer.pad, 0) if name == "conv1" else (2, layer.pad)
            side = 28 + 2 * layer.pad - 4 if name == "conv1" else 14 + 2 * layer.pad - 4
            raise ExerciseError(
                f"{label} has pad={layer.pad}, stride={layer.stride}: expected "
                f"pad={settings['pad']}, stride=1. Its maps come out {side}x{side} instead of "
                f"{shape[1]}x{shape[2]} (with stride 1), so fc1 would get "
                f"{_fc1_inputs(*pads)} inputs, not 400")
    if kind == "MaxPool2D" and (layer.size != 2 or (layer.stride or layer.size) != 2):
        raise ExerciseError(f"{label} is {layer!r}: LeNet-5 pools 2x2 windows with stride 2, "
                            f"MaxPool2D(2), halving each map")
    if kind == "Affine" and layer.params["W"].shape != settings["W"]:
        raise ExerciseError(f"{label} has W of shape {layer.params['W'].shape}: expected "
                            f"Affine{settings['W']}" + (" (16 maps of 5 x 5 = 400 values)"
                                                         if name == "fc1" else ""))
    for key, param in layer.params.items():
        if param.dtype != np.float32:
            raise ExerciseError(f"{label}'s {key} is {param.dtype}: keep the layers' default "
                                f"float32 (training runs in float32)")
        if key == "W" and not np.any(param):
            raise ExerciseError(f"{label}'s weights are all zeros: every unit would compute the "
                                f"same thing and get the same gradient; keep the layers' random "
                                f"(He) initialisation")
    try:
        out = layer.forward(x)
    except ValueError as err:
        raise ExerciseError(f"{label} cannot take the output of the layer before it, of shape "
                            f"{x.shape}: {err}") from None
    if out.shape[1:] != shape:
        raise ExerciseError(f"{label} gives {out.shape} for a batch of {len(x)}, expected "
                            f"{(len(x),) + shape}")
    return out


def check_lenet5(fn):
    """Check ``fn(rng=...) -> Sequential``, LeNet-5 assembled from cnnlib's layers: conv6@5x5 pad 2
    - ReLU - maxpool 2 - conv16@5x5 - ReLU - maxpool 2 - flatten - fc120 - ReLU - fc84 - ReLU -
    fc10, named as in ``LeNet5``; returns ``fn``."""
    model = _call("your LeNet-5 builder", fn, rng=np.random.default_rng(0))
    if not isinstance(model, Sequential):
        raise ExerciseError(f"return the network as a Sequential of the layers, got "
                            f"{type(model).__name__}")
    got = list(model.layers.items())
    x = np.random.default_rng(33).random((2, 1, 28, 28), dtype=np.float32)
    for index, spec in enumerate(LENET5_LAYERS):
        if index >= len(got):
            missing = ", ".join(s[0] for s in LENET5_LAYERS[index:])
            raise ExerciseError(f"the network stops after {len(got)} layers: missing: {missing}")
        x = _check_lenet5_layer(index, *got[index], spec, x)
    if len(got) > len(LENET5_LAYERS):
        extra = got[len(LENET5_LAYERS)][1]
        if isinstance(extra, layers.ReLU):
            raise ExerciseError("there is a ReLU after fc3: the ten scores go straight to the "
                                "softmax loss (a ReLU would turn every negative score into 0)")
        raise ExerciseError(f"extra layers after fc3 ({extra!r}, ...): LeNet-5 ends with fc3")
    for index, ((got_name, _), spec) in enumerate(zip(got, LENET5_LAYERS)):
        if got_name != spec[0]:
            raise ExerciseError(f"layer {index + 1} is named {got_name!r}: name it {spec[0]!r} "
                                f"as LeNet5 does, with (\"{spec[0]}\", layer) pairs; parameter "
                                f"names such as 'conv1.W' come from the layer names, and "
                                f"checkpoints are loaded by them")
    if not isinstance(model.loss_layer, layers.SoftmaxWithLoss):
        raise ExerciseError("train with SoftmaxWithLoss, Sequential's default loss")
    again = _call("your LeNet-5 builder", fn, rng=np.random.default_rng(0))
    if any(not np.array_equal(p, again.params[k]) for k, p in model.params.items()):
        raise ExerciseError("two builds with the same rng gave different weights: pass rng=rng "
                            "to every Conv2D and Affine, so that every run starts the same")
    reference = LeNet5(rng=np.random.default_rng(1))
    for name, param in model.params.items():
        param[...] = reference.params[name]
    images = np.random.default_rng(34).random((3, 1, 28, 28), dtype=np.float32)
    labels = np.array([3, 0, 7])
    _compare("the loss", model.loss(images, labels), reference.loss(images, labels),
             where="with LeNet5's weights")
    model.backward()
    reference.backward()
    for name, grad in reference.grads.items():
        _compare(f"the gradient of {name}", model.grads[name], grad, where="with LeNet5's weights")
    _correct("LeNet-5's twelve layers, their parameters and every activation's shape are right")
    return fn


def _adam_runs(params, grads_steps, lr, beta1, beta2, eps, **mistake):
    """Parameters after each Adam step, computed the textbook way, or with one ``mistake``."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    m, v, t, runs = {}, {}, 0, []
    b1, b2 = (beta2, beta1) if mistake.get("swap") else (beta1, beta2)
    for grads in grads_steps:
        t = 1 if mistake.get("t_fixed") else t + 1
        for name in p:
            t += bool(mistake.get("t_per_param")) and name != next(iter(p))
            g, key = grads[name], "all" if mistake.get("shared") else name
            m[key] = b1 * m.get(key, 0) + (1 - b1) * g
            v[key] = b2 * v.get(key, 0) + (1 - b2) * (np.abs(g) if mistake.get("no_square")
                                                       else g * g)
            m_hat, v_hat = m[key], v[key]
            if mistake.get("precedence"):
                m_hat, v_hat = m_hat / (1 - b1) ** t, v_hat / (1 - b2) ** t
            elif not mistake.get("no_correction"):
                m_hat, v_hat = m_hat / (1 - b1 ** t), v_hat / (1 - b2 ** t)
            if mistake.get("store_corrected"):
                m[key], v[key] = m_hat, v_hat
            if mistake.get("eps_inside"):
                step = m_hat / np.sqrt(v_hat + eps)
            else:
                step = m_hat / ((v_hat if mistake.get("no_sqrt") else np.sqrt(v_hat)) + eps)
            p[name] = p[name] - (1 if mistake.get("no_lr") else lr) * step
        runs.append({k: a.copy() for k, a in p.items()})
    return runs


ADAM_MISTAKES = [
    ({"no_correction": True}, "bias-correct both averages: m_hat = m / (1 - beta1**t), v_hat = "
     "v / (1 - beta2**t) (m and v start at 0, so early on they are too small)"),
    ({"precedence": True}, "mind the precedence: the bias correction divides by 1 - beta1**t "
     "(beta1 to the power t, subtracted from 1); (1 - beta1) ** t raises the difference to the "
     "power t"),
    ({"store_corrected": True}, "keep m and v as they are: m_hat and v_hat are for this step "
     "only; storing them back in self.m and self.v corrects them again on every later step"),
    ({"t_fixed": True}, "t counts the updates: increment it on every call (the bias correction "
     "fades as t grows)"),
    ({"t_per_param": True}, "increment t once per update call, not once per parameter"),
    ({"shared": True}, "each parameter needs its own m and v (dicts keyed by the parameter's "
     "name); yours share them"),
    ({"no_sqrt": True}, "divide by the square ROOT of v_hat (plus eps): sqrt(v_hat) + eps"),
    ({"eps_inside": True}, "add eps after the square root: sqrt(v_hat) + eps, not "
     "sqrt(v_hat + eps)"),
    ({"swap": True}, "beta1 goes with m (the gradient's average), beta2 with v (the squared "
     "gradient's); yours are swapped"),
    ({"no_square": True}, "v averages the SQUARED gradient, g * g"),
    ({"no_lr": True}, "multiply the step by the learning rate lr"),
]


def _adam_nan(optimizer, key, value, step):
    """Why the learner's Adam step gave nan or inf: m and v sharing one array (v goes negative),
    a negative v, t still 0 at the bias correction, or (otherwise) a generic pointer."""
    m, v = getattr(optimizer, "m", None), getattr(optimizer, "v", None)
    m_key, v_key = (d.get(key) if isinstance(d, dict) else None for d in (m, v))
    if isinstance(m_key, np.ndarray) and isinstance(v_key, np.ndarray) and \
            np.shares_memory(m_key, v_key):
        return ("sqrt of a negative v? self.m[name] and self.v[name] are one array (as after "
                "self.m[name] = self.v[name] = np.zeros_like(p)), so updating one in place "
                "changes the other; give each its own np.zeros_like(p)")
    if v_key is not None and np.any(np.asarray(v_key, dtype=np.float64) < 0):
        return ("sqrt of a negative v? v averages the squared gradient g * g, which is never "
                "negative; do m and v share one array?")
    t = getattr(optimizer, "t", None)
    if step == 0 and (t == 0 or t == 1 and np.all(np.isnan(value))):
        return ("with t = 0 at the bias correction, 1 - beta1**t is 0 and m / 0 / sqrt(v / 0) "
                "is nan: t must be 1 on the first update, so increment t before the bias "
                "correction")
    return ("a division by zero or the square root of a negative number? print m, v, m_hat "
            "and v_hat for one step")


def check_adam(cls):
    """Check an Adam class built as ``cls(lr=..., beta1=..., beta2=..., eps=...)`` whose
    ``update(params, grads)`` changes the arrays of ``params`` in place, against
    ``cnnlib.optim.Adam`` over several steps; returns ``cls``."""

    rng = np.random.default_rng(35)
    fixed = ({"w": np.array([1.0, -2.0])}, [{"w": np.array([0.5, -1.0])}] * 3,
             {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
             "on the fixed case w = [1, -2] with the constant gradient [0.5, -1], lr = 0.1 (each "
             "step moves every entry by about lr)")
    random = ({"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((2, 3))},
              [{k: rng.standard_normal((2, 3)) * rng.choice([0.1, 1, 3], (2, 3))
                for k in "ab"} for _ in range(4)],
              {"lr": 0.01, "beta1": 0.8, "beta2": 0.9, "eps": 0.1},
              "on two random (2, 3) parameters over 4 steps, lr = 0.01, beta1 = 0.8, "
              "beta2 = 0.9, eps = 0.1")
    for params, grads_steps, settings, where in (fixed, random):
        optimizer, reference = _fresh(cls, "Adam", **settings), Adam(**settings)
        if getattr(optimizer, "lr", None) != settings["lr"]:
            raise ExerciseError("keep the learning rate in self.lr: fit's learning-rate "
                                "schedule changes it there")
        arrays = {k: v.copy() for k, v in params.items()}
        expected = {k: v.copy() for k, v in params.items()}
        runs = {i: _adam_runs(params, grads_steps, **settings, **m)
                for i, (m, _) in enumerate(ADAM_MISTAKES)}
        for step, grads in enumerate(grads_steps):
            before = {k: v.copy() for k, v in arrays.items()}
            saved_grads = {k: g.copy() for k, g in grads.items()}
            given = dict(arrays)
            with np.errstate(divide="ignore", invalid="ignore"):
                result = _call("Adam.update", optimizer.update, given, grads)
            reference.update(expected, grads)
            at = f"after step {step + 1} {where}"
            _unchanged("grads[{key!r}]", saved_grads, grads, "the gradients are not yours to "
                       "change")
            for key in arrays:
                if given.get(key) is not arrays[key] or isinstance(result, dict) and \
                        np.array_equal(arrays[key], before[key]):
                    raise ExerciseError(f"params[{key!r}] was not changed in place {at}: the "
                                        f"model holds that array, so change it with -=")
                if not np.all(np.isfinite(arrays[key])):
                    raise ExerciseError(f"params[{key!r}] holds nan or inf {at}: "
                                        f"{_adam_nan(optimizer, key, arrays[key], step)}")
                if np.array_equal(arrays[key], before[key]):
                    raise ExerciseError(f"params[{key!r}] did not change {at}: p = p - ... in "
                                        f"the loop only points the name p at a new array, and "
                                        f"the model still holds the old one; update it in "
                                        f"place (p -= ...)")
                _compare(f"params[{key!r}]", arrays[key], expected[key],
                         [(runs[i][step][key], message)
                          for i, (_, message) in enumerate(ADAM_MISTAKES)], at)
    _correct("Adam's update matches cnnlib's Adam step after step, each parameter with its own "
             "m and v")
    return cls


def check_most_confused(fn):
    """Check ``fn(cm) -> (worst_digit, confused_with)`` for a confusion matrix ``cm`` (rows: true
    classes, columns: predictions): the class with the most mistakes, and its most frequent wrong
    prediction; returns ``fn``."""
    fixed = np.array([[50, 0, 1, 0],
                      [0, 40, 5, 0],
                      [3, 1, 30, 2],
                      [0, 0, 0, 90]])
    rng = np.random.default_rng(36)
    random = rng.permutation(100).reshape(10, 10) + np.diag(rng.integers(500, 900, 10))
    for cm, where in [(fixed, f"for the matrix {fixed.tolist()}"),
                      (random, "for a random 10 x 10 matrix")]:
        got = _call("your most_confused", fn, cm.copy())
        errors = cm - np.diag(np.diag(cm))
        worst = int(errors.sum(axis=1).argmax())
        by_column = int(errors.sum(axis=0).argmax())
        with_diagonal = int(cm.sum(axis=1).argmax())
        cell = [int(i) for i in np.unravel_index(errors.argmax(), errors.shape)]
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise ExerciseError(f"return a pair (worst_digit, confused_with), got {got!r}")
        _compare("(worst_digit, confused_with)", np.array(got, dtype=float),
                 [worst, errors[worst].argmax()], [
                     ([by_column, errors[:, by_column].argmax()], "the rows are the true "
                      "digits: sum each ROW's mistakes (axis=1), then look along that row"),
                     ([with_diagonal, cm[with_diagonal].argmax()], "remove the diagonal (the "
                      "correct answers) first: a digit is not confused with itself"),
                     ([worst, cm[worst].argmax()], "remove the diagonal before looking for the "
                      "most frequent wrong prediction: a digit is not confused with itself"),
                     ([worst, errors[worst].max()], "confused_with is a digit (np.argmax), not "
                      "a count"),
                     (cell, "worst_digit is the digit with the most mistakes in total (the sum "
                      "of its row without the diagonal), not the row of the largest single "
                      "cell; then look along that row for its most frequent wrong answer")],
                 where)
    _correct("the digit with the most mistakes and what it is most often taken for")
    return fn


def most_confused(cm):
    """cnnlib's answer to notebook 07's exercise: ``(worst_digit, confused_with)`` for a confusion
    matrix ``cm`` (C, C) (rows: true classes, columns: predictions), two ints."""
    errors = np.asarray(cm) - np.diag(np.diag(cm))
    worst = int(errors.sum(axis=1).argmax())
    return worst, int(errors[worst].argmax())


def confidence(probs, labels):
    """cnnlib's answer to notebook 07's exercise: the mean top probability of ``probs`` (N, C)
    over the examples predicted right and over those predicted wrong (``labels`` (N,))."""
    right, top = probs.argmax(axis=1) == labels, probs.max(axis=1)
    return float(top[right].mean()), float(top[~right].mean())


def check_confidence(fn):
    """Check ``fn(probs, labels) -> (confidence_right, confidence_wrong)``: the mean top
    probability over the examples predicted right, and over those predicted wrong; returns
    ``fn``."""
    fixed = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
    rng = np.random.default_rng(37)
    random = softmax(rng.standard_normal((50, 10)) * 3)
    for probs, labels, where in [(fixed, np.array([0, 2, 2, 1]), "for the four examples "
                                  f"{fixed.tolist()} with labels [0, 2, 2, 1]"),
                                 (random, rng.integers(0, 10, 50), "for 50 random examples")]:
        got = _call("your confidence", fn, probs.copy(), labels.copy())
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise ExerciseError(f"return a pair (confidence_right, confidence_wrong), got {got!r}")
        right = probs.argmax(axis=1) == labels
        top, true = probs.max(axis=1), probs[np.arange(len(labels)), labels]
        expected = [top[right].mean(), top[~right].mean()]
        _compare("(confidence_right, confidence_wrong)", np.array(got, dtype=float), expected, [
            (expected[::-1], "the first is the confidence when RIGHT, the second when wrong"),
            ([true[right].mean(), true[~right].mean()], "the confidence is the TOP probability "
             "(that of the predicted class), not that of the true class"),
            ([top.mean()] * 2, "split the examples: predictions == labels for the right ones, "
             "!= for the wrong ones")], where)
    _correct("the network's mean confidence when right and when wrong")
    return fn


# --- notebook 08: feature maps, favourite classes, knocking out a filter ---------------------

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
              ["relu2"], "on a LeNet5 and a batch of ONE image")]
    for build, x, names, where in cases:
        model = build()
        outputs = type(model).activations(model, x)
        digit = np.zeros((1, 1, 28, 28))          # what the maps of an MNIST digit look like
        probe = type(model).activations(model, digit) if x.shape[-2:] != (28, 28) else None
        _no_shortcut(model)
        for name in names:
            given = x.copy()
            got = _call("your feature_maps", fn, model, given, name,
                        signature=f"feature_maps(model, x, {name!r})")
            if not np.array_equal(given, x):
                raise ExerciseError("feature_maps changed the images x it was given: feed each "
                                    "layer's output to the next in a new variable")
            expected = outputs[name]
            call = f"feature_maps(model, x, {name!r})"
            if isinstance(got, (list, tuple)):
                what = ("a list or tuple holding it" if len(got) == 1 else
                        f"a {type(got).__name__} of {len(got)} items")
                raise ExerciseError(f"{call} {where}: return the maps themselves, one array "
                                    f"(N, C, H, W), not {what}")
            try:
                got_shape = np.shape(got)
            except (TypeError, ValueError):
                got_shape = None
            elsewhere = ("did you run another array than x (a global such as x_test?) through "
                         "the layers?")
            if got_shape is not None and len(got_shape) == 4 and \
                    got_shape[1:] == expected.shape[1:] and got_shape[0] != len(x):
                raise ExerciseError(f"{call} {where}: expected the maps of the {len(x)} images "
                                    f"of x, got {got_shape[0]}: {elsewhere}")
            if probe is not None and got_shape is not None and len(got_shape) == 4 and \
                    got_shape != expected.shape and got_shape[1:] == probe[name].shape[1:]:
                images = f"{len(x)} image{'s' if len(x) > 1 else ''}"
                raise ExerciseError(f"{call} {where}: got maps of shape {got_shape}, those of "
                                    f"28x28 digits, where x holds {images} of "
                                    f"{x.shape[-2]}x{x.shape[-1]} pixels: {elsewhere}")
            mistakes = _feature_map_mistakes(outputs, x, name, _layer_alone(model, x, name))
            if got_shape == expected.shape and len(x) > 1 and not _close(got, expected):
                for wrong, message in mistakes:
                    if _close(got, wrong):
                        raise ExerciseError(f"{call} {where}: {message}")
                for i in range(len(x)):
                    for j in range(len(x)):
                        if i != j and _close(np.asarray(got)[i], expected[j]):
                            raise ExerciseError(f"{call} {where}: maps[{i}] are those of image "
                                                f"{j}: keep the images in the order of x")
            _compare(call, got, expected, mistakes, where)
    _correct("feature_maps returns each named layer's output for the whole batch, as "
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
        got = _call("your favourite_class", fn, s.copy(), y.copy(),
                    signature="favourite_class(strength, labels)")
        try:
            _check_favourites(got, s, y, where)
        except ExerciseError as err:
            raise ExerciseError(f"{err}{detail}") from None
    _correct("the class with the highest mean strength, for every channel")


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
    _compare("the favourite classes", got, _favourite_reference(s, y), [
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


def check_knockout(fn, model, x, y):
    """Check ``fn(model, x, y, f) -> drop``: the test accuracy of ``model`` on ``x, y`` minus that
    of a copy whose conv1 filter ``f`` (weights and bias) is zero, in percentage points; ``model``
    must be left unchanged. Tried with filter 0 on all of ``x`` and filter 1 on its first 300.
    Returns ``fn``, so a notebook can write ``accuracy_drop = check_knockout(my_accuracy_drop,
    ...)``."""

    before = {name: param.copy() for name, param in model.params.items()}
    for f, n in [(0, len(x)), (1, min(300, len(x)))]:
        xs, ys = x[:n], y[:n]
        got = _call("your accuracy_drop", fn, model, xs, ys, f,
                    signature=f"accuracy_drop(model, x, y, {f})")
        changed = [name for name, param in model.params.items()
                   if not np.array_equal(param, before[name])]
        if changed:
            for name in changed:
                model.params[name][...] = before[name]
            raise ExerciseError(f"accuracy_drop changed the model it was given ({', '.join(changed)}"
                                f"; restored now): damage a copy (copy.deepcopy(model)), the "
                                f"caller still needs the original")
        base = evaluate(model, xs, ys)
        expected = 100 * (base - evaluate(_knocked_out(model, f), xs, ys))
        where = f"for filter {f} on {n} images"
        try:
            got = float(got)
        except (TypeError, ValueError):
            _compare("the drop", got, expected, where=where)     # says what it got instead
        if _close(got, expected):
            continue
        def drop_of(other, keep_bias=False):
            return 100 * (base - evaluate(_knocked_out(model, other, keep_bias), xs, ys))
        mistakes = [(lambda: 0.0, "0 points: knocking out a filter changes some predictions; did "
                     "you evaluate the same (undamaged or damaged) model twice? model.params "
                     "builds a new dict on each call, so damaged.params['conv1.W'] = ... is "
                     "lost: change the arrays in place (damaged.params['conv1.W'][f] = 0)"),
                    (lambda: expected / 100, "give the drop in percentage POINTS: 100 * "
                     "(accuracy before - accuracy after)"),
                    (lambda: -expected, "accuracy BEFORE minus accuracy after: a damaged model "
                     "that does worse has a positive drop"),
                    (lambda: drop_of(f, keep_bias=True), "set the filter's bias to zero too "
                     "(params['conv1.b'][f]): with only its weights zeroed the filter still adds "
                     "its bias everywhere")]
        mistakes += [(lambda other=other: drop_of(other), f"that is the drop for filter {other}: "
                      f"knock out filter f = {f}, the argument")
                     for other in range(model.params["conv1.W"].shape[0]) if other != f]
        for wrong, message in mistakes:          # computed one at a time: each costs evaluations
            if _close(got, wrong()):
                raise ExerciseError(f"the drop {where}: {message}")
        _compare("the drop", got, expected, where=where)
    _correct("the accuracy drop in points when one conv1 filter is knocked out, model untouched")
    return fn


# --- notebook 09: training well (batch norm's backward pass, RMSprop's update) -------------------


def _bn_backward_variant(x, gamma, dout, eps, *, axes=(0, 2, 3), m=None, mean_term=True,
                         var_term=True, var_sign=-1, use_gamma=True):
    """Batch norm's dx by the compact form, with per-channel statistics as the forward pass computes
    them, and the sums of the backward pass over ``axes`` divided by ``m``: the reference with the
    defaults, a typical mistake otherwise (a path left out, the variance's term added, no gamma)."""
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
    xhat = (x - mean) * inv_std
    dxhat = dout * gamma.reshape(1, -1, 1, 1) if use_gamma else dout
    m = x.size // x.shape[1] if m is None else m
    dx = m * dxhat
    if mean_term:
        dx = dx - dxhat.sum(axis=axes, keepdims=True)
    if var_term:
        dx = dx + var_sign * xhat * (dxhat * xhat).sum(axis=axes, keepdims=True)
    return inv_std / m * dx


def _zeros_first(name, got, expected, where, advice):
    """ExerciseError naming the diagnosis before the case when ``got`` is all zeros and
    ``expected`` is not (the shared message puts the case first)."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return
    if got.shape == np.shape(expected) and not np.any(got) and np.any(expected):
        raise ExerciseError(f"{name} is all zeros ({where}): {advice}")


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
    fixed_dout = (np.arange(16.0) % 3 - 1).reshape(2, 2, 2, 2)
    cases = [(fixed, fixed_dout, "on the fixed case x = arange(16).reshape(2, 2, 2, 2)**2, "
              "dout = (arange(16) % 3 - 1).reshape(2, 2, 2, 2), gamma and beta random"),
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
        _zeros_first("dx", got, expected, where, "return the gradient you computed for x")
        _compare("dx", got, expected, [
            (variant(mean_term=False, var_term=False), "dx misses the paths through the mean "
             "and the variance: x_j reaches the loss through xhat_j directly AND through mu and "
             "sigma^2, which every xhat_i uses; add the terms of both"),
            (variant(var_term=False), "dx misses the path through the variance (the most common "
             "mistake): sigma^2 depends on x_j too, which adds a term proportional to xhat_j * "
             "sum(dxhat * xhat)"),
            (variant(mean_term=False), "dx misses the path through the mean: mu depends on every "
             "x_j, which subtracts the channel's mean of dxhat (sum(dxhat) / m) before the step "
             "through inv_std"),
            (variant(var_sign=1), "the variance's term has the wrong sign: a larger x_j raises "
             "sigma^2, which shrinks every xhat_i, so that term is subtracted"),
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
                           ((dout * gamma.reshape(1, -1, 1, 1) * xhat).sum(axis=(0, 2, 3)),
                            "grads['gamma'] is multiplied by gamma: gamma multiplies xhat, so its "
                            "own gradient is sum(dout * xhat), without gamma"),
                           (dout.sum(axis=(0, 2, 3)), "that is dbeta: dgamma = sum(dout * xhat)")]),
                ("beta", [((dout * xhat).sum(axis=(0, 2, 3)), "that is dgamma: dbeta = sum(dout)"),
                          ((dout * gamma.reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3)),
                           "dbeta = sum(dout): beta is added as it is, not times gamma")])]:
            if key not in grads:
                raise ExerciseError(f"set self.grads['{key}'] in backward")
            _check_per_channel(f"grads['{key}']", grads[key], x)
            _zeros_first(f"grads['{key}']", grads[key], ref.grads[key], where,
                         f"store its gradient in self.grads['{key}'] (it starts as zeros)")
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


def _rmsprop_variant(params, grads_per_step, lr, rho, eps, kind, weight_decay=0.0):
    """The parameters after each of the RMSprop steps done with the typical mistake ``kind``: a
    list of dicts, one per step."""
    params = {name: p.copy() for name, p in params.items()}
    h = {name: np.zeros_like(p) for name, p in params.items()}
    after = []
    for t, grads in enumerate(grads_per_step, 1):
        for name, p in params.items():
            decays = name.rsplit(".", 1)[-1] == "W" or kind == "decay_all"
            g = grads[name] + (weight_decay * p if decays and kind != "no_decay" else 0)
            if kind == "adagrad":
                h[name] += g * g
            elif kind == "swapped":
                h[name] = (1 - rho) * h[name] + rho * g * g
            elif kind == "forget":
                h[name] = (1 - rho) * g * g
            else:
                h[name] = rho * h[name] + (1 - rho) * g * g
            root = h[name] if kind == "no_sqrt" else np.sqrt(h[name])
            if kind == "bias_corrected":
                root = np.sqrt(h[name] / (1 - rho ** t))
            step = lr * g / (root + eps)
            p += step if kind == "ascent" else -step
        after.append({name: p.copy() for name, p in params.items()})
    return after


def _steps(n):
    return f"{n} step" if n == 1 else f"{n} steps"


def check_rmsprop(cls):
    """Check an RMSprop class built as ``cls(lr=..., rho=..., eps=..., weight_decay=...)`` whose
    ``update(params, grads)`` changes the arrays of ``params`` in place: ``h = rho*h + (1-rho)*g**2``,
    ``p -= lr * g / (sqrt(h) + eps)``, one ``h`` per parameter kept between steps, ``g`` read
    through ``self.gradient`` (which adds the weight decay to weights)."""
    rng = np.random.default_rng(10)
    fixed = ({"w": np.array([1.0])}, [{"w": np.array([1.0])}] * 2, 0.01, 0.99, 1e-7, 0.0,
             "after {steps} on the fixed case p = 1, g = 1 at both steps, lr = 0.01, rho = 0.99 "
             "(h = 0.01, p = 0.9 after one step; h = 0.0199, p = 0.8291 after two)")
    shapes = {"fc.W": (3, 4), "fc.b": (4,)}
    start = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    steps = [{name: rng.standard_normal(shape) for name, shape in shapes.items()} for _ in range(4)]
    random = (start, steps, 0.05, 0.9, 1e-8, 0.0, "after {steps} on two random parameters 'fc.W' "
              "(3, 4) and 'fc.b' (4,), lr = 0.05, rho = 0.9")
    decayed = (start, steps, 0.05, 0.9, 1e-8, 0.5, "after {steps} on the same parameters with "
               "weight_decay = 0.5")
    messages = {"adagrad": "h only grows: that is AdaGrad. RMSprop forgets: its h is a running "
                           "mean that gives the new g**2 the weight 1 - rho",
                "swapped": "rho and 1 - rho are swapped: the running mean keeps rho of the old h "
                           "and adds 1 - rho of the new g**2",
                "forget": "h must be kept between steps, one per parameter (self.state['h'][name], "
                          "updated in place), not recomputed from the current gradient alone",
                "no_sqrt": "divide by the ROOT of the mean square, sqrt(h) + eps",
                "ascent": "the step goes against the gradient (p -= ...)",
                "bias_corrected": "h is divided by 1 - rho**t: that is Adam's bias correction; "
                                  "RMSprop uses its running mean as it is",
                "no_decay": "weight_decay is ignored: read each gradient with self.gradient(name, "
                            "p, grads), which adds weight_decay * p to the weights' gradients",
                "decay_all": "the bias decays too: only weights (names ending in '.W') decay; "
                             "self.gradient(name, p, grads) does that for you"}
    for params, grads_per_step, lr, rho, eps, decay, where in (fixed, random, decayed):
        opt = _call("RMSprop(...)", cls, lr=lr, rho=rho, eps=eps, weight_decay=decay,
                    signature="RMSprop(lr=..., rho=..., eps=..., weight_decay=...)")
        ref, expected = (RMSprop(lr=lr, rho=rho, eps=eps, weight_decay=decay),
                         {name: p.copy() for name, p in params.items()})
        mine = {name: p.copy() for name, p in params.items()}
        trail, first_wrong = [], None
        for step, grads in enumerate(grads_per_step, 1):
            before = {name: p.copy() for name, p in mine.items()}
            _call("RMSprop.update", opt.update, mine, {k: g.copy() for k, g in grads.items()})
            ref.update(expected, grads)
            if first_wrong is None and all(np.array_equal(mine[k], before[k]) for k in mine):
                raise ExerciseError(f"update left the parameters unchanged "
                                    f"{where.format(steps=_steps(step))}: change the arrays in "
                                    f"place (p -= ...); p = p - ... only rebinds a local name")
            trail.append({name: p.copy() for name, p in mine.items()})
            if first_wrong is None and not all(_close(mine[k], expected[k]) for k in mine):
                first_wrong = (step, {name: p.copy() for name, p in expected.items()})
        if first_wrong is None:
            continue
        # a mistake is named only when it explains every step (one step cannot tell AdaGrad
        # from Adam's bias correction, or a forgotten from a kept h)
        for kind, message in messages.items():
            wrong = _rmsprop_variant(params, grads_per_step, lr, rho, eps, kind, decay)
            if all(_close(got[k], w[k]) for got, w in zip(trail, wrong) for k in got):
                raise ExerciseError(f"{where.format(steps=_steps(len(trail)))}: {message}")
        step, right = first_wrong
        for name in trail[step - 1]:
            _zeros_first(f"the parameter {name!r}", trail[step - 1][name], right[name],
                         where.format(steps=_steps(step)), "change p by the step (p -= ...), "
                         "do not overwrite it")
            _compare(f"the parameter {name!r}", trail[step - 1][name], right[name],
                     where=where.format(steps=_steps(step)))
    _correct("RMSprop's steps match cnnlib's over two and four steps, one running mean of g**2 "
             "per parameter, weight decay on the weights only")
    return cls


# --- notebook 10: what the network sees --------------------------------------------------------


def _small_models():
    """A linear model on 1x4x4 images whose weights a learner can read, and a small float64
    conv net on 2x8x8 images; both built with ``input_grad=True``."""

    linear = Sequential(("fc", layers.Affine(16, 2, dtype=np.float64,
                                             rng=np.random.default_rng(0))), input_grad=True)
    linear.params["fc.W"][:] = np.stack([np.linspace(-1, 1, 16),
                                              0.3 + np.linspace(1, -1, 16) ** 3], 1)
    linear.params["fc.b"][:] = [0.5, -0.5]
    rng = np.random.default_rng(10)
    conv_net = Sequential(("conv", layers.Conv2D(2, 3, 3, pad=1, dtype=np.float64, rng=rng)),
                          ("relu", layers.ReLU()), ("pool", layers.MaxPool2D(2)),
                          ("fc", layers.Affine(48, 5, dtype=np.float64, rng=rng)), input_grad=True)
    conv_net.params["conv.b"][:] = [0.1, 0.0, -0.1]
    return linear, conv_net


def _loss_grad(model, x, y):
    model.loss(x, y)
    return model.backward()


def _images_unchanged(name, x, fn):
    """``fn(copy of x)``; raise if it changed the images it was given."""
    given = x.copy()
    result = fn(given)
    if not np.array_equal(given, x):
        raise ExerciseError(f"{name} changed x in place: compute new images (e.g. x + ...), the "
                            f"caller still needs the originals")
    return result


class _Watched:
    """A model as the learner's code sees it in notebook 10's checks: the same model, but a
    backward pass that does not follow a forward pass (or a loss call) of this call, or a
    ``dscores`` not shaped like the scores, is named instead of reading a stale cache or failing
    inside numpy."""

    def __init__(self, model):
        self._model, self._scores_shape, self._loss_called = model, None, False

    def __getattr__(self, name):
        return getattr(self._model, name)

    def forward(self, x):
        out = self._model.forward(x)
        self._scores_shape = out.shape
        return out

    def loss(self, x, y):
        value = self._model.loss(x, y)
        self._scores_shape, self._loss_called = self._model.last_scores.shape, True
        return value

    def backward_from_scores(self, dscores):
        if self._scores_shape is None:
            raise ExerciseError("run the forward pass on x first (scores = model.forward(x)): "
                                "backward uses what the last forward pass cached")
        if np.shape(dscores) != self._scores_shape:
            raise ExerciseError(f"dscores must be shaped like the scores (N, number of classes) "
                                f"= {self._scores_shape}, got {np.shape(dscores)}: build it from "
                                f"the scores, e.g. np.zeros_like(scores), not from a fixed number "
                                f"of classes")
        return self._model.backward_from_scores(dscores)

    def backward(self, dout=1.0):
        if not self._loss_called:
            raise ExerciseError("run model.loss(x, y) first: backward uses what the last loss "
                                "call cached (its probabilities and labels)")
        return self._model.backward(dout)


def _call_watched(what, fn, model, x, *args):
    """The learner's ``fn(model, x, *args)`` on a watched model and a copy of x. Another batch
    goes through the model first, so an answer that skips its own forward pass cannot borrow the
    cache of a previous call."""
    model.forward(np.ascontiguousarray(x[::-1]) * 0.5)
    return _images_unchanged(what, x, lambda v: _call(what, fn, _Watched(model), v, *args))


def _compare_case(name, got, expected, mistakes, case):
    """:func:`_compare`, with the description of the case at the end of the message."""
    try:
        _compare(name, got, expected, mistakes)
    except ExerciseError as err:
        raise ExerciseError(f"{err} (checked {case})") from None


def check_saliency(fn):
    """Exercise: ``fn(model, x, target) -> (N, H, W)``, ``max over channels of |d score / d x|``
    for each image's ``target`` class (the score before softmax). Returns ``fn``."""

    linear, conv_net = _small_models()
    rng = np.random.default_rng(11)
    x_linear = rng.random((3, 1, 4, 4))
    x_conv = rng.random((4, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1, 0]), "on a linear model, score = w . x + b, "
              "whose saliency for class c is |w_c|, the class's weights"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), "on a small conv net with 2 input "
              "channels, 4 images")]
    for model, x, target, case in cases:
        got = _call_watched("your saliency", fn, model, x, target.copy())   # the learner's first
        expected = saliency(model, x, target)
        if got is not None and np.shape(got) == x.shape:
            raise ExerciseError(f"your saliency map has the shape of x, {x.shape}: reduce the "
                                f"channel axis with .max(axis=1) to get one map (N, H, W) "
                                f"(checked {case})")
        grad = score_gradient(model, x, target)
        predicted = model.forward(x).argmax(axis=1)
        loss_grad = np.abs(_loss_grad(model, x, target)).max(axis=1)
        ones = model.backward_from_scores(np.ones_like(model.forward(x)))
        mistakes = [
            (grad.max(axis=1), "take the absolute value |d score / d x| (np.abs) before the max: "
             "a pixel that lowers the score matters as much as one that raises it"),
            (np.abs(grad.max(axis=1)), "take the absolute value FIRST, then the max over the "
             "channels: np.abs(grad).max(axis=1); the max of the signed gradient misses a channel "
             "whose gradient is large and negative"),
            (np.abs(grad[:, 0]), "that is channel 0 only: take the max of |gradient| over ALL "
             "channels (axis 1)"),
            (np.abs(grad).max(axis=1) / len(x), "dscores must be 1 at the target class, not 1/N: "
             "each map is the gradient of its image's own score, not of a batch mean"),
            (loss_grad, "that is the gradient of the LOSS; a saliency map uses the class SCORE: "
             "model.forward(x), then model.backward_from_scores(dscores) with dscores one-hot "
             "(1 at each image's target class)"),
            (loss_grad * len(x), "that is the gradient of the LOSS; a saliency map uses the class "
             "SCORE: backward_from_scores with a one-hot dscores"),
            (np.abs(ones).max(axis=1), "dscores must be one-hot: 1 at the target class only, 0 "
             "elsewhere (ones everywhere give the gradient of the SUM of all scores)"),
            (np.abs(grad).sum(axis=1), "take the MAX over the channel axis (axis 1), not the sum"),
            (np.abs(grad).mean(axis=1), "take the MAX over the channel axis (axis 1), not the "
             "mean")]
        if np.any(predicted != target):
            mistakes.append((np.abs(score_gradient(model, x, predicted)).max(axis=1),
                             "use the score of each image's TARGET class (the argument target), "
                             "not the predicted class"))
        _compare_case("your saliency map", got, expected, mistakes, case)
    # against the numerical gradient of the class score, for one image
    x, target = x_conv[:1].copy(), np.array([2])
    got = _call_watched("your saliency", fn, conv_net, x, target)
    numeric = numerical_gradient(lambda v: conv_net.forward(v)[0, 2], x.copy())
    _compare_case("your saliency map", got, np.abs(numeric).max(axis=1), (),
                  "against the numerical gradient of the class score")
    _correct("saliency = max over channels of |d score / d x|, as cnnlib and the numerical "
             "gradient")
    return fn


def check_fgsm(fn):
    """Exercise: ``fn(model, x, y, epsilon) -> clip(x + epsilon * sign(dL/dx), 0, 1)``, the
    fast gradient sign method with the softmax cross-entropy loss L of the labels y. Returns
    ``fn``."""

    linear, conv_net = _small_models()
    rng = np.random.default_rng(12)
    x_linear = np.full((2, 1, 4, 4), 0.5)
    x_linear[:, 0, 0] = [0.0, 1.0, 0.05, 0.95]          # pixels at or near the ends of [0, 1]
    x_conv = rng.random((4, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1]), 0.1,
              "on a linear model with two classes, where sign(dL/dx) = sign(w_other - w_true), "
              "epsilon = 0.1"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), 0.0, "with epsilon = 0: x must come back "
              "unchanged"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), 0.2, "on a small conv net, epsilon = 0.2")]
    for model, x, y, epsilon, case in cases:
        got = _call_watched("your fgsm", fn, model, x, y.copy(), epsilon)   # the learner's first
        expected = fgsm(model, x, y, epsilon)
        step = epsilon * np.sign(_loss_grad(model, x, y))
        score = np.sign(score_gradient(model, x, y))
        mistakes = [
            (np.clip(x - step, 0, 1), "you moved DOWN the loss (x - epsilon * sign): an attack "
             "ADDS epsilon * sign(dL/dx), so that the loss grows"),
            (x + step, "clip the result to [0, 1] (np.clip): pixels must stay valid intensities"),
            (np.minimum(x + step, 1), "clip at 0 as well as at 1, np.clip(..., 0, 1): a pixel "
             "cannot be darker than black"),
            (np.maximum(x + step, 0), "clip at 1 as well as at 0, np.clip(..., 0, 1): a pixel "
             "cannot be brighter than white"),
            (step, "return the adversarial IMAGES x + epsilon * sign(dL/dx) (clipped), not the "
             "perturbation alone"),
            (np.clip(step, 0, 1), "return the adversarial IMAGES, clip(x + epsilon * "
             "sign(dL/dx), 0, 1), not the clipped perturbation alone"),
            (np.clip(x + epsilon * _loss_grad(model, x, y), 0, 1), "use the SIGN of the "
             "gradient (np.sign): every pixel moves by exactly epsilon"),
            (np.clip(x + epsilon * score, 0, 1), "that follows the gradient of the true class's "
             "SCORE, which makes the class MORE likely; use the gradient of the LOSS: "
             "model.loss(x, y), then model.backward()"),
            (np.clip(x - epsilon * score, 0, 1), "that follows minus the gradient of the true "
             "class's score; FGSM uses the gradient of the LOSS, which also pushes the other "
             "classes up: model.loss(x, y), then model.backward()"),
            (x, "the images came back unchanged: add epsilon * sign(dL/dx)")]
        if epsilon == 0:
            mistakes = []
        _compare_case("your fgsm's result", got, expected, mistakes, case)
    _correct("fgsm = clip(x + epsilon * sign(dL/dx), 0, 1), as cnnlib")
    return fn


def _signed_steps(model, x, labels, epsilon, step, steps, *, sign=-1, project=True):
    """``steps`` steps ``x_k + sign * step * sign(dL(x_k, labels)/dx)``, each clipped to [0, 1]
    and, with ``project``, to the pixels within ``epsilon`` of x: the reference and its typical
    mistakes."""
    adversarial = x.copy()
    for _ in range(steps):
        adversarial = adversarial + sign * step * np.sign(_loss_grad(model, adversarial, labels))
        if project:
            adversarial = np.clip(adversarial, x - epsilon, x + epsilon)
        adversarial = np.clip(adversarial, 0, 1)
    return adversarial


def check_targeted_attack(fn):
    """Exercise: ``fn(model, x, target, epsilon, step, steps)`` -> images within ``epsilon`` of x
    (max norm), in [0, 1], that the model reads as ``target``: ``steps`` signed-gradient steps
    down the loss of the target class, each projected back onto the epsilon-ball and [0, 1].
    Any schedule that reaches the target within the constraints passes. Returns ``fn``."""
    _, conv_net = _small_models()
    x = np.random.default_rng(13).random((6, 2, 8, 8))
    predicted = conv_net.forward(x).argmax(axis=1)
    target = (predicted + np.array([1, 2, 3, 4, 1, 2])) % 5
    epsilon, step, steps = 0.3, 0.05, 10
    case = (f"on a small conv net with 5 classes, 6 images, epsilon = {epsilon}, step = {step}, "
            f"steps = {steps}")
    got = _call_watched("your attack", fn, conv_net, x, target.copy(), epsilon, step, steps)
    expected = _signed_steps(conv_net, x, target, epsilon, step, steps)
    mistakes = [
        (_signed_steps(conv_net, x, target, epsilon, step, steps, project=False), "project back "
         "onto the epsilon-ball after each step, np.clip(x_adv, x - epsilon, x + epsilon): "
         "without it the steps add up to more than epsilon"),
        (_signed_steps(conv_net, x, target, epsilon, step, steps, sign=1), "you ascended the "
         "loss of the TARGET class, which makes it LESS likely: a targeted attack DESCENDS it, "
         "x_adv - step * sign(dL(x_adv, target)/dx)"),
        (_signed_steps(conv_net, x, predicted, epsilon, step, steps, sign=1), "that is an "
         "untargeted attack (up the loss of the class the model reads now); go DOWN the loss of "
         "the target labels: model.loss(x_adv, target)"),
        (np.clip(x - epsilon * np.sign(_loss_grad(conv_net, x, target)), 0, 1), "that is one "
         "step of size epsilon; take `steps` steps of size `step`, projecting after each"),
        (x, "the images came back unchanged: take `steps` steps of size `step`")]
    if got is None or np.shape(got) != x.shape:
        _compare_case("your attack's result", got, expected, (), case)
    if not np.any(got):
        raise ExerciseError(f"your attack's result is all zeros: return the adversarial images, "
                            f"which start from x (checked {case})")
    for wrong, message in mistakes:
        if _close(got, wrong) and not _close(got, expected):
            raise ExerciseError(f"your attack: {message} (checked {case})")
    got = np.asarray(got, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise ExerciseError(f"your attack's result holds nan or inf (checked {case})")
    if got.min() < 0 or got.max() > 1:
        raise ExerciseError(f"your attack's pixels run from {got.min():.3g} to {got.max():.3g}: "
                            f"clip them to [0, 1] after each step (checked {case})")
    largest = np.abs(got - x).max()
    if largest > epsilon + 1e-9:
        raise ExerciseError(f"a pixel moved by {largest:.3g}, more than epsilon: project back "
                            f"onto the epsilon-ball after each step, np.clip(x_adv, x - epsilon, "
                            f"x + epsilon) (checked {case})")
    read = conv_net.forward(got).argmax(axis=1)
    missed = np.flatnonzero(read != target)
    if missed.size:
        raise ExerciseError(f"images {missed.tolist()} are read as {read[missed].tolist()}, not "
                            f"as their targets {target[missed].tolist()}: each step should go "
                            f"DOWN the loss of the target labels, x_adv - step * "
                            f"sign(dL(x_adv, target)/dx) (checked {case})")
    _correct(f"the attack moved every image to its target class within epsilon = {epsilon}")
    return fn


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


def _worked_only_note(lines):
    """The note that replaces a ``# WORKED EDITION ONLY: <what>`` cell: it says what the cell
    shows and, for a cell of at most three lines, quotes them, so the learner can run them once
    the check passes."""
    what = lines[0][len(WORKED_ONLY):].lstrip(" :") or "cnnlib's own code"
    code = [line for line in lines[1:] if line.strip()]
    note = f"*(The worked edition shows {what} here; it would give an answer away."
    if not code or len(code) > 3:
        return textwrap.fill(f"{note} Look at it in `notebooks/` once your check passes.)*", 100)
    return (textwrap.fill(f"{note} Once your check passes, see it by running this in a new "
                          "cell:)*", 100) + "\n\n```python\n" + "\n".join(code) + "\n```")


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
                cells.append(type(cell)(cell_type="markdown", id=cell.get("id"), metadata={},
                                        source=_worked_only_note(lines)))
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
