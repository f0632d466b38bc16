"""2-D convolution (cross-correlation, as in every deep-learning library), naive and fast.

Layout is NCHW: x ``(N, C, H, W)``, weights ``(F, C, KH, KW)``, bias ``(F,)``, output
``(N, F, OH, OW)`` with ``OH = (H + 2*pad - KH) // stride + 1`` (and the same for OW).

The naive functions are plain loops to read against the math. The fast ones turn the convolution
into one matrix product: ``im2col`` copies every receptive field into a row, so that
``out = im2col(x) @ W.reshape(F, -1).T + b``; ``col2im``, its adjoint, sums the rows back.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_output_size(in_size, kernel, stride=1, pad=0):
    """``(in_size + 2*pad - kernel) // stride + 1``; ValueError when that is not positive."""
    padded = in_size + 2 * pad
    if padded < kernel:
        raise ValueError(f"kernel size {kernel} is larger than the padded input size {padded} "
                         f"(input {in_size} + 2*pad {pad})")
    return (padded - kernel) // stride + 1


def check_stride_pad(stride, pad):
    """Raise ValueError unless ``stride`` is a positive int and ``pad`` a non-negative int."""
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    if not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer, got {pad!r}")


def check_4d(name, array):
    """Raise ValueError unless ``array`` is 4-D (NCHW)."""
    if np.ndim(array) != 4:
        raise ValueError(f"{name}: expected a 4-D array (N, C, H, W), got shape {np.shape(array)}")


def check_dout(dout, expected):
    """Raise ValueError unless the upstream gradient ``dout`` has the forward output's shape ``expected``."""
    if dout.shape != tuple(expected):
        raise ValueError(f"dout: expected the forward output's shape {tuple(expected)}, got {dout.shape}")


def _check_conv(x, w, b, stride, pad):
    check_4d("x", x)
    if np.ndim(w) != 4:
        raise ValueError(f"w: expected a 4-D array (F, C, KH, KW), got shape {np.shape(w)}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channel mismatch: x has {x.shape[1]} channels (shape {x.shape}) but "
                         f"w expects {w.shape[1]} (shape {w.shape})")
    if b is not None and np.shape(b) != (w.shape[0],):
        raise ValueError(f"b: expected shape ({w.shape[0]},) for {w.shape[0]} filters, got {np.shape(b)}")
    check_stride_pad(stride, pad)
    for axis, name in ((2, "height"), (3, "width")):
        if x.shape[axis] + 2 * pad < w.shape[axis]:
            raise ValueError(f"kernel {name} {w.shape[axis]} (w shape {w.shape}) is larger than the padded "
                             f"input {name} {x.shape[axis] + 2 * pad} (x shape {x.shape}, pad {pad})")


