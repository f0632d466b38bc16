"""Every checker accepts cnnlib's reference and rejects a stub, zeros, a transposed or unsummed
answer and its exercise's typical mistake, each with a message that names the mistake."""

import copy
import functools

import numpy as np
import pytest

from cnnlib import conv, exercises, graph, interpret, layers, pool
from cnnlib.exercises import ExerciseError, interpretation
from cnnlib.functions import softmax
from cnnlib.models import LeNet5, Sequential
from cnnlib.optim import Adam


def stub(*args, **kwargs):
    raise NotImplementedError("the hint for this exercise")


# --- layer classes built from a backward rule ---------------------------------------------------

def node(reference, backward):
    class Node(reference):
        pass
    Node.backward = backward
    return Node


def layer(reference, backward):
    class Wrong(reference):
        pass
    Wrong.backward = backward
    return Wrong


def affine(backward):
    return layer(layers.Affine, backward)


def affine_grads(dw, db, reshape=True):
    def backward(self, dout):
        self.grads["W"], self.grads["b"] = dw(self.x, dout), db(dout)
        dx = dout @ self.params["W"].T
        return dx.reshape(self.x_shape) if reshape else dx
    return affine(backward)


def relu_in_place(self, dout):
    dout[~self.mask] = 0
    return dout


def sigmoid_twice(self, dout):
    s = 1 / (1 + np.exp(-self.out))
    return dout * s * (1 - s)


def softmax_backward(rule):
    def backward(self, dout=1.0):
        return rule(self.probs, self.targets, dout, len(self.probs))
    return layer(layers.SoftmaxWithLoss, backward)


def pool_backward(local_grad, *, overwrite=False):
    def backward(dout, x, size=2, stride=None):
        stride = stride or size
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(dout.shape):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            grad = dout[n, c, i, j] * local_grad(x[n, c, rows, cols])
            if overwrite:
                dx[n, c, rows, cols] = grad
            else:
                dx[n, c, rows, cols] += grad
        return dx
    return backward


def first_max(window):
    grad = np.zeros_like(window)
    grad[np.unravel_index(np.argmax(window), window.shape)] = 1
    return grad


def last_max(window):
    grad = np.zeros_like(window)
    flat = window.ravel()
    grad.flat[flat.size - 1 - np.argmax(flat[::-1])] = 1
    return grad


def tanh(backward):
    return layer(exercises.Tanh, backward)


def routed(x, size, stride):
    out, cache = pool.max_pool2d_forward(x, size, stride)
    return np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out), cache)) / x.size


def avg_conv(weight):
    return lambda x: conv.conv2d_forward_naive(x, np.full((1, 1, 2, 2), weight), np.zeros(1),
                                               stride=2)


def column_softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


# --- notebook 04: convolution forward, written with a typical mistake switched on ----------------

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


# --- notebook 05: convolution backward, with a typical mistake switched on ----------------------

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


def batch_max_softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum(axis=-1, keepdims=True)


def softmax_without_keepdims(v):
    e = np.exp(v - v.max(axis=-1))
    return e / e.sum(axis=-1)


def deep_type_error(v):
    return "scores: " + v           # a TypeError inside the learner's code, not in the call


def shifted_softmax(shift):
    def softmax_(v):
        e = np.exp(v - shift(v))
        return e / e.sum(axis=-1, keepdims=True)
    return softmax_


def in_place_softmax(v):
    v -= v.max(axis=-1, keepdims=True)
    e = np.exp(v)
    return e / e.sum(axis=-1, keepdims=True)


def tanh_in_place(self, dout):
    dout *= 1 - self.out ** 2
    return dout


def unstrided_pool_forward(x, size=2, stride=None):
    stride = stride or size
    out = pool.max_pool2d_forward_naive(x, size, stride).copy()
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = x[n, c, i:i + size, j:j + size].max()
    return out


def unstrided_pool_backward(dout, x, size=2, stride=None):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        dx[n, c, i:i + size, j:j + size] += dout[n, c, i, j] * first_max(
            x[n, c, i:i + size, j:j + size])
    return dx


def routed_dx(x, size, stride):
    out, cache = pool.max_pool2d_forward(x, size, stride)
    return out, pool.max_pool2d_backward(np.ones_like(out), cache)


# --- notebook 08 ---------------------------------------------------------------------------------

def feature_maps(model, x, layer_name):
    for name, layer_ in model.layers.items():
        x = layer_.forward(x)
        if name == layer_name:
            return x


def maps_of(offset):
    """The maps of the layer ``offset`` places away from the one asked for (-1: the one before)."""
    def wrong(model, x, layer_name):
        names = list(model.layers)
        k = names.index(layer_name) + offset
        return x if k < 0 else feature_maps(model, x, names[min(k, len(names) - 1)])
    return wrong


def two_layers_back(model, x, layer_name):
    names = list(model.layers)
    k = names.index(layer_name)
    return feature_maps(model, x, names[k - 2] if k >= 2 else layer_name)


def not_fed(model, x, layer_name):
    """Every layer gets the input x, not the previous layer's output."""
    for name, layer_ in model.layers.items():
        out = layer_.forward(x)
        if name == layer_name:
            return out


DIGITS = np.random.default_rng(0).random((5, 1, 28, 28))     # a "global x_test" of the notebook


def class_means(strength, labels):
    return np.stack([strength[labels == k].mean(axis=0) for k in range(10)])


def reassigning_drop(model, x, y, f):
    """Replaces the dict entries of a copy's params: Sequential.params is rebuilt on each call."""
    from cnnlib.training import evaluate

    damaged = copy.deepcopy(model)
    w, b = damaged.params["conv1.W"].copy(), damaged.params["conv1.b"].copy()
    w[f], b[f] = 0, 0
    damaged.params["conv1.W"], damaged.params["conv1.b"] = w, b
    return 100 * (evaluate(model, x, y) - evaluate(damaged, x, y))


def favourite(strength, labels, reduce=np.mean, axis=0):
    table = np.stack([reduce(strength[labels == k], axis=0) for k in range(10)])
    return table.argmax(axis=axis)


@functools.lru_cache(maxsize=None)
def trained_lenet():
    from cnnlib.datasets import DATA_ROOT, load_mnist
    from cnnlib.models import LeNet5
    from cnnlib.training import load_params

    model = LeNet5()
    load_params(model, DATA_ROOT / "lenet5_mnist.npz")
    (_, _), (x_test, y_test) = load_mnist()
    return model, x_test[:500], y_test[:500]


def check_knockout(fn):
    """check_knockout on the shipped LeNet-5 and 500 test digits (filter 0 drops them 2.4 points)."""
    return exercises.check_knockout(fn, *trained_lenet())


def accuracy_drop(model, x, y, f, *, keep_bias=False, scale=100, in_place=False, filter_=None):
    from cnnlib.training import evaluate

    damaged = model if in_place else copy.deepcopy(model)
    before = evaluate(model, x, y)
    f = f if filter_ is None else filter_
    damaged.params["conv1.W"][f] = 0
    if not keep_bias:
        damaged.params["conv1.b"][f] = 0
    return scale * (before - evaluate(damaged, x, y))


REFERENCES = [
    (exercises.check_mul_layer, graph.MulLayer),
    (exercises.check_add_layer, graph.AddLayer),
    (exercises.check_shipping, lambda f, s, t: ((f + s) * t, t)),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (z, z, x + y))),
    (exercises.check_passes, lambda n: (2 * n, 1)),
    (exercises.check_relu, layers.ReLU),
    (exercises.check_sigmoid, layers.Sigmoid),
    (exercises.check_tanh, exercises.Tanh),
    (exercises.check_affine, layers.Affine),
    (exercises.check_softmax_with_loss, layers.SoftmaxWithLoss),
    (exercises.check_softmax, softmax),
    (exercises.check_conv_forward_naive, lambda *a: conv.conv2d_forward_naive(*a)),
    (exercises.check_im2col, lambda *a: conv.im2col(*a)),
    (exercises.check_conv_forward_im2col, forward_im2col()),
    (exercises.check_blur, lambda size: np.full((size, size), 1 / size ** 2)),
    (exercises.check_conv_backward_naive, lambda *a: conv.conv2d_backward_naive(*a)),
    (exercises.check_col2im, lambda *a: conv.col2im(*a)),
    (exercises.check_dw_by_im2col, reference_dw),
    (exercises.check_max_pool_forward, pool.max_pool2d_forward_naive),
    (exercises.check_max_pool_backward, pool.max_pool2d_backward_naive),
    (exercises.check_routed_fraction, routed),
    (exercises.check_avg_pool_as_conv, avg_conv(0.25)),
    (exercises.check_feature_maps, feature_maps),
    (exercises.check_favourite_class, favourite),
    (check_knockout, accuracy_drop),
]

