"""Checkers of the convolution exercises, forward (notebook 04: loops, im2col, one product, a
blur filter) and backward (notebook 05: loops, col2im, dW by im2col).
"""

import contextlib

import numpy as np

from .. import conv
from ..gradcheck import numerical_gradient
from .diagnosis import (
    ExerciseError,
    call,
    caller_unchanged,
    close,
    compare,
    copy_checked,
    correct,
    keeps_float32,
    learners_line,
)

CONV_X = np.array([[1, 2, 3, 0],
                   [4, 5, 6, 1],
                   [7, 8, 9, 2],
                   [0, 1, 2, 3]], dtype=np.float64).reshape(1, 1, 4, 4)


CONV_W = np.array([[1, 0], [0, -1]], dtype=np.float64).reshape(1, 1, 2, 2)


_EVERY_SIDE = "pad the same number of zeros, pad, on EVERY side: top and bottom, left and right"


_CHANNELS = ("sum over the input channels too: each output adds the products of all C slices of "
             "w[f] with the window")


_PAD_ALL = ("np.pad also padded the batch and channel axes: look at the widths you hand np.pad, "
            "one (before, after) pair per axis of (N, C, H, W); only H and W get zeros")


_PAD_PAIRS = ("np.pad takes one (before, after) pair per axis of x, four for (N, C, H, W); yours "
              "gave fewer: look at the widths you hand np.pad")


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


_RAGGED = ("the windows you collected do not all have one shape, so numpy cannot stack them "
           "into one matrix (its 'inhomogeneous shape' error): windows near the border came out "
           "smaller than KH x KW. Look at where they are cut: with pad > 0 they must be cut from "
           "the PADDED x, which has room for every window")


def _run(what, fn, where, *args, names=()):
    """``(fn(*args), np.pad calls)`` for the learner's ``fn``. An error raised inside it becomes an
    ExerciseError naming the case (``where``), the error and, if np.pad was misused, that
    mistake. The arrays among ``args`` (called ``names``, in order) must come back unchanged, in
    values and in shape."""
    given = [(name, arg, arg.copy()) for name, arg in zip(names, args)
             if isinstance(arg, np.ndarray)]
    with _watching_np_pad() as calls:
        try:
            result = call(what, fn, *args), calls
        except ExerciseError:
            raise
        except Exception as err:
            mistake, kind = _pad_mistake(calls), type(err).__name__
            if mistake is None and "inhomogeneous" in str(err):
                mistake = _RAGGED
            said = str(err).strip()
            raise ExerciseError(f"{what} raised {kind} {where}: " + (
                f"{mistake} (the error: {kind}: {said})" if mistake else said)
                + learners_line(err)) from None
    for name, arg, before in given:
        caller_unchanged(name, arg, before, where, who=what)
    return result


def _array_out(what, got, where):
    """The learner's result must be a numpy array (a list compares equal but breaks the cells
    that use it: ``@``, ``.reshape``, ``.shape``)."""
    values = got if isinstance(got, tuple) else (got,)
    for value in values:
        if value is not None and not isinstance(value, np.ndarray):
            raise ExerciseError(f"{what} returned a {type(value).__name__} {where}: return a "
                                f"numpy array (the cells below use it with @, .reshape and "
                                f".shape, which a {type(value).__name__} does not have)")


def _run_float32(what, fn, args, names, reference, where="for float32 inputs"):
    """Run ``fn`` on ``args`` made float32: each array it returns must pass
    :func:`~cnnlib.exercises.diagnosis.keeps_float32` against ``reference`` (the float64 answer,
    one array or a tuple)."""
    args = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]
    got, _ = _run(what, fn, where, *args, names=names)
    got = got if isinstance(got, (tuple, list)) else (got,)
    reference = reference if isinstance(reference, tuple) else (reference,)
    labels = ("dx", "dw", "db") if len(reference) == 3 else ("result",)
    for value, right, label in zip(got, reference, labels):
        keeps_float32(f"{what}'s {label}", value, where, expected=right)


def _check_pad(name, calls, got, expected, where):
    """If ``got`` is not ``expected`` and the learner's np.pad padded N or C, say so."""
    mistake = _pad_mistake(calls)
    if mistake and not (_shape_of(got) == np.shape(expected) and close(got, expected)):
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
    """``compare``, with ``mistakes()`` (a callable) evaluated only when ``got`` is wrong."""
    shape = _shape_of(got)
    if got is not None and shape == np.shape(expected) and close(got, expected):
        return
    compare(name, got, expected, mistakes(), where)


