"""2-D max and average pooling, naive and fast, forward and backward (NCHW).

Windows are ``size x size`` and move by ``stride`` (default: ``size``, so windows tile the input);
the output is ``(N, C, OH, OW)`` with ``OH = (H - size) // stride + 1``. Max pooling sends each
upstream gradient to the one input that won its window (the first maximum in row-major order when
there are ties, like PyTorch); average pooling spreads it evenly over the window.
"""

import numpy as np

from ._checks import check_4d, check_dout, conv_output_size, positive_int


def _check_pool(x, size, stride):
    check_4d("x", x)
    stride = size if stride is None else stride
    positive_int("size", size)
    positive_int("stride", stride)
    if size > x.shape[2] or size > x.shape[3]:
        raise ValueError(f"pool size {size} is larger than the input's {x.shape[2]}x{x.shape[3]} "
                         f"(x shape {x.shape})")
    return (stride, *_pooled_size(x.shape, size, stride))


def _pooled_size(x_shape, size, stride):
    return conv_output_size(x_shape[2], size, stride), conv_output_size(x_shape[3], size, stride)


# --- naive loops -------------------------------------------------------------------------------

def pool2d_forward_naive(x, reduce, size=2, stride=None):
    """Pooling by loops over images, channels and output pixels: ``reduce`` (``np.max`` or
    ``np.mean``) of every ``size x size`` window; returns ``(N, C, OH, OW)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    n_images, channels = x.shape[:2]
    out = np.zeros((n_images, channels, oh, ow), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * stride, i * stride + size)
                    cols = slice(j * stride, j * stride + size)
                    out[n, c, i, j] = reduce(x[n, c, rows, cols])
    return out


def max_pool2d_forward_naive(x, size=2, stride=None):
    """Max pooling by loops (see :func:`pool2d_forward_naive`); returns ``(N, C, OH, OW)``."""
    return pool2d_forward_naive(x, np.max, size, stride)


def pool2d_backward_naive(dout, x, local_grad, size=2, stride=None):
    """Gradient of pooling by the forward's loops: each ``dout[n, c, i, j]`` goes to the inputs of
    its window, weighted by ``local_grad(window)``, the derivative of the window's output with
    respect to each of its inputs; returns dx shaped like x."""
    stride, oh, ow = _check_pool(x, size, stride)
    check_dout(dout, (*x.shape[:2], oh, ow))
    dx = np.zeros_like(x)
    n_images, channels = x.shape[:2]
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * stride, i * stride + size)
                    cols = slice(j * stride, j * stride + size)
                    dx[n, c, rows, cols] += dout[n, c, i, j] * local_grad(x[n, c, rows, cols])
    return dx


def first_max(window):
    """1 at the window's first maximum (row-major order), 0 elsewhere: max pooling's local
    derivative, the tie rule. ``window`` ``(KH, KW)`` (any shape) in, an array of its shape and
    dtype out."""
    grad = np.zeros_like(window)
    grad[np.unravel_index(np.argmax(window), window.shape)] = 1
    return grad


def max_pool2d_backward_naive(dout, x, size=2, stride=None):
    """Gradient of max pooling: each ``dout[n, c, i, j]`` goes to the first maximum of its
    window."""
    return pool2d_backward_naive(dout, x, first_max, size, stride)


def avg_pool2d_forward_naive(x, size=2, stride=None):
    """Average pooling by loops (see :func:`pool2d_forward_naive`); returns ``(N, C, OH, OW)``."""
    return pool2d_forward_naive(x, np.mean, size, stride)


def avg_pool2d_backward_naive(dout, x, size=2, stride=None):
    """Gradient of average pooling: each ``dout[n, c, i, j] / size**2`` goes to every input of its
    window."""
    return pool2d_backward_naive(dout, x, lambda window: np.full_like(window, 1 / window.size),
                                 size, stride)


# --- fast versions -----------------------------------------------------------------------------
# Both loop over the size*size kernel offsets only: for offset (i, j), the strided slice
# x[:, :, i::stride, j::stride] (cut to OH x OW) holds that offset's input of every window at once.
# When windows tile the input (stride == size), the gradient is written through a reshaped view
# (N, C, OH, size, OW, size) of dx, each input once; otherwise overlapping windows are summed.

def _offset_views(x, size, stride, oh, ow):
    """Yield ``x[:, :, i + stride*r, j + stride*c]`` over all outputs (r, c), one view per offset
    (i, j)."""
    for i in range(size):
        for j in range(size):
            yield x[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]


def _combine_offsets(ufunc, x, size, stride, oh, ow):
    """Fold ``ufunc`` (``np.maximum``, ``np.add``) over the offset views: one ``(N, C, OH, OW)``
    result, one value per window."""
    views = _offset_views(x, size, stride, oh, ow)
    out = next(views).copy()
    for view in views:
        ufunc(out, view, out=out)
    return out


def _offset_targets(x_shape, dtype, size, stride, oh, ow):
    """``(dx, views, tiled)``: a gradient array for ``x_shape`` and its per-offset views.

    When windows tile the input, the views cover disjoint inputs and together all of dx
    (``tiled`` is True): write each one once. Otherwise they may overlap (and dx starts at zero):
    add into them.
    """
    if stride == size and x_shape[2] == oh * size and x_shape[3] == ow * size:
        tiles = np.empty((*x_shape[:2], oh, size, ow, size), dtype=dtype)
        views = [tiles[:, :, :, i, :, j] for i in range(size) for j in range(size)]
        return tiles.reshape(x_shape), views, True
    dx = np.zeros(x_shape, dtype=dtype)
    return dx, list(_offset_views(dx, size, stride, oh, ow)), False


def max_pool2d_forward(x, size=2, stride=None):
    """Fast max pooling; returns ``(out (N, C, OH, OW), cache)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    out = _combine_offsets(np.maximum, x, size, stride, oh, ow)
    return out, (x, out, size, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of :func:`max_pool2d_forward`: ``dout`` routed to each window's first maximum.

    Offsets are visited in row-major order; an output claims the first offset whose input equals it.
    """
    x, out, size, stride = cache
    oh, ow = out.shape[2:]
    check_dout(dout, (*x.shape[:2], oh, ow))
    dx, targets, tiled = _offset_targets(x.shape, dout.dtype, size, stride, oh, ow)
    unclaimed = np.ones(out.shape, dtype=bool)
    hit = np.empty(out.shape, dtype=bool)
    for view, target in zip(_offset_views(x, size, stride, oh, ow), targets):
        np.equal(view, out, out=hit)
        hit &= unclaimed
        unclaimed ^= hit
        if tiled:
            np.multiply(dout, hit, out=target)
        else:
            target += dout * hit
    return dx


def avg_pool2d_forward(x, size=2, stride=None):
    """Fast average pooling; returns ``(out (N, C, OH, OW), cache)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    out = _combine_offsets(np.add, x, size, stride, oh, ow)
    out /= out.dtype.type(size * size)
    return out, (x.shape, size, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of :func:`avg_pool2d_forward`: ``dout / size**2`` to every input of each window."""
    x_shape, size, stride = cache
    oh, ow = _pooled_size(x_shape, size, stride)
    check_dout(dout, (*x_shape[:2], oh, ow))
    share = dout / dout.dtype.type(size * size)
    dx, targets, tiled = _offset_targets(x_shape, dout.dtype, size, stride, oh, ow)
    for target in targets:
        if tiled:
            target[...] = share
        else:
            target += share
    return dx