WRONG = [
    # notebook 01
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: stub()),
     "MulLayer.backward is not written yet: the hint for this exercise"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: (0 * d, 0 * d)),
     "dx on the fixed case x=3, y=-2, dout=1 is all zeros"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: (d * self.x, d * self.y)),
     "each input gets dout times the OTHER input"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: (self.y, self.x)),
     "dout=2: multiply by dout"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: (-d * self.y, -d * self.x)),
     "has its sign flipped"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: d * self.y),
     "must return a pair (dx, dy)"),
    (exercises.check_add_layer, node(graph.AddLayer, lambda self, d: stub()),
     "AddLayer.backward is not written yet: the hint for this exercise"),
    (exercises.check_add_layer, node(graph.AddLayer, lambda self, d: (0 * d, 0 * d)),
     "is all zeros"),
    (exercises.check_add_layer, node(graph.AddLayer, lambda self, d: (d / 2, d / 2)),
     "each input gets the whole dout, not a share"),
    (exercises.check_add_layer, node(graph.AddLayer, lambda self, d: (1.0, 1.0)),
     "dout=2: an add node passes dout on unchanged, not 1"),
    (exercises.check_add_layer, node(graph.AddLayer, lambda self, d: (np.sum(d), np.sum(d))),
     "wrong shape on random (2, 3) arrays: expected (2, 3), got ()"),
    (exercises.check_shipping, stub, "your function is not written yet: the hint"),
    (exercises.check_shipping, lambda f, s, t: (0.0, 0.0),
     "price for fruit_total=650.0, shipping=30.0, tax=1.1 is all zeros"),
    (exercises.check_shipping, lambda f, s, t: ((f + s) * t, 0.0), "d_shipping for fruit_total"),
    (exercises.check_shipping, lambda f, s, t: ((f + s) * t, 1.0),
     "the add node passes on dout, which here is d price / d sum = tax, not 1"),
    (exercises.check_shipping, lambda f, s, t: 748.0, "return a pair (price, d_shipping)"),
    (exercises.check_add_mul, stub, "not written yet"),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (0, 0, 0)), "is all zeros"),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (1.0, 1.0, x + y)),
     "dx and dy are dout * z"),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (-z, -z, -(x + y))),
     "sign flipped"),
    (exercises.check_passes, stub, "not written yet"),
    (exercises.check_passes, lambda n: (0, 0), "is all zeros"),
    (exercises.check_passes, lambda n: (n, 1), "twice per parameter"),
    (exercises.check_passes, lambda n: (2 * n, n), "one backward pass gives the gradient of every"),
    (exercises.check_passes, lambda n: (123412, 1), "for 5 parameters"),
    # notebook 02
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: stub()),
     "ReLU.backward is not written yet: the hint for this exercise"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: 0 * d), "is all zeros"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: -d * self.mask), "sign flipped"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: d * ~self.mask),
     "passes where the input was POSITIVE"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: self.mask.astype(float)),
     "multiply the mask by dout"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: (d * self.mask).sum(axis=0)),
     "wrong shape on the fixed input [[1.0, -0.5, 0.0, 3.0]] with dout = 2: expected (1, 4)"),
    (exercises.check_relu, layer(layers.ReLU, relu_in_place), "changed dout in place"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, lambda self, d: stub()), "not written yet"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, lambda self, d: 0 * d), "is all zeros"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, lambda self, d: d * self.out),
     "the slope is y * (1 - y), not y"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, sigmoid_twice),
     "you applied the sigmoid to it again"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, lambda self, d: self.out * (1 - self.out)),
     "multiply the slope by dout"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, lambda self, d: (d * self.out).T),
     "expected (1, 3), got (3, 1) (transposed?)"),
    (exercises.check_tanh, tanh(lambda self, d: stub()), "Tanh.backward is not written yet"),
    (exercises.check_tanh, tanh(lambda self, d: 0 * d), "is all zeros"),
    (exercises.check_tanh, tanh(lambda self, d: d * (1 - self.out)), "(y squared)"),
    (exercises.check_tanh, tanh(lambda self, d: (d * (1 - self.out ** 2)).sum(axis=0)),
     "Tanh.backward has the wrong shape on the fixed input [[0.0, 1.0, -1.0]] with dout = 2: "
     "expected (1, 3), got (3,)"),
    (exercises.check_affine, affine(lambda self, d: stub()), "Affine.backward is not written yet"),
    (exercises.check_affine, affine(lambda self, d: 0 * self.x),
     "Affine.backward's dx on a fixed batch of 2 examples, 2 -> 3 features is all zeros"),
    (exercises.check_affine, affine_grads(lambda x, d: d.T @ x, lambda d: d.sum(axis=0)),
     "grads['W'] on a fixed batch of 2 examples, 2 -> 3 features: dW = x.T @ dout, of shape "
     "(in, out); you have its transpose"),
    (exercises.check_affine, affine_grads(lambda x, d: x.T @ d, lambda d: d),
     "grads['b'] has the wrong shape on a fixed batch of 2 examples, 2 -> 3 features: expected "
     "(3,), got (2, 3) (a sum over the batch, axis 0, is missing)"),
    (exercises.check_affine, affine_grads(lambda x, d: x.T @ d, lambda d: d.mean(axis=0)),
     "db is the SUM of dout over the batch, not the mean"),
    (exercises.check_affine, affine_grads(lambda x, d: np.zeros((x.shape[1], d.shape[1])),
                                          lambda d: d.sum(axis=0)),
     "grads['W'] on a fixed batch of 2 examples, 2 -> 3 features is all zeros"),
    (exercises.check_affine, affine_grads(lambda x, d: -(x.T @ d), lambda d: d.sum(axis=0)),
     "grads['W'] on a fixed batch of 2 examples, 2 -> 3 features has its sign flipped"),
    (exercises.check_affine, affine_grads(lambda x, d: x.T @ d, lambda d: d.sum(axis=0),
                                          reshape=False), "give dx back in the shape of x"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: stub()),
     "SoftmaxWithLoss.backward is not written yet"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: 0 * p),
     "dscores on the fixed case scores (2, 1, 0), label 1 is all zeros"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: (t - p) * d / n),
     "the sign is flipped: the gradient is p - t"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: (p - t) * d),
     "divide by the batch size N"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: (p - t) / n),
     "multiply by dout"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: p * d / n),
     "subtract the one-hot targets t"),
    (exercises.check_softmax_with_loss, softmax_backward(lambda p, t, d, n: (p - t).sum(axis=0)),
     "dscores has the wrong shape on the fixed case scores (2, 1, 0), label 1: expected (1, 3), "
     "got (3,)"),
    (exercises.check_softmax, stub, "your softmax is not written yet"),
    (exercises.check_softmax, lambda v: np.zeros_like(v), "is all zeros"),
    (exercises.check_softmax, column_softmax, "normalise each ROW"),
    (exercises.check_softmax, lambda v: softmax(v).T,
     "softmax for the batch [[1000, 1001], [-1000, -999]] is transposed"),
    # notebook 04
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
     "add b[f] once per output, after the sum"),
    (exercises.check_conv_forward_naive, conv_loops(bias="pixels"),  # sum(w) = 0 on the 4x4
     "bias 1): the bias is missing: add b[f] to every output of filter f, once, after the sum"),
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
     "4x4 example of section 2 (filter [[1, 0], [0, -1]], bias 1, pad 1): did np.pad(x, pad) "
     "also pad the batch and channel axes? use ((0,0),(0,0),(pad,pad),(pad,pad))"),
    (exercises.check_conv_forward_naive, conv_loops(pad_width=lambda p: ((p, p), (p, p))),
     "your conv_forward_naive raised ValueError on the 4x4 example of section 2 (filter "
     "[[1, 0], [0, -1]], bias 1): np.pad takes one (before, after) pair per axis of x, four for "
     "(N, C, H, W): ((0,0),(0,0),(pad,pad),(pad,pad)) (the error: ValueError: operands could not "
     "be broadcast together"),
    (exercises.check_conv_forward_naive, lambda x, w, b, s=1, p=0: {}[0],
     "your conv_forward_naive raised KeyError on the 4x4 example of section 2 (filter "
     "[[1, 0], [0, -1]], bias 1): 0"),
    (exercises.check_conv_forward_naive, conv.conv2d_forward_naive,
     "that is cnnlib's own conv2d_forward_naive, which the check compares with"),
    (exercises.check_im2col, stub, "your im2col is not written yet: the hint"),
    (exercises.check_im2col, lambda x, kh, kw, s=1, p=0: im2col_loops(x, kh, kw, s, p,
                                                                      pad_all=True),
     "cols is wrong on the 4x4 example of section 2 with a 2x2 window, pad 1: did np.pad(x, pad) "
     "also pad the batch and channel axes?"),
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
        x, w, b, s, p).transpose(0, 2, 3, 1), "move the filter axis forward"),
    (exercises.check_blur, stub, "your blur_filter is not written yet"),
    (exercises.check_blur, lambda size: np.zeros((size, size)),
     "the filter for size 3 is all zeros"),
    (exercises.check_blur, lambda size: np.ones((size, size)), "1/9 each, not 1"),
    (exercises.check_blur, lambda size: np.full((size, size), 1 / size), "holds 9 pixels"),
    (exercises.check_blur, lambda size: np.full((3, 3), 1 / 9), "has the wrong shape for size 5"),
    # notebook 05
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
     "sum over the output positions too"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d[0].sum(axis=(1, 2))),
     "db sums over every image of the batch, not only the first"),
    (exercises.check_conv_backward_naive, backward_loops(db_rule=lambda d: d.mean(axis=(0, 2, 3))),
     "not the mean"),
    (exercises.check_conv_backward_naive, backward_loops(dw_sum="per image"),
     "dw sums over the batch: every image adds its contribution"),
    (exercises.check_conv_backward_naive, backward_loops(dw_sum="last image"),
     "yours kept only the last image"),
    (exercises.check_conv_backward_naive, backward_loops(overwrite=True),
     "ADD the gradients: dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]"),
    (exercises.check_conv_backward_naive, backward_loops(moves=False),
     "stride 2, pad 1): output (i, j) read the window at row i*stride"),
    (exercises.check_conv_backward_naive, backward_loops(crop="none"),
     "got (1, 1, 7, 7): that is the gradient of the PADDED input"),
    (exercises.check_conv_backward_naive, backward_loops(crop="top-left"),
     "crop pad rows and columns from EVERY side"),
    (exercises.check_conv_backward_naive, backward_loops(rotate=True),
     "the 180° rotation belongs to the full-convolution form"),
    (exercises.check_conv_backward_naive, mutating_backward, "changed dout in place"),
    (exercises.check_conv_backward_naive, backward_loops(pad_width=lambda p: p), "your "
     "conv_backward_naive raised ValueError on section 1's example (x = 0..24 as 5x5, kernel 1..9 "
     "as 3x3, its 3x3 dout, stride 2, pad 1): did np.pad(x, pad) also pad the batch and channel "
     "axes? use ((0,0),(0,0),(pad,pad),(pad,pad)) (the error: ValueError: non-broadcastable"),
    (exercises.check_conv_backward_naive, backward_loops(pad_width=lambda p: ((p, p), (p, p))),
     "your conv_backward_naive raised ValueError on section 1's example (x = 0..24 as 5x5, "
     "kernel 1..9 as 3x3, its 3x3 dout): np.pad takes one (before, after) pair per axis of x, "
     "four for (N, C, H, W): ((0,0),(0,0),(pad,pad),(pad,pad)) (the error: ValueError: operands "
     "could not be broadcast"),
    (exercises.check_conv_backward_naive, backward_loops(crop="pad:-pad"), "dx has the wrong "
     "shape on section 1's example (x = 0..24 as 5x5, kernel 1..9 as 3x3, its 3x3 dout): "
     "expected (1, 1, 5, 5), got (1, 1, 0, 0): pad:-pad is empty when pad = 0"),
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
     "(1, 1, 0, 0): pad:-pad is empty when pad = 0"),
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
    (exercises.check_dw_by_im2col, dw_im2col(rows="reshape"), "a plain reshape mixes filters"),
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
    # notebook 06
    (exercises.check_max_pool_forward, stub, "your max_pool_forward is not written yet"),
    (exercises.check_max_pool_forward, lambda x, s=2, st=None: 0 * pool.max_pool2d_forward(
        x, s, st)[0], "is all zeros"),
    (exercises.check_max_pool_forward, pool.avg_pool2d_forward_naive, "that is the window's MEAN"),
    (exercises.check_max_pool_forward, lambda x, s=2, st=None: pool.max_pool2d_forward_naive(
        x, s, s), "wrong shape with 3x3 windows, stride 2, on 7x5: expected (1, 2, 3, 2), got "
     "(1, 2, 2, 1)"),
    (exercises.check_max_pool_forward, lambda x, s=2, st=None: pool.max_pool2d_forward_naive(
        x, s, st).transpose(0, 1, 3, 2), "out on a random (2, 3, 6, 6) batch is transposed"),
    (exercises.check_max_pool_backward, stub, "your max_pool_backward is not written yet"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: np.zeros_like(x),
     "is all zeros"),
    (exercises.check_max_pool_backward, pool_backward(lambda w: (w == w.max()) * 1.0),
     "tie rule: a window with several equal maxima sends its gradient only to the FIRST one"),
    (exercises.check_max_pool_backward, pool_backward(last_max),
     "tie rule: send the gradient to the FIRST maximum in row-major order; yours went to a later"),
    (exercises.check_max_pool_backward, pool_backward(first_max, overwrite=True),
     "where windows overlap, ADD the gradients"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: pool.avg_pool2d_backward_naive(
        d, x, s, st), "that spreads dout over the window (average pooling)"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: pool.max_pool2d_backward_naive(
        np.ones_like(d), x, s, st), "multiply by dout"),
    (exercises.check_max_pool_backward, lambda d, x, s=2, st=None: pool.max_pool2d_backward_naive(
        d, x, s, st).sum(axis=0), "dx has the wrong shape"),
    (exercises.check_routed_fraction, stub, "not written yet"),
    (exercises.check_routed_fraction, lambda x, s, st: 0.0, "is all zeros"),
    (exercises.check_routed_fraction, lambda x, s, st: 0.25,
     "the fraction is wrong for 3x3 windows, stride 3"),
    (exercises.check_routed_fraction, lambda x, s, st: 1 / s ** 2,
     "1/size**2 holds only when windows tile the input"),
    (exercises.check_avg_pool_as_conv, stub, "not written yet"),
    (exercises.check_avg_pool_as_conv, avg_conv(0.0), "is all zeros"),
    (exercises.check_avg_pool_as_conv, avg_conv(1.0), "1/4 each, not 1"),
    (exercises.check_avg_pool_as_conv, lambda x: avg_conv(0.25)(x).transpose(0, 1, 3, 2),
     "out on the 4x4 example is transposed"),
    # notebook 02: the mistakes a review asked to name, and calls with the wrong parameters
    (exercises.check_softmax, lambda v: np.exp(v) / np.exp(v).sum(axis=-1, keepdims=True),
     "softmax for the scores (1000, 1001, 1002) holds nan or inf: subtract each row's max "
     "before exp"),
    (exercises.check_softmax, batch_max_softmax,
     "for the batch [[1000, 1001], [-1000, -999]] holds nan or inf: use the max of each row, not "
     "of the whole batch"),
    (exercises.check_softmax, softmax_without_keepdims, "keep the row axis (keepdims=True)"),
    (exercises.check_softmax, lambda scores, axis: softmax(scores),
     "your softmax cannot be called the way the exercise asks: the check calls "
     "stable_softmax(scores), and Python said: <lambda>() missing 1 required positional "
     "argument: 'axis'"),
    (exercises.check_softmax_with_loss,
     softmax_backward(lambda p, t, d, n: (p - t) * d / p.shape[1]),
     "divide by N = 1, the batch size (rows), not by C = 3, the number of classes"),
    (exercises.check_relu, type("NeedsSize", (layers.ReLU,), {"__init__": lambda self, size: None}),
     "ReLU(...) cannot be called the way the exercise asks: the check calls NeedsSize()"),
    (exercises.check_affine, type("NoRng", (layers.Affine,), {
        "__init__": lambda self, d_in, d_out: layers.Affine.__init__(self, d_in, d_out)}),
     "the check calls NoRng(2, 3, dtype=float64, rng=<Generator>)"),
    (exercises.check_max_pool_backward, lambda dout, x: np.zeros_like(x),
     "the check calls max_pool_backward(dout, x, size, stride), and Python said"),
    (exercises.check_routed_fraction, lambda x: 0.25, "routed_fraction(x, size, stride)"),
    # notebook 08
    (exercises.check_feature_maps, stub, "your feature_maps is not written yet: the hint"),
    (exercises.check_feature_maps, lambda m, x, n: 0 * feature_maps(m, x, n),
     "feature_maps(model, x, 'conv') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image is all zeros"),
    (exercises.check_feature_maps, maps_of(-1), "one layer too early: that is the input x itself"),
    (exercises.check_feature_maps, maps_of(+1),
     "one layer too far: that is the output of 'relu', the layer after 'conv'"),
    (exercises.check_feature_maps, two_layers_back,
     "feature_maps(model, x, 'pool') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image: that is the output of "
     "layer 'conv', not of 'pool'"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x, n)[0],
     "keep the batch dimension: return (N, C, H, W)"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x, n).swapaxes(-1, -2),
     "feature_maps(model, x, 'conv') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image is transposed"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, np.repeat(x[:1], len(x), 0), n),
     "feature_maps(model, x, 'conv1') on a LeNet5 (random weights) and a batch of 3 random "
     "images: every image got the maps of image 0"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x[::-1].copy(), n),
     "maps[0] are those of image 2: keep the images in the order of x"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, x[:1], n),
     "expected the maps of the 3 images of x, got 1: did you run another array than x"),
    (exercises.check_feature_maps, lambda m, x, n: m.activations(x)[n],
     "model.activations does that for every layer at once: it is what this exercise rebuilds"),
    (exercises.check_favourite_class, stub, "your favourite_class is not written yet"),
    (exercises.check_favourite_class, lambda s, y: np.zeros(s.shape[1], dtype=int),
     "the favourite classes on the fixed case of 18 images, 2 channels is all zeros (the fixed "
     "case: in channel 0 the three 0s have strengths 5, 0, 0, the two 1s 2 and 2, the six 2s 1 "
     "each, every other digit 0, so the best mean is class 1's)"),
    (exercises.check_favourite_class, functools.partial(favourite, reduce=np.sum),
     "use each class's MEAN strength, not its sum"),
    (exercises.check_favourite_class, functools.partial(favourite, reduce=np.max),
     "not its single strongest image"),
    (exercises.check_favourite_class, functools.partial(favourite, axis=1),
     "that is, for each class, its favourite CHANNEL"),
    (exercises.check_favourite_class, lambda s, y: favourite(-s, y), "the LOWEST mean"),
    (check_knockout, stub, "your accuracy_drop is not written yet"),
    (check_knockout, lambda m, x, y, f: 0.0, "the drop for filter 0 on 500 images: 0 points"),
    (check_knockout, functools.partial(accuracy_drop, scale=1), "in percentage POINTS"),
    (check_knockout, functools.partial(accuracy_drop, scale=-100),
     "accuracy BEFORE minus accuracy after"),
    (check_knockout, functools.partial(accuracy_drop, keep_bias=True),
     "set the filter's bias to zero too"),
    (check_knockout, functools.partial(accuracy_drop, in_place=True),
     "accuracy_drop changed the model it was given (conv1.W, conv1.b; restored now)"),
    (check_knockout, functools.partial(accuracy_drop, filter_=0),
     "the drop for filter 1 on 300 images: that is the drop for filter 0"),
    (check_knockout, lambda m, x, y, f: None, "the drop is None for filter 0 on 500 images"),
    (check_knockout, lambda m, x, y, f: np.zeros(3), "the drop has the wrong shape"),
    (check_knockout, lambda m, x, y: 1.0, "the check calls accuracy_drop(model, x, y, 0)"),
    # the mistakes a second review asked to name
    (exercises.check_softmax, shifted_softmax(lambda v: v.min(axis=-1, keepdims=True)),
     "softmax for the wide row [[-1000, 0, 1000]] holds nan or inf: subtract the row's MAX; "
     "after subtracting the min or the mean"),
    (exercises.check_softmax, shifted_softmax(lambda v: v.mean(axis=-1, keepdims=True)),
     "for the wide row [[-1000, 0, 1000]] holds nan or inf: subtract the row's MAX"),
    (exercises.check_softmax, in_place_softmax,
     "your softmax changed the scores it was given for the scores (1, 2, 3)"),
    (exercises.check_affine, affine_grads(lambda x, d: x.T @ d,
                                          lambda d: d.sum(axis=0, keepdims=True)),
     "expected (3,), got (1, 3) (drop the kept axis of length 1: keepdims=False, or reshape)"),
    (exercises.check_tanh, tanh(tanh_in_place),
     "Tanh.backward changed dout in place: compute a new array (e.g. dout * slope), not "
     "dout *= ... or dout[...] = ..."),
    (exercises.check_max_pool_forward, unstrided_pool_forward,
     "out on the 4x4 example of section 1 (2x2 windows): window (i, j) starts at row i*stride, "
     "column j*stride"),
    (exercises.check_max_pool_backward, unstrided_pool_backward,
     "dx on the 4x4 example of section 1 (2x2 windows): window (i, j) starts at row i*stride"),
    (exercises.check_routed_fraction, lambda x, s, st: routed_dx(x, s, st)[1].sum() / x.size,
     "for 2x2 windows, stride 1, x of shape (2, 2, 6, 6): that counts windows, not inputs (the "
     "sum or mean of dx): an input that wins two windows is counted twice"),
    (exercises.check_routed_fraction, lambda x, s, st: routed_dx(x, s, st)[1].mean(),
     "an input that wins two windows is counted twice; count the nonzero entries"),
    (exercises.check_routed_fraction,
     lambda x, s, st: np.count_nonzero(routed_dx(x, s, st)[1]) / routed_dx(x, s, st)[0].size,
     "divide by x.size, the number of inputs, not by out.size"),
    (exercises.check_routed_fraction, lambda x, s, st: np.count_nonzero(routed_dx(x, s, st)[1]),
     "that is a count: divide it by x.size"),
    (exercises.check_routed_fraction, lambda x, s, st: 100 * routed(x, s, st),
     "give a fraction between 0 and 1, not a percentage"),
    (exercises.check_avg_pool_as_conv, lambda x: pool.avg_pool2d_forward_naive(x),
     "avg_pool_as_conv called cnnlib's pooling"),
    (exercises.check_avg_pool_as_conv, lambda x: pool.avg_pool2d_forward(x)[0],
     "compute it with conv2d_forward_naive and a constant filter"),
    (exercises.check_feature_maps, lambda m, x, n: [feature_maps(m, x, n)],
     "return the maps themselves, one array (N, C, H, W), not a list or tuple holding it"),
    (exercises.check_feature_maps, lambda m, x, n: m.layers[n].forward(x),
     "feature_maps(model, x, 'relu') on a tiny net (conv that passes the centre pixel with bias "
     "-0.5, so its map is x - 0.5; ReLU; 2x2 max pool) and one 4x4 image: that is layer 'relu' "
     "alone applied to the input x: each layer must receive the previous layer's output"),
    (exercises.check_feature_maps, not_fed, "each layer must receive the previous layer's output"),
    (exercises.check_feature_maps, lambda m, x, n: feature_maps(m, DIGITS, n),
     "got maps of shape (5, 1, 28, 28), those of 28x28 digits, where x holds 1 image of 4x4 pixels: "
     "did you run another array than x (a global such as x_test?)"),
    (exercises.check_favourite_class, class_means,
     "the favourite classes on the fixed case of 18 images, 2 channels: that is a (10, C) table, "
     "one row per class: take the argmax over the classes (axis 0)"),
    (exercises.check_favourite_class, lambda s, y: class_means(s, y).max(axis=0),
     "the favourite classes on the fixed case of 18 images, 2 channels: that is the highest mean "
     "itself (.max(0)): return the CLASS that has it (.argmax(0)) (the fixed case: in channel 0"),
    (check_knockout, reassigning_drop,
     "the drop for filter 0 on 500 images: 0 points: knocking out a filter changes some "
     "predictions; did you evaluate the same (undamaged or damaged) model twice? model.params "
     "builds a new dict on each call"),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {exercises.check_conv_forward_naive, exercises.check_im2col,
                       exercises.check_conv_forward_im2col, exercises.check_conv_backward_naive,
                       exercises.check_col2im, exercises.check_dw_by_im2col, check_knockout}


