"""The checkers of the convolution exercises, forward and backward (cnnlib.exercises.convolution)
accept right answers (written independently of cnnlib where the exercise allows) and name each
typical mistake."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib import conv, exercises

from .helpers import checker_tests, stub


def conv_loops(flip=False, bias="after", moves=True, pad_sides=(1, 1), channels=None,
               plus_one=1, pad_in_size=2, pad_width=None):
    """A learner's naive convolution; each keyword turns on one typical mistake (``pad_width``:
    what the learner hands np.pad, as a function of pad)."""
    def forward(x, w, b, stride=1, pad=0):
        n_images, _, height, width = x.shape
        n_filters, _, kh, kw = w.shape
        oh = (height + pad_in_size * pad - kh) // stride + plus_one
        ow = (width + pad_in_size * pad - kw) // stride + plus_one
        before, after = pad * pad_sides[0], pad * pad_sides[1]
        xp = np.pad(x, pad_width(pad) if pad_width else
                    ((0, 0), (0, 0), (before, after), (before, after)))
        kernel = w[:, :, ::-1, ::-1] if flip else w
        step = stride if moves else 1
        out = np.zeros((n_images, n_filters, oh, ow))
        for n, f, i, j in np.ndindex(out.shape):
            window = xp[n, :, i * step:i * step + kh, j * step:j * step + kw]
            if channels == "first":
                total = np.sum(window[0] * kernel[f, 0])
            elif channels == "last":
                for c in range(x.shape[1]):
                    total = np.sum(window[c] * kernel[f, c])
            elif bias == "inside":
                total = np.sum(window * kernel[f] + b[f])
            elif bias == "pixels":
                total = np.sum((window + b[f]) * kernel[f])
            else:
                total = np.sum(window * kernel[f])
            out[n, f, i, j] = total + (b[f] if bias == "after" else 0)
        return out
    return forward


def conv_per_channel(x, w, b, stride=1, pad=0):
    out = np.stack([conv.conv2d_forward_naive(x[:, c:c + 1], w[:, c:c + 1], b, stride, pad)
                    for c in range(x.shape[1])], axis=2)
    return out                                      # (N, F, C, OH, OW): channels not summed


def im2col_by(reorder):
    """cnnlib's im2col, with its (N, OH, OW, C, KH, KW) blocks reordered by ``reorder``."""
    def im2col(x, kh, kw, stride=1, pad=0):
        n, c, height, width = x.shape
        oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
        blocks = conv.im2col(x, kh, kw, stride, pad).reshape(n, oh, ow, c, kh, kw)
        return reorder(blocks).reshape(n * oh * ow, c * kh * kw)
    return im2col


def im2col_loops(x, kh, kw, stride=1, pad=0, sides=(1, 1), pad_all=False):
    xp = np.pad(x, pad if pad_all else ((0, 0), (0, 0), (pad * sides[0], pad * sides[1]),
                                        (pad * sides[0], pad * sides[1])))
    n, _, height, width = x.shape
    height, width = height + pad * sum(sides), width + pad * sum(sides)
    oh, ow = (height - kh) // stride + 1, (width - kw) // stride + 1
    return np.array([xp[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
                     for b in range(n) for i in range(oh) for j in range(ow)])


def im2col_blocks(x, kh, kw, stride=1, pad=0):
    n, c, height, width = x.shape
    oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
    return conv.im2col(x, kh, kw, stride, pad).reshape(n, oh, ow, c, kh, kw)


def forward_im2col(transpose=True, bias=True, weights="W.T"):
    def forward(x, w, b, stride=1, pad=0):
        n, f, oh, ow = conv.conv2d_forward_naive(x, w, b, stride, pad).shape
        matrix = w.reshape(f, -1).T if weights == "W.T" else w.reshape(-1, f)
        out = conv.im2col(x, *w.shape[2:], stride, pad) @ matrix + (b if bias else 0)
        if transpose:
            return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)
        return out.reshape(n, f, oh, ow)
    return forward


