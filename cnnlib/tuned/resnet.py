"""The tuned path of the small ResNet (:func:`cnnlib.blocks.small_resnet`): convolutions and batch
norm that keep their activations **channel-major**, the same numbers as the plain layers.

The plain layers work in NCHW, image after image. Inside a ResNet almost every layer is a
convolution or a batch norm, and both are happier with the channels outermost:

* a convolution as one product ``[W | b] @ cols`` gives ``(F, N*OH*OW)``, filter-major: that is
  the next layer's input in ``(C, N, H, W)`` order with no transpose, and its column matrix is built
  by :func:`cnnlib.tuned.conv.column_matrix` from a padded ``(C, N, H, W)`` copy (runs of pixels
  copied as single items at stride 1, a strided view at stride 2);
* batch norm's statistics are per channel over ``(N, H, W)``: in that order each channel's values
  are one contiguous row, so the sums run along rows, and the backward pass needs two of them.

So the activations stay ``(C, N, H, W)`` in memory and every layer returns an ``(N, C, H, W)``
*view* of them (``a.transpose(1, 0, 2, 3)``): to every other layer (ReLU, the residual add, global
average pooling, ``cnnlib.bridge``) they are ordinary NCHW arrays. :func:`channel_major` gets the
``(C, N, H, W)`` array back without a copy when the input is such a view, and copies once when it
is not (the network's input, a gradient from a plain layer).

* :func:`conv2d_forward` / :func:`conv2d_backward`: the signatures of
  :func:`cnnlib.conv.conv2d_forward` / ``conv2d_backward``; one product per layer for the whole
  batch; at stride 1 the input gradient is the wide-grid product (:func:`input_grad_wide`, as in
  :func:`cnnlib.tuned.conv.input_grad_wide`), at stride 2 a channel-major col2im
  (:func:`col2im_channel_major`).
* numpy copies and adds in one thread; those of this module are split between :data:`THREADS`
  threads by channel (:func:`in_parts`), which gives the same numbers to the last bit.
* :func:`batch_norm_forward` / :func:`batch_norm_backward`: batch norm on ``(C, M)`` rows.
* :class:`CNHWConv2D`, :class:`CNHWBatchNorm2D`: layers that share their parameters, gradients and
  buffers with the plain ``Conv2D`` / ``BatchNorm2D`` they are made from (:meth:`sharing`), so the
  names (``stage1.block0.conv1.W``), checkpoints, optimizers, modes and :mod:`cnnlib.bridge`
  (which converts them as the plain layers) do not change.
* :func:`fuse_nested`: :func:`cnnlib.tuned.fuse_layers`, then every ``Block``/``Residual`` copied
  with its convolutions and batch norms replaced by these (nested blocks too); what
  :func:`cnnlib.tuned.fuse` and ``small_resnet(tuned=True)`` use.
"""

import copy
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import check_conv, check_dout, conv_output_shape
from ..layers import Conv2D
from ..norm import BatchNorm2D
from .conv import copy_runs, split_bias, with_bias
from .layers import TunedConv2D, fuse_layers

__all__ = ["THREADS", "in_parts", "channel_major", "pad_channel_major", "column_matrix",
           "input_grad_wide", "col2im_channel_major", "conv2d_forward",
           "conv2d_backward", "batch_norm_forward", "batch_norm_backward", "CNHWConv2D",
           "CNHWBatchNorm2D", "fuse_nested"]

THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)
"""How many threads share the copies and sums of this module (BLAS has its own count). numpy
lets go of the GIL while it copies or adds large arrays, so two threads copy about twice as fast
on two free cores; every part is computed exactly as in one piece, so the numbers do not depend
on it. Set ``cnnlib.tuned.resnet.THREADS = 1`` to compute in one piece."""

_POOL = {}