# --- notebook 09: batch norm's backward pass, RMSprop's update --------------------------------------

from cnnlib import norm, optim  # noqa: E402


def batchnorm(axes=(0, 2, 3), per="channel", mean_term=True, var_term=True, var_sign=-1, use_gamma=True,
              dgamma=None, dbeta=None):
    """A BatchNorm2D whose backward sums over ``axes`` (dividing by the count of those values, or by N
    with ``per="batch"``), optionally without the mean's or the variance's term, with the variance's
    term added, without gamma, and with dgamma/dbeta rules."""
    def backward(self, dout):
        xhat, gamma = self.xhat, self.params["gamma"].reshape(1, -1, 1, 1)
        self.grads["gamma"] = (dout * xhat).sum(axis=(0, 2, 3)) if dgamma is None else dgamma(self, dout)
        self.grads["beta"] = dout.sum(axis=(0, 2, 3)) if dbeta is None else dbeta(self, dout)
        dxhat = dout * gamma if use_gamma else dout
        m = len(dout) if per == "batch" else int(np.prod([dout.shape[a] for a in axes]))
        dx = m * dxhat
        if mean_term:
            dx = dx - dxhat.sum(axis=axes, keepdims=True)
        if var_term:
            dx = dx + var_sign * xhat * (dxhat * xhat).sum(axis=axes, keepdims=True)
        return self.inv_std / m * dx
    return layer(norm.BatchNorm2D, backward)


