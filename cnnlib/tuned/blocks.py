"""Convolution -> ReLU -> 2x2 max pooling as one tuned step (a block), beside the plain layers.

The functions here give the same numbers as ``Conv2D``, ``ReLU`` and ``MaxPool2D`` in a row (the
tests compare them), computed in an order that avoids the slow parts of the plain layers, where
pooling reads and writes every other pixel of short image rows.

* **Pooling on long runs.** Pooling picks one of the four pixels of each 2x2 tile. Here the
  convolution output comes out grouped so that each *tile offset* (a, b) is one long regular run
  of memory, and pooling is the maximum of four such runs.
* **ReLU after pooling**, on a quarter of the values: ``max(relu(.)) == relu(max(.))``, and the
  gradients agree as well (a tile whose maximum is not positive passes no gradient either way).
* **Gradient to the first maximum** (tile offsets in row-major order, like ``max_pool2d_backward``)
  by multiplying with "candidate equals the maximum" and subtracting what was sent, offset by
  offset.

Two routes:

* :func:`conv_relu_pool_forward` / :func:`conv_relu_pool_backward`, for any block: the im2col
  columns are ordered with the even output rows of every image first, then the odd ones
  (``row_parity`` in :func:`~cnnlib.tuned.conv.column_matrix`), so tile offset (a, b) is every
  other element of the a-th half of each filter's output. The input gradient uses the tuned
  convolution's :func:`~cnnlib.tuned.conv.input_grad_wide`.
* :func:`first_conv_relu_pool_forward` / :func:`first_conv_relu_pool_backward`, for a first layer on
  few channels (no input gradient): **space-to-depth**. The padded input is split into four planes
  by pixel parity, ``planes[c, a, b, n, Y, X] = xpad[n, c, 2Y + a, 2X + b]``. A 5x5 filter at tile
  offset (i, j) then only touches a 3x3 neighbourhood of each plane, so one im2col matrix of
  4 x 3 x 3 = 36 rows per channel (instead of 4 x 25) serves all four offsets, and one product with
  a ``(4F, 36C + 1)`` weight matrix (each filter placed at the four offsets, plus the bias column)
  gives the four offsets as four contiguous blocks. Pooled positions live on a "wide" grid of
  ``GH x GW`` per image, slightly larger than the pooled output, so that every im2col row is one
  shifted slice of a plane; the extra positions hold garbage that is cropped and gets zero gradient.

Both routes share one contract: ``forward(x, w, b, pad, workspace=None) -> (out, cache)`` and
``backward(dout, cache, input_grad) -> (dx or None, dw, db)``. ``workspace``: a dict in which the
large intermediate arrays are kept and reused by the next call (:func:`~cnnlib.tuned.conv.scratch`),
so a forward call overwrites what the previous one's cache refers to: one forward/backward pair
per workspace at a time (``ConvReLUPool`` keeps one per layer). The output and ``dx`` are always new
arrays.
"""

import numpy as np

from .._checks import check_conv, check_dout, conv_output_size
from .conv import column_matrix, input_grad_wide, scratch, split_bias, wide_grid, with_bias

__all__ = ["conv_relu_pool_forward", "conv_relu_pool_backward", "first_conv_relu_pool_forward",
           "first_conv_relu_pool_backward"]


def _pooled_conv_size(x, w, pad):
    """The stride-1 convolution's output ``(OH, OW)``; ValueError unless both are even."""
    oh, ow = conv_output_size(x.shape[2], w.shape[2], 1,
                              pad), conv_output_size(x.shape[3], w.shape[3], 1, pad)
    if oh % 2 or ow % 2:
        raise ValueError(f"2x2 pooling needs an even convolution output, got {oh}x{ow} "
                         f"(x shape {x.shape}, w shape {w.shape}, pad {pad})")
    return oh, ow


def _pool_and_relu(candidates, pooled=None):
    """``(pooled, relu(pooled))`` for the four candidate arrays of every tile; the maxima are
    written into ``pooled`` when given."""
    pooled = np.maximum(candidates[0], candidates[1], out=pooled)
    np.maximum(pooled, candidates[2], out=pooled)
    np.maximum(pooled, candidates[3], out=pooled)
    return pooled, np.maximum(pooled, 0)


def _route_to_first_max(d_pooled, candidates, pooled, targets):
    """Write into ``targets[k]`` the part of ``d_pooled`` whose tile has its first maximum at offset
    k.

    ``d_pooled`` is used up: what offset k takes is subtracted from it, so a later equal candidate
    gets zero, and the last offset takes what is left.
    """
    for candidate, target in zip(candidates[:-1], targets[:-1]):
        np.multiply(d_pooled, candidate == pooled, out=target)
        d_pooled -= target
    targets[-1][...] = d_pooled


