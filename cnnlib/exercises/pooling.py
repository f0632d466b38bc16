"""Checkers of the pooling exercises (notebook 06): max pooling forward and backward by loops,
the fraction of inputs that receive gradient, average pooling as a convolution.
"""

import sys

import numpy as np

from .. import conv, pool
from ..gradcheck import numerical_gradient
from .diagnosis import (
    ExerciseError,
    call,
    caller_unchanged,
    compare,
    copy_checked,
    correct,
    keeps_float32,
    learners_line,
)

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


_NO_STRIDE = ("window (i, j) starts at row i*stride, column j*stride; yours moved by one pixel "
              "at a time: look at the slice that cuts the window out of x")


def _call(what, fn, args, names, signature):
    """``call`` of the learner's ``fn``; the arrays among ``args`` (called ``names``, in order)
    must come back unchanged, in values and in shape."""
    given = [(name, arg, arg.copy()) for name, arg in zip(names, args)
             if isinstance(arg, np.ndarray)]
    try:
        result = call(what, fn, *args, signature=signature)
    except ExerciseError:
        raise
    except Exception as err:
        raise ExerciseError(f"{what} raised {type(err).__name__}: {str(err).strip()}"
                            f"{learners_line(err)}")\
            from None
    for name, arg, before in given:
        caller_unchanged(name, arg, before, who=what)
    return result


def _unstrided_windows(x, size, stride):
    """The window origins ``(i, j)`` and slices of the typical mistake that forgets the stride in
    the slice: window (i, j) read at row i, column j."""
    stride = stride or size
    oh, ow = (conv.conv_output_size(side, size, stride) for side in x.shape[2:])
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
                dx[n, c, rows, cols] += dout[n, c, i, j] * pool.first_max(x[n, c, rows, cols])
    return dx


def check_max_pool_forward(fn):
    """Check ``fn(x, size=2, stride=None) -> out (N, C, OH, OW)``, max pooling by loops."""
    for x, size, stride, where in _pool_cases():
        got = _call("your max_pool_forward", fn, (x.copy(), size, stride), ("x",),
                    "max_pool_forward(x, size, stride)")
        avg = pool.avg_pool2d_forward_naive(x, size, stride)
        compare("out", got, pool.max_pool2d_forward_naive(x, size, stride),
                [(avg, "that is the window's MEAN: max pooling takes its maximum"),
                 (_unstrided_forward(x, size, stride), _NO_STRIDE)], where)
    x, size, stride, _ = _pool_cases()[2]
    got = _call("your max_pool_forward", fn, (x.astype(np.float32), size, stride), ("x",),
                "max_pool_forward(x, size, stride)")
    keeps_float32("your max_pool_forward's out", got, "for a float32 x",
                  expected=pool.max_pool2d_forward_naive(x, size, stride))
    correct("max pooling forward matches cnnlib (fixed case, channels, stride, overlap)")


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


def _column_first_max(dout, x, size, stride):
    def first_down_the_columns(window):
        grad = np.zeros_like(window)
        column, row = np.unravel_index(np.argmax(window.T), window.T.shape)
        grad[row, column] = 1
        return grad
    return pool.pool2d_backward_naive(dout, x, first_down_the_columns, size, stride)


def check_max_pool_backward(fn):
    """Check ``fn(dout, x, size=2, stride=None) -> dx``: each dout to its window's FIRST maximum."""
    rng = np.random.default_rng(7)
    tie = np.array([[2, 2, 0, 3], [1, 0, 3, 1], [5, 1, 4, 4], [5, 5, 4, 4]],
                   dtype=np.float64).reshape(1, 1, 4, 4)
    cases = [*_pool_cases(), (tie, 2, None, "on [[2, 2, 0, 3], [1, 0, 3, 1], [5, 1, 4, 4], "
                              "[5, 5, 4, 4]], whose windows hold tied maxima")]
    for x, size, stride, where in cases:
        out = pool.max_pool2d_forward_naive(x, size, stride)
        dout = (np.arange(1, out.size + 1, dtype=np.float64) * 10).reshape(out.shape)
        if x is not POOL_X and x is not tie:
            dout = rng.standard_normal(out.shape)
        got = copy_checked("your max_pool_backward", dout,
                           lambda d, x=x, size=size, stride=stride: _call(
                               "your max_pool_backward", fn, (d, x.copy(), size, stride),
                               ("dout", "x"), "max_pool_backward(dout, x, size, stride)"))
        expected = pool.max_pool2d_backward_naive(dout, x, size, stride)
        compare("dx", got, expected, [
           (_all_max(dout, x, size, stride), "tie rule: a window with several equal maxima "
            "sends its gradient only to the FIRST one in row-major order (np.argmax), not to "
            "every one"),
           (_last_max(dout, x, size, stride), "tie rule: send the gradient to the FIRST "
            "maximum in row-major order; yours went to a later one"),
           (_column_first_max(dout, x, size, stride), "tie rule: the FIRST maximum in row-major "
            "order, along the window's first row, then its second...; yours took the first one "
            "down the columns"),
           (pool.avg_pool2d_backward_naive(dout, x, size, stride), "that spreads dout over the "
            "window (average pooling): max pooling routes it to the maximum only"),
           (pool.max_pool2d_backward_naive(np.ones_like(dout), x, size, stride),
            "multiply by dout: each window's maximum receives that window's dout"),
           *[(_overwrite(dout, x, size, stride, whole), "where windows overlap, the "
              "gradients ADD up: an input that wins two windows gets both; yours kept one")
             for whole in (True, False)],
           (_unstrided_backward(dout, x, size, stride), _NO_STRIDE),
           *[(_misplaced(dout, x, size, stride, how), message) for how, message in (
               ("origin", "the maximum's row and column inside the window are offsets: add the "
                "window's first row i*stride and first column j*stride to place it in x"),
               ("swapped", "the row and the column of the maximum are swapped: np.unravel_index "
                "gives (row, column) in that order"))]], where)
    x = rng.standard_normal((1, 2, 4, 6))
    dout = rng.standard_normal((1, 2, 2, 3))
    numeric = numerical_gradient(
        lambda v: np.sum(pool.max_pool2d_forward_naive(v) * dout), x.copy())
    compare("dx", _call("your max_pool_backward", fn, (dout, x.copy(), 2, None), ("dout", "x"),
                        "max_pool_backward(dout, x, size, stride)"), numeric,
            where="against the numerical gradient")
    got = _call("your max_pool_backward", fn, (dout.astype(np.float32), x.astype(np.float32), 2,
                None), ("dout", "x"), "max_pool_backward(dout, x, size, stride)")
    keeps_float32("your max_pool_backward's dx", got, "for a float32 x",
                  expected=pool.max_pool2d_backward_naive(dout, x))
    correct("max pooling backward routes dout to the first maximum, adds overlaps, as cnnlib")