def backward_loops(db_rule=None, dw_sum="batch", overwrite=False, moves=True, crop="centre",
                   rotate=False, pad_width=None, dw_from="xp"):
    """A learner's naive backward pass; each keyword turns on one typical mistake."""
    def backward(dout, x, w, stride=1, pad=0):
        kh, kw = w.shape[2:]
        height, width = x.shape[2:]
        xp = np.pad(x, pad_width(pad) if pad_width else ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        source = x if dw_from == "x" else xp
        dxp = np.zeros_like(xp)
        dw = np.zeros((len(x), *w.shape)) if dw_sum == "per image" else np.zeros_like(w)
        kernel = w[:, :, ::-1, ::-1] if rotate else w
        step = stride if moves else 1
        for n, f, i, j in np.ndindex(dout.shape):
            window = source[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            if dw_sum == "per image":
                dw[n, f] += dout[n, f, i, j] * window
            elif dw_sum == "last image":
                dw[f] = (dw[f] if i or j else 0) + dout[n, f, i, j] * window
            else:
                dw[f] += dout[n, f, i, j] * window
            rows, cols = slice(i * step, i * step + kh), slice(j * step, j * step + kw)
            if overwrite:
                dxp[n, :, rows, cols] = dout[n, f, i, j] * kernel[f]
            else:
                dxp[n, :, rows, cols] += dout[n, f, i, j] * kernel[f]
        db = dout.sum(axis=(0, 2, 3)) if db_rule is None else db_rule(dout)
        if crop == "none":
            dx = dxp
        elif crop == "top-left":
            dx = dxp[:, :, :height, :width]
        elif crop == "pad:-pad":
            dx = dxp[:, :, pad:-pad, pad:-pad]
        else:
            dx = dxp[:, :, pad:pad + height, pad:pad + width]
        return dx, dw, db
    return backward


def mutating_backward(dout, x, w, stride=1, pad=0):
    grads = conv.conv2d_backward_naive(dout, x, w, stride, pad)
    dout *= 0
    return grads


def col2im_loops(overwrite=False, crop="centre", moves=True, average=False, order=(0, 1, 2)):
    def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
        n, c, height, width = x_shape
        oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
        xp = np.zeros((n, c, height + 2 * pad, width + 2 * pad))
        counts = np.zeros_like(xp)
        step = stride if moves else 1
        positions = np.moveaxis(np.indices((n, oh, ow)), 0, -1).transpose(*order, 3)
        for row, (b, i, j) in enumerate(positions.reshape(-1, 3)):
            window = (b, slice(None), slice(i * step, i * step + kh),
                      slice(j * step, j * step + kw))
            if overwrite:
                xp[window] = cols[row].reshape(c, kh, kw)
            else:
                xp[window] += cols[row].reshape(c, kh, kw)
            counts[window] += 1
        if average:
            xp = xp / np.maximum(counts, 1)
        if crop == "none":
            return xp
        if crop == "top-left":
            return xp[:, :, :height, :width]
        if crop == "pad:-pad":
            return xp[:, :, pad:-pad, pad:-pad]
        return xp[:, :, pad:pad + height, pad:pad + width]
    return col2im


def dw_im2col(rows="transpose", product="D.T @ cols", shape=True, mean=None):
    def dw_by_im2col(dout, x, kh, kw, stride=1, pad=0):
        f = dout.shape[1]
        cols = conv.im2col(x, kh, kw, stride, pad)
        d = dout.transpose(0, 2, 3, 1).reshape(-1, f) if rows == "transpose" else \
            dout.reshape(-1, f)
        dw = d.T @ cols if product == "D.T @ cols" else cols.T @ d
        dw = dw / {None: 1, "rows": len(cols), "batch": len(x)}[mean]
        return dw.reshape(f, x.shape[1], kh, kw) if shape else dw
    return dw_by_im2col


def reference_dw(dout, x, kh, kw, stride=1, pad=0):
    w = np.zeros((dout.shape[1], x.shape[1], kh, kw))
    return conv.conv2d_backward_naive(dout, x, w, stride, pad)[1]


# --- right answers written with sliding windows and einsum, not cnnlib's loops ----------------

def windows_of(x, kh, kw, stride, pad):
    """``(N, C, OH, OW, KH, KW)``: every window of the padded x, a view."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def conv_by_einsum(x, w, b, stride=1, pad=0):
    windows = windows_of(x, *w.shape[2:], stride, pad)
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b.reshape(1, -1, 1, 1)


def im2col_by_windows(x, kh, kw, stride=1, pad=0):
    windows = windows_of(x, kh, kw, stride, pad).transpose(0, 2, 3, 1, 4, 5)
    return windows.reshape(-1, windows[0, 0, 0].size)


def scatter_windows(per_offset, x_shape, kh, kw, stride, pad):
    """The adjoint of :func:`windows_of`: ``per_offset(i, j)`` ``(N, C, OH, OW)`` added at kernel
    offset (i, j) of every window into a padded zero array, then cropped to ``x_shape``."""
    n, c, height, width = x_shape
    xp = None
    for i, j in np.ndindex(kh, kw):
        part = per_offset(i, j)
        if xp is None:
            xp = np.zeros((n, c, height + 2 * pad, width + 2 * pad), dtype=part.dtype)
        oh, ow = part.shape[2:]
        xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += part
    return xp[:, :, pad:pad + height, pad:pad + width]


def conv_backward_by_einsum(dout, x, w, stride=1, pad=0):
    kh, kw = w.shape[2:]
    dw = np.einsum("nfhw,nchwij->fcij", dout, windows_of(x, kh, kw, stride, pad))
    dx = scatter_windows(lambda i, j: np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j]), x.shape,
                         kh, kw, stride, pad)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def col2im_by_offsets(cols, x_shape, kh, kw, stride=1, pad=0):
    n, c, height, width = x_shape
    oh = (height + 2 * pad - kh) // stride + 1
    blocks = cols.reshape(n, oh, -1, c, kh, kw)
    return scatter_windows(lambda i, j: blocks[..., i, j].transpose(0, 3, 1, 2), x_shape, kh, kw,
                           stride, pad)


def dw_by_einsum(dout, x, kh, kw, stride=1, pad=0):
    return np.einsum("nfhw,nchwij->fcij", dout, windows_of(x, kh, kw, stride, pad))


# --- more right answers, each written another way: loops, shifts, index arrays, tensordot -------

def conv_loops_right(x, w, b, stride=1, pad=0):
    n_images, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n_images, n_filters, oh, ow), dtype=x.dtype)
    for n, f, i, j in np.ndindex(out.shape):
        window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
        out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv_by_shifts(x, w, b, stride=1, pad=0):
    """One strided slice per kernel offset (u, v), multiplied by w[:, :, u, v] for all filters."""
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.zeros((len(x), len(w), oh, ow), dtype=x.dtype) + b[:, None, None]
    for u in range(kh):
        for v in range(kw):
            part = xp[:, :, u:u + stride * (oh - 1) + 1:stride, v:v + stride * (ow - 1) + 1:stride]
            out += np.tensordot(part, w[:, :, u, v], axes=([1], [1])).transpose(0, 3, 1, 2)
    return out


def im2col_list(x, kh, kw, stride=1, pad=0):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    rows = []
    for n in range(len(x)):
        for i in range(oh):
            for j in range(ow):
                window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                rows.append(window.ravel())
    return np.array(rows)


def window_indices(x_shape, kh, kw, stride, pad):
    """Index arrays (c, row, column), each (OH*OW, C*KH*KW), into one padded image."""
    c, height, width = x_shape[1:]
    oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
    ci, u, v = np.indices((c, kh, kw)).reshape(3, -1)
    i, j = np.indices((oh, ow)).reshape(2, -1)
    return ci[None, :], (i * stride)[:, None] + u[None, :], (j * stride)[:, None] + v[None, :]


def im2col_by_indices(x, kh, kw, stride=1, pad=0):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ci, rows, cols = window_indices(x.shape, kh, kw, stride, pad)
    return xp[:, ci, rows, cols].reshape(-1, ci.size)


def forward_product_right(x, w, b, stride=1, pad=0):
    f, _, kh, kw = w.shape
    oh, ow = (x.shape[2] + 2 * pad - kh) // stride + 1, (x.shape[3] + 2 * pad - kw) // stride + 1
    out = im2col_list(x, kh, kw, stride, pad) @ w.reshape(f, -1).T + b
    return out.reshape(len(x), oh, ow, f).transpose(0, 3, 1, 2)


def forward_product_w_first(x, w, b, stride=1, pad=0):
    f, _, kh, kw = w.shape
    oh, ow = (x.shape[2] + 2 * pad - kh) // stride + 1, (x.shape[3] + 2 * pad - kw) // stride + 1
    out = w.reshape(f, -1) @ im2col_by_indices(x, kh, kw, stride, pad).T + b[:, None]
    return out.reshape(f, len(x), oh, ow).transpose(1, 0, 2, 3)


def forward_product_einsum(x, w, b, stride=1, pad=0):
    f, _, kh, kw = w.shape
    oh, ow = (x.shape[2] + 2 * pad - kh) // stride + 1, (x.shape[3] + 2 * pad - kw) // stride + 1
    rows = im2col_by_windows(x, kh, kw, stride, pad).reshape(len(x), oh, ow, -1)
    return np.einsum("nijk,fk->nfij", rows, w.reshape(f, -1)) + b[:, None, None]


def backward_loops_right(dout, x, w, stride=1, pad=0):
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n, f, i, j in np.ndindex(dout.shape):
        rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
        dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
        dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def backward_by_full_convolution(dout, x, w, stride=1, pad=0):
    """dx by notebook 05's route: dilate, pad by K-1, convolve with the rotated kernel, crop."""
    n, f, oh, ow = dout.shape
    kh, kw = w.shape[2:]
    hp, wp = x.shape[2] + 2 * pad, x.shape[3] + 2 * pad
    spread = np.zeros((n, f, hp + kh - 1, wp + kw - 1), dtype=dout.dtype)
    spread[:, :, kh - 1:kh - 1 + stride * oh:stride, kw - 1:kw - 1 + stride * ow:stride] = dout
    rotated = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    dxp = conv_by_shifts(spread, rotated, np.zeros(w.shape[1], dtype=w.dtype))
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    dw = np.tensordot(dout, windows_of(x, kh, kw, stride, pad), axes=([0, 2, 3], [0, 2, 3]))
    return dx, dw, np.einsum("nfij->f", dout)


def col2im_loops_right(cols, x_shape, kh, kw, stride=1, pad=0):
    n_images, c, height, width = x_shape
    oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
    xp = np.zeros((n_images, c, height + 2 * pad, width + 2 * pad), dtype=cols.dtype)
    rows = iter(cols)
    for n in range(n_images):
        for i in range(oh):
            for j in range(ow):
                xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += \
                    next(rows).reshape(c, kh, kw)
    return xp[:, :, pad:pad + height, pad:pad + width]


def col2im_by_add_at(cols, x_shape, kh, kw, stride=1, pad=0):
    n_images, c, height, width = x_shape
    xp = np.zeros((n_images, c, height + 2 * pad, width + 2 * pad), dtype=cols.dtype)
    ci, rows, columns = window_indices(x_shape, kh, kw, stride, pad)
    per_image = cols.reshape(n_images, -1, ci.size)
    for n in range(n_images):
        np.add.at(xp[n], (np.broadcast_to(ci, rows.shape), rows, columns), per_image[n])
    return xp[:, :, pad:pad + height, pad:pad + width]


def dw_product_right(dout, x, kh, kw, stride=1, pad=0):
    f = dout.shape[1]
    d = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    return (d.T @ im2col_list(x, kh, kw, stride, pad)).reshape(f, x.shape[1], kh, kw)


def dw_by_tensordot(dout, x, kh, kw, stride=1, pad=0):
    n, f, oh, ow = dout.shape
    rows = im2col_by_indices(x, kh, kw, stride, pad).reshape(n, oh, ow, -1)
    return np.tensordot(dout, rows, axes=([0, 2, 3], [0, 1, 2])).reshape(f, x.shape[1], kh, kw)


def blur_by_ones(size):
    return np.ones((size, size)) / size ** 2


def blur_by_outer(size):
    row = np.full(size, 1 / size)
    return np.outer(row, row)


def im2col_unpadded(x, kh, kw, stride=1, pad=0):
    """Forgets to pad but still counts the padded number of windows: ragged rows."""
    oh, ow = (x.shape[2] + 2 * pad - kh) // stride + 1, (x.shape[3] + 2 * pad - kw) // stride + 1
    return np.array([x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
                     for n in range(len(x)) for i in range(oh) for j in range(ow)])


def col2im_reshaping_callers(cols, x_shape, kh, kw, stride=1, pad=0):
    dx = col2im_loops_right(cols, x_shape, kh, kw, stride, pad)
    cols.shape = (len(cols), x_shape[1], kh, kw)        # reshapes the caller's array
    return dx


def conv_upcasting(x, w, b, stride=1, pad=0):
    return conv_loops_right(x.astype(np.float64), w, b, stride, pad)


def backward_upcasting(dout, x, w, stride=1, pad=0):
    return tuple(g.astype(np.float64) for g in backward_loops_right(dout, x, w, stride, pad))


def forward_writing_into_x(x, w, b, stride=1, pad=0):
    out = conv_loops_right(x, w, b, stride, pad)
    x[...] = 0
    return out



# --- mistakes found by a learner trial (s7) -------------------------------------------------------

def conv_bias_by_image(x, w, b, stride=1, pad=0):
    out = conv_loops_right(x, w, np.zeros_like(b), stride, pad)
    return out + b[:len(x), None, None, None]          # b[n] instead of b[f]


def conv_kernel_transposed(x, w, b, stride=1, pad=0):
    kh, kw = w.shape[2:]
    oh = conv.conv_output_size(x.shape[2], kh, stride, pad)
    ow = conv.conv_output_size(x.shape[3], kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((len(x), len(w), oh, ow), dtype=x.dtype)
    for n, f, i, j in np.ndindex(out.shape):
        window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
        out[n, f, i, j] = np.sum(window * w[f].transpose(0, 2, 1)) + b[f]
    return out


def conv_into_integers(x, w, b, stride=1, pad=0):
    out = conv_loops_right(x, w, b, stride, pad)
    return out.astype(int)                             # as np.zeros(..., dtype=int) would


def forward_filters_first(x, w, b, stride=1, pad=0):
    f = len(w)
    oh = conv.conv_output_size(x.shape[2], w.shape[2], stride, pad)
    product = im2col_list(x, *w.shape[2:], stride, pad) @ w.reshape(f, -1).T
    return product.reshape(f, len(x), oh, -1).transpose(1, 0, 2, 3) + b[None, :, None, None]


def backward_without_dout(grad):
    def backward(dout, x, w, stride=1, pad=0):
        ones = backward_loops_right(np.ones_like(dout), x, w, stride, pad)
        right = backward_loops_right(dout, x, w, stride, pad)
        return tuple(ones[k] if name == grad else right[k]
                     for k, name in enumerate(("dx", "dw", "db")))
    return backward


def col2im_counter_per_image(cols, x_shape, kh, kw, stride=1, pad=0):
    n_images, c, height, width = x_shape
    oh, ow = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
    xp = np.zeros((n_images, c, height + 2 * pad, width + 2 * pad), dtype=cols.dtype)
    for n in range(n_images):
        r = 0                                          # starts again for every image
        for i in range(oh):
            for j in range(ow):
                xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += \
                    cols[r].reshape(c, kh, kw)
                r += 1
    return xp[:, :, pad:pad + height, pad:pad + width]


def dw_rows_in_order(axes):
    def dw(dout, x, kh, kw, stride=1, pad=0):
        f = dout.shape[1]
        d = dout.transpose(*axes).reshape(-1, f)
        return (d.T @ im2col_list(x, kh, kw, stride, pad)).reshape(f, x.shape[1], kh, kw)
    return dw


REFERENCES = [
    (exercises.check_conv_forward_naive, conv_loops_right),
    (exercises.check_conv_forward_naive, conv_by_einsum),
    (exercises.check_conv_forward_naive, conv_by_shifts),
    (exercises.check_im2col, im2col_list),
    (exercises.check_im2col, im2col_by_windows),
    (exercises.check_im2col, im2col_by_indices),
    (exercises.check_conv_forward_im2col, forward_product_right),
    (exercises.check_conv_forward_im2col, forward_product_w_first),
    (exercises.check_conv_forward_im2col, forward_product_einsum),
    (exercises.check_blur, lambda size: np.full((size, size), 1 / size ** 2)),
    (exercises.check_blur, blur_by_ones),
    (exercises.check_blur, blur_by_outer),
    (exercises.check_conv_backward_naive, backward_loops_right),
    (exercises.check_conv_backward_naive, conv_backward_by_einsum),
    (exercises.check_conv_backward_naive, backward_by_full_convolution),
    (exercises.check_col2im, col2im_loops_right),
    (exercises.check_col2im, col2im_by_offsets),
    (exercises.check_col2im, col2im_by_add_at),
    (exercises.check_dw_by_im2col, dw_product_right),
    (exercises.check_dw_by_im2col, dw_by_einsum),
    (exercises.check_dw_by_im2col, dw_by_tensordot),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {
    exercises.check_conv_forward_naive,
    exercises.check_im2col,
    exercises.check_conv_forward_im2col,
    exercises.check_conv_backward_naive,
    exercises.check_col2im,
    exercises.check_dw_by_im2col,
}


WRONG = [
    (exercises.check_conv_forward_naive, stub,
     "your conv_forward_naive is not written yet: the hint"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: 0 * conv.conv2d_forward_naive(
        x, w, b, s, p), "out on the 4x4 example of section 2 (filter [[1, 0], [0, -1]], bias 1) is "
     "all zeros"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: conv.conv2d_forward_naive(
        x, w, b, s, p).transpose(0, 1, 3, 2), "bias 1) is transposed"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: -conv.conv2d_forward_naive(
        x, w, b, s, p), "has its sign flipped"),
    (exercises.check_conv_forward_naive, conv_loops(flip=True), "you flipped the kernel"),
    (exercises.check_conv_forward_naive, conv_loops(bias="none"), "the bias is missing"),
    (exercises.check_conv_forward_naive, conv_loops(bias="inside"),
     "the bias was added to every product inside the sum"),
    (exercises.check_conv_forward_naive, conv_loops(bias="pixels"),  # sum(w) = 0 on the 4x4
     "bias 1): the bias is missing: every output of filter f gets b[f] added, once"),
    (exercises.check_conv_forward_naive, conv_loops(pad_sides=(0, 2)),
     "bias 1, pad 1): pad the same number of zeros, pad, on EVERY side"),
    (exercises.check_conv_forward_naive, conv_loops(pad_sides=(2, 0)), "on EVERY side"),
    (exercises.check_conv_forward_naive, conv_loops(pad_sides=(0, 0), pad_in_size=0),
     "expected (1, 1, 5, 5), got (1, 1, 3, 3): that is the size without padding"),
    (exercises.check_conv_forward_naive, conv_loops(pad_in_size=1),
     "padding adds pad rows at the top AND at the bottom"),
    (exercises.check_conv_forward_naive, conv_loops(moves=False),
     "the window of output (i, j) starts at row i*stride"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: conv.conv2d_forward_naive(
        x, w, b, 1, p), "that is the size for stride 1"),
    (exercises.check_conv_forward_naive, conv_loops(plus_one=0),
     "got (1, 1, 2, 2): OH = (H + 2*pad - KH) // stride + 1: the + 1"),
    (exercises.check_conv_forward_naive, conv_loops(channels="first"),
     "sum over the input channels too: each output adds the products of all C slices"),
    (exercises.check_conv_forward_naive, conv_loops(channels="last"),
     "yours kept only the last channel"),
    (exercises.check_conv_forward_naive, conv_per_channel,
     "got (1, 1, 1, 3, 3): sum over the input channels too"),
    (exercises.check_conv_forward_naive, conv_loops(pad_width=lambda p: p), "out is wrong on the "
     "4x4 example of section 2 (filter [[1, 0], [0, -1]], bias 1, pad 1): np.pad also padded the "
     "batch and channel axes"),
    (exercises.check_conv_forward_naive, conv_loops(pad_width=lambda p: ((p, p), (p, p))),
     "your conv_forward_naive raised ValueError on the 4x4 example of section 2 (filter "
     "[[1, 0], [0, -1]], bias 1): np.pad takes one (before, after) pair per axis of x, four for "
     "(N, C, H, W); yours gave fewer"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: {}[0],
     "your conv_forward_naive raised KeyError on the 4x4 example of section 2 (filter "
     "[[1, 0], [0, -1]], bias 1): 0"),
    (exercises.check_conv_forward_naive, conv.conv2d_forward_naive,
     "that is cnnlib's own conv2d_forward_naive, which the check compares with"),
    (exercises.check_im2col, stub, "your im2col is not written yet: the hint"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: im2col_loops(x, kh, kw, s, p,
                                                                      pad_all=True),
     "cols is wrong on the 4x4 example of section 2 with a 2x2 window, pad 1: np.pad also padded "
     "the batch and channel axes"),
    (exercises.check_im2col, conv.im2col, "that is cnnlib's own im2col"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: 0 * conv.im2col(x, kh, kw, s, p),
     "cols on the 4x4 image 0..15 of section 5 with a 3x3 window is all zeros"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: conv.im2col(x, kh, kw, s, p).T,
     "expected (4, 9), got (9, 4): one ROW per window, (N*OH*OW, C*KH*KW); yours is transposed"),
    (exercises.check_im2col, im2col_by(lambda b: b.transpose(1, 2, 0, 3, 4, 5)),
     "rows go image by image (order n, i, j)"),
    (exercises.check_im2col, im2col_by(lambda b: b.transpose(0, 2, 1, 3, 4, 5)),
     "yours go down the columns"),
    (exercises.check_im2col, im2col_by(lambda b: b.transpose(0, 1, 2, 4, 5, 3)),
     "yours is channel-last (u, v, c)"),
    (exercises.check_im2col, im2col_by(lambda b: b.transpose(0, 1, 2, 3, 5, 4)),
     "yours went column by column"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: conv.im2col(x, kh, kw, s, 0),
     "expected (25, 4), got (9, 4): that many windows fit without padding"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: im2col_loops(x, kh, kw, s, p, (0, 2)),
     "on EVERY side"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: conv.im2col(x, kh, kw, 1, p),
     "that many windows fit at stride 1"),
    (exercises.check_im2col, im2col_blocks, "got (1, 2, 2, 1, 3, 3): the entries may be right, "
     "but reshape to 2-D"),
    (exercises.check_conv_forward_im2col, stub, "your conv_forward_im2col is not written yet"),
    (exercises.check_conv_forward_im2col, lambda x, w, b, s=1, p=0: 0 * forward_im2col()(
        x, w, b, s, p), "is all zeros"),
    (exercises.check_conv_forward_im2col, forward_im2col(transpose=False),
     "a direct reshape to (N, F, OH, OW) mixes filters and positions"),
    (exercises.check_conv_forward_im2col, forward_im2col(bias=False), "add the bias b"),
    (exercises.check_conv_forward_im2col, forward_im2col(weights="w.reshape(-1, F)"),
     "out on a random (2, 3, 5, 6) batch with 4 filters (3, 3, 2): W = w.reshape(F, -1) "
     "has one ROW per filter; w.reshape(-1, F) is not its transpose W.T"),
    (exercises.check_conv_forward_im2col, lambda x, w, b, s=1, p=0: forward_im2col()(
        x, w, b, s, p).transpose(0, 2, 3, 1), "the filter axis must come second"),
    (exercises.check_blur, stub, "your blur_filter is not written yet"),
    (exercises.check_blur, lambda size: np.zeros((size, size)),
     "the filter for size 3 is all zeros"),
    (exercises.check_blur, lambda size: np.ones((size, size)), "1/9 each, not 1"),
    (exercises.check_blur, lambda size: np.full((size, size), 1 / size), "holds 9 pixels"),
    (exercises.check_blur, lambda size: np.full((3, 3), 1 / 9), "has the wrong shape for size 5"),
    (exercises.check_conv_backward_naive, stub, "your conv_backward_naive is not written yet"),
    (exercises.check_conv_backward_naive, lambda d, x, w, s=1, p=0: (
        np.zeros_like(x), np.zeros_like(w), np.zeros(len(w))),
     "db on section 1's example (x = 0..24 as 5x5, kernel 1..9 as 3x3, its 3x3 dout) is all zeros"),
    (exercises.check_conv_backward_naive, lambda d, x, w, s=1, p=0: tuple(
        g.transpose(0, 1, 3, 2) if g.ndim == 4 else g
        for g in conv.conv2d_backward_naive(d, x, w, s, p)), "dw on section 1's example"),
    (exercises.check_conv_backward_naive, lambda d, x, w, s=1, p=0: tuple(
        -g for g in conv.conv2d_backward_naive(d, x, w, s, p)), "has its sign flipped"),
    (exercises.check_conv_backward_naive, lambda d, x, w, s=1, p=0: conv.conv2d_backward_naive(
        d, x, w, s, p)[:2], "return the three gradients (dx, dw, db)"),
    (exercises.check_conv_backward_naive, lambda d, x, w, s=1, p=0: conv.conv2d_backward_naive(
        d, x, w, s, p)[::-1], "return (dx, dw, db) in this order"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d),
     "db sums dout over the batch AND over every output position"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d.sum(axis=(2, 3))),
     "got (1, 1): sum over the batch (axis 0) too"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d.sum(axis=0)),
     "sum over the output positions"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d[0].sum(axis=(1, 2))),
     "db sums over every image of the batch, not only the first"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d.mean(axis=(0, 2, 3))),
     "not the mean"),
    (exercises.check_conv_backward_naive, backward_loops(dw_sum="per image"),
     "dw sums over the batch: every image adds its contribution"),
    (exercises.check_conv_backward_naive, backward_loops(dw_sum="last image"),
     "yours kept only the last image"),
    (exercises.check_conv_backward_naive, backward_loops(overwrite=True),
     "the gradients must ADD up; yours kept only the last one written to each pixel"),
    (exercises.check_conv_backward_naive, backward_loops(moves=False),
     "stride 2, pad 1): output (i, j) read the window at row i*stride"),
    (exercises.check_conv_backward_naive, backward_loops(crop="none"),
     "got (1, 1, 7, 7): that is the gradient of the PADDED input"),
    (exercises.check_conv_backward_naive, backward_loops(crop="top-left"),
     "crop pad rows and columns from EVERY side"),
    (exercises.check_conv_backward_naive, backward_loops(rotate=True),
     "the 180° rotation belongs to the full-convolution form"),
    (exercises.check_conv_backward_naive, mutating_backward,
     "your conv_backward_naive changed dout in place on section 1's example"),
    (exercises.check_conv_backward_naive, backward_loops(pad_width=lambda p: p), "your "
     "conv_backward_naive raised ValueError on section 1's example (x = 0..24 as 5x5, kernel 1..9 "
     "as 3x3, its 3x3 dout, stride 2, pad 1): np.pad also padded the batch and channel axes"),
    (exercises.check_conv_backward_naive, backward_loops(pad_width=lambda p: ((p, p), (p, p))),
     "your conv_backward_naive raised ValueError on section 1's example (x = 0..24 as 5x5, "
     "kernel 1..9 as 3x3, its 3x3 dout): np.pad takes one (before, after) pair per axis of x, "
     "four for (N, C, H, W); yours gave fewer"),
    (exercises.check_conv_backward_naive, backward_loops(crop="pad:-pad"), "dx has the wrong "
     "shape on section 1's example (x = 0..24 as 5x5, kernel 1..9 as 3x3, its 3x3 dout): "
     "expected (1, 1, 5, 5), got (1, 1, 0, 0): your crop is empty when pad = 0"),
    (exercises.check_conv_backward_naive, backward_loops(dw_from="x"), "dw on section 1's "
     "example (x = 0..24 as 5x5, kernel 1..9 as 3x3, its 3x3 dout, stride 2, pad 1): dw's "
     "windows come from the PADDED input xp (pad 1), as in the forward pass; yours read them "
     "from x"),
    (exercises.check_conv_backward_naive, conv.conv2d_backward_naive,
     "that is cnnlib's own conv2d_backward_naive"),
    (exercises.check_col2im, stub, "your col2im is not written yet"),
    (exercises.check_col2im, lambda c, shape, kh, kw, s=1, p=0: np.zeros(shape),
     "dx for rows of ones, a 5x5 image and 3x3 windows (each pixel gets the number of windows "
     "that cover it) is all zeros"),
    (exercises.check_col2im, col2im_loops(overwrite=True), "where windows overlap, ADD the rows"),
    (exercises.check_col2im, col2im_loops(average=True), "not the last one, not their mean"),
    (exercises.check_col2im, col2im_loops(crop="none"),
     "got (1, 1, 6, 6): that is the PADDED image: crop pad=1"),
    (exercises.check_col2im, col2im_loops(crop="top-left"), "from EVERY side"),
    (exercises.check_col2im, col2im_loops(crop="pad:-pad"), "expected (1, 1, 5, 5), got "
     "(1, 1, 0, 0): your crop is empty when pad = 0"),
    (exercises.check_col2im, conv.col2im, "that is cnnlib's own col2im"),
    (exercises.check_col2im, col2im_loops(moves=False), "column j*stride (stride 2)"),
    (exercises.check_col2im, col2im_loops(order=(1, 2, 0)), "the rows go image by image"),
    (exercises.check_col2im, col2im_loops(order=(0, 2, 1)),
     "your col2im is not the adjoint of im2col for random rows"),
    (exercises.check_col2im, lambda c, shape, kh, kw, s=1, p=0: conv.col2im(
        c.reshape(len(c), kh, kw, -1).transpose(0, 3, 1, 2).reshape(c.shape), shape, kh, kw, s,
        p), "yours read it channel-last"),
    (exercises.check_col2im, lambda c, shape, kh, kw, s=1, p=0: conv.col2im(
        c, shape, kh, kw, s, p).transpose(0, 1, 3, 2), "got (2, 3, 4, 5) (transposed?)"),
    (exercises.check_dw_by_im2col, stub, "your dw_by_im2col is not written yet"),
    (exercises.check_dw_by_im2col, lambda d, x, kh, kw, s=1, p=0: np.zeros(
        (d.shape[1], x.shape[1], kh, kw)), "is all zeros"),
    (exercises.check_dw_by_im2col, dw_im2col(rows="reshape"),
     "a plain reshape of dout (N, F, OH, OW) mixes filters"),
    (exercises.check_dw_by_im2col, dw_im2col(product="cols.T @ D"), "reshaping it scrambles"),
    (exercises.check_dw_by_im2col, dw_im2col(shape=False), "reshape D.T @ cols, (F, C*KH*KW), "
     "to w's shape"),
    (exercises.check_dw_by_im2col, dw_im2col(product="cols.T @ D", shape=False),
     "yours is its transpose"),
    (exercises.check_dw_by_im2col, dw_im2col(mean="rows"), "dw for x (1, 1, 4, 4), 1 filter "
     "2x2, stride 1, pad 0: dW is the SUM over all windows (the product D.T @ cols), not the "
     "mean"),
    (exercises.check_dw_by_im2col, dw_im2col(mean="batch"), "dw for x (2, 3, 9, 9), 4 filters "
     "3x3, stride 2, pad 0: dW is the SUM over the batch, not the mean"),
    (exercises.check_dw_by_im2col, lambda d, x, kh, kw, s=1, p=0: reference_dw(
        d, x, kh, kw, s, p).transpose(0, 1, 3, 2), "is transposed"),
    (exercises.check_im2col, im2col_unpadded, "your im2col raised ValueError on the 4x4 example "
     "of section 2 with a 2x2 window, pad 1: the windows you collected do not all have one shape"),
    (exercises.check_col2im, col2im_reshaping_callers, "your col2im changed the shape of "
     "cols for rows of ones"),
    (exercises.check_conv_forward_naive, forward_writing_into_x, "your conv_forward_naive changed "
     "x in place on the 4x4 example"),
    (exercises.check_conv_forward_naive, conv_upcasting, "your conv_forward_naive's result "
     "for float32 inputs is float64, not float32, for float32 inputs: an array built in float64"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: im2col_list(x, kh, kw, s, p).astype(
        float), "your im2col's result for float32 inputs is float64"),
    (exercises.check_conv_forward_im2col, lambda x, w, b, s=1, p=0: forward_product_right(
        x, w, b.astype(np.float64), s, p), "your conv_forward_im2col's result for float32 "
     "inputs is float64"),
    (exercises.check_conv_backward_naive, backward_upcasting, "your conv_backward_naive's "
     "dx for float32 inputs is float64"),
    (exercises.check_col2im, lambda c, *a: col2im_loops_right(c.astype(float), *a),
     "your col2im's result for float32 inputs is float64"),
    (exercises.check_dw_by_im2col, lambda d, x, kh, kw, s=1, p=0: dw_product_right(
        d, x, kh, kw, s, p).astype(float), "your dw_by_im2col's result for float32 inputs is "
     "float64"),
    (exercises.check_blur, lambda size: [[1 / size ** 2] * size] * size, "your blur_filter "
     "returned a list for size 3: return a numpy array"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: im2col_list(x, kh, kw, s, p).tolist(),
     "your im2col returned a list on the 4x4 image 0..15 of section 5 with a 3x3 window: return a "
     "numpy array"),
    (exercises.check_col2im, lambda *a: col2im_loops_right(*a).tolist(), "your col2im returned a "
     "list"),
    (exercises.check_conv_forward_naive, conv_bias_by_image, "yours took the bias by the image's "
     "index"),
    (exercises.check_conv_forward_naive, conv_into_integers, "holds whole numbers only: it is an "
     "integer array"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: np.maximum(
        conv_loops_right(x, w, b, s, p), 0), "a convolution has no ReLU"),
    (exercises.check_conv_forward_im2col, forward_filters_first, "yours read it as if the filters "
     "came first (F, N, OH, OW)"),
    (exercises.check_conv_backward_naive, backward_without_dout("dw"), "each window's "
     "contribution to dw[f] is weighted by its output's upstream gradient"),
    (exercises.check_conv_backward_naive, backward_without_dout("dx"), "yours sends the bare "
     "weights"),
    (exercises.check_col2im, col2im_counter_per_image, "every image read the rows of image 0"),
    (exercises.check_conv_forward_naive, conv_kernel_transposed, "operands could not be broadcast "
     "together with shapes (3,3,2) (3,2,3) (at your line: `out[n, f, i, j] = np.sum(window * "
     "w[f].transpose(0, 2, 1)) + b[f]`)"),
    (exercises.check_dw_by_im2col, dw_rows_in_order((0, 3, 2, 1)), "yours run down the columns "
     "(n, j, i)"),
    (exercises.check_dw_by_im2col, dw_rows_in_order((2, 3, 0, 1)), "yours go position by "
     "position across the batch"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