def _tile_offsets(conv):
    """The four ``(F, N, OH/2, OW/2)`` views of ``conv (F, 2, N, OH/2, OW/2, 2)``, offsets (a, b)
    row-major."""
    return [conv[:, a, :, :, :, b] for a in range(2) for b in range(2)]


def conv_relu_pool_forward(x, w, b, pad=0, workspace=None):
    """``relu(max_pool2d(conv2d(x, w, b, stride=1, pad=pad), 2))``; returns ``(out, cache)``.

    x ``(N, C, H, W)``, w ``(F, C, KH, KW)``, b ``(F,)`` -> out ``(N, F, OH/2, OW/2)``, where OH x
    OW is the convolution's output size, which must be even. ``out`` is a view of a filter-major
    array. ``workspace``: see the module's docstring.
    """
    check_conv(x, w, b, 1, pad)
    oh, ow = _pooled_conv_size(x, w, pad)
    n_filters, _, kh, kw = w.shape
    cols = column_matrix(x, kh, kw, 1, pad, ones_row=True, row_parity=True, workspace=workspace)
    conv = np.matmul(with_bias(w, b), cols,
                     out=scratch(workspace, "conv", (n_filters, cols.shape[1]), cols.dtype))
    conv = conv.reshape(n_filters, 2, len(x), oh // 2, ow // 2, 2)
    candidates = _tile_offsets(conv)
    pooled, out = _pool_and_relu(candidates, scratch(workspace, "pooled", candidates[0].shape,
                                                     conv.dtype))
    return out.transpose(1, 0, 2, 3), (x.shape, w, pad, cols, conv, pooled, workspace)


def conv_relu_pool_backward(dout, cache, input_grad=True):
    """Gradients ``(dx, dw, db)`` of :func:`conv_relu_pool_forward`, shaped like x, w, b.

    ``input_grad=False`` skips dx (returns None).
    """
    x_shape, w, pad, cols, conv, pooled, workspace = cache
    n_filters, _, _, kw = w.shape
    n, ph, pw = pooled.shape[1:]
    check_dout(dout, (n, n_filters, ph, pw))
    d_pooled = dout.transpose(1, 0, 2, 3) * (pooled > 0)
    d_conv = scratch(workspace, "d_conv", conv.shape, conv.dtype)
    _route_to_first_max(d_pooled, _tile_offsets(conv), pooled, _tile_offsets(d_conv))
    dw_ext = np.matmul(cols, d_conv.reshape(n_filters, -1).T).T
    dw, db = split_bias(dw_ext, w.shape)
    if not input_grad:
        return None, dw, db
    d_wide, grid = wide_grid(n_filters, n, 2 * ph, x_shape[3] + 2 * pad, kw, d_conv.dtype,
                             workspace)
    rows_by_parity = grid.reshape(n_filters, n, ph, 2, grid.shape[-1])[..., :2 * pw]
    rows_by_parity[...] = d_conv.reshape(n_filters, 2, n, ph, 2 * pw).transpose(0, 2, 3, 1, 4)
    return input_grad_wide(d_wide, w, x_shape, pad, workspace), dw, db


def _taps(kh, kw):
    """Neighbourhood ``(TH, TW)`` of a plane that a ``kh x kw`` filter touches at some tile
    offset."""
    return kh // 2 + 1, kw // 2 + 1


def first_conv_relu_pool_forward(x, w, b, pad=0, workspace=None):
    """:func:`conv_relu_pool_forward` by space-to-depth, for a first layer (no input gradient).

    x ``(N, C, H, W)``, w ``(F, C, KH, KW)``, b ``(F,)`` -> out ``(N, F, OH/2, OW/2)``; returns
    ``(out, cache)``. ``out`` is a view of a larger array. ``workspace``: see the module's
    docstring.
    """
    check_conv(x, w, b, 1, pad)
    oh, ow = _pooled_conv_size(x, w, pad)
    n, c, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    gh, gw = (height + 2 * pad + 1) // 2, (width + 2 * pad + 1) // 2
    th, tw = _taps(kh, kw)
    size = n * gh * gw
    # zeros where nothing is written below (see scratch)
    padded = scratch(workspace, "padded", (n, c, 2 * gh, 2 * gw), x.dtype, zeros=True)
    padded[:, :, pad:pad + height, pad:pad + width] = x
    planes = scratch(workspace, "planes", (c, 2, 2, size + (th - 1) * gw + tw - 1), x.dtype,
                     zeros=True)
    planes[..., :size].reshape(c, 2, 2, n, gh, gw)[...] = padded.reshape(
        n, c, gh, 2, gw, 2
    ).transpose(1, 3, 5, 0, 2, 4)

    rows = c * 4 * th * tw
    cols = scratch(workspace, "cols", (rows + 1, size), x.dtype)
    cols[rows] = 1
    taps = cols[:rows].reshape(c, 2, 2, th, tw, size)
    for ty in range(th):
        for tx in range(tw):
            shift = ty * gw + tx
            taps[:, :, :, ty, tx] = planes[..., shift:shift + size]

    blocks = np.matmul(_offset_weights(w, b), cols,
                       out=scratch(workspace, "blocks", (4 * n_filters, size), x.dtype))
    blocks = blocks.reshape(4, n_filters, size)
    pooled, out = _pool_and_relu(blocks, scratch(workspace, "pooled", blocks.shape[1:],
                                                 blocks.dtype))
    out = out.reshape(n_filters, n, gh, gw)[:, :, :oh // 2, :ow // 2].transpose(1, 0, 2, 3)
    return out, (cols, blocks, pooled, w.shape, (n, gh, gw), out.shape, workspace)


def _offset_weights(w, b):
    """``(4F, 4*C*TH*TW + 1)``: row (i, j, f) holds filter f moved to tile offset (i, j), then its
    bias.

    Filter tap (ki, kj) at offset (i, j) reads pixel (2Y + i + ki, 2X + j + kj), which is plane
    ``((i+ki) % 2, (j+kj) % 2)`` at neighbour ``((i+ki) // 2, (j+kj) // 2)``: the column order of
    cols.
    """
    n_filters, c, kh, kw = w.shape
    th, tw = _taps(kh, kw)
    placed = np.zeros((2, 2, n_filters, c, 2 * th, 2 * tw), dtype=w.dtype)
    for i in range(2):
        for j in range(2):
            placed[i, j, :, :, i:i + kh, j:j + kw] = w
    placed = placed.reshape(4 * n_filters, c, th, 2, tw, 2).transpose(0, 1, 3, 5, 2, 4)
    placed = placed.reshape(4 * n_filters, -1)
    return np.concatenate([placed, np.tile(b, 4)[:, None]], axis=1)


def first_conv_relu_pool_backward(dout, cache, input_grad=False):
    """Gradients ``(None, dw, db)`` of :func:`first_conv_relu_pool_forward`: no input gradient
    (``input_grad=True`` is a ValueError; :func:`conv_relu_pool_backward` computes one)."""
    if input_grad:
        raise ValueError("input_grad: the space-to-depth route computes no input gradient; "
                         "use conv_relu_pool_forward / conv_relu_pool_backward for dx")
    cols, blocks, pooled, w_shape, (n, gh, gw), out_shape, workspace = cache
    check_dout(dout, out_shape)
    n_filters, c, kh, kw = w_shape
    th, tw = _taps(kh, kw)
    # zeros outside the pooled output (see scratch): routing them leaves them zero
    d_pooled = scratch(workspace, "d_pooled", (n_filters, n, gh, gw), dout.dtype, zeros=True)
    d_pooled[:, :, :out_shape[2], :out_shape[3]] = dout.transpose(1, 0, 2, 3)
    d_pooled = d_pooled.reshape(pooled.shape)
    d_pooled *= pooled > 0
    d_blocks = scratch(workspace, "d_blocks", blocks.shape, blocks.dtype)
    _route_to_first_max(d_pooled, blocks, pooled, d_blocks)

    d_weights = np.matmul(d_blocks.reshape(4 * n_filters, n, gh * gw).transpose(1, 0, 2),
                          cols.reshape(len(cols), n, gh * gw).transpose(1, 2, 0)).sum(axis=0)
    placed = d_weights[:, :-1].reshape(2, 2, n_filters, c, 2, 2, th,
                                       tw).transpose(0, 1, 2, 3, 6, 4, 7, 5)
    placed = placed.reshape(2, 2, n_filters, c, 2 * th, 2 * tw)
    dw = sum(placed[i, j, :, :, i:i + kh, j:j + kw] for i in range(2) for j in range(2))
    db = d_weights[:, -1].reshape(4, n_filters).sum(axis=0)
    return None, dw, db
