"""Argument checks shared across cnnlib (a private module: its functions are cnnlib's own).

Each raises ValueError naming the argument, what was expected and what was received, in one style:
``"<argument>: expected <what>, got <value>"``.
"""

import numbers

import numpy as np


def positive_int(name, value, minimum=1):
    """``value`` as an int; ValueError naming ``name`` unless it is an integer (not a bool) of at
    least ``minimum`` (1: a positive integer; 0: a non-negative one)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        what = {0: "a non-negative integer", 1: "a positive "
                                                "integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return int(value)


def conv_output_size(in_size, kernel, stride=1, pad=0):
    """``(in_size + 2*pad - kernel) // stride + 1``; ValueError when that is not positive."""
    padded = in_size + 2 * pad
    if padded < kernel:
        raise ValueError(f"kernel size {kernel} is larger than the padded input size {padded} "
                         f"(input {in_size} + 2*pad {pad})")
    return (padded - kernel) // stride + 1


def check_stride_pad(stride, pad):
    """Raise ValueError unless ``stride`` is a positive int and ``pad`` a non-negative int."""
    positive_int("stride", stride)
    positive_int("pad", pad, minimum=0)


def check_4d(name, array):
    """Raise ValueError unless ``array`` is 4-D (NCHW)."""
    if np.ndim(array) != 4:
        raise ValueError(f"{name}: expected a 4-D array (N, C, H, W), got shape {np.shape(array)}")


def check_dout(dout, expected):
    """Raise ValueError unless the upstream gradient ``dout`` has the forward output's shape
    ``expected``."""
    if np.shape(dout) != tuple(expected):
        raise ValueError(f"dout: expected the forward output's shape {tuple(expected)}, got "
                         f"{np.shape(dout)}")


def check_conv(x, w, b, stride, pad):
    """Check the arguments of a convolution: x ``(N, C, H, W)``, w ``(F, C, KH, KW)``, b ``(F,)`` or
    None, stride and pad, and a kernel that fits the padded input."""
    check_4d("x", x)
    if np.ndim(w) != 4:
        raise ValueError(f"w: expected a 4-D array (F, C, KH, KW), got shape {np.shape(w)}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channel mismatch: x has {x.shape[1]} channels (shape {x.shape}) but "
                         f"w expects {w.shape[1]} (shape {w.shape})")
    if b is not None and np.shape(b) != (w.shape[0],):
        raise ValueError(f"b: expected shape ({w.shape[0]},) for {w.shape[0]} filters, got "
                         f"{np.shape(b)}")
    check_stride_pad(stride, pad)
    for axis, name in ((2, "height"), (3, "width")):
        if x.shape[axis] + 2 * pad < w.shape[axis]:
            raise ValueError(
                f"kernel {name} {w.shape[axis]} (w shape {w.shape}) is larger than the padded "
                f"input {name} {x.shape[axis] + 2 * pad} (x shape {x.shape}, pad {pad})"
            )


def conv_output_shape(x_shape, w_shape, stride, pad):
    """``(N, F, OH, OW)``, the output shape of a convolution of ``x_shape`` with ``w_shape``."""
    return (x_shape[0], w_shape[0], conv_output_size(x_shape[2], w_shape[2], stride, pad),
            conv_output_size(x_shape[3], w_shape[3], stride, pad))
