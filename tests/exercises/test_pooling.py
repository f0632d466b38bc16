"""The checkers of the pooling exercises (cnnlib.exercises.pooling) accept right answers (written
independently of cnnlib where the exercise allows) and name each typical mistake."""

import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib import conv, exercises, layers, pool
from cnnlib.exercises import ExerciseError

from .helpers import checker_tests, stub


def pool_backward(local_grad, *, overwrite=False):
    def backward(dout, x, size=2, stride=None):
        stride = stride or size
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(dout.shape):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            grad = dout[n, c, i, j] * local_grad(x[n, c, rows, cols])
            if overwrite:
                dx[n, c, rows, cols] = grad
            else:
                dx[n, c, rows, cols] += grad
        return dx
    return backward


def first_max(window):
    grad = np.zeros_like(window)
    grad[np.unravel_index(np.argmax(window), window.shape)] = 1
    return grad


def last_max(window):
    grad = np.zeros_like(window)
    flat = window.ravel()
    grad.flat[flat.size - 1 - np.argmax(flat[::-1])] = 1
    return grad


def routed(x, size, stride):
    out, cache = pool.max_pool2d_forward(x, size, stride)
    return np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out), cache)) / x.size


def avg_conv(weight):
    return lambda x: conv.conv2d_forward_naive(x, np.full((1, 1, 2, 2), weight), np.zeros(1),
                                               stride=2)


def unstrided_pool_forward(x, size=2, stride=None):
    stride = stride or size
    out = pool.max_pool2d_forward_naive(x, size, stride).copy()
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = x[n, c, i:i + size, j:j + size].max()
    return out


def unstrided_pool_backward(dout, x, size=2, stride=None):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        dx[n, c, i:i + size, j:j + size] += dout[n, c, i, j] * first_max(
            x[n, c, i:i + size, j:j + size])
    return dx


def routed_dx(x, size, stride):
    out, cache = pool.max_pool2d_forward(x, size, stride)
    return out, pool.max_pool2d_backward(np.ones_like(out), cache)


# --- right answers written with sliding windows and np.add.at, not cnnlib's loops ------------------

def windows_of(x, size, stride):
    """``(N, C, OH, OW, size * size)``: every window of x, flattened in row-major order."""
    stride = stride or size
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.reshape(*windows.shape[:4], size * size)


def max_pool_by_windows(x, size=2, stride=None):
    return windows_of(x, size, stride).max(axis=-1)