def _sizes(size, kernel, stride, pad):
    """Output sizes: (right, unpadded, stride 1, padded once, without the + 1)."""
    return (conv.conv_output_size(size, kernel, stride, pad), (size - kernel) // stride + 1,
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
                          stride, pad, names=("x", "w", "b"))
        expected = forward(x, w, b, stride, pad)
        _check_pad("out", calls, got, expected, where)
        _array_out("your conv_forward_naive", got, where)
        _check_shape("out", got, expected.shape, _conv_shape_hints(*x.shape[:1], *w.shape[:2],
                     *x.shape[2:], *w.shape[2:], stride, pad), where)

        def mistakes(x=x, w=w, b=b, stride=stride, pad=pad, expected=expected):
            c, kh, kw = w.shape[1:]
            oh, ow = expected.shape[2:]
            no_bias = forward(x, w, np.zeros_like(b), stride, pad)
            return [
                (forward(x, w[:, :, ::-1, ::-1], b, stride, pad), "you flipped the kernel (a "
                 "mathematician's convolution): here, as in every deep-learning library, the "
                 "window meets the filter as it is, weight (u, v) on pixel (u, v) of the window "
                 "(cross-correlation, section 1's formula)"),
                (no_bias, "the bias is missing: every output of filter f gets b[f] added, once, "
                 "after the sum over the window"),
                (forward(x, w, b * (c * kh * kw), stride, pad), "the bias was added to every "
                 "product inside the sum, C*KH*KW times; it belongs once per output, after the "
                 "sum: look at where b[f] sits relative to np.sum"),
                (forward(x, w, b, 1, pad)[:, :, :oh, :ow], f"the window of output (i, j) starts "
                 f"at row i*stride, column j*stride of the padded x (stride {stride}); yours moved "
                 "by one pixel"),
                (forward(_one_sided(x, 0, 2 * pad), w, b, stride, 0), _EVERY_SIDE),
                (forward(_one_sided(x, 2 * pad, 0), w, b, stride, 0), _EVERY_SIDE),
                (forward(x[:, :1], w[:, :1], b, stride, pad), f"{_CHANNELS}; yours used only the "
                 "first channel"),
                (forward(x[:, -1:], w[:, -1:], b, stride, pad), f"{_CHANNELS}; yours kept only the "
                 "last channel (= instead of +=?)"),
                (np.maximum(expected, 0), "a convolution has no ReLU: its negative outputs stay "
                 "negative (the ReLU is a layer of its own)"),
                *([(no_bias + b[:len(x), None, None, None], "each output of filter f gets "
                    "filter f's bias, b[f]; yours took the bias by the image's index")]
                  if 1 < len(x) <= len(b) else [])]
        _compare_lazy("out", got, expected, mistakes, where)
    x, w, b, stride, pad, _ = _conv_cases()[4]
    _run_float32("your conv_forward_naive", fn, (x, w, b, stride, pad), ("x", "w", "b"),
             forward(x, w, b, stride, pad))
    correct("conv_forward_naive matches cnnlib (the 4x4 example, padding, stride, channels)")
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
        got, calls = _run("your im2col", fn, where, x.copy(), kh, kw, stride, pad, names=("x",))
        expected = conv.im2col(x, kh, kw, stride, pad)
        _check_pad("cols", calls, got, expected, where)
        _array_out("your im2col", got, where)
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
    x, kh, kw, stride, pad, _ = cases[2]
    _run_float32("your im2col", fn, (x, kh, kw, stride, pad), ("x",),
             conv.im2col(x, kh, kw, stride, pad))
    correct("im2col matches cnnlib (row and column order, padding, stride, channels, batch)")
    return fn