def batchnorm_staged(self, dout):
    """A correct backward pass written stage by stage through xhat, the variance and the mean (the
    computational graph), with einsum for dgamma and dbeta and x rebuilt from xhat."""
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    self.grads["gamma"] = np.einsum("nchw,nchw->c", dout, self.xhat)
    self.grads["beta"] = np.einsum("nchw->c", dout)
    m = dout.size // dout.shape[1]
    centred = self.xhat / self.inv_std                      # x - mu
    dxhat = dout * gamma
    dvar = (dxhat * centred).sum(axis=(0, 2, 3), keepdims=True) * -0.5 * self.inv_std ** 3
    dmu = -(dxhat * self.inv_std).sum(axis=(0, 2, 3), keepdims=True) \
        - 2 / m * dvar * centred.sum(axis=(0, 2, 3), keepdims=True)
    return dxhat * self.inv_std + dvar * 2 * centred / m + dmu / m


def batchnorm_two_stage(self, dout):
    """A correct compact form whose sums go in two stages (over N, then over H and W)."""
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    self.grads["gamma"] = (dout * self.xhat).sum(axis=0).sum(axis=(1, 2))
    self.grads["beta"] = dout.sum(axis=0).sum(axis=(1, 2))
    dxhat, m = dout * gamma, dout.size // dout.shape[1]
    s1 = dxhat.sum(axis=0, keepdims=True).sum(axis=(2, 3), keepdims=True)
    s2 = (dxhat * self.xhat).sum(axis=0, keepdims=True).sum(axis=(2, 3), keepdims=True)
    return self.inv_std * (dxhat - s1 / m - self.xhat * s2 / m)


def batchnorm_in_place(self, dout):
    dout *= self.params["gamma"].reshape(1, -1, 1, 1)
    return batchnorm().backward(self, dout)