def max_pool_backward_by_scatter(dout, x, size=2, stride=None):
    """Each dout to its window's first maximum (np.argmax picks the first), added with np.add.at."""
    stride = stride or size
    first = windows_of(x, size, stride).argmax(axis=-1)
    n, c, i, j = np.indices(dout.shape)
    dx = np.zeros_like(x)
    np.add.at(dx, (n, c, i * stride + first // size, j * stride + first % size), dout)
    return dx


def routed_by_scatter(x, size, stride):
    ones = np.ones_like(max_pool_by_windows(x, size, stride))
    return np.count_nonzero(max_pool_backward_by_scatter(ones, x, size, stride)) / x.size


REFERENCES = [
    (exercises.check_max_pool_forward, pool.max_pool2d_forward_naive),
    (exercises.check_max_pool_backward, pool.max_pool2d_backward_naive),
    (exercises.check_routed_fraction, routed),
    (exercises.check_avg_pool_as_conv, avg_conv(0.25)),
    (exercises.check_max_pool_forward, max_pool_by_windows),
    (exercises.check_max_pool_backward, max_pool_backward_by_scatter),
    (exercises.check_routed_fraction, routed_by_scatter),
]


RETURN_THE_FUNCTION = set()


WRONG = [
    (exercises.check_max_pool_forward, stub, "your max_pool_forward is not written yet"),
    (exercises.check_max_pool_forward, lambda x, s=2, st=None: 0 * pool.max_pool2d_forward(
        x, s, st)[0], "is all zeros"),
    (exercises.check_max_pool_forward, pool.avg_pool2d_forward_naive, "that is the window's MEAN"),
    (exercises.check_max_pool_forward, lambda x, s=2, st=None: pool.max_pool2d_forward_naive(
        x, s, s), "wrong shape with 3x3 windows, stride 2, on 7x5: expected (1, 2, 3, 2), got "
     "(1, 2, 2, 1)"),
    (exercises.check_max_pool_forward, lambda x, s=2, st=None: pool.max_pool2d_forward_naive(
        x, s, st).transpose(0, 1, 3, 2), "out on a random (2, 3, 6, 6) batch is transposed"),
    (exercises.check_max_pool_backward, stub, "your max_pool_backward is not written yet"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: np.zeros_like(x),
     "is all zeros"),
    (exercises.check_max_pool_backward, pool_backward(lambda w: (w == w.max()) * 1.0),
     "tie rule: a window with several equal maxima sends its gradient only to the FIRST one"),
    (exercises.check_max_pool_backward, pool_backward(last_max),
     "tie rule: send the gradient to the FIRST maximum in row-major order; yours went to a later"),
    (exercises.check_max_pool_backward, pool_backward(first_max, overwrite=True),
     "where windows overlap, ADD the gradients"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: pool.avg_pool2d_backward_naive(
        d, x, s, st), "that spreads dout over the window (average pooling)"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: pool.max_pool2d_backward_naive(
        np.ones_like(d), x, s, st), "multiply by dout"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: pool.max_pool2d_backward_naive(
        d, x, s, st).sum(axis=0), "dx has the wrong shape"),
    (exercises.check_routed_fraction, stub, "not written yet"),
    (exercises.check_routed_fraction, lambda x, s, st: 0.0, "is all zeros"),
    (exercises.check_routed_fraction, lambda x, s, st: 0.25,
     "the fraction is wrong for 3x3 windows, stride 3"),
    (exercises.check_routed_fraction, lambda x, s, st: 1 / s ** 2,
     "1/size**2 holds only when windows tile the input"),
    (exercises.check_avg_pool_as_conv, stub, "not written yet"),
    (exercises.check_avg_pool_as_conv, avg_conv(0.0), "is all zeros"),
    (exercises.check_avg_pool_as_conv, avg_conv(1.0), "1/4 each, not 1"),
    (exercises.check_avg_pool_as_conv, lambda x: avg_conv(0.25)(x).transpose(0, 1, 3, 2),
     "out on the 4x4 example is transposed"),
    (exercises.check_max_pool_backward, lambda dout, x: np.zeros_like(x),
     "the check calls max_pool_backward(dout, x, size, stride), and Python said"),
    (exercises.check_routed_fraction, lambda x: 0.25, "routed_fraction(x, size, stride)"),
    (exercises.check_max_pool_forward, unstrided_pool_forward,
     "out on the 4x4 example of section 1 (2x2 windows): window (i, j) starts at row i*stride, "
     "column j*stride"),
    (exercises.check_max_pool_backward, unstrided_pool_backward,
     "dx on the 4x4 example of section 1 (2x2 windows): window (i, j) starts at row i*stride"),
    (exercises.check_routed_fraction, lambda x, s, st: routed_dx(x, s, st)[1].sum() / x.size,
     "for 2x2 windows, stride 1, x of shape (2, 2, 6, 6): that counts windows, not inputs (the "
     "sum or mean of dx): an input that wins two windows is counted twice"),
    (exercises.check_routed_fraction, lambda x, s, st: routed_dx(x, s, st)[1].mean(),
     "an input that wins two windows is counted twice; count the nonzero entries"),
    (exercises.check_routed_fraction,
     lambda x, s, st: np.count_nonzero(routed_dx(x, s, st)[1]) / routed_dx(x, s, st)[0].size,
     "divide by x.size, the number of inputs, not by out.size"),
    (exercises.check_routed_fraction, lambda x, s, st: np.count_nonzero(routed_dx(x, s, st)[1]),
     "that is a count: divide it by x.size"),
    (exercises.check_routed_fraction, lambda x, s, st: 100 * routed(x, s, st),
     "give a fraction between 0 and 1, not a percentage"),
    (exercises.check_avg_pool_as_conv, lambda x: pool.avg_pool2d_forward_naive(x),
     "avg_pool_as_conv called cnnlib's pooling"),
    (exercises.check_avg_pool_as_conv, lambda x: pool.avg_pool2d_forward(x)[0],
     "compute it with conv2d_forward_naive and a constant filter"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)


@pytest.mark.parametrize("answer, message", [
    (lambda x: layers.AvgPool2D(2).forward(x), "called cnnlib's pooling"),
    (stub, "not written yet"),
])
def test_avg_pool_as_conv_watches_the_learner_without_patching_cnnlib(answer, message):
    functions = {name: value for name, value in vars(pool).items() if callable(value)}
    calls = []

    def profiler(frame, event, arg):          # a profiler that was running before the check
        calls.append(event)
    sys.setprofile(profiler)
    try:
        with pytest.raises(ExerciseError, match=message):
            exercises.check_avg_pool_as_conv(answer)
        assert sys.getprofile() is profiler
    finally:
        sys.setprofile(None)
    assert {name: value for name, value in vars(pool).items() if callable(value)} == functions
