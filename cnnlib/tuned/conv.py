"""The tuned convolution: the same numbers as :func:`cnnlib.conv.conv2d_forward` /
``conv2d_backward`` (same signatures, the tests compare them), computed in ways that suit numpy and
OpenBLAS better.

What each change buys is measured on LeNet-5's layers (batch 128, float32, 2 threads; README):

* **Transposed column matrix.** :func:`column_matrix` builds ``im2col(x).T``, ``(C*KH*KW,
  N*OH*OW)``, so every copied run is a stretch of an image row, and ``[W | b] @ cols`` comes out
  filter-major.
* **Run copies.** With stride 1, the ``OW`` pixels that one kernel offset reads for one output row
  are contiguous in the padded input; :func:`copy_runs` moves each such run as a single item instead
  of pixel by pixel (conv2's column matrix: 1.09 -> 0.74 ms).
* **Bias through a row of ones.** ``[W | b] @ [cols; 1]`` is the convolution plus bias, and the last
  column of the weight-gradient product is the bias gradient: no separate add or sum.
* **Per-image products** for small filter banks (:func:`per_image`): BLAS runs a very skinny product
  slowly.
* **Wide-grid input gradient** (:func:`input_grad_wide`): ``col2im`` adds short strided slices,
  which numpy pays for run by run; on a grid as wide as the padded input every kernel shift is one
  contiguous slice (conv2's dx: 1.97 -> 1.42 ms).
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .._checks import (
    check_4d,
    check_conv,
    check_dout,
    check_stride_pad,
    conv_output_shape,
    conv_output_size,
)
from ..conv import col2im, pad_images

__all__ = ["scratch", "column_matrix", "copy_runs", "with_bias", "split_bias", "per_image",
           "wide_grid", "input_grad_wide",
           "conv2d_forward", "conv2d_backward"]


def scratch(workspace, key, shape, dtype, *, zeros=False):
    """An array ``shape``/``dtype`` for intermediate results: ``workspace[key]`` when the dict
    ``workspace`` already holds one of that shape and dtype, else a new one (stored there);
    ``workspace=None``: always a new one.

    A new array is uninitialised, or zeros with ``zeros=True``; a reused one holds what the last
    call left in it. So with ``zeros=True`` a caller that writes the same part of the array on
    every call finds the rest still zero.

    Reusing a layer's large intermediate arrays from one training step to the next spares the
    memory allocator handing their pages back to the system and faulting them in again (LeNet-5,
    64 images, one thread: about 200 page faults a step without it, and a step 10% longer).
    """
    array = None if workspace is None else workspace.get(key)
    if array is None or array.shape != tuple(shape) or array.dtype != dtype:
        array = (np.zeros if zeros else np.empty)(shape, dtype=dtype)
        if workspace is not None:
            workspace[key] = array
    return array


def column_matrix(x, kh, kw, stride=1, pad=0, *, ones_row=False, row_parity=False,
                  workspace=None):
    """``im2col(x).T``, C-ordered ``(C*KH*KW, N*OH*OW)``, with a last row of ones if ``ones_row``.

    Columns run over (image, output row, output column). ``row_parity`` (stride 1, even OH) orders
    them (a, n, Y, ox) for output row ``oy = 2Y + a``: the even output rows of every image first,
    then the odd ones, which is what :func:`cnnlib.tuned.conv_relu_pool_forward` pools from.
    ``workspace``: the matrix is ``scratch(workspace, "cols", ...)`` (see :func:`scratch`).
    """
    check_4d("x", x)
    check_stride_pad(stride, pad)
    xp = pad_images(x, pad)
    n, c, height, width = xp.shape
    oh, ow = conv_output_size(height, kh, stride), conv_output_size(width, kw, stride)
    rows = c * kh * kw
    cols = scratch(workspace, "cols", (rows + ones_row, n * oh * ow), x.dtype)
    if ones_row:
        cols[rows] = 1
    if stride > 1:
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
        cols[:rows].reshape(c, kh, kw, n, oh, ow)[...] = windows.transpose(1, 4, 5, 0, 2, 3)
    elif xp.size:
        if xp.strides[3] != xp.itemsize:
            xp = np.ascontiguousarray(xp)
        sn, sc, sh, sw = xp.strides
        if row_parity:
            starts_shape, starts_strides = (c, kh, kw, 2, n, oh // 2), (sc, sh, sw, sh, sn, 2 * sh)
        else:
            starts_shape, starts_strides = (c, kh, kw, n, oh), (sc, sh, sw, sn, sh)
        copy_runs(xp, cols[:rows].reshape(*starts_shape, ow), starts_shape, starts_strides)
    return cols


def copy_runs(source, out, starts_shape, starts_strides):
    """Fill ``out (*starts_shape, L)`` with runs of L consecutive elements of ``source``'s rows
    (whose last axis must be contiguous), starting at the byte offsets ``sum(index *
    starts_strides)`` from ``source``'s first element; each run moves as one item.

    Viewing every run as a single ``L * itemsize``-byte item lets numpy copy it in one step; copied
    pixel by pixel, the per-element overhead of these short runs dominates.
    """
    length = out.shape[-1]
    run = np.dtype((np.void, length * source.itemsize))
    runs = as_strided(source, shape=(*starts_shape, length),
                      strides=(*starts_strides, source.itemsize),
                      writeable=False)
    np.copyto(out.view(run)[..., 0], runs.view(run)[..., 0])


def with_bias(w, b):
    """``[W | b]``, ``(F, C*KH*KW + 1)``: each filter as a row, then its bias, to multiply a column
    matrix that ends in a row of ones (see :func:`column_matrix`)."""
    return np.concatenate([w.reshape(len(w), -1), b.reshape(-1, 1)], axis=1)


def split_bias(dw_ext, w_shape):
    """``(dw, db)`` from the gradient of ``[W | b]``, ``(F, C*KH*KW + 1)``."""
    return dw_ext[:, :-1].reshape(w_shape), dw_ext[:, -1]


def per_image(w, out_pixels):
    """Whether to multiply image by image instead of in one product for the whole batch.

    With a small filter matrix (``F*C*KH*KW <= 512``) and many output pixels per image (``>= 256``),
    the single product is so skinny that BLAS runs it slowly; one product per image is faster and
    comes out in NCHW order. Measured on LeNet's conv1 (batch 128, 2 threads): forward product
    1.2 -> 0.7 ms, weight gradient 3.0 -> 0.7 ms. Larger layers (LeNet's conv2) are faster in one
    product.
    """
    return w.size <= 512 and out_pixels >= 256


def conv2d_forward(x, w, b, stride=1, pad=0):
    """:func:`cnnlib.conv.conv2d_forward`, tuned; returns ``(out (N, F, OH, OW), cache)``.

    ``[W | b] @ cols`` with ``cols = column_matrix(x, ones_row=True)`` comes out filter-major:
    ``out`` is an NCHW view of that ``(F, N, OH, OW)`` array (no copy). For small filter banks, one
    such product per image, which comes out in NCHW order.
    """
    check_conv(x, w, b, stride, pad)
    n, n_filters, oh, ow = conv_output_shape(x.shape, w.shape, stride, pad)
    cols = column_matrix(x, *w.shape[2:], stride, pad, ones_row=True)
    w_ext = with_bias(w, b)
    cache = (x.shape, w, cols, stride, pad)
    if per_image(w, oh * ow):
        out = np.matmul(w_ext, cols.reshape(len(cols), n, oh * ow).transpose(1, 0, 2))
        return out.reshape(n, n_filters, oh, ow), cache
    return (w_ext @ cols).reshape(n_filters, n, oh, ow).transpose(1, 0, 2, 3), cache


def conv2d_backward(dout, cache, input_grad=True):
    """:func:`cnnlib.conv.conv2d_backward`, tuned; returns ``(dx, dw, db)`` shaped like x, w, b.

    With ``D = dout`` as ``(F, N*OH*OW)``: ``[dw | db] = (cols @ D.T).T`` (OpenBLAS runs this
    orientation faster; the row of ones in cols gives the bias gradient) and ``dx = col2im(D.T @
    W)``, for stride 1 by :func:`input_grad_wide`. ``input_grad=False`` skips dx (returns None).
    """
    x_shape, w, cols, stride, pad = cache
    n_filters, c, kh, kw = w.shape
    out_shape = conv_output_shape(x_shape, w.shape, stride, pad)
    check_dout(dout, out_shape)
    n, _, oh, ow = out_shape
    if per_image(w, oh * ow):
        d = dout.reshape(n, n_filters, oh * ow)
        dw_ext = np.matmul(d, cols.reshape(len(cols), n, oh * ow).transpose(1, 2, 0)).sum(axis=0)
    else:
        d_t = dout.transpose(1, 0, 2, 3).reshape(n_filters, -1)
        dw_ext = (cols @ d_t.T).T
    dw, db = split_bias(dw_ext, w.shape)
    if not input_grad:
        return None, dw, db
    if per_image(w, oh * ow):
        d_cols = np.matmul(w.reshape(n_filters, -1).T, d)                 # (N, C*KH*KW, OH*OW)
        return col2im(d_cols.transpose(0, 2, 1).reshape(n * oh * ow, -1), x_shape,
                      kh, kw, stride, pad), dw, db
    if stride == 1:
        d_wide, grid = wide_grid(n_filters, n, oh, x_shape[3] + 2 * pad, kw, d_t.dtype)
        grid[..., :ow] = d_t.reshape(n_filters, n, oh, ow)
        return input_grad_wide(d_wide, w, x_shape, pad), dw, db
    return col2im(d_t.T @ w.reshape(n_filters, -1), x_shape, kh, kw, stride, pad), dw, db


def wide_grid(n_filters, n, oh, wp, kw, dtype, workspace=None):
    """Zeros ``(F, KW-1 + N*OH*WP)`` to hold an output gradient on the "wide" grid of
    :func:`input_grad_wide`, and its ``(F, N, OH, WP)`` view past the ``KW - 1`` leading zeros:
    write the gradient ``(F, N, OH, OW)`` into ``view[..., :OW]``, the same part on every call
    with the same ``workspace`` (see :func:`scratch`), so that the rest stays zero."""
    d_wide = scratch(workspace, "wide", (n_filters, kw - 1 + n * oh * wp), dtype, zeros=True)
    return d_wide, d_wide[:, kw - 1:].reshape(n_filters, n, oh, wp)


def input_grad_wide(d_wide, w, x_shape, pad, workspace=None):
    """``col2im(D @ W)`` for stride 1, without short strided adds; D is given on the wide grid.

    The wide grid holds ``OH x WP`` per image (each output row widened to the padded input's width,
    zeros in the ``KW - 1`` extra columns), the batch flattened (see :func:`wide_grid`). On it,
    kernel column offset j moves every contribution by j places (what crosses a row end lands on
    zeros), and kernel row offset i by ``i*WP``. So: one copy of D shifted by each j (rows ``(f,
    j)``), one matrix product that sums over filters and column offsets, giving one row per
    (channel, kernel row i), and one add per i, shifted by i padded rows within each image. The
    product's row count is rounded up to a multiple of 8 with zero weights: OpenBLAS runs it faster
    so (LeNet's conv2: 30 rows 0.78 ms, 32 rows 0.53 ms). Returns dx ``x_shape`` (a new array);
    the intermediate ones come from ``workspace`` (see :func:`scratch`).
    """
    n, c, height, width = x_shape
    n_filters, _, kh, kw = w.shape
    hp, wp = height + 2 * pad, width + 2 * pad
    run = (hp - kh + 1) * wp
    size = n * run
    shifted = scratch(workspace, "shifted", (n_filters, kw, size), d_wide.dtype)
    for j in range(kw):
        shifted[:, j] = d_wide[:, kw - 1 - j:kw - 1 - j + size]
    w_rows = np.zeros((-(-c * kh // 8) * 8, n_filters * kw), dtype=w.dtype)
    w_rows[:c * kh] = w.transpose(1, 2, 0, 3).reshape(c * kh, n_filters * kw)
    rows = np.matmul(w_rows, shifted.reshape(n_filters * kw, size),
                     out=scratch(workspace, "rows", (len(w_rows), size), d_wide.dtype))
    rows = rows[:c * kh].reshape(c, kh, n, run)
    dxp = np.zeros((c, n, hp * wp), dtype=rows.dtype)
    dxp[:, :, :run] = rows[:, 0]
    for i in range(1, kh):
        dxp[:, :, i * wp:i * wp + run] += rows[:, i]
    dxp = dxp.reshape(c, n, hp, wp).transpose(1, 0, 2, 3)
    return dxp[:, :, pad:pad + height, pad:pad + width]
