"""Every checker accepts cnnlib's reference and rejects a stub, zeros, a transposed or unsummed
answer and its exercise's typical mistake, each with a message that names the mistake."""

import numpy as np
import pytest

from cnnlib import conv, exercises, graph, layers, pool
from cnnlib.exercises import ExerciseError
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


class Tanh(layers.Layer):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out ** 2)


def tanh(backward):
    return layer(Tanh, backward)


def routed(x, size, stride):
    out, cache = pool.max_pool2d_forward(x, size, stride)
    return np.count_nonzero(pool.max_pool2d_backward(np.ones_like(out), cache)) / x.size


def avg_conv(weight):
    return lambda x: conv.conv2d_forward_naive(x, np.full((1, 1, 2, 2), weight), np.zeros(1),
                                               stride=2)


def column_softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


REFERENCES = [
    (exercises.check_mul_layer, graph.MulLayer),
    (exercises.check_add_layer, graph.AddLayer),
    (exercises.check_shipping, lambda f, s, t: ((f + s) * t, t)),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (z, z, x + y))),
    (exercises.check_passes, lambda n: (2 * n, 1)),
    (exercises.check_relu, layers.ReLU),
    (exercises.check_sigmoid, layers.Sigmoid),
    (exercises.check_tanh, Tanh),
    (exercises.check_affine, layers.Affine),
    (exercises.check_softmax_with_loss, layers.SoftmaxWithLoss),
    (exercises.check_softmax, softmax),
    (exercises.check_max_pool_forward, pool.max_pool2d_forward_naive),
    (exercises.check_max_pool_backward, pool.max_pool2d_backward_naive),
    (exercises.check_routed_fraction, routed),
    (exercises.check_avg_pool_as_conv, avg_conv(0.25)),
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
    (exercises.check_softmax, lambda v: np.exp(v) / np.exp(v).sum(axis=-1, keepdims=True),
     "softmax for the scores (1000, 1001, 1002) holds nan or inf"),
    (exercises.check_softmax, lambda v: np.exp(v - v.max()) / np.exp(v - v.max()).sum(
        axis=-1, keepdims=True), "for the batch [[1000, 1001], [-1000, -999]] holds nan or inf"),
    (exercises.check_softmax, column_softmax, "normalise each ROW"),
    (exercises.check_softmax, lambda v: softmax(v).T,
     "softmax for the batch [[1000, 1001], [-1000, -999]] is transposed"),
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
]


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
RETURNS_WHAT_IT_CHECKS = {exercises.check_two_layer_backward, exercises.check_sgd_step}

FIXED_03 = "on the fixed case of section 2's exercise"
WRONG += [
    (exercises.check_two_layer_backward, stub, "your backward is not written yet: the hint"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: 0 * p),
     f"grads['affine2.W'] {FIXED_03} (N = 2, h = [[1, 1, 0], [-1, 2, -0.75]]) is all zeros"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: p - t),
     "divide by the batch size N: the loss is the MEAN over the batch"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: p / n),
     "subtract the one-hot labels t"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: (t - p) / n),
     "grads['affine2.W'] on the fixed case of section 2's exercise (N = 2, h = [[1, 1, 0], [-1, "
     "2, -0.75]]) has its sign flipped"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g * (h >= 0)),
     "grads['affine1.W'] on the fixed case of section 2's exercise (N = 2, h = [[1, 1, 0], [-1, "
     "2, -0.75]]): at h = 0 the ReLU's slope is 0: mask with h > 0, not h >= 0"),
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
     "grads['affine2.b'] has the wrong shape on the fixed case of section 2's exercise (N = 2, h "
     "= [[1, 1, 0], [-1, 2, -0.75]]): expected (2,), got (2, 2) (a sum over the batch, axis 0, "
     "is missing)"),
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
     "the indices for 6 rows with a NaN in row 2 are all zeros"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(np.isnan(x).any(axis=1)),
     "missed the infinities for 5 rows"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero((x == np.nan).any(axis=1)),
     "x == np.nan is always False"),
    (exercises.check_bad_examples, lambda x: ~np.isfinite(x.reshape(len(x), -1)).all(axis=1),
     "not a mask of 6 booleans"),
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
    """Adam with one mistake (the keys of exercises._adam_runs, plus 'copy', 't0', 'zeros')."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, **mistake):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.mistake, self.t, self.m, self.v = mistake, 0, {}, {}

    def update(self, params, grads):
        bad = self.mistake.get
        b1, b2 = (self.beta2, self.beta1) if bad("swap") else (self.beta1, self.beta2)
        self.t = 1 if bad("t_fixed") else self.t + (0 if bad("t0") else 1)
        for name, p in params.items():
            if bad("t_per_param") and name != next(iter(params)):
                self.t += 1
            g, key = grads[name], "all" if bad("shared") else name
            self.m[key] = b1 * self.m.get(key, 0) + (1 - b1) * g
            self.v[key] = b2 * self.v.get(key, 0) + (1 - b2) * (abs(g) if bad("no_square")
                                                                 else g * g)
            m_hat, v_hat = self.m[key], self.v[key]
            if not bad("no_correction"):
                m_hat, v_hat = m_hat / (1 - b1 ** self.t), v_hat / (1 - b2 ** self.t)
            root = np.sqrt(v_hat + self.eps) - self.eps if bad("eps_inside") else (
                v_hat if bad("no_sqrt") else np.sqrt(v_hat))
            step = (1 if bad("no_lr") else self.lr) * m_hat / (root + self.eps)
            if bad("copy"):
                params[name] = p - step
            elif bad("zeros"):
                p[...] = 0
            else:
                p -= step


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
    (exercises.check_confidence, confidence),
]
RETURNS_WHAT_IT_CHECKS |= {exercises.check_lenet5}

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
     "about lr): t must be 1 on the first update"),
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
     "matrix [[50, 0, 1, 0], [0, 40, 6, 0], [2, 1, 90, 1], [0, 0, 0, 30]] is all zeros"),
    (exercises.check_most_confused, lambda cm: most_confused(cm.T), "the rows are the true "
     "digits: sum each ROW's mistakes (axis=1)"),
    (exercises.check_most_confused, lambda cm: (int(cm.sum(axis=1).argmax()),
                                                int(cm[cm.sum(axis=1).argmax()].argmax())),
     "remove the diagonal (the correct answers) first"),
    (exercises.check_most_confused, lambda cm: (most_confused(cm)[0],
                                                int(cm[most_confused(cm)[0]].argmax())),
     "remove the diagonal before looking for the most frequent wrong prediction"),
    (exercises.check_most_confused, lambda cm: (1, 6), "confused_with is a digit (np.argmax), "
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
    returns_it = isinstance(reference, type) or checker in RETURNS_WHAT_IT_CHECKS
    assert returned is (reference if returns_it else None)
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


def test_every_checker_is_tested_with_a_stub_and_zeros():
    checkers = {name for name in dir(exercises) if name.startswith("check_")}
    assert checkers == {c.__name__ for c, _ in REFERENCES}
    for name in checkers:
        messages = [m for c, _, m in WRONG if c.__name__ == name]
        assert any("not written yet" in m for m in messages), name
        assert any("zeros" in m for m in messages), name
        assert len(messages) >= 4, name