def rmsprop(kind):
    """An RMSprop whose update has the mistake ``kind``."""
    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            g = grads[name] if kind == "no_decay" else self.gradient(name, p, grads)
            if kind == "decay_all" and name.endswith(".b"):
                g = g + self.weight_decay * p
            h = self.state["h"].setdefault(name, np.zeros_like(p))
            if kind == "adagrad":
                h += g * g
            elif kind == "forget":
                h[...] = (1 - self.rho) * g * g
            elif kind == "swapped":
                h[...] = (1 - self.rho) * h + self.rho * g * g
            else:
                h[...] = self.rho * h + (1 - self.rho) * g * g
            root = h if kind == "no_sqrt" else np.sqrt(h)
            if kind == "bias_corrected":
                root = np.sqrt(h / (1 - self.rho ** self.t))
            if kind == "rebind":
                p = p - self.lr * g / (root + self.eps)
            elif kind == "zeros":
                p[...] = 0
            elif kind == "ascent":
                p += self.lr * g / (root + self.eps)
            else:
                p -= self.lr * g / (root + self.eps)
    return type("Wrong", (optim.RMSprop,), {"update": (lambda self, *a: stub()) if kind == "stub" else update})


REFERENCES += [
    (exercises.check_batchnorm_backward, norm.BatchNorm2D),
    (exercises.check_batchnorm_backward, batchnorm()),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_staged)),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_two_stage)),
    (exercises.check_rmsprop, optim.RMSprop),
    (exercises.check_rmsprop, rmsprop("right")),
]

WRONG += [
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: stub()),
     "BatchNorm2D.backward is not written yet: the hint for this exercise"),
    (exercises.check_batchnorm_backward, batchnorm(mean_term=False, var_term=False),
     "dx misses the paths through the mean and the variance"),
    (exercises.check_batchnorm_backward, batchnorm(var_term=False),
     "dx misses the path through the variance (the most common mistake)"),
    (exercises.check_batchnorm_backward, batchnorm(mean_term=False), "dx misses the path through the mean:"),
    (exercises.check_batchnorm_backward, batchnorm(var_sign=1), "the variance's term has the wrong sign"),
    (exercises.check_batchnorm_backward, batchnorm(
        dgamma=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1) * self.xhat).sum(axis=(0, 2, 3))),
     "grads['gamma'] is multiplied by gamma"),
    (exercises.check_batchnorm_backward, batchnorm(use_gamma=False), "you forgot gamma"),
    (exercises.check_batchnorm_backward, batchnorm(per="batch"),
     "m is the number of values behind each mean, N*H*W = 8, not the batch size N = 2"),
    (exercises.check_batchnorm_backward, batchnorm(axes=(0,), per="batch"),
     "not over the batch axis only"),
    (exercises.check_batchnorm_backward, batchnorm(axes=(1, 2, 3)),
     "batch norm's statistics are per CHANNEL"),
    (exercises.check_batchnorm_backward, batchnorm(axes=(2, 3)), "per image and channel"),
    (exercises.check_batchnorm_backward, batchnorm(dgamma=lambda self, d: d * self.xhat),
     "grads['gamma'] has the shape of x (2, 2, 2, 2): sum it over N, H and W"),
    (exercises.check_batchnorm_backward, batchnorm(dbeta=lambda self, d: d.sum(axis=0)),
     "grads['beta'] has shape (2, 2, 2): it is summed over the batch only"),
    (exercises.check_batchnorm_backward, batchnorm(dbeta=lambda self, d: 0 * d.sum(axis=(0, 2, 3))),
     "grads['beta'] is all zeros (on the fixed case x = arange(16).reshape(2, 2, 2, 2)**2, dout = "
     "(arange(16) % 3 - 1).reshape(2, 2, 2, 2), gamma and beta random): store its gradient in "
     "self.grads['beta']"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: 0 * d),
     "dx is all zeros (on the fixed case"),
    (exercises.check_batchnorm_backward, batchnorm(dgamma=lambda self, d: d.sum(axis=(0, 2, 3)),
                                                   dbeta=lambda self, d: (d * self.xhat).sum(axis=(0, 2, 3))),
     "that is dbeta: dgamma = sum(dout * xhat)"),
    (exercises.check_batchnorm_backward, batchnorm(
        dbeta=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3))),
     "dbeta = sum(dout): beta is added as it is, not times gamma"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_in_place), "changed dout in place"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: None), "dx is None"),
    (exercises.check_rmsprop, rmsprop("stub"), "RMSprop.update is not written yet: the hint"),
    (exercises.check_rmsprop, rmsprop("zeros"), "the parameter 'w' is all zeros (after 1 step on the fixed "
     "case p = 1, g = 1 at both steps, lr = 0.01, rho = 0.99 (h = 0.01, p = 0.9 after one step; h = 0.0199, "
     "p = 0.8291 after two)): change p by the step"),
    (exercises.check_rmsprop, rmsprop("adagrad"), "h only grows: that is AdaGrad"),
    (exercises.check_rmsprop, rmsprop("swapped"), "rho and 1 - rho are swapped"),
    (exercises.check_rmsprop, rmsprop("forget"), "h must be kept between steps"),
    (exercises.check_rmsprop, rmsprop("no_sqrt"), "divide by the ROOT of the mean square"),
    (exercises.check_rmsprop, rmsprop("ascent"), "the step goes against the gradient"),
    (exercises.check_rmsprop, rmsprop("rebind"), "update left the parameters unchanged after 1 step "
     "on the fixed case"),
    (exercises.check_rmsprop, rmsprop("bias_corrected"), "after 2 steps on the fixed case p = 1, g = 1 "
     "at both steps, lr = 0.01, rho = 0.99 (h = 0.01, p = 0.9 after one step; h = 0.0199, p = 0.8291 "
     "after two): h is divided by 1 - rho**t: that is Adam's bias correction"),
    (exercises.check_rmsprop, rmsprop("no_decay"), "after 4 steps on the same parameters with "
     "weight_decay = 0.5: weight_decay is ignored: read each gradient with self.gradient"),
    (exercises.check_rmsprop, rmsprop("decay_all"), "the bias decays too"),
]


# --- notebook 10: what the network sees -----------------------------------------------------------

def loss_grad(model, x, y):
    model.loss(x, y)
    return model.backward()


def fgsm_with(direction):
    """An FGSM answer that moves x by epsilon * direction(model, x, y), clipped or not."""
    def fgsm(model, x, y, epsilon, clip=True):
        moved = x + epsilon * direction(model, x, y)
        return np.clip(moved, 0, 1) if clip else moved
    return fgsm


def fgsm_in_place(model, x, y, epsilon):
    x += epsilon * np.sign(loss_grad(model, x, y))
    return np.clip(x, 0, 1, out=x)


def saliency_without_forward(model, x, target):
    dscores = np.zeros((len(x), 2))                      # the linear model's 2 classes
    dscores[np.arange(len(x)), target] = 1
    return np.abs(model.backward_from_scores(dscores)).max(axis=1)


def saliency_eye10(model, x, target):
    model.forward(x)
    return np.abs(model.backward_from_scores(np.eye(10)[target])).max(axis=1)


def fgsm_without_loss(model, x, y, epsilon):
    return np.clip(x + epsilon * np.sign(model.backward()), 0, 1)


REFERENCES += [
    (exercises.check_saliency, interpret.saliency),
    (exercises.check_fgsm, interpret.fgsm),
]
RETURN_THE_FUNCTION |= {exercises.check_saliency, exercises.check_fgsm}

