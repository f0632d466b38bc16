"""Convolution -> ReLU -> 2x2 max pooling as one tuned step, for the first block of a network.

This is the speed path beside the plain layers: the same numbers as ``Conv2D``, ``ReLU`` and
``MaxPool2D`` in a row (the tests compare them), computed in an order that avoids their slow parts.

* **Pooling on contiguous blocks.** Pooling picks one of the four pixels of each 2x2 tile. In
  NCHW order the four candidates are interleaved, so the plain pooling layer reads and writes
  with stride 2. Here the convolution output comes out grouped by *tile offset* (i, j): one
  contiguous block per offset, and pooling is the maximum of four blocks.
* **Space-to-depth.** The padded input is split into four planes by pixel parity,
  ``planes[c, a, b, n, Y, X] = xpad[n, c, 2Y + a, 2X + b]``. A 5x5 filter at tile offset (i, j)
  then only touches a 3x3 neighbourhood of each plane, so one im2col matrix of 4 x 3 x 3 = 36 rows
  per channel (instead of 4 x 25) serves all four offsets, and one matrix product with a
  ``(4F, 36C + 1)`` weight matrix (each filter placed at the four offsets, plus the bias column)
  gives all four blocks at once.
* **ReLU after pooling**, on a quarter of the values: ``max(relu(.)) == relu(max(.))``, and the
  gradients agree as well (a tile whose maximum is not positive passes no gradient either way).

Pooled positions live on a "wide" grid of ``GH x GW`` per image, slightly larger than the pooled
output, so that every im2col row is one shifted slice of a plane. The extra positions hold
garbage that is cropped from the output and gets zero gradient. There is no input gradient:
this is for a first layer, where none is needed.
"""

import numpy as np

from .conv import _check_conv, conv_output_size


def _taps(kh, kw):
    """Neighbourhood ``(TH, TW)`` of a plane that a ``kh x kw`` filter touches at some tile offset."""
    return kh // 2 + 1, kw // 2 + 1


def conv_relu_pool_forward(x, w, b, pad=0):
    """``relu(max_pool2d(conv2d(x, w, b, stride=1, pad=pad), 2))``; returns ``(out, cache)``.

    x ``(N, C, H, W)``, w ``(F, C, KH, KW)``, b ``(F,)`` -> out ``(N, F, OH/2, OW/2)``, where OH x OW is
    the convolution's output size, which must be even. ``out`` is a view of a larger array.
    """
    _check_conv(x, w, b, 1, pad)
    n, c, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    oh, ow = conv_output_size(height, kh, 1, pad), conv_output_size(width, kw, 1, pad)
    if oh % 2 or ow % 2:
        raise ValueError(f"2x2 pooling needs an even convolution output, got {oh}x{ow} "
                         f"(x shape {x.shape}, w shape {w.shape}, pad {pad})")
    gh, gw = (height + 2 * pad + 1) // 2, (width + 2 * pad + 1) // 2
    th, tw = _taps(kh, kw)
    size = n * gh * gw
    padded = np.zeros((n, c, 2 * gh, 2 * gw), dtype=x.dtype)
    padded[:, :, pad:pad + height, pad:pad + width] = x
    planes = np.zeros((c, 2, 2, size + (th - 1) * gw + tw - 1), dtype=x.dtype)
    planes[..., :size].reshape(c, 2, 2, n, gh, gw)[...] = padded.reshape(n, c, gh, 2, gw, 2).transpose(1, 3, 5, 0, 2, 4)

    rows = c * 4 * th * tw
    cols = np.empty((rows + 1, size), dtype=x.dtype)
    cols[rows] = 1
    taps = cols[:rows].reshape(c, 2, 2, th, tw, size)
    for ty in range(th):
        for tx in range(tw):
            shift = ty * gw + tx
            taps[:, :, :, ty, tx] = planes[..., shift:shift + size]

    blocks = (_offset_weights(w, b) @ cols).reshape(4, n_filters, size)
    pooled = np.maximum(blocks[0], blocks[1])
    np.maximum(pooled, blocks[2], out=pooled)
    np.maximum(pooled, blocks[3], out=pooled)
    out = np.maximum(pooled, 0).reshape(n_filters, n, gh, gw)[:, :, :oh // 2, :ow // 2].transpose(1, 0, 2, 3)
    return out, (cols, blocks, pooled, w.shape, (n, gh, gw), out.shape)


def _offset_weights(w, b):
    """``(4F, 4*C*TH*TW + 1)``: row (i, j, f) holds filter f moved to tile offset (i, j), then its bias.

    Filter tap (ki, kj) at offset (i, j) reads pixel (2Y + i + ki, 2X + j + kj), which is plane
    ``((i+ki) % 2, (j+kj) % 2)`` at neighbour ``((i+ki) // 2, (j+kj) // 2)``: the column order of cols.
    """
    n_filters, c, kh, kw = w.shape
    th, tw = _taps(kh, kw)
    placed = np.zeros((2, 2, n_filters, c, 2 * th, 2 * tw), dtype=w.dtype)
    for i in range(2):
        for j in range(2):
            placed[i, j, :, :, i:i + kh, j:j + kw] = w
    placed = placed.reshape(4 * n_filters, c, th, 2, tw, 2).transpose(0, 1, 3, 5, 2, 4).reshape(4 * n_filters, -1)
    return np.concatenate([placed, np.tile(b, 4)[:, None]], axis=1)


def conv_relu_pool_backward(dout, cache):
    """Gradients ``(dw, db)`` of :func:`conv_relu_pool_forward` (no input gradient).

    Each pooled gradient goes to the first maximum of its tile (tile offsets in row-major order,
    like ``max_pool2d_backward``), and only where the pooled value is positive (the ReLU).
    """
    cols, blocks, pooled, w_shape, (n, gh, gw), out_shape = cache
    if dout.shape != out_shape:
        raise ValueError(f"dout: expected the forward output's shape {out_shape}, got {dout.shape}")
    n_filters, c, kh, kw = w_shape
    th, tw = _taps(kh, kw)
    d_pooled = np.zeros((n_filters, n, gh, gw), dtype=dout.dtype)
    d_pooled[:, :, :out_shape[2], :out_shape[3]] = dout.transpose(1, 0, 2, 3)
    d_pooled = d_pooled.reshape(pooled.shape)
    d_pooled *= pooled > 0

    d_blocks = np.empty_like(blocks)
    for offset in range(3):
        np.multiply(d_pooled, blocks[offset] == pooled, out=d_blocks[offset])
        d_pooled -= d_blocks[offset]
    d_blocks[3] = d_pooled

    d_weights = np.matmul(d_blocks.reshape(4 * n_filters, n, gh * gw).transpose(1, 0, 2),
                          cols.reshape(len(cols), n, gh * gw).transpose(1, 2, 0)).sum(axis=0)
    placed = d_weights[:, :-1].reshape(2, 2, n_filters, c, 2, 2, th, tw).transpose(0, 1, 2, 3, 6, 4, 7, 5)
    placed = placed.reshape(2, 2, n_filters, c, 2 * th, 2 * tw)
    dw = sum(placed[i, j, :, :, i:i + kh, j:j + kw] for i in range(2) for j in range(2))
    db = d_weights[:, -1].reshape(4, n_filters).sum(axis=0)
    return dw, db
