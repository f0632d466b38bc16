"""2-D max and average pooling, naive and fast, forward and backward (NCHW).

Windows are ``size x size`` and move by ``stride`` (default: ``size``, so windows tile the input);
the output is ``(N, C, OH, OW)`` with ``OH = (H - size) // stride + 1``. Max pooling sends each
upstream gradient to the one input that won its window (the first maximum in row-major order when
there are ties, like PyTorch); average pooling spreads it evenly over the window.
"""

import numpy as np

from .conv import check_4d, conv_output_size, sliding_windows, sum_windows


def _check_pool(x, size, stride):
    check_4d("x", x)
    stride = size if stride is None else stride
    for name, value in (("size", size), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if size > x.shape[2] or size > x.shape[3]:
        raise ValueError(f"pool size {size} is larger than the input's {x.shape[2]}x{x.shape[3]} "
                         f"(x shape {x.shape})")
    return (stride, *_pooled_size(x.shape, size, stride))


def _pooled_size(x_shape, size, stride):
    return conv_output_size(x_shape[2], size, stride), conv_output_size(x_shape[3], size, stride)


def _check_dout(dout, x_shape, oh, ow):
    expected = (*x_shape[:2], oh, ow)
    if dout.shape != expected:
        raise ValueError(f"dout: expected the forward output's shape {expected}, got {dout.shape}")


# --- naive loops -------------------------------------------------------------------------------

def max_pool2d_forward_naive(x, size=2, stride=None):
    """Max pooling by loops over images, channels and output pixels; returns ``(N, C, OH, OW)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    n_images, channels = x.shape[:2]
    out = np.zeros((n_images, channels, oh, ow), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    out[n, c, i, j] = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size].max()
    return out


def max_pool2d_backward_naive(dout, x, size=2, stride=None):
    """Gradient of max pooling: each ``dout[n, c, i, j]`` goes to the first maximum of its window."""
    stride, oh, ow = _check_pool(x, size, stride)
    _check_dout(dout, x.shape, oh, ow)
    dx = np.zeros_like(x)
    n_images, channels = x.shape[:2]
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    r, s = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + r, j * stride + s] += dout[n, c, i, j]
    return dx


def avg_pool2d_forward_naive(x, size=2, stride=None):
    """Average pooling by loops; returns ``(N, C, OH, OW)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    n_images, channels = x.shape[:2]
    out = np.zeros((n_images, channels, oh, ow), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    out[n, c, i, j] = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size].mean()
    return out


def avg_pool2d_backward_naive(dout, x, size=2, stride=None):
    """Gradient of average pooling: each ``dout[n, c, i, j] / size**2`` goes to every input of its window."""
    stride, oh, ow = _check_pool(x, size, stride)
    _check_dout(dout, x.shape, oh, ow)
    dx = np.zeros_like(x)
    n_images, channels = x.shape[:2]
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    dx[n, c, i * stride:i * stride + size, j * stride:j * stride + size] += dout[n, c, i, j] / size**2
    return dx


# --- fast versions -----------------------------------------------------------------------------

def _tiles(x, size, oh, ow):
    """Non-overlapping windows as ``(N, C, OH, OW, size*size)`` by a reshape (copies once)."""
    n, c = x.shape[:2]
    x = x[:, :, :oh * size, :ow * size].reshape(n, c, oh, size, ow, size)
    return x.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, size * size)


def _untile(windows, x_shape, size):
    """Adjoint of :func:`_tiles`: windows ``(N, C, OH, OW, size*size)`` back to ``x_shape`` (zeros where cropped)."""
    n, c, oh, ow, _ = windows.shape
    tiled = windows.reshape(n, c, oh, ow, size, size).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * size, ow * size)
    if tiled.shape == tuple(x_shape):
        return tiled
    out = np.zeros(x_shape, dtype=windows.dtype)
    out[:, :, :oh * size, :ow * size] = tiled
    return out


def _windows(x, size, stride, oh, ow):
    """Every window of x flattened: ``(N, C, OH, OW, size*size)``; a reshape when windows tile."""
    if stride == size:
        return _tiles(x, size, oh, ow)
    return sliding_windows(x, size, size, stride).reshape(*x.shape[:2], oh, ow, size * size)


def _unwindows(windows, x_shape, size, stride):
    """Adjoint of :func:`_windows`: add window values back onto ``x_shape``, summing overlaps."""
    if stride == size:
        return _untile(windows, x_shape, size)
    return sum_windows(windows.reshape(*windows.shape[:4], size, size), x_shape, stride)


def max_pool2d_forward(x, size=2, stride=None):
    """Fast max pooling; returns ``(out (N, C, OH, OW), cache)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    windows = _windows(x, size, stride, oh, ow)
    argmax = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0]
    return out, (x.shape, argmax, size, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of :func:`max_pool2d_forward`: ``dout`` routed to each window's (first) maximum."""
    x_shape, argmax, size, stride = cache
    _check_dout(dout, x_shape, *argmax.shape[2:])
    windows = np.zeros((*argmax.shape, size * size), dtype=dout.dtype)
    np.put_along_axis(windows, argmax[..., None], dout[..., None], axis=-1)
    return _unwindows(windows, x_shape, size, stride)


def avg_pool2d_forward(x, size=2, stride=None):
    """Fast average pooling; returns ``(out (N, C, OH, OW), cache)``."""
    stride, oh, ow = _check_pool(x, size, stride)
    out = _windows(x, size, stride, oh, ow).mean(axis=-1, dtype=x.dtype)
    return out, (x.shape, size, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of :func:`avg_pool2d_forward`: ``dout / size**2`` spread over each window."""
    x_shape, size, stride = cache
    _check_dout(dout, x_shape, *_pooled_size(x_shape, size, stride))
    share = (dout / dout.dtype.type(size * size))[..., None]
    windows = np.broadcast_to(share, (*dout.shape, size * size))
    return _unwindows(np.ascontiguousarray(windows), x_shape, size, stride)