LINEAR_10 = "(checked on a linear model, score = w . x + b, whose saliency for class c is |w_c|, "
CONV_10 = "(checked on a small conv net with 2 input channels, 4 images)"
WRONG += [
    (exercises.check_saliency, stub, "your saliency is not written yet: the hint"),
    (exercises.check_saliency, lambda m, x, t: np.zeros((len(x),) + x.shape[2:]),
     "your saliency map is all zeros " + LINEAR_10 + "the class's weights)"),
    (exercises.check_saliency, lambda m, x, t: interpret.score_gradient(m, x, t).max(axis=1),
     "take the absolute value |d score / d x| (np.abs) before the max"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t).max(axis=1)),
     "take the absolute value FIRST, then the max over the channels"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)[:, 0]),
     "your saliency map: that is channel 0 only: take the max of |gradient| over ALL channels "
     "(axis 1) " + CONV_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).max(axis=1) / len(x),
     "dscores must be 1 at the target class, not 1/N"),
    (exercises.check_saliency, saliency_eye10,
     "dscores must be shaped like the scores (N, number of classes) = (3, 2), got (3, 10)"),
    (exercises.check_saliency, saliency_without_forward,
     "run the forward pass on x first (scores = model.forward(x)): backward uses what the last "
     "forward pass cached"),
    (exercises.check_saliency, lambda m, x, t: np.abs(loss_grad(m, x, t)).max(axis=1),
     "that is the gradient of the LOSS; a saliency map uses the class SCORE"),
    (exercises.check_saliency, lambda m, x, t: np.abs(
        m.backward_from_scores(np.ones_like(m.forward(x)))).max(axis=1),
     "dscores must be one-hot: 1 at the target class only"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).sum(axis=1),
     "take the MAX over the channel axis (axis 1), not the sum " + CONV_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)),
     "your saliency map has the shape of x, (3, 1, 4, 4)"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).max(axis=1).sum(axis=0),
     "your saliency map has the wrong shape: expected (3, 4, 4), got (4, 4) " + LINEAR_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(
        interpret.score_gradient(m, x, m.forward(x).argmax(axis=1))).max(axis=1),
     "use the score of each image's TARGET class"),
    (exercises.check_fgsm, stub, "your fgsm is not written yet: the hint"),
    (exercises.check_fgsm, lambda m, x, y, e: np.zeros_like(x),
     "your fgsm's result is all zeros (checked on a linear model with two classes, where "
     "sign(dL/dx) = sign(w_other - w_true), epsilon = 0.1)"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: -np.sign(loss_grad(m, x, y))),
     "you moved DOWN the loss"),
    (exercises.check_fgsm, lambda m, x, y, e: fgsm_with(
        lambda m, x, y: np.sign(loss_grad(m, x, y)))(m, x, y, e, clip=False),
     "clip the result to [0, 1] (np.clip)"),
    (exercises.check_fgsm, lambda m, x, y, e: np.minimum(x + e * np.sign(loss_grad(m, x, y)), 1),
     "clip at 0 as well as at 1"),
    (exercises.check_fgsm, lambda m, x, y, e: e * np.sign(loss_grad(m, x, y)),
     "return the adversarial IMAGES x + epsilon * sign(dL/dx) (clipped), not the perturbation"),
    (exercises.check_fgsm, fgsm_without_loss,
     "run model.loss(x, y) first: backward uses what the last loss call cached"),
    (exercises.check_fgsm, fgsm_with(loss_grad), "use the SIGN of the gradient (np.sign)"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: np.sign(interpret.score_gradient(m, x, y))),
     "that follows the gradient of the true class's SCORE, which makes the class MORE likely"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: -np.sign(interpret.score_gradient(m, x, y))),
     "that follows minus the gradient of the true class's score"),
    (exercises.check_fgsm, lambda m, x, y, e: x.copy(), "the images came back unchanged"),
    (exercises.check_fgsm, fgsm_in_place, "your fgsm changed x in place"),
    (exercises.check_fgsm, lambda m, x, y, e: interpret.fgsm(m, x, y, e)[:, 0],
     "your fgsm's result has the wrong shape"),
]


def attack(sign=-1, project=True, unit=True, labels=None, steps_used=None):
    """A targeted attack with one rule changed (sign=+1: up the loss; labels: 'pred' for the
    model's own reading)."""
    def fn(model, x, target, epsilon, step, steps):
        y = model.forward(x).argmax(axis=1) if labels == "pred" else target
        v = x.copy()
        for _ in range(steps if steps_used is None else steps_used):
            model.loss(v, y)
            v = v + sign * step * np.sign(model.backward())
            if project:
                v = np.clip(v, x - epsilon, x + epsilon)
            if unit:
                v = np.clip(v, 0, 1)
        return v
    return fn


def slow_attack(model, x, target, epsilon, step, steps):
    """A valid attack with another schedule: twice the steps at half the size."""
    return interpret.targeted_attack(model, x, target, epsilon, step=step / 2, steps=2 * steps)


REFERENCES += [(exercises.check_targeted_attack, attack())]
RETURN_THE_FUNCTION |= {exercises.check_targeted_attack}
WRONG += [
    (exercises.check_targeted_attack, stub, "your attack is not written yet: the hint"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: np.zeros_like(x),
     "your attack's result is all zeros"),
    (exercises.check_targeted_attack, attack(project=False),
     "project back onto the epsilon-ball after each step"),
    (exercises.check_targeted_attack, attack(sign=1), "you ascended the loss of the TARGET class"),
    (exercises.check_targeted_attack, attack(sign=1, labels="pred"),
     "that is an untargeted attack"),
    (exercises.check_targeted_attack, attack(unit=False),
     "clip them to [0, 1] after each step"),
    (exercises.check_targeted_attack, attack(steps_used=1),
     "are read as"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: x.copy(),
     "the images came back unchanged"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: x[:, 0],
     "your attack's result has the wrong shape"),
]


def test_the_targeted_attack_check_accepts_another_schedule(capsys):
    assert exercises.check_targeted_attack(slow_attack) is slow_attack
    assert capsys.readouterr().out.startswith("correct: ")


def test_targeted_attack_matches_the_checkers_steps_and_stays_in_the_ball():
    _, conv_net = interpretation._small_models()
    x = np.random.default_rng(3).random((3, 2, 8, 8))
    target = np.array([0, 1, 2])
    got = interpret.targeted_attack(conv_net, x, target, 0.2, step=0.05, steps=6)
    np.testing.assert_allclose(got, attack()(conv_net, x, target, 0.2, 0.05, 6))
    assert np.abs(got - x).max() <= 0.2 + 1e-12 and got.min() >= 0 and got.max() <= 1
    np.testing.assert_array_equal(interpret.targeted_attack(conv_net, x, target, 0.2, step=0.05,
                                                            steps=0), x)
    with pytest.raises(ValueError, match="step: expected a finite number > 0"):
        interpret.targeted_attack(conv_net, x, target, 0.2, step=0)

# --- notebook 03: the two-layer network's backward pass, one SGD step ----------------------------


def two_layer(g_s=lambda p, t, n: (p - t) / n, mask=lambda h, g_a: g_a * (h > 0),
              dw2_input="a", db=lambda g: g.sum(axis=0), dw=lambda inp, g: inp.T @ g,
              drop=(), before=None):
    """A two-layer backward pass with one rule changed."""
    def backward(params, x, y, h, a, p):
        if before:
            before(params, p)
        t = np.eye(p.shape[1])[y]
        gs = g_s(p, t, len(x))
        gh = mask(h, gs @ params["affine2.W"].T)
        grads = {"affine2.W": dw(a if dw2_input == "a" else h, gs), "affine2.b": db(gs),
                 "affine1.W": dw(x, gh), "affine1.b": db(gh)}
        return {k: v for k, v in grads.items() if k not in drop}
    return backward


def subtract_in_place(params, p):
    p[:, 0] -= 1


def step_on_w2(params, p):
    params["affine2.W"] -= 0.1


def sgd(rule, keys=None):
    def step(params, grads, lr):
        for key in params if keys is None else [k for k in params if k in keys]:
            rule(params, key, grads[key], lr)
    return step


def copy_step(params, grads, lr):
    return {key: p - lr * grads[key] for key, p in params.items()}


def scale_grads(params, key, g, lr):
    g *= lr
    params[key] -= g


def n_params(rule):
    return lambda sizes: sum(rule(i, o) for i, o in zip(sizes[:-1], sizes[1:]))


def bad_rows(x):
    return np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))


def set_rebind(params, key, g, lr):
    params[key] = params[key] - lr * g


def set_inplace(value):
    def rule(params, key, g, lr):
        params[key][...] = value(params[key], g, lr)
    return rule


REFERENCES += [
    (exercises.check_two_layer_backward, exercises.two_layer_backward),
    (exercises.check_sgd_step, exercises.sgd_step),
    (exercises.check_n_params, n_params(lambda i, o: i * o + o)),
    (exercises.check_bad_examples, bad_rows),
]
RETURN_THE_FUNCTION |= {exercises.check_two_layer_backward, exercises.check_sgd_step}

FIXED_03 = exercises.FIXED_TWO_LAYER


def ten_classes(params, x, y, h, a, p):
    """The hint of old, one-hot labels of 10 classes whatever p's width: a broadcast error."""
    return two_layer(g_s=lambda p, t, n: (p - np.eye(10)[y]) / n)(params, x, y, h, a, p)


