"""2-D convolution (cross-correlation, as in every deep-learning library): naive loops, then im2col.

Layout is NCHW: x ``(N, C, H, W)``, weights ``(F, C, KH, KW)``, bias ``(F,)``, output
``(N, F, OH, OW)`` with ``OH = (H + 2*pad - KH) // stride + 1`` (and the same for OW).

This module is the code notebooks 04 and 05 teach, and the code ``Conv2D`` runs. The naive
functions are plain loops to read against the math. The fast ones turn the convolution into one
matrix product: ``im2col`` copies every receptive field into a row, so that
``out = im2col(x) @ W.reshape(F, -1).T + b``; the backward pass is the Affine layer's rule on that
product, and ``col2im``, the adjoint of im2col, sums the rows of the input gradient back onto the
image. :mod:`cnnlib.tuned` computes the same numbers faster, in a less readable way.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import (
    check_4d,
    check_conv,
    check_dout,
    check_stride_pad,
    conv_output_shape,
    conv_output_size,
)

__all__ = ["conv_output_size", "pad_images", "conv2d_forward_naive", "conv2d_backward_naive",
           "im2col", "col2im", "conv2d_forward", "conv2d_backward"]


def pad_images(x, pad):
    """``x (N, C, H, W)`` with ``pad`` rows and columns of zeros on every side: ``(N, C, H+2p,
    W+2p)``."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv2d_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution by explicit loops over images, filters and output pixels: ``(N, F, OH, OW)``."""
    check_conv(x, w, b, stride, pad)
    n_images, n_filters, oh, ow = conv_output_shape(x.shape, w.shape, stride, pad)
    kh, kw = w.shape[2:]
    xp = pad_images(x, pad)
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
    check_conv(x, w, None, stride, pad)
    n_images, n_filters, oh, ow = conv_output_shape(x.shape, w.shape, stride, pad)
    check_dout(dout, (n_images, n_filters, oh, ow))
    kh, kw = w.shape[2:]
    height, width = x.shape[2:]
    xp = pad_images(x, pad)
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


def im2col(x, kh, kw, stride=1, pad=0):
    """Copy every receptive field of ``x (N, C, H, W)`` into a row: ``(N*OH*OW, C*KH*KW)``.

    Rows run over (image, output row, output column), columns over (channel, kernel row, kernel
    column), matching ``w.reshape(F, -1)``. ``sliding_window_view`` gives every ``kh x kw`` window
    without copying; the ``reshape`` at the end is the copy.
    """
    check_4d("x", x)
    check_stride_pad(stride, pad)
    n, c, height, width = x.shape
    oh, ow = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    xp = pad_images(x, pad)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    # windows is a view (N, C, OH, OW, KH, KW); rows the view (N, OH, OW, C, KH, KW); reshape copies
    rows = windows.transpose(0, 2, 3, 1, 4, 5)
    return rows.reshape(n * oh * ow, c * kh * kw)


def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    """Adjoint of :func:`im2col`: add each row ``(N*OH*OW, C*KH*KW)`` back onto its window of an
    array of ``x_shape``, summing where windows overlap, and cut the padding off.

    ``<im2col(x), cols> == <x, col2im(cols)>`` for every x and cols. Loops over the ``KH * KW``
    kernel offsets only: offset (i, j) of every window lands on a strided slice of the padded input.
    """
    check_stride_pad(stride, pad)
    n, c, height, width = x_shape
    oh, ow = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    if cols.shape != (n * oh * ow, c * kh * kw):
        raise ValueError(f"cols: expected shape {(n * oh * ow, c * kh * kw)} for x_shape "
                         f"{tuple(x_shape)}, got {cols.shape}")
    windows = cols.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # N, C, KH, KW, OH, OW
    xp = np.zeros((n, c, height + 2 * pad, width + 2 * pad), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += windows[:, :, i, j]
    return xp[:, :, pad:pad + height, pad:pad + width]


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Convolution as one matrix product; returns ``(out (N, F, OH, OW), cache)`` for backward.

    ``out = im2col(x) @ W.reshape(F, -1).T + b``: an Affine layer on the rows of im2col, whose
    ``(N*OH*OW, F)`` result is reshaped to ``(N, OH, OW, F)`` and moved to NCHW.
    """
    check_conv(x, w, b, stride, pad)
    n, n_filters, oh, ow = conv_output_shape(x.shape, w.shape, stride, pad)
    cols = im2col(x, *w.shape[2:], stride, pad)                  # (N*OH*OW, C*KH*KW)
    out = cols @ w.reshape(n_filters, -1).T + b                  # (N*OH*OW, F)
    out = out.reshape(n, oh, ow, n_filters).transpose(0, 3, 1, 2)
    return out, (x.shape, w, cols, stride, pad)


def conv2d_backward(dout, cache, input_grad=True):
    """Gradients of :func:`conv2d_forward`; returns ``(dx, dw, db)`` shaped like x, w, b.

    The Affine rule on the matrix product, with ``D = dout`` as ``(N*OH*OW, F)``:
    ``db = sum of D's rows``, ``dW = D.T @ cols``, ``dcols = D @ W``, then ``dx = col2im(dcols)``.
    ``input_grad=False`` skips dx (returns None), e.g. for a first layer.
    """
    x_shape, w, cols, stride, pad = cache
    n_filters, _, kh, kw = w.shape
    check_dout(dout, conv_output_shape(x_shape, w.shape, stride, pad))
    d = dout.transpose(0, 2, 3, 1).reshape(-1, n_filters)        # (N*OH*OW, F)
    db = d.sum(axis=0)
    dw = (d.T @ cols).reshape(w.shape)
    if not input_grad:
        return None, dw, db
    dx = col2im(d @ w.reshape(n_filters, -1), x_shape, kh, kw, stride, pad)
    return dx, dw, db