def check_conv_forward_im2col(fn):
    """Check ``fn(x, w, b, stride=1, pad=0) -> out (N, F, OH, OW)`` computed with im2col and one
    matrix product; return ``fn``."""
    for x, w, b, stride, pad, where in _conv_cases():
        got, _ = _run("your conv_forward_im2col", fn, where, x.copy(), w.copy(), b.copy(), stride,
                      pad, names=("x", "w", "b"))
        expected = conv.conv2d_forward_naive(x, w, b, stride, pad)
        n, f, oh, ow = expected.shape
        _array_out("your conv_forward_im2col", got, where)
        _check_shape("out", got, expected.shape, [
            ((n * oh * ow, f), "the product gives one row per window and one column per filter: "
             "bring it back to 4-D along the axes its rows and columns stand for, then put the "
             "filter axis second"),
            ((n, oh, ow, f), "the filter axis must come second, (N, F, OH, OW); yours is last")],
            where)

        def mistakes(expected=expected, x=x, w=w, b=b, stride=stride, pad=pad):
            flat = expected.transpose(0, 2, 3, 1).reshape(-1)
            n, f, oh, ow = expected.shape
            by_columns = conv.im2col(x, *w.shape[2:], stride, pad) @ w.reshape(-1, f) + b
            return [(flat.reshape(expected.shape), "the product's rows are (n, i, j) and its "
                     "columns f: a direct reshape to (N, F, OH, OW) mixes filters and positions; "
                     "look at the order of the axes the reshape lays out"),
                    (expected - b[None, :, None, None], "add the bias b (one per filter, "
                     "a column of the product)"),
                    *[(wrong.reshape(f, n, oh, ow).transpose(1, 0, 2, 3) + bias, "the product "
                       "is (N*OH*OW, F): its rows are (n, i, j) and its columns f, so reshape it "
                       "along those axes; yours read it as if the filters came first "
                       "(F, N, OH, OW)") for wrong, bias in (
                        (flat, 0), (flat - np.tile(b, n * oh * ow), b[None, :, None, None]))],
                    (by_columns.reshape(n, oh, ow, f).transpose(0, 3, 1, 2), "W = w.reshape(F, "
                     "-1) has one ROW per filter; w.reshape(-1, F) is not its transpose W.T, it "
                     "mixes the filters' weights")]
        _compare_lazy("out", got, expected, mistakes, where)
    x, w, b, stride, pad, _ = _conv_cases()[4]
    _run_float32("your conv_forward_im2col", fn, (x, w, b, stride, pad), ("x", "w", "b"),
             conv.conv2d_forward_naive(x, w, b, stride, pad))
    correct("the convolution as one matrix product matches the loops")
    return fn


def check_blur(fn):
    """Check ``fn(size) -> (size, size)`` filter that replaces each pixel by the mean of its
    ``size x size`` neighbourhood."""
    for size in (3, 5, 1):
        where = f"for size {size}"
        got, _ = _run("your blur_filter", fn, where, size)
        if got is not None and not isinstance(got, np.ndarray):
            raise ExerciseError(f"your blur_filter returned a {type(got).__name__} {where}: "
                                "return a numpy array, as every filter in this notebook is (the "
                                "next cell calls the array methods .astype and .reshape on it)")
        compare("the filter", got, np.full((size, size), 1 / size ** 2), [
           (np.ones((size, size)), f"the weights must average the {size * size} pixels: "
            f"1/{size * size} each, not 1 (a sum makes the image brighter)"),
           (np.full((size, size), 1 / size), f"a {size}x{size} neighbourhood holds "
            f"{size * size} pixels: 1/{size * size} each")], where)
    correct("the filters average their neighbourhood (weights 1/size**2, total 1)")


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