WRONG += [
    (exercises.check_two_layer_backward, stub, "your backward is not written yet: the hint"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: 0 * p),
     f"grads['affine2.W'] {FIXED_03} is all zeros"),
    (exercises.check_two_layer_backward, ten_classes,
     "your backward raised ValueError on the fixed case x = [[1, 2], [-1, 1]], y = [0, 1], "
     "W1 = [[1, -1, 0.5], [0, 1, -0.25]], W2 = [[1, 0], [0, 1], [1, -1]], zero biases (N = 2, "
     "D = 2, H = 3, C = 2; so h = [[1, 1, 0], [-1, 2, -0.75]]): operands could not be broadcast"),
    (exercises.check_two_layer_backward,
     lambda params, x, y, h, a, p: {"W2": 0, "b2": 0, "W1": 0, "b1": 0},
     "use the parameter names as keys ('affine1.W', 'affine1.b', 'affine2.W', 'affine2.b'): "
     "got ['W1', 'W2', 'b1', 'b2']"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: p - t),
     "divide by the batch size N: the loss is the MEAN over the batch"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: p / n),
     "subtract the one-hot labels t"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: (t - p) / n),
     f"grads['affine2.W'] {FIXED_03} has its sign flipped"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g * (h >= 0)),
     f"grads['affine1.W'] {FIXED_03}: at h = 0 the ReLU's slope is 0: mask with h > 0, "
     "not h >= 0"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g * (h <= 0)),
     "your mask is the other way round"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g),
     "multiply by the ReLU's mask"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: np.maximum(g, 0)),
     "not from the sign of the gradient"),
    (exercises.check_two_layer_backward, two_layer(dw2_input="h"),
     "affine2's input is the ReLU's OUTPUT a, not h"),
    (exercises.check_two_layer_backward, two_layer(dw=lambda inp, g: g.T @ inp),
     "grads['affine2.W'] has shape (2, 3), the transpose of W's (3, 2)"),
    (exercises.check_two_layer_backward, two_layer(db=lambda g: g),
     f"grads['affine2.b'] has the wrong shape {FIXED_03}: expected (2,), got (2, 2) (a sum "
     "over the batch, axis 0, is missing)"),
    (exercises.check_two_layer_backward, two_layer(db=lambda g: g.mean(axis=0)),
     "db is the SUM of g over the batch (axis 0)"),
    (exercises.check_two_layer_backward, two_layer(drop=("affine2.b",)),
     "the gradients have no 'affine2.b': return one for every parameter, the biases too"),
    (exercises.check_two_layer_backward, two_layer(before=subtract_in_place),
     "your function changed the forward pass's p in place: copy an array before changing it"),
    (exercises.check_two_layer_backward, two_layer(before=step_on_w2),
     "changed params['affine2.W'] in place: the backward pass only computes gradients"),
    (exercises.check_two_layer_backward, lambda params, x, y, h, a, p: (0, 0, 0, 0),
     "return a dict {name: gradient}"),
    (exercises.check_sgd_step, stub, "your sgd_step is not written yet: the hint"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: 0 * p)),
     "params['W'] after the step on the fixed case W = [[1, 2]], b = [0.5], dW = [[0.5, -1]], "
     "db = [2], lr = 0.1 is all zeros"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p + lr * g)),
     "step DOWNHILL: subtract lr * grad (you added it)"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p - g)),
     "multiply the gradient by the learning rate lr"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: -lr * g)),
     "you replaced the parameter by the step"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p - lr * g.sum())),
     "each parameter moves by its own gradient"),
    (exercises.check_sgd_step, sgd(set_rebind),
     "params['W'] is a new array on the fixed case"),
    (exercises.check_sgd_step, copy_step, "params did not change on the fixed case W = [[1, 2]], "
     "b = [0.5], dW = [[0.5, -1]], db = [2], lr = 0.1: you returned new arrays"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p - lr * g), keys=("W",)),
     "params['b'] did not change on the fixed case"),
    (exercises.check_sgd_step, sgd(scale_grads), "your function changed grads['W'] in place"),
    (exercises.check_n_params, stub, "your n_params is not written yet"),
    (exercises.check_n_params, lambda sizes: 0, "for the layer sizes (784, 100, 10) is all zeros"),
    (exercises.check_n_params, n_params(lambda i, o: i * o), "add the biases"),
    (exercises.check_n_params, n_params(lambda i, o: i * o + i), "one entry per OUTPUT"),
    (exercises.check_n_params, lambda sizes: sum(sizes), "not the units"),
    (exercises.check_n_params, lambda sizes: 79510,
     "the count is wrong for the layer sizes (2, 3, 1)"),
    (exercises.check_bad_examples, stub, "your bad_examples is not written yet"),
    (exercises.check_bad_examples, lambda x: np.zeros(1, dtype=int),
     "the indices for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4) are all zeros"),
    (exercises.check_bad_examples, lambda x: np.where(~np.isfinite(x))[0],
     "got [1, 1] for 4 rows, row 1 holding both a NaN and an inf: name each example once: "
     "reduce each example to one bool first"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(np.isinf(x).any(axis=1)),
     "missed the NaNs for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4): np.isinf "
     "misses NaN"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(np.isnan(x).any(axis=1)),
     "missed the infinities for 5 rows"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero((x == np.nan).any(axis=1)),
     "x == np.nan is always False"),
    (exercises.check_bad_examples, lambda x: ~np.isfinite(x.reshape(len(x), -1)).all(axis=1),
     "not a mask of 5 booleans"),
    (exercises.check_bad_examples, lambda x: np.argwhere(~np.isfinite(x)),
     "not (row, column) pairs"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(~np.isfinite(x).all(axis=1)),
     "the bad examples for 4 images (1, 2, 2) with a NaN in image 1 are [1]"),
]


# --- notebook 07: assembling LeNet-5, one Adam update -------------------------------------------

def lenet(change=lambda items, rng: items, named=True):
    """LeNet5's layers, changed by ``change(items, rng)``, in a Sequential."""
    def build(rng=None):
        items = change(list(LeNet5(rng=rng).layers.items()), rng)
        return Sequential(*(items if named else [layer for _, layer in items]))
    return build


def replace(index, layer_of_rng):
    def change(items, rng):
        items[index] = (items[index][0], layer_of_rng(rng))
        return items
    return change


def drop_layer(index):
    return lambda items, rng: items[:index] + items[index + 1:]


