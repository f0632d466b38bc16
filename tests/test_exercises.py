"""Every checker accepts cnnlib's reference and rejects a stub, zeros, a transposed or unsummed
answer and its exercise's typical mistake, each with a message that names the mistake."""

import numpy as np
import pytest

from cnnlib import conv, exercises, graph, interpret, layers, pool
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


# --- notebook 10: what the network sees -----------------------------------------------------------

def score_grad(model, x, classes):
    out = model.forward(x)
    dscores = np.zeros_like(out)
    dscores[np.arange(len(x)), classes] = 1
    return model.backward_from_scores(dscores)


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


REFERENCES += [
    (exercises.check_saliency, interpret.saliency),
    (exercises.check_fgsm, interpret.fgsm),
]

WRONG += [
    (exercises.check_saliency, stub, "your saliency is not written yet: the hint"),
    (exercises.check_saliency, lambda m, x, t: np.zeros((len(x),) + x.shape[2:]),
     "the saliency map on a linear model (score = w . x + b), where the saliency of class c is "
     "|w_c|, the class's weights is all zeros"),
    (exercises.check_saliency, lambda m, x, t: score_grad(m, x, t).max(axis=1),
     "take the absolute value |d score / d x| (np.abs) before the max"),
    (exercises.check_saliency, lambda m, x, t: np.abs(loss_grad(m, x, t)).max(axis=1),
     "that is the gradient of the LOSS; a saliency map uses the class SCORE"),
    (exercises.check_saliency, lambda m, x, t: np.abs(
        m.backward_from_scores(np.ones_like(m.forward(x)))).max(axis=1),
     "dscores must be one-hot: 1 at the target class only"),
    (exercises.check_saliency, lambda m, x, t: np.abs(score_grad(m, x, t)).sum(axis=1),
     "with 2 input channels, 4 images: take the MAX over the channel axis (axis 1), not the sum"),
    (exercises.check_saliency, lambda m, x, t: np.abs(score_grad(m, x, t)),
     "the saliency map has the shape of x (3, 1, 4, 4)"),
    (exercises.check_saliency, lambda m, x, t: np.abs(score_grad(m, x, t)).max(axis=1).sum(axis=0),
     "the saliency map has the wrong shape on a linear model (score = w . x + b), where the "
     "saliency of class c is |w_c|, the class's weights: expected (3, 4, 4), got (4, 4)"),
    (exercises.check_saliency, lambda m, x, t: np.abs(
        score_grad(m, x, m.forward(x).argmax(axis=1))).max(axis=1),
     "use the score of each image's TARGET class"),
    (exercises.check_fgsm, stub, "your fgsm is not written yet: the hint"),
    (exercises.check_fgsm, lambda m, x, y, e: np.zeros_like(x),
     "the adversarial images on a linear model with two classes, where sign(dL/dx) = "
     "sign(w_other - w_true), epsilon = 0.1 is all zeros"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: -np.sign(loss_grad(m, x, y))),
     "you moved DOWN the loss"),
    (exercises.check_fgsm, lambda m, x, y, e: fgsm_with(
        lambda m, x, y: np.sign(loss_grad(m, x, y)))(m, x, y, e, clip=False),
     "clip the result to [0, 1] (np.clip)"),
    (exercises.check_fgsm, fgsm_with(loss_grad), "use the SIGN of the gradient (np.sign)"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: np.sign(score_grad(m, x, y))),
     "that follows the gradient of the true class's SCORE, which makes the class MORE likely"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: -np.sign(score_grad(m, x, y))),
     "that follows minus the gradient of the true class's score"),
    (exercises.check_fgsm, lambda m, x, y, e: x.copy(), "the images came back unchanged"),
    (exercises.check_fgsm, fgsm_in_place, "your fgsm changed x in place"),
    (exercises.check_fgsm, lambda m, x, y, e: interpret.fgsm(m, x, y, e)[:, 0],
     "the adversarial images has the wrong shape"),
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