_EMPTY_CROP = ("your crop is empty when pad = 0: a slice ending at -pad ends at -0, which is 0, "
               "so it keeps nothing; look at how the end of the crop is written")


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
        got, calls = copy_checked("your conv_backward_naive", dout,
                                  lambda d, where=where, x=x, w=w, stride=stride, pad=pad: _run(
           "your conv_backward_naive", fn, where, d, x.copy(), w.copy(), stride, pad,
           names=("dout", "x", "w")))
        if isinstance(got, (tuple, list)) and len(got) == 3:
            for name, grad, right in zip(("dx", "dw", "db"), got,
                                         conv.conv2d_backward_naive(dout, x, w, stride, pad)):
                _check_pad(name, calls, grad, right, where)
        _check_grads(got, dout, x, w, stride, pad, where)
        _array_out("your conv_backward_naive", tuple(got), where)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3))
    b = rng.standard_normal(2)
    dout = rng.standard_normal((2, 2, 3, 3))
    where = "against the numerical gradient (stride 2, pad 1)"
    (dx, dw, db), _ = _run("your conv_backward_naive", fn, where, dout, x.copy(), w.copy(), 2, 1)

    def loss(x=x, w=w, b=b):
        return np.sum(conv.conv2d_forward(x, w, b, 2, 1)[0] * dout)
    compare("dx", dx, numerical_gradient(lambda v: loss(x=v), x.copy()), where=where)
    compare("dw", dw, numerical_gradient(lambda v: loss(w=v), w.copy()), where=where)
    compare("db", db, numerical_gradient(lambda v: loss(b=v), b.copy()), where=where)
    dout, x, w, stride, pad, _ = cases[3]
    _run_float32("your conv_backward_naive", fn, (dout, x, w, stride, pad), ("dout", "x", "w"),
             conv.conv2d_backward_naive(dout, x, w, stride, pad))
    correct("conv_backward_naive's dx, dw and db match cnnlib and the numerical gradient")
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
        (dout.shape, "db sums dout over the batch AND over every output position "
         "(axes 0, 2 and 3)"),
        ((f, oh, ow), "sum over the output positions (axes 2 and 3) too"),
        ((n, f), "sum over the batch (axis 0) too")], where)
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
             "ADDS its dout * window to dw[f]; yours kept only the last one: look at the line "
             "that writes dw[f]"),
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
                 "every image of the batch; yours kept only the last image: look at where dw is "
                 "set to zero and where it is written"),
                (ref_dw / n, "dw is the SUM over the batch, not the mean")]
        mistakes.append((conv.conv2d_backward_naive(np.ones_like(dout), x, w, stride, pad)[1],
                         "each window's contribution to dw[f] is weighted by its output's "
                         "upstream gradient dout[n, f, i, j] (chain rule); yours adds the bare "
                         "windows"))
        return mistakes
    _compare_lazy("dw", dw, ref_dw, dw_mistakes, where)
    height, width = x.shape[2:]
    hints = [((n, x.shape[1], height + 2 * pad, width + 2 * pad), f"that is the gradient of the "
              f"PADDED input: crop pad={pad} rows and columns from every side")] if pad else [
        ((n, x.shape[1], 0, 0), _EMPTY_CROP)]
    _check_shape("dx", dx, ref_dx.shape, hints, where)

    def dx_mistakes():
        overwritten = _backward_loops(dout, x, w, stride, pad, overwrite_dx=True)[0]
        padded = _backward_loops(dout, x, w, stride, pad)[0]
        return [
            (_crop(overwritten, x.shape, pad), "where windows overlap (and over the filters f), "
             "the gradients must ADD up; yours kept only the last one written to each pixel: "
             "look at the line that writes into dx's window"),
            (_crop(_backward_loops(dout, x, w, stride, pad, dx_step=1)[0], x.shape, pad),
             f"output (i, j) read the window at row i*stride, column j*stride (stride {stride}): "
             "send dout * w[f] back to that window"),
            (_crop(_backward_loops(dout, x, w, stride, pad, rotate=True)[0], x.shape, pad),
             "in the loops each window gets dout * w[f] as it is; the 180° rotation belongs to "
             "the full-convolution form"),
            (padded[:, :, :height, :width], "crop pad rows and columns from EVERY side; "
             "yours cut them from one side only"),
            (padded[:, :, 2 * pad:, 2 * pad:], "crop pad rows and columns from EVERY side; "
             "yours cut them from one side only"),
            (conv.conv2d_backward_naive(np.ones_like(dout), x, w, stride, pad)[0], "each output "
             "sends back w[f] weighted by its upstream gradient dout[n, f, i, j] (chain rule); "
             "yours sends the bare weights")]
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
        got, _ = _run("your col2im", fn, where, cols.copy(), x_shape, kh, kw, stride, pad,
                      names=("cols",))
        expected = conv.col2im(cols, x_shape, kh, kw, stride, pad)
        _array_out("your col2im", got, where)
        n, c, height, width = x_shape
        _check_shape("dx", got, x_shape, [
            ((n, c, height + 2 * pad, width + 2 * pad), f"that is the PADDED image: crop pad={pad} "
             "rows and columns from every side")] if pad else [((n, c, 0, 0), _EMPTY_CROP)],
            where)
        if _shape_of(got) == tuple(x_shape) and close(got, expected):
            continue
        mistakes = _col2im_mistakes(cols, x_shape, kh, kw, stride, pad, expected)
        for wrong, message in mistakes:
            if _shape_of(got) == tuple(x_shape) and close(got, wrong):
                raise ExerciseError(f"dx {where}: {message}")
        if _shape_of(got) == tuple(x_shape) and np.any(cols != 1):
            x = rng.standard_normal(x_shape)
            left = float(np.sum(conv.im2col(x, kh, kw, stride, pad) * cols))
            right = float(np.sum(x * np.asarray(got, dtype=np.float64)))
            raise ExerciseError(f"your col2im is not the adjoint of im2col {where}: for a "
                                f"random x, <im2col(x), cols> = {left:.6g} but "
                                f"<x, col2im(cols)> = {right:.6g}")
        compare("dx", got, expected, where=where)
    cols, x_shape, kh, kw, stride, pad, _ = cases[2]
    _run_float32("your col2im", fn, (cols, x_shape, kh, kw, stride, pad), ("cols",),
             conv.col2im(cols, x_shape, kh, kw, stride, pad))
    correct("col2im is the adjoint of im2col: overlaps summed, padding cropped, as cnnlib")
    return fn


