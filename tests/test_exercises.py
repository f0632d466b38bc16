"""Every checker accepts cnnlib's reference and rejects a stub, zeros, a transposed or unsummed
answer and its exercise's typical mistake, each with a message that names the mistake."""

import numpy as np
import pytest

from cnnlib import conv, exercises, graph, layers, pool
from cnnlib.exercises import ExerciseError
from cnnlib.functions import softmax


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


@pytest.mark.parametrize("checker, reference", REFERENCES, ids=lambda v: getattr(v, "__name__", ""))
def test_checker_accepts_the_reference(capsys, checker, reference):
    returned = checker(reference)
    assert returned is (reference if isinstance(reference, type) else None)
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


# --- notebook 09: batch norm's backward pass, RMSprop's update --------------------------------------
# (own lists and tests; at the end, REFERENCES and WRONG are extended so that the coverage test above,
# which reads them when it runs, sees these checkers too)

from cnnlib import norm, optim  # noqa: E402


def batchnorm(axes=(0, 2, 3), per="channel", mean_terms=True, use_gamma=True, dgamma=None, dbeta=None):
    """A BatchNorm2D whose backward sums over ``axes`` (dividing by the count of those values, or by N
    with ``per="batch"``), optionally without the mean terms or gamma, and with dgamma/dbeta rules."""
    def backward(self, dout):
        xhat, gamma = self.xhat, self.params["gamma"].reshape(1, -1, 1, 1)
        self.grads["gamma"] = (dout * xhat).sum(axis=(0, 2, 3)) if dgamma is None else dgamma(self, dout)
        self.grads["beta"] = dout.sum(axis=(0, 2, 3)) if dbeta is None else dbeta(self, dout)
        dxhat = dout * gamma if use_gamma else dout
        if not mean_terms:
            return dxhat * self.inv_std
        m = len(dout) if per == "batch" else int(np.prod([dout.shape[a] for a in axes]))
        return self.inv_std / m * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                                   - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))
    return layer(norm.BatchNorm2D, backward)


def batchnorm_in_place(self, dout):
    dout *= self.params["gamma"].reshape(1, -1, 1, 1)
    return batchnorm().backward(self, dout)


def rmsprop(kind):
    """An RMSprop whose update has the mistake ``kind``."""
    def update(self, params, grads):
        for name, p in params.items():
            g = grads[name]
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
            if kind == "rebind":
                p = p - self.lr * g / (root + self.eps)
            elif kind == "zeros":
                p[...] = 0
            elif kind == "ascent":
                p += self.lr * g / (root + self.eps)
            else:
                p -= self.lr * g / (root + self.eps)
    return type("Wrong", (optim.RMSprop,), {"update": (lambda self, *a: stub()) if kind == "stub" else update})


REFERENCES_09 = [
    (exercises.check_batchnorm_backward, norm.BatchNorm2D),
    (exercises.check_batchnorm_backward, batchnorm()),
    (exercises.check_rmsprop, optim.RMSprop),
    (exercises.check_rmsprop, rmsprop("right")),
]

WRONG_09 = [
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: stub()),
     "BatchNorm2D.backward is not written yet: the hint for this exercise"),
    (exercises.check_batchnorm_backward, batchnorm(mean_terms=False),
     "dx misses the terms from the mean and the variance"),
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
     "grads['beta'] on the fixed case x = arange(16).reshape(2, 2, 2, 2)**2, dout = 1 everywhere, "
     "where dx must be 0: the outputs sum to N*H*W*sum(beta) whatever x is is all zeros"),
    (exercises.check_batchnorm_backward, batchnorm(dgamma=lambda self, d: d.sum(axis=(0, 2, 3)),
                                                   dbeta=lambda self, d: (d * self.xhat).sum(axis=(0, 2, 3))),
     "that is dbeta: dgamma = sum(dout * xhat)"),
    (exercises.check_batchnorm_backward, batchnorm(
        dbeta=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3))),
     "dbeta = sum(dout): beta is added as it is, not times gamma"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_in_place), "changed dout in place"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: None), "dx is None"),
    (exercises.check_rmsprop, rmsprop("stub"), "RMSprop.update is not written yet: the hint"),
    (exercises.check_rmsprop, rmsprop("zeros"), "the parameter 'w' on the fixed case p = 1, g = 1, "
     "lr = 0.01, rho = 0.99: h = 0.01, so p = 1 - 0.01 * 1 / 0.1 = 0.9 is all zeros"),
    (exercises.check_rmsprop, rmsprop("adagrad"), "h only grows: that is AdaGrad"),
    (exercises.check_rmsprop, rmsprop("swapped"), "rho and 1 - rho are swapped"),
    (exercises.check_rmsprop, rmsprop("forget"), "h must be kept between steps"),
    (exercises.check_rmsprop, rmsprop("no_sqrt"), "divide by the ROOT of the mean square"),
    (exercises.check_rmsprop, rmsprop("ascent"), "the step goes against the gradient"),
    (exercises.check_rmsprop, rmsprop("rebind"), "update left the parameters unchanged on the fixed "
     "case"),
]


@pytest.mark.parametrize("checker, reference", REFERENCES_09, ids=lambda v: getattr(v, "__name__", ""))
def test_checker_of_notebook_09_accepts_the_reference(capsys, checker, reference):
    assert checker(reference) is reference
    out = capsys.readouterr().out
    assert out.startswith("correct: ") and out.count("\n") == 1


@pytest.mark.parametrize("checker, wrong, message", WRONG_09,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(WRONG_09)])
def test_checker_of_notebook_09_names_the_mistake(capsys, checker, wrong, message):
    with pytest.raises(ExerciseError) as info:
        checker(wrong)
    assert message in str(info.value)
    assert "correct:" not in capsys.readouterr().out


REFERENCES = REFERENCES + REFERENCES_09
WRONG = WRONG + WRONG_09
