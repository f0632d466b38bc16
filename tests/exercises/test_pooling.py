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


# --- right answers written with sliding windows and np.add.at, not cnnlib's loops -------------

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


def max_pool_loops(x, size=2, stride=None):
    stride = stride or size
    oh, ow = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    out = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size].max()
    return out


def max_pool_by_offsets(x, size=2, stride=None):
    """np.maximum over the size * size strided slices, one per offset in the window."""
    stride = stride or size
    oh, ow = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    out = None
    for u in range(size):
        for v in range(size):
            part = x[:, :, u:u + stride * (oh - 1) + 1:stride, v:v + stride * (ow - 1) + 1:stride]
            out = part.copy() if out is None else np.maximum(out, part)
    return out


def max_pool_backward_loops(dout, x, size=2, stride=None):
    stride = stride or size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
        r, s = divmod(int(np.argmax(window)), size)
        dx[n, c, i * stride + r, j * stride + s] += dout[n, c, i, j]
    return dx


def max_pool_backward_by_offsets(dout, x, size=2, stride=None):
    """Each offset claims the windows whose max it holds and that no earlier offset claimed."""
    stride = stride or size
    oh, ow = dout.shape[2:]
    top = max_pool_by_offsets(x, size, stride)
    claimed = np.zeros(dout.shape, dtype=bool)
    dx = np.zeros_like(x)
    for u in range(size):
        for v in range(size):
            rows, cols = slice(u, u + stride * (oh - 1) + 1, stride), slice(v, v + stride * (ow - 1)
                                                                            + 1, stride)
            wins = (x[:, :, rows, cols] == top) & ~claimed
            claimed |= wins
            dx[:, :, rows, cols] += np.where(wins, dout, 0)
    return dx


def routed_by_loops(x, size, stride):
    ones = np.ones_like(max_pool_loops(x, size, stride))
    return np.count_nonzero(max_pool_backward_loops(ones, x, size, stride)) / x.size


def routed_by_winners(x, size, stride):
    """The set of distinct (n, c, row, column) positions of the windows' first maxima."""
    first = windows_of(x, size, stride).argmax(axis=-1)
    n, c, i, j = np.indices(first.shape)
    winners = {(a, b, i0 * stride + f // size, j0 * stride + f % size)
               for a, b, i0, j0, f in zip(n.ravel(), c.ravel(), i.ravel(), j.ravel(),
                                          first.ravel())}
    return len(winners) / x.size


def avg_by_ones(x):
    return conv.conv2d_forward_naive(x, np.ones((1, 1, 2, 2), x.dtype) / 4, np.zeros(1, x.dtype),
                                     stride=2)


def avg_by_full(x):
    return conv.conv2d_forward_naive(x, np.full((1, 1, 2, 2), 0.25, dtype=x.dtype),
                                     np.zeros(1, dtype=x.dtype), 2, 0)


def avg_by_halves(x):
    half = np.asarray(0.5, dtype=x.dtype)
    w = (np.full((2, 1), half) @ np.full((1, 2), half)).reshape(1, 1, 2, 2)
    return conv.conv2d_forward_naive(x, w, np.zeros(1, dtype=x.dtype), stride=2)


def max_pool_upcasting(x, size=2, stride=None):
    return max_pool_loops(x.astype(np.float64), size, stride)


def pool_flattening_x(x, size=2, stride=None):
    out = max_pool_loops(x, size, stride)
    x.shape = (x.size,)                      # reshapes the caller's array
    return out


def backward_writing_into_dout(dout, x, size=2, stride=None):
    dx = max_pool_backward_loops(dout, x, size, stride)
    dout[...] = 0
    return dx



# --- mistakes found by a learner trial (s7) -------------------------------------------------------

def max_pool_into_integers(x, size=2, stride=None):
    return max_pool_loops(x, size, stride).astype(int)


def max_pool_backward_placing(how):
    def backward(dout, x, size=2, stride=None):
        stride = stride or size
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(dout.shape):
            window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
            r, q = np.unravel_index(np.argmax(window), window.shape)
            if how == "no origin":
                dx[n, c, r, q] += dout[n, c, i, j]
            else:                                      # row and column swapped
                dx[n, c, i * stride + q, j * stride + r] += dout[n, c, i, j]
        return dx
    return backward


def max_pool_backward_out_of_bounds(dout, x, size=2, stride=None):
    stride = stride or size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
        r, q = divmod(int(np.argmax(window)), size + 1)          # divides by the wrong width
        dx[n, c, i * stride + r, j * stride + q] += dout[n, c, i, j]
    return dx


def max_pool_backward_down_the_columns(dout, x, size=2, stride=None):
    stride = stride or size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
        q, r = np.unravel_index(np.argmax(window.T), window.T.shape)
        dx[n, c, i * stride + r, j * stride + q] += dout[n, c, i, j]
    return dx


def routed_with_defaults(x, size, stride):
    out, cache = pool.max_pool2d_forward(x)
    return np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out), cache)) / x.size