def in_parts(size, work):
    """Call ``work(lo, hi)`` on consecutive parts of ``range(size)``, one per thread
    (:data:`THREADS`), the first part in this thread; waits for all and re-raises their errors."""
    parts = max(1, min(THREADS, size))
    if parts == 1:
        work(0, size)
        return
    key = (os.getpid(), parts)     # a forked child gets pools of its own (threads do not fork)
    if key not in _POOL:
        _POOL[key] = ThreadPoolExecutor(parts - 1, thread_name_prefix="cnnlib-resnet")
    bounds = [size * k // parts for k in range(parts + 1)]
    futures = [_POOL[key].submit(work, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    work(bounds[0], bounds[1])
    for future in futures:
        future.result()


def channel_major(x):
    """The ``(C, N, H, W)`` C-contiguous array of ``x (N, C, H, W)``: a view when x is the
    transposed view of such an array (what the layers of this module return), else a copy."""
    t = x.transpose(1, 0, 2, 3)
    return t if t.flags.c_contiguous else np.ascontiguousarray(t)


def pad_channel_major(xc, pad):
    """``xc (C, N, H, W)`` with ``pad`` rows and columns of zeros on every side."""
    if pad == 0:
        return xc
    c, n, height, width = xc.shape
    xp = np.zeros((c, n, height + 2 * pad, width + 2 * pad), dtype=xc.dtype)

    def part(lo, hi):
        xp[lo:hi, :, pad:pad + height, pad:pad + width] = xc[lo:hi]
    in_parts(c, part)
    return xp


def column_matrix(xp, kh, kw, stride=1):
    """The column matrix of a padded channel-major input ``xp (C, N, HP, WP)``, with a last row of
    ones: ``(C*KH*KW + 1, N*OH*OW)``, rows (channel, kernel row, kernel column), columns (image,
    output row, output column); the channels split between threads. At stride 1 every row of a
    window is one run of ``OW`` pixels (:func:`cnnlib.tuned.conv.copy_runs`), else a strided view
    is copied."""
    c, n, hp, wp = xp.shape
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    cols = np.empty((c * kh * kw + 1, n * oh * ow), dtype=xp.dtype)
    cols[-1] = 1
    view = cols[:-1].reshape(c, kh, kw, n, oh, ow)
    if stride == 1:
        sc, sn, sh, sw = xp.strides

        def part(lo, hi):
            copy_runs(xp[lo:hi], view[lo:hi], (hi - lo, kh, kw, n, oh), (sc, sh, sw, sn, sh))
    else:
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]

        def part(lo, hi):
            view[lo:hi] = windows[lo:hi].transpose(0, 4, 5, 1, 2, 3)
    in_parts(c, part)
    return cols


def input_grad_wide(d, w, x_shape, pad):
    """dx ``x_shape`` of a stride-1 convolution from ``d (F, N, OH, OW)``, on the wide grid of
    :func:`cnnlib.tuned.conv.input_grad_wide` (each output row widened to the padded width ``WP``):
    ``KW`` shifted copies of d, one product ``(C*KH, F*KW) @ (F*KW, N*OH*WP)``, then ``KH`` adds,
    each shifted by one padded row more; copies and adds split between threads. dx is a view of a
    ``(C, N, HP, WP)`` array."""
    n, c, height, width = x_shape
    n_filters, _, kh, kw = w.shape
    hp, wp = height + 2 * pad, width + 2 * pad
    oh, ow = d.shape[2:]
    run = oh * wp
    size = n * run
    d_wide = np.zeros((n_filters, kw - 1 + size), dtype=d.dtype)
    grid = d_wide[:, kw - 1:].reshape(n_filters, n, oh, wp)
    shifted = np.empty((n_filters, kw, size), dtype=d.dtype)

    def spread(lo, hi):
        grid[lo:hi, :, :, :ow] = d[lo:hi]
        for j in range(kw):
            shifted[lo:hi, j] = d_wide[lo:hi, kw - 1 - j:kw - 1 - j + size]
    in_parts(n_filters, spread)
    w_rows = np.zeros((-(-c * kh // 8) * 8, n_filters * kw), dtype=w.dtype)
    w_rows[:c * kh] = w.transpose(1, 2, 0, 3).reshape(c * kh, n_filters * kw)
    rows = (w_rows @ shifted.reshape(n_filters * kw, size))[:c * kh].reshape(c, kh, n, run)
    dxp = np.empty((c, n, hp * wp), dtype=rows.dtype)

    def gather(lo, hi):
        dxp[lo:hi, :, run:] = 0
        dxp[lo:hi, :, :run] = rows[lo:hi, 0]
        for i in range(1, kh):
            dxp[lo:hi, :, i * wp:i * wp + run] += rows[lo:hi, i]
    in_parts(c, gather)
    dxp = dxp.reshape(c, n, hp, wp).transpose(1, 0, 2, 3)
    return dxp[:, :, pad:pad + height, pad:pad + width]


def col2im_channel_major(d_cols, x_shape, kh, kw, stride, pad):
    """Adjoint of the column matrix: ``d_cols (C*KH*KW, N*OH*OW)`` (rows (channel, kernel row,
    kernel column), columns (image, output row, output column)) added back onto the windows of a
    padded ``(C, N, HP, WP)`` array, one strided add per kernel offset. Returns dx ``x_shape``
    (N, C, H, W) as a view of the channel-major array."""
    n, c, height, width = x_shape
    hp, wp = height + 2 * pad, width + 2 * pad
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    d_cols = d_cols.reshape(c, kh, kw, n, oh, ow)
    dxp = np.zeros((c, n, hp, wp), dtype=d_cols.dtype)

    def part(lo, hi):
        for i in range(kh):
            for j in range(kw):
                dxp[lo:hi, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += \
                    d_cols[lo:hi, i, j]
    in_parts(c, part)
    return dxp.transpose(1, 0, 2, 3)[:, :, pad:pad + height, pad:pad + width]


def conv2d_forward(x, w, b, stride=1, pad=0):
    """:func:`cnnlib.conv.conv2d_forward`, channel-major; returns ``(out (N, F, OH, OW), cache)``,
    ``out`` a view of a ``(F, N, OH, OW)`` array.

    ``[W | b] @ cols`` with ``cols`` the column matrix (plus a row of ones) of the padded
    channel-major input: one product for the whole batch.
    """
    check_conv(x, w, b, stride, pad)
    n, n_filters, oh, ow = conv_output_shape(x.shape, w.shape, stride, pad)
    cols = column_matrix(pad_channel_major(channel_major(x), pad), *w.shape[2:], stride)
    out = (with_bias(w, b) @ cols).reshape(n_filters, n, oh, ow)
    return out.transpose(1, 0, 2, 3), (x.shape, w, cols, stride, pad)


def conv2d_backward(dout, cache, input_grad=True):
    """:func:`cnnlib.conv.conv2d_backward`, channel-major; returns ``(dx, dw, db)`` shaped like
    x, w, b (dx a view of a ``(C, N, H, W)`` array; None when not ``input_grad``).

    With ``D = dout`` as ``(F, N*OH*OW)``: ``[dw | db] = D @ cols.T`` (in this orientation OpenBLAS
    runs the stem's very long, thin product about 5x faster than ``(cols @ D.T).T``, and the others
    as fast); ``dx``: at stride 1 the wide-grid product (:func:`input_grad_wide`), else ``W.T @ D``
    put back by :func:`col2im_channel_major`.
    """
    x_shape, w, cols, stride, pad = cache
    n_filters, c, kh, kw = w.shape
    out_shape = conv_output_shape(x_shape, w.shape, stride, pad)
    check_dout(dout, out_shape)
    n, _, oh, ow = out_shape
    d = channel_major(dout).reshape(n_filters, -1)
    dw, db = split_bias(d @ cols.T, w.shape)
    if not input_grad:
        return None, dw, db
    if stride == 1:
        return input_grad_wide(d.reshape(n_filters, n, oh, ow), w, x_shape, pad), dw, db
    d_cols = w.reshape(n_filters, -1).T @ d
    return col2im_channel_major(d_cols, x_shape, kh, kw, stride, pad), dw, db


def batch_norm_forward(x, gamma, beta, eps, mean=None, var=None):
    """Batch norm of ``x (N, C, H, W)`` per channel, channel-major. With ``mean``/``var`` None,
    the batch's statistics (training), else the given ones ``(C,)`` (evaluation). Each channel is
    one row of ``M = N*H*W`` values; the channels are split between threads.

    Returns ``(out, cache)``: ``out`` a view of a ``(C, N, H, W)`` array; ``cache = (xhat (C, M),
    inv_std (C,), batch mean (C,), batch variance (C,))``, the statistics None in evaluation.
    """
    xc = channel_major(x)
    c = xc.shape[0]
    rows = xc.reshape(c, -1)
    dtype = rows.dtype.type
    batch = mean is None
    xhat, out = np.empty_like(rows), np.empty_like(rows)
    if batch:
        mean, var = np.empty(c, dtype=rows.dtype), np.empty(c, dtype=rows.dtype)
    inv_std = np.empty(c, dtype=rows.dtype)

    def part(lo, hi):
        if batch:
            mean[lo:hi] = rows[lo:hi].mean(axis=1)
        np.subtract(rows[lo:hi], mean[lo:hi, None], out=xhat[lo:hi])
        if batch:
            var[lo:hi] = (np.einsum("ij,ij->i", xhat[lo:hi], xhat[lo:hi])
                          / dtype(rows.shape[1]))
        inv_std[lo:hi] = 1 / np.sqrt(var[lo:hi] + dtype(eps))
        xhat[lo:hi] *= inv_std[lo:hi, None]
        np.multiply(xhat[lo:hi], gamma[lo:hi, None], out=out[lo:hi])
        out[lo:hi] += beta[lo:hi, None]
    in_parts(c, part)
    stats = (mean, var) if batch else (None, None)
    return out.reshape(xc.shape).transpose(1, 0, 2, 3), (xhat, inv_std, *stats)


def batch_norm_backward(dout, cache, gamma, batch_stats=True):
    """``(dx, dgamma, dbeta)`` of :func:`batch_norm_forward`; ``batch_stats``: whether forward used
    the batch's statistics (then they depend on x too: the compact form
    ``dx = gamma * inv_std * (dout - dbeta/M - xhat * dgamma/M)``), else ``gamma * inv_std *
    dout``. dx is a view of a ``(C, N, H, W)`` array."""
    xhat, inv_std = cache[:2]
    dc = channel_major(dout)
    d = dc.reshape(xhat.shape)
    c = len(xhat)
    m = xhat.dtype.type(xhat.shape[1])
    dx = np.empty_like(xhat)
    dgamma, dbeta = np.empty(c, dtype=xhat.dtype), np.empty(c, dtype=xhat.dtype)

    def part(lo, hi):
        rows, part_dx = d[lo:hi], dx[lo:hi]
        dgamma[lo:hi] = np.einsum("ij,ij->i", rows, xhat[lo:hi])
        dbeta[lo:hi] = rows.sum(axis=1)
        scale = (gamma[lo:hi] * inv_std[lo:hi])[:, None]
        if not batch_stats:
            np.multiply(rows, scale, out=part_dx)
            return
        np.multiply(xhat[lo:hi], (dgamma[lo:hi] / m)[:, None], out=part_dx)
        np.subtract(rows, part_dx, out=part_dx)
        part_dx -= (dbeta[lo:hi] / m)[:, None]
        part_dx *= scale
    in_parts(c, part)
    return dx.reshape(dc.shape).transpose(1, 0, 2, 3), dgamma, dbeta


class CNHWConv2D(TunedConv2D):
    """:class:`~cnnlib.layers.Conv2D` computed channel-major (:func:`conv2d_forward` /
    :func:`conv2d_backward`): the same numbers; its output is an NCHW view of a ``(C, N, H, W)``
    array. Build it like ``Conv2D`` or from one with :meth:`sharing`."""

    forward_fn = staticmethod(conv2d_forward)
    backward_fn = staticmethod(conv2d_backward)


class CNHWBatchNorm2D(BatchNorm2D):
    """:class:`~cnnlib.norm.BatchNorm2D` computed channel-major (:func:`batch_norm_forward` /
    :func:`batch_norm_backward`): the same numbers, updates and buffers. Build it like
    ``BatchNorm2D`` or from one with :meth:`sharing` (the same ``params``, ``grads`` and
    ``buffers`` dicts)."""

    @classmethod
    def sharing(cls, layer):
        """A CNHWBatchNorm2D with ``layer``'s settings and the very same dicts."""
        tuned = cls.__new__(cls)
        tuned.__dict__.update(vars(layer))
        return tuned

    def forward(self, x):
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"x: expected a float array, got dtype {x.dtype}")
        if x.ndim != self.ndim or x.shape[1] != self.num_channels:
            raise ValueError(f"x: expected shape {self.layout.format(self.num_channels)}, "
                             f"got {x.shape}")
        self.batch_stats = self.training
        gamma, beta = self.params["gamma"], self.params["beta"]
        if self.training:
            if x.size == self.num_channels:
                raise ValueError(f"x: batch normalisation in training needs more than one value "
                                 f"per channel (got shape {x.shape}); use eval mode or a larger "
                                 f"batch")
            out, self.cache = batch_norm_forward(x, gamma, beta, self.eps)
            mean, var = self.cache[2:]
            m = self.momentum
            self.buffers["running_mean"] *= m
            self.buffers["running_mean"] += (1 - m) * mean
            self.buffers["running_var"] *= m
            self.buffers["running_var"] += (1 - m) * var
        else:
            out, self.cache = batch_norm_forward(x, gamma, beta, self.eps,
                                                 self.buffers["running_mean"],
                                                 self.buffers["running_var"])
        xhat, inv_std = self.cache[:2]
        # what the plain layer keeps, as views: xhat (N, C, H, W), inv_std (1, C, 1, 1)
        self.xhat = xhat.reshape(x.shape[1], x.shape[0], *x.shape[2:]).transpose(1, 0, 2, 3)
        self.inv_std = inv_std.reshape(1, -1, 1, 1)
        return out

    def backward(self, dout):
        check_dout(dout, self.xhat.shape)
        dx, self.grads["gamma"], self.grads["beta"] = batch_norm_backward(
            dout, self.cache, self.params["gamma"], self.batch_stats)
        return dx


def _is_block(layer):
    """Whether ``layer`` holds named layers (a :class:`cnnlib.blocks.Block` or ``Residual``; that
    module is not imported here: it imports :mod:`cnnlib.models`, which imports this package)."""
    return isinstance(getattr(layer, "layers", None), dict) and hasattr(layer, "children")


def _tuned_layer(layer):
    if _is_block(layer):
        tuned = copy.copy(layer)
        tuned.layers = {name: _tuned_layer(child) for name, child in layer.layers.items()}
        if getattr(layer, "shortcut", None) is not None:
            tuned.shortcut = _tuned_layer(layer.shortcut)
        return tuned
    if type(layer) in (Conv2D, TunedConv2D):
        return CNHWConv2D.sharing(layer)
    if type(layer) is BatchNorm2D:
        return CNHWBatchNorm2D.sharing(layer)
    return layer


def fuse_nested(named_layers):
    """:func:`cnnlib.tuned.fuse_layers` of ``[(name, layer), ...]``, then every
    :class:`~cnnlib.blocks.Block` (a ``Residual`` too, and the blocks inside it) copied with its
    ``Conv2D`` layers as :class:`CNHWConv2D` and its ``BatchNorm2D`` layers as
    :class:`CNHWBatchNorm2D`, and every top-level ``BatchNorm2D`` as a ``CNHWBatchNorm2D``.
    Parameters, gradients and buffers are shared, not copied: names and values stay."""
    return [(name, _tuned_layer(layer) if _is_block(layer) or isinstance(layer, BatchNorm2D)
             else layer) for name, layer in fuse_layers(named_layers)]