def _pad(x, pad):
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv2d_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution by explicit loops over images, filters and output pixels; returns ``(N, F, OH, OW)``."""
    _check_conv(x, w, b, stride, pad)
    n_images, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    oh, ow = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    xp = _pad(x, pad)
    out = np.zeros((n_images, n_filters, oh, ow), dtype=np.result_type(x, w))
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(oh):
                for j in range(ow):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv2d_backward_naive(dout, x, w, stride=1, pad=0):
    """Gradients of the convolution by the same loops; returns ``(dx, dw, db)`` shaped like x, w, b.

    Every output pixel ``out[n, f, i, j]`` used one window of the padded input and the filter
    ``w[f]``, so it sends ``dout[n, f, i, j] * window`` to ``dw[f]`` and ``dout[n, f, i, j] * w[f]``
    back onto that window of ``dx``.
    """
    _check_conv(x, w, None, stride, pad)
    n_images, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    oh, ow = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    if dout.shape != (n_images, n_filters, oh, ow):
        raise ValueError(f"dout: expected shape {(n_images, n_filters, oh, ow)}, got {dout.shape}")
    xp = _pad(x, pad)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    dx = dxp[:, :, pad:pad + height, pad:pad + width]
    return dx, dw, db


def sliding_windows(x, kh, kw, stride=1):
    """A read-only view ``(N, C, OH, OW, KH, KW)`` of every ``kh x kw`` window of ``x`` (no copy)."""
    n, c, height, width = x.shape
    oh, ow = conv_output_size(height, kh, stride), conv_output_size(width, kw, stride)
    sn, sc, sh, sw = x.strides
    return as_strided(x, shape=(n, c, oh, ow, kh, kw),
                      strides=(sn, sc, sh * stride, sw * stride, sh, sw), writeable=False)


def sum_windows(windows, x_shape, stride=1):
    """Adjoint of :func:`sliding_windows`: add each window ``(N, C, OH, OW, KH, KW)`` back onto an
    array of ``x_shape``, summing where windows overlap. Loops only over the ``KH * KW`` offsets."""
    _, _, oh, ow, kh, kw = windows.shape
    out = np.zeros(x_shape, dtype=windows.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += windows[:, :, :, :, i, j]
    return out


def im2col(x, kh, kw, stride=1, pad=0):
    """Copy every receptive field of ``x (N, C, H, W)`` into a row: ``(N*OH*OW, C*KH*KW)``.

    Rows run over (image, output row, output column), columns over (channel, kernel row, kernel column),
    matching ``w.reshape(F, -1)``. The copy is made column by column (the result is the transpose of a
    C-ordered ``(C*KH*KW, N*OH*OW)`` array), because then every copied run is a stretch of an image row
    and the matrix products below read it without another copy.
    """
    check_4d("x", x)
    check_stride_pad(stride, pad)
    return _columns(x, kh, kw, stride, pad, ones_row=False).T


def _columns(x, kh, kw, stride, pad, ones_row, row_parity=False):
    """``im2col(x).T``, C-ordered ``(C*KH*KW, N*OH*OW)``, with a last row of ones if ``ones_row``.

    The row of ones carries the bias through the matrix products: ``[W | b] @ cols`` is the convolution
    plus bias, and the last column of ``dout @ cols.T`` is the bias gradient. ``row_parity`` (stride 1,
    even OH) orders the columns (a, n, Y, ox) for output row ``oy = 2Y + a``: the even output rows of
    every image first, then the odd ones, which is what :mod:`cnnlib.fused` pools from.
    """
    xp = _pad(x, pad)
    n, c, height, width = xp.shape
    oh, ow = conv_output_size(height, kh, stride), conv_output_size(width, kw, stride)
    rows = c * kh * kw
    cols = np.empty((rows + ones_row, n * oh * ow), dtype=x.dtype)
    if ones_row:
        cols[rows] = 1
    if stride > 1:
        cols[:rows].reshape(c, kh, kw, n, oh, ow)[...] = sliding_windows(xp, kh, kw, stride).transpose(1, 4, 5, 0, 2, 3)
    elif xp.size:
        if xp.strides[3] != xp.itemsize:
            xp = np.ascontiguousarray(xp)
        sn, sc, sh, sw = xp.strides
        if row_parity:
            starts_shape, starts_strides = (c, kh, kw, 2, n, oh // 2), (sc, sh, sw, sh, sn, 2 * sh)
        else:
            starts_shape, starts_strides = (c, kh, kw, n, oh), (sc, sh, sw, sn, sh)
        _copy_runs(xp, cols[:rows].reshape(*starts_shape, ow), starts_shape, starts_strides)
    return cols


def _copy_runs(source, out, starts_shape, starts_strides):
    """Fill ``out (*starts_shape, L)`` with runs of L consecutive elements of ``source``'s rows
    (whose last axis must be contiguous), starting at the byte offsets ``sum(index * starts_strides)``
    from ``source``'s first element; each run moves as one item.

    With stride 1, the ``OW`` pixels a kernel offset reads for one output row are contiguous in the
    padded input, so im2col is such a copy. Viewing every run as a single ``L * itemsize``-byte item lets
    numpy copy it in one step; copied pixel by pixel, the per-element overhead of these short runs
    dominates (LeNet's conv2, batch 128: 1.09 -> 0.74 ms).
    """
    length = out.shape[-1]
    run = np.dtype((np.void, length * source.itemsize))
    runs = as_strided(source, shape=(*starts_shape, length), strides=(*starts_strides, source.itemsize),
                      writeable=False)
    np.copyto(out.view(run)[..., 0], runs.view(run)[..., 0])


def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    """Adjoint of :func:`im2col`: scatter rows ``(N*OH*OW, C*KH*KW)`` back to ``x_shape``, summing overlaps.

    ``<im2col(x), cols> == <x, col2im(cols)>`` for every x and cols.
    """
    check_stride_pad(stride, pad)
    n, c, height, width = x_shape
    oh, ow = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    if cols.shape != (n * oh * ow, c * kh * kw):
        raise ValueError(f"cols: expected shape {(n * oh * ow, c * kh * kw)} for x_shape {tuple(x_shape)}, "
                         f"got {cols.shape}")
    windows = cols.T.reshape(c, kh, kw, n, oh, ow).transpose(3, 0, 4, 5, 1, 2)
    return _sum_windows_unpadded(windows, x_shape, stride, pad)


def _sum_windows_unpadded(windows, x_shape, stride, pad):
    """:func:`sum_windows` onto the padded input, then the padding cut off: the gradient for ``x_shape``."""
    n, c, height, width = x_shape
    xp = sum_windows(windows, (n, c, height + 2 * pad, width + 2 * pad), stride)
    return xp[:, :, pad:pad + height, pad:pad + width]


def _per_image(w, out_pixels):
    """Whether to multiply image by image instead of in one product for the whole batch.

    With a small filter matrix (``F*C*KH*KW <= 512``) and many output pixels per image (``>= 256``),
    the single product is so skinny that BLAS runs it slowly; one product per image is faster and
    comes out in NCHW order. Measured on LeNet's conv1 (batch 128, 2 threads): forward product
    1.2 -> 0.7 ms, weight gradient 3.0 -> 0.7 ms. Larger layers (LeNet's conv2) are faster in one product.
    """
    return w.size <= 512 and out_pixels >= 256


def _with_bias(w, b):
    """``[W | b]``, ``(F, C*KH*KW + 1)``: each filter as a row, then its bias, to multiply a column
    matrix that ends in a row of ones (see :func:`_columns`)."""
    return np.concatenate([w.reshape(len(w), -1), b.reshape(-1, 1)], axis=1)


def _split_bias(dw_ext, w_shape):
    """``(dw, db)`` from the gradient of ``[W | b]``, ``(F, C*KH*KW + 1)``."""
    return dw_ext[:, :-1].reshape(w_shape), dw_ext[:, -1]


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Fast convolution as matrix products; returns ``(out (N, F, OH, OW), cache)`` for the backward pass.

    ``out = im2col(x) @ W.reshape(F, -1).T + b``, computed as its transpose ``[W | b] @ cols`` with
    ``cols = im2col(x).T`` and a row of ones, which comes out filter-major: ``out`` is an NCHW view of
    that ``(F, N, OH, OW)`` array (no copy). For small filter banks, one such product per image, which
    comes out in NCHW order (see :func:`_per_image`).
    """
    _check_conv(x, w, b, stride, pad)
    n_filters, _, kh, kw = w.shape
    n, _, height, width = x.shape
    oh, ow = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    cols = _columns(x, kh, kw, stride, pad, ones_row=True)
    w_ext = _with_bias(w, b)
    cache = (x.shape, w, cols, stride, pad)
    if _per_image(w, oh * ow):
        out = np.matmul(w_ext, cols.reshape(len(cols), n, oh * ow).transpose(1, 0, 2))
        return out.reshape(n, n_filters, oh, ow), cache
    return (w_ext @ cols).reshape(n_filters, n, oh, ow).transpose(1, 0, 2, 3), cache


def conv2d_backward(dout, cache, input_grad=True):
    """Gradients of :func:`conv2d_forward`; returns ``(dx, dw, db)`` shaped like x, w, b.

    With ``D = dout`` flattened to ``(F, N*OH*OW)``: ``[dw | db] = D @ cols.T`` (the row of ones in
    cols gives the bias gradient), ``dx = col2im(D.T @ W)`` (for stride 1 by the equivalent row-aligned
    sum of :func:`_input_grad_wide`). ``input_grad=False`` skips dx (returns None), e.g. for a first layer.
    """
    x_shape, w, cols, stride, pad = cache
    n_filters, c, kh, kw = w.shape
    n = x_shape[0]
    out_shape = (n, n_filters, conv_output_size(x_shape[2], kh, stride, pad),
                 conv_output_size(x_shape[3], kw, stride, pad))
    check_dout(dout, out_shape)
    pixels = out_shape[2] * out_shape[3]
    if _per_image(w, pixels):
        d = dout.reshape(n, n_filters, pixels)
        dw_ext = np.matmul(d, cols.reshape(len(cols), n, pixels).transpose(1, 2, 0)).sum(axis=0)
    else:
        d_t = dout.transpose(1, 0, 2, 3).reshape(n_filters, -1)
        dw_ext = (cols @ d_t.T).T
    dw, db = _split_bias(dw_ext, w.shape)
    if not input_grad:
        return None, dw, db
    if _per_image(w, pixels):
        windows = np.matmul(w.reshape(n_filters, -1).T, d).reshape(n, c, kh, kw, *out_shape[2:])
        return _sum_windows_unpadded(windows.transpose(0, 1, 4, 5, 2, 3), x_shape, stride, pad), dw, db
    if stride == 1:
        d_wide, grid = _wide_grid(n_filters, n, out_shape[2], x_shape[3] + 2 * pad, kw, d_t.dtype)
        grid[..., :out_shape[3]] = d_t.reshape(n_filters, n, *out_shape[2:])
        return _input_grad_wide(d_wide, w, x_shape, pad), dw, db
    return col2im(d_t.T @ w.reshape(n_filters, -1), x_shape, kh, kw, stride, pad), dw, db


def _wide_grid(n_filters, n, oh, wp, kw, dtype):
    """Zeros ``(F, KW-1 + N*OH*WP)`` to hold an output gradient on the "wide" grid of
    :func:`_input_grad_wide`, and its ``(F, N, OH, WP)`` view past the ``KW - 1`` leading zeros:
    write the gradient ``(F, N, OH, OW)`` into ``view[..., :OW]``."""
    d_wide = np.zeros((n_filters, kw - 1 + n * oh * wp), dtype=dtype)
    return d_wide, d_wide[:, kw - 1:].reshape(n_filters, n, oh, wp)


def _input_grad_wide(d_wide, w, x_shape, pad):
    """``col2im(D @ W)`` for stride 1, without short strided adds; D is given on the wide grid.

    The wide grid holds ``OH x WP`` per image (each output row widened to the padded input's width,
    zeros in the ``KW - 1`` extra columns), the batch flattened (see :func:`_wide_grid`). On it, kernel
    column offset j moves every contribution by j places (what crosses a row end lands on zeros), and
    kernel row offset i by ``i*WP``. So: one copy of D shifted by each j (rows ``(f, j)``), one matrix
    product that sums over filters and column offsets, giving one row per (channel, kernel row i), and
    one add per i, shifted by i padded rows within each image. The product's row count is rounded up
    to a multiple of 8 with zero weights: OpenBLAS runs it faster so (LeNet's conv2: 30 rows 0.78 ms,
    32 rows 0.53 ms). Returns dx ``x_shape``.
    """
    n, c, height, width = x_shape
    n_filters, _, kh, kw = w.shape
    hp, wp = height + 2 * pad, width + 2 * pad
    run = (hp - kh + 1) * wp
    size = n * run
    shifted = np.empty((n_filters, kw, size), dtype=d_wide.dtype)
    for j in range(kw):
        shifted[:, j] = d_wide[:, kw - 1 - j:kw - 1 - j + size]
    w_rows = np.zeros((-(-c * kh // 8) * 8, n_filters * kw), dtype=w.dtype)
    w_rows[:c * kh] = w.transpose(1, 2, 0, 3).reshape(c * kh, n_filters * kw)
    rows = (w_rows @ shifted.reshape(n_filters * kw, size))[:c * kh].reshape(c, kh, n, run)
    dxp = np.zeros((c, n, hp * wp), dtype=rows.dtype)
    dxp[:, :, :run] = rows[:, 0]
    for i in range(1, kh):
        dxp[:, :, i * wp:i * wp + run] += rows[:, i]
    dxp = dxp.reshape(c, n, hp, wp).transpose(1, 0, 2, 3)
    return dxp[:, :, pad:pad + height, pad:pad + width]