def _col2im_mistakes(cols, x_shape, kh, kw, stride, pad, expected):
    n, c, height, width = x_shape
    oh, ow = (conv.conv_output_size(height, kh, stride, pad),
              conv.conv_output_size(width, kw, stride, pad))
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
    first_image = np.tile(cols[:oh * ow], (n, 1))
    every_side = "crop pad rows and columns from EVERY side; yours cut them from one side only"
    return [
        (_crop(overwritten, x_shape, pad), "where windows overlap, ADD the rows: a pixel "
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
         "(order n, i, j), as im2col writes them"),
        *([(conv.col2im(first_image, x_shape, kh, kw, stride, pad), "every image read the rows "
            "of image 0: row r belongs to image r // (OH*OW), so the row count runs on across "
            "the batch (look at where your row counter starts again)")] if n > 1 else [])]


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
        got, _ = copy_checked(
            "your dw_by_im2col", dout,
            lambda d, where=where, x=x, kh=kh, kw=kw, stride=stride, pad=pad: _run(
                "your dw_by_im2col", fn, where, d, x.copy(), kh, kw, stride, pad,
                names=("dout", "x")))
        expected = conv.conv2d_backward_naive(dout, x, np.zeros(w_shape), stride, pad)[1]
        _array_out("your dw_by_im2col", got, where)
        columns = x_shape[1] * kh * kw
        _check_shape("dw", got, w_shape, [
            ((f, columns), "reshape D.T @ cols, (F, C*KH*KW), to w's shape (F, C, KH, KW)"),
            ((columns, f), "dW = D.T @ cols is (F, C*KH*KW); yours is its transpose")], where)

        def mistakes(dout=dout, x=x, kh=kh, kw=kw, stride=stride, pad=pad, f=f, w_shape=w_shape,
                     expected=expected):
            cols = conv.im2col(x, kh, kw, stride, pad)
            d = dout.transpose(0, 2, 3, 1).reshape(-1, f)
            return [((dout.reshape(-1, f).T @ cols).reshape(w_shape), "lay dout out as rows in "
                     "im2col's order (n, i, j), one column per filter; a plain reshape of dout "
                     "(N, F, OH, OW) mixes filters and positions: look at the order of dout's "
                     "axes before the reshape"),
                    ((cols.T @ d).reshape(w_shape), "dW = D.T @ cols is (F, C*KH*KW); cols.T @ D "
                     "is its transpose, and reshaping it scrambles the weights"),
                    *([((dout.transpose(0, 3, 2, 1).reshape(-1, f).T @ cols).reshape(w_shape),
                        "D's rows must run in im2col's order (n, i, j), along each output row "
                        "first; yours run down the columns (n, j, i)")]
                      if dout.shape[2] == dout.shape[3] else []),
                    ((dout.transpose(2, 3, 0, 1).reshape(-1, f).T @ cols).reshape(w_shape),
                     "D's rows must run in im2col's order (n, i, j), image by image; yours go "
                     "position by position across the batch"),
                    (expected / len(cols), "dW is the SUM over all windows (the product D.T @ "
                     "cols), not the mean"),
                    *([(expected / len(x), "dW is the SUM over the batch, not the mean")]
                      if len(x) > 1 else [])]
        _compare_lazy("dw", got, expected, mistakes, where)
    x, dout = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((2, 3, 3, 4))
    _run_float32("your dw_by_im2col", fn, (dout, x, 3, 2, 2, 1), ("dout", "x"),
             conv.conv2d_backward_naive(dout, x, np.zeros((3, 2, 3, 2)), 2, 1)[1])
    correct("dW as one matrix product D.T @ cols matches the loops")
    return fn