def _misplaced(dout, x, size, stride, how):
    """The typical mistakes placing a window's maximum, found at (r, q) inside the window, in dx:
    at (r, q) of x (``how="origin"``: the window's origin left out), or at column r, row q
    (``"swapped"``); overlapping gradients added."""
    stride = stride or size
    dx = np.zeros_like(x)
    height, width = x.shape[2:]
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
        r, q = np.unravel_index(np.argmax(window), window.shape)
        row, col = (r, q) if how == "origin" else (i * stride + q, j * stride + r)
        if row < height and col < width:
            dx[n, c, row, col] += dout[n, c, i, j]
    return dx


def _overwrite(dout, x, size, stride, whole):
    """The typical mistake with overlapping windows: ``dx[window] = ...`` instead of ``+=``
    (``whole``: the whole window is assigned, else only its maximum)."""
    stride = stride or size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = (n, c, slice(i * stride, i * stride + size), slice(j * stride, j * stride + size))
        keep = 0 if whole else dx[window]
        dx[window] = np.where(pool.first_max(x[window]) > 0, dout[n, c, i, j], keep)
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
        got = _call("your routed_fraction", fn, (x.copy(), size, stride), ("x",),
                    "routed_fraction(x, size, stride)")
        where = f"for {size}x{size} windows, stride {stride}, x of shape {shape}"
        windows = out.size / x.size          # the sum (or mean) of dx: one per window
        routed = pool.max_pool2d_backward(np.ones_like(out), cache)
        once = np.count_nonzero(routed == 1) / x.size
        out_default, cache_default = pool.max_pool2d_forward(x)
        default = np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out_default),
                                                             cache_default)) / x.size
        compare("the fraction", got, expected,
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
                 (100 * expected, "give a fraction between 0 and 1, not a percentage"),
                 *([(default, "pass size and stride on to the pooling: yours pooled with its "
                     "defaults, 2x2 windows at stride 2")] if (size, stride) != (2, 2) else []),
                 *([(once, "an input that wins several overlapping windows receives more than "
                     "1 from a backward pass of ones: count every input that receives gradient, "
                     "not those that received exactly 1")] if once != expected else [])], where)
    correct("the routed fraction for tiling and for overlapping windows")


def _pooling_spied(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), whether it ran cnnlib's pooling)``: a profile hook watches the calls
    made meanwhile for one of a function whose code lives in cnnlib/pool.py (where cnnlib's naive
    and fast pooling and the pooling layers' functions are); nothing of cnnlib is replaced."""
    pooled = []

    def watch(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == pool.__file__:
            pooled.append(frame.f_code.co_name)
    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return result, bool(pooled)


def check_avg_pool_as_conv(fn):
    """Check ``fn(x) -> out``: 2x2 average pooling, stride 2, of a one-channel x as a
    convolution (calling cnnlib's pooling functions is rejected)."""
    rng = np.random.default_rng(9)
    for x, where in [(POOL_X, "on the 4x4 example"),
                     (rng.standard_normal((3, 1, 6, 8)), "on a random (3, 1, 6, 8) batch")]:
        got, pooled = _pooling_spied(_call, "your avg_pool_as_conv", fn, (x.copy(),), ("x",),
                                     "avg_pool_as_conv(x)")
        if pooled:
            raise ExerciseError("avg_pool_as_conv called cnnlib's pooling (avg_pool2d_forward_"
                                "naive or the like): compute it with conv2d_forward_naive and a "
                                "constant filter instead, that is the exercise")
        expected = pool.avg_pool2d_forward_naive(x)
        ones = conv.conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.zeros(1), stride=2)
        compare("out", got, expected, [(ones, "the filter's weights must average: 1/4 each, "
                                        "not 1")], where)
    got, _ = _pooling_spied(_call, "your avg_pool_as_conv", fn, (x.astype(np.float32),), ("x",),
                            "avg_pool_as_conv(x)")
    keeps_float32("your avg_pool_as_conv's out", got, "for a float32 x",
                  expected=pool.avg_pool2d_forward_naive(x))
    correct("2x2 average pooling written as a convolution")