def routed_exactly_once(x, size, stride):
    out, cache = pool.max_pool2d_forward(x, size, stride)
    return np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out), cache) == 1) / x.size


REFERENCES = [
    (exercises.check_max_pool_forward, max_pool_loops),
    (exercises.check_max_pool_forward, max_pool_by_windows),
    (exercises.check_max_pool_forward, max_pool_by_offsets),
    (exercises.check_max_pool_backward, max_pool_backward_loops),
    (exercises.check_max_pool_backward, max_pool_backward_by_scatter),
    (exercises.check_max_pool_backward, max_pool_backward_by_offsets),
    (exercises.check_routed_fraction, routed_by_loops),
    (exercises.check_routed_fraction, routed_by_scatter),
    (exercises.check_routed_fraction, routed_by_winners),
    (exercises.check_avg_pool_as_conv, avg_by_ones),
    (exercises.check_avg_pool_as_conv, avg_by_full),
    (exercises.check_avg_pool_as_conv, avg_by_halves),
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
     "where windows overlap, the gradients ADD up"),
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
    (exercises.check_max_pool_forward, max_pool_upcasting, "your max_pool_forward's out "
     "for a float32 x is float64, not float32, for float32 inputs"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: max_pool_backward_loops(
        d, x.astype(float), s, st), "your max_pool_backward's dx for a float32 x is float64"),
    (exercises.check_avg_pool_as_conv, avg_conv(0.25), "your avg_pool_as_conv's out for a "
     "float32 x is float64"),
    (exercises.check_max_pool_backward, backward_writing_into_dout, "your max_pool_backward "
     "changed dout in place ("),
    (exercises.check_max_pool_forward, pool_flattening_x, "your max_pool_forward changed the "
     "shape of x: it should stay (1, 1, 4, 4), it came back (16,)"),
    (exercises.check_max_pool_forward, max_pool_into_integers, "holds whole numbers only"),
    (exercises.check_max_pool_backward, max_pool_backward_placing("no origin"), "add the window's "
     "first row i*stride and first column j*stride"),
    (exercises.check_max_pool_backward, max_pool_backward_placing("swapped"), "the row and the "
     "column of the maximum are swapped"),
    (exercises.check_routed_fraction, routed_with_defaults, "pass size and stride on to the "
     "pooling"),
    (exercises.check_routed_fraction, routed_exactly_once, "not those that received exactly 1"),
    (exercises.check_max_pool_backward, max_pool_backward_down_the_columns, "yours took the first "
     "one down the columns"),
    (exercises.check_max_pool_backward, max_pool_backward_out_of_bounds, "your max_pool_backward "
     "raised IndexError: index 4 is out of bounds for axis 3 with size 4 (at your line: `dx[n, c, "
     "i * stride + r, j * stride + q] += dout[n, c, i, j]`)"),
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