class WrongAdam:
    """Adam with one mistake (the keys of exercises._adam_runs, plus 'copy', 't0', 't_late',
    'zeros', 'alias', 'rebind')."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, **mistake):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.mistake, self.t, self.m, self.v = mistake, 0, {}, {}

    def update(self, params, grads):
        bad = self.mistake.get
        b1, b2 = (self.beta2, self.beta1) if bad("swap") else (self.beta1, self.beta2)
        self.t = 1 if bad("t_fixed") else self.t + (0 if bad("t0") or bad("t_late") else 1)
        for name, p in params.items():
            if bad("t_per_param") and name != next(iter(params)):
                self.t += 1
            g, key = grads[name], "all" if bad("shared") else name
            if not bad("alias"):
                self.m[key] = b1 * self.m.get(key, 0) + (1 - b1) * g
                self.v[key] = b2 * self.v.get(key, 0) + (1 - b2) * (abs(g) if bad("no_square")
                                                                     else g * g)
            else:                             # m and v one array, updated in place
                if key not in self.m:
                    self.m[key] = self.v[key] = np.zeros_like(p)
                self.m[key] *= b1
                self.m[key] += (1 - b1) * g
                self.v[key] *= b2
                self.v[key] += (1 - b2) * g * g
            m_hat, v_hat = self.m[key], self.v[key]
            if bad("precedence"):
                m_hat, v_hat = m_hat / (1 - b1) ** self.t, v_hat / (1 - b2) ** self.t
            elif not bad("no_correction"):
                m_hat, v_hat = m_hat / (1 - b1 ** self.t), v_hat / (1 - b2 ** self.t)
            if bad("store_corrected"):
                self.m[key], self.v[key] = m_hat, v_hat
            root = np.sqrt(v_hat + self.eps) - self.eps if bad("eps_inside") else (
                v_hat if bad("no_sqrt") else np.sqrt(v_hat))
            step = (1 if bad("no_lr") else self.lr) * m_hat / (root + self.eps)
            if bad("copy"):
                params[name] = p - step
            elif bad("rebind"):
                p = p - step
            elif bad("zeros"):
                p[...] = 0
            else:
                p -= step
        if bad("t_late"):
            self.t += 1


def adam(**mistake):
    return lambda **settings: WrongAdam(**settings, **mistake)


def most_confused(cm):
    errors = cm - np.diag(np.diag(cm))
    worst = int(errors.sum(axis=1).argmax())
    return worst, int(errors[worst].argmax())


def confidence(probs, labels, top=lambda p, y: p.max(axis=1)):
    right = probs.argmax(axis=1) == labels
    value = top(probs, labels)
    return value[right].mean(), value[~right].mean()


def largest_cell(cm):
    errors = cm - np.diag(np.diag(cm))
    return tuple(int(i) for i in np.unravel_index(errors.argmax(), errors.shape))


class StubAdam(WrongAdam):
    def update(self, params, grads):
        stub()


class RenamedLR(WrongAdam):
    def __init__(self, lr=0.001, **settings):
        super().__init__(**settings)
        del self.lr
        self.learning_rate = lr


REFERENCES += [
    (exercises.check_lenet5, LeNet5),
    (exercises.check_adam, Adam),
    (exercises.check_most_confused, most_confused),
    (exercises.check_most_confused, exercises.most_confused),
    (exercises.check_confidence, confidence),
    (exercises.check_confidence, exercises.confidence),
]
RETURN_THE_FUNCTION |= {exercises.check_lenet5, exercises.check_most_confused,
                        exercises.check_confidence}

ADAM_FIXED = "after step 1 on the fixed case w = [1, -2]"
ADAM_RANDOM = "on two random (2, 3) parameters over 4 steps"
WRONG += [
    (exercises.check_lenet5, stub, "your LeNet-5 builder is not written yet: the hint"),
    (exercises.check_lenet5, lenet(replace(0, lambda r: layers.Conv2D(1, 6, 5, pad=2, init=0.0))),
     "layer 1 (conv1, LeNet-5's Conv2D)'s weights are all zeros"),
    (exercises.check_lenet5, lenet(replace(0, lambda r: layers.Conv2D(1, 6, 5, rng=r))),
     "layer 1 (conv1, LeNet-5's Conv2D) has pad=0, stride=1: expected pad=2, stride=1. Its maps "
     "come out 24x24 instead of 28x28 (with stride 1), so fc1 would get 256 inputs, not 400"),
    (exercises.check_lenet5, lenet(replace(3, lambda r: layers.Conv2D(6, 16, 5, pad=2, rng=r))),
     "fc1 would get 784 inputs, not 400"),
    (exercises.check_lenet5, lenet(replace(3, lambda r: layers.Conv2D(16, 6, 5, rng=r))),
     "layer 4 (conv2, LeNet-5's Conv2D) has weights of shape (6, 16, 5, 5): expected 16 filters "
     "of 6 x 5 x 5"),
    (exercises.check_lenet5, lenet(drop_layer(1)), "a ReLU is missing after conv1: layer 2 (relu1, "
     "LeNet-5's ReLU) should be ReLU(), got MaxPool2D(size=2, stride=2)"),
    (exercises.check_lenet5, lenet(drop_layer(10)), "a ReLU is missing after fc2"),
    (exercises.check_lenet5, lenet(replace(2, lambda r: layers.AvgPool2D(2))),
     "layer 3 (pool1, LeNet-5's MaxPool2D) is average pooling"),
    (exercises.check_lenet5, lenet(replace(5, lambda r: layers.MaxPool2D(2, stride=1))),
     "layer 6 (pool2, LeNet-5's MaxPool2D) is MaxPool2D(size=2, stride=1): LeNet-5 pools 2x2 "
     "windows with stride 2"),
    (exercises.check_lenet5, lenet(drop_layer(6)), "add Flatten() before fc1"),
    (exercises.check_lenet5, lenet(lambda items, rng: items + [("relu5", layers.ReLU())]),
     "there is a ReLU after fc3"),
    (exercises.check_lenet5, lenet(drop_layer(11)), "the network stops after 11 layers: missing: "
     "fc3"),
    (exercises.check_lenet5, lenet(named=False), "layer 1 is named 'conv2d0': name it 'conv1'"),
    (exercises.check_lenet5, lenet(replace(0, lambda r: layers.Conv2D(1, 6, 5, pad=2))),
     "two builds with the same rng gave different "
     "weights: pass rng=rng to every Conv2D and Affine"),
    (exercises.check_lenet5, lambda rng: list(LeNet5(rng=rng).layers.values()),
     "return the network as a Sequential of the layers, got list"),
    (exercises.check_adam, StubAdam, "Adam.update is not written yet: the hint"),
    (exercises.check_adam, adam(zeros=True), f"params['w'] {ADAM_FIXED} with the constant "
     "gradient [0.5, -1], lr = 0.1 (each step moves every entry by about lr) is all zeros"),
    (exercises.check_adam, adam(no_correction=True), "bias-correct both averages"),
    (exercises.check_adam, adam(t_fixed=True), "t counts the updates: increment it on every call"),
    (exercises.check_adam, adam(t0=True), "holds nan or inf after step 1 on the fixed case w = "
     "[1, -2] with the constant gradient [0.5, -1], lr = 0.1 (each step moves every entry by "
     "about lr): with t = 0 at the bias correction, 1 - beta1**t is 0 and m / 0 / sqrt(v / 0) "
     "is nan: t must be 1 on the first update"),
    (exercises.check_adam, adam(t_late=True), "with t = 0 at the bias correction, 1 - beta1**t "
     "is 0"),
    (exercises.check_adam, adam(alias=True), "holds nan or inf after step 1 on the fixed case "
     "w = [1, -2] with the constant gradient [0.5, -1], lr = 0.1 (each step moves every entry "
     "by about lr): sqrt of a negative v? self.m[name] and self.v[name] are one array"),
    (exercises.check_adam, adam(rebind=True), f"params['w'] did not change {ADAM_FIXED} with the "
     "constant gradient [0.5, -1], lr = 0.1 (each step moves every entry by about lr): p = p - "
     "... in the loop only points the name p at a new array"),
    (exercises.check_adam, adam(precedence=True), "mind the precedence: the bias correction "
     "divides by 1 - beta1**t"),
    (exercises.check_adam, adam(store_corrected=True), "storing them back in self.m and self.v "
     "corrects them again"),
    (exercises.check_adam, adam(t_per_param=True), "increment t once per update call, not once "
     "per parameter"),
    (exercises.check_adam, adam(shared=True), f"params['b'] after step 1 {ADAM_RANDOM}, lr = 0.01, "
     "beta1 = 0.8, beta2 = 0.9, eps = 0.1: each parameter needs its own m and v"),
    (exercises.check_adam, adam(no_sqrt=True), "divide by the square ROOT of v_hat"),
    (exercises.check_adam, adam(eps_inside=True), f"{ADAM_RANDOM}, lr = 0.01, beta1 = 0.8, "
     "beta2 = 0.9, eps = 0.1: add eps after the square root"),
    (exercises.check_adam, adam(swap=True), "beta1 goes with m"),
    (exercises.check_adam, adam(no_square=True), "v averages the SQUARED gradient"),
    (exercises.check_adam, adam(no_lr=True), "multiply the step by the learning rate lr"),
    (exercises.check_adam, adam(copy=True), "params['w'] was not changed in place after step 1"),
    (exercises.check_adam, RenamedLR, "keep the learning rate in self.lr"),
    (exercises.check_most_confused, stub, "your most_confused is not written yet"),
    (exercises.check_most_confused, lambda cm: (0, 0), "(worst_digit, confused_with) for the "
     "matrix [[50, 0, 1, 0], [0, 40, 5, 0], [3, 1, 30, 2], [0, 0, 0, 90]] is all zeros"),
    (exercises.check_most_confused, largest_cell, "for the matrix [[50, 0, 1, 0], [0, 40, 5, 0], "
     "[3, 1, 30, 2], [0, 0, 0, 90]]: worst_digit is the digit with the most mistakes in total (the "
     "sum of its row without the diagonal), not the row of the largest single cell"),
    (exercises.check_most_confused, lambda cm: most_confused(cm.T), "the rows are the true "
     "digits: sum each ROW's mistakes (axis=1)"),
    (exercises.check_most_confused, lambda cm: (int(cm.sum(axis=1).argmax()),
                                                int(cm[cm.sum(axis=1).argmax()].argmax())),
     "remove the diagonal (the correct answers) first"),
    (exercises.check_most_confused, lambda cm: (most_confused(cm)[0],
                                                int(cm[most_confused(cm)[0]].argmax())),
     "remove the diagonal before looking for the most frequent wrong prediction"),
    (exercises.check_most_confused, lambda cm: (2, 3), "confused_with is a digit (np.argmax), "
     "not a count"),
    (exercises.check_most_confused, lambda cm: 1, "return a pair (worst_digit, confused_with)"),
    (exercises.check_confidence, stub, "your confidence is not written yet"),
    (exercises.check_confidence, lambda p, y: (0.0, 0.0), "is all zeros"),
    (exercises.check_confidence, lambda p, y: confidence(p, y)[::-1],
     "the first is the confidence when RIGHT"),
    (exercises.check_confidence, lambda p, y: confidence(p, y, lambda q, z: q[np.arange(len(z)),
                                                                               z]),
     "the TOP probability (that of the predicted class), not that of the true class"),
    (exercises.check_confidence, lambda p, y: (p.max(axis=1).mean(),) * 2,
     "split the examples"),
]


@pytest.mark.parametrize("checker, reference", REFERENCES, ids=lambda v: getattr(v, "__name__", ""))
def test_checker_accepts_the_reference(capsys, checker, reference):
    returned = checker(reference)
    returns = isinstance(reference, type) or checker in RETURN_THE_FUNCTION
    assert returned is (reference if returns else None)
    out = capsys.readouterr().out
    assert out.startswith("correct: ") and out.count("\n") == 1


@pytest.mark.parametrize("checker, wrong, message", WRONG,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(WRONG)])
def test_checker_names_the_mistake(capsys, checker, wrong, message):
    with pytest.raises(ExerciseError) as info:
        checker(wrong)
    assert message in str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "correct:" not in capsys.readouterr().out


def test_a_type_error_inside_the_learners_code_is_not_masked():
    with pytest.raises(TypeError, match="did not contain a loop"):
        exercises.check_softmax(deep_type_error)


def test_the_knockout_check_leaves_the_model_as_it_was():
    model, x, y = trained_lenet()
    before = {name: param.copy() for name, param in model.params.items()}
    with pytest.raises(ExerciseError):
        check_knockout(functools.partial(accuracy_drop, in_place=True))
    assert all(np.array_equal(model.params[name], before[name]) for name in before)


def test_cnnlibs_accuracy_drop_passes_the_knockout_check(capsys):
    assert check_knockout(exercises.accuracy_drop) is exercises.accuracy_drop
    assert capsys.readouterr().out.startswith("correct: ")


def test_the_pooling_spy_of_avg_pool_as_conv_is_removed_afterwards():
    originals = pool.pool2d_forward_naive, pool._combine_offsets
    with pytest.raises(ExerciseError, match="called cnnlib's pooling"):
        exercises.check_avg_pool_as_conv(lambda x: pool.avg_pool2d_forward_naive(x))
    assert (pool.pool2d_forward_naive, pool._combine_offsets) == originals


def test_every_checker_is_tested_with_a_stub_and_zeros():
    checkers = {name for name in dir(exercises) if name.startswith("check_")}
    assert checkers == {c.__name__ for c, _ in REFERENCES}
    for name in checkers:
        messages = [m for c, _, m in WRONG if c.__name__ == name]
        assert any("not written yet" in m for m in messages), name
        assert any("zeros" in m or "0 points" in m for m in messages), name   # a scalar: 0
        assert len(messages) >= 4, name
