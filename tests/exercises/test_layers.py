"""The checkers of the layer exercises (cnnlib.exercises.layers) accept right answers (written
independently of cnnlib where the exercise allows) and name each typical mistake."""

import numpy as np
import pytest

from cnnlib import exercises, layers
from cnnlib.functions import softmax

from .helpers import checker_tests, layer, stub


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


def tanh(backward):
    return layer(exercises.Tanh, backward)


def column_softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


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


# --- right answers written another way than cnnlib's ----------------------------------------------

def relu_by_heaviside(self, dout):
    return dout * np.heaviside(self.mask.astype(dout.dtype) - 0.5, 0)


def sigmoid_by_tanh(self, dout):
    """sigma'(x) = (1 - tanh(x/2)**2) / 4, from sigma(x) = (1 + tanh(x/2)) / 2."""
    return dout * (1 - (2 * self.out - 1) ** 2) / 4


def tanh_by_cosh(self, dout):
    """tanh'(x) = 1 / cosh(x)**2, with x recovered from the output."""
    return dout / np.cosh(np.arctanh(self.out)) ** 2


def affine_by_einsum(self, dout):
    self.grads["W"] = np.einsum("ni,no->io", self.x, dout)
    self.grads["b"] = np.einsum("no->o", dout)
    return np.einsum("no,io->ni", dout, self.params["W"]).reshape(self.x_shape)


def softmax_by_labels(p, t, dout, n):
    """p - one_hot(labels), by subtracting 1 at each example's label."""
    grad = p.copy()
    grad[np.arange(n), t.argmax(axis=1)] -= 1
    return grad * dout / n


def softmax_by_logsumexp(v):
    shifted = v - v.max(axis=-1, keepdims=True)
    return np.exp(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))


def relu_by_where(self, dout):
    return np.where(self.mask, dout, 0)


def relu_by_zeroing_a_copy(self, dout):
    grad = dout.copy()
    grad[~self.mask] = 0
    return grad


def sigmoid_expanded(self, dout):
    return dout * self.out - dout * self.out ** 2


def sigmoid_by_logs(self, dout):
    """y (1 - y) as exp(log y + log(1 - y))."""
    return dout * np.exp(np.log(self.out) + np.log1p(-self.out))


class TanhExpanded(layers.Layer):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return dout - dout * self.y * self.y


class TanhFromInput(layers.Layer):
    """Keeps the input and uses tanh'(x) = 1 / cosh(x)**2."""

    def forward(self, x):
        self.x = x.copy()
        return 2 / (1 + np.exp(-2 * x)) - 1

    def backward(self, dout):
        return dout / np.cosh(self.x) ** 2


def affine_by_outer_products(self, dout):
    self.grads["W"] = sum(np.outer(xn, gn) for xn, gn in zip(self.x, dout))
    self.grads["b"] = np.ones(len(dout), dout.dtype) @ dout
    return np.dot(dout, self.params["W"].T).reshape(self.x_shape)


def affine_by_tensordot(self, dout):
    self.grads["W"] = np.tensordot(self.x, dout, axes=([0], [0]))
    self.grads["b"] = np.add.reduce(dout, axis=0)
    dx = np.tensordot(dout, self.params["W"], axes=([1], [1]))
    return np.reshape(dx, self.x_shape)


def softmax_by_logaddexp(v):
    return np.exp(v - np.logaddexp.reduce(v, axis=-1, keepdims=True))


def softmax_by_new_axis(v):
    e = np.exp(v - v.max(-1)[..., None])
    return e / e.sum(-1)[..., None]


def tanh_forward_in_place(self, x):
    self.out = np.tanh(x, out=x)
    return self.out


def softmax_one_hot_by_eye(p, t, dout, n):
    """The labels rebuilt with np.eye, which is float64."""
    return (p - np.eye(p.shape[1])[t.argmax(axis=1)]) * dout / n


def relu_by_loop(self, dout):
    dx = np.zeros_like(dout)
    for index in np.ndindex(dout.shape):
        if self.mask[index]:
            dx[index] = dout[index]
    return dx


def affine_by_loops(self, dout):
    w = self.params["W"]
    dw, db, dx = np.zeros_like(w), np.zeros_like(self.params["b"]), np.zeros_like(self.x)
    for n in range(len(self.x)):
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                dw[i, j] += self.x[n, i] * dout[n, j]
                dx[n, i] += dout[n, j] * w[i, j]
        db += dout[n]
    self.grads["W"], self.grads["b"] = dw, db
    return dx.reshape(self.x_shape)


def softmax_loss_by_a_copy(p, t, dout, n):
    grad = p.copy()
    grad -= t
    grad *= dout / n
    return grad


def softmax_by_transposing(x):
    """DLFS's form: a batch is transposed so that the max and the sum run down the columns."""
    if x.ndim == 2:
        x = x.T - np.max(x.T, axis=0)
        return (np.exp(x) / np.sum(np.exp(x), axis=0)).T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


class TanhBySigmoid(layers.Layer):
    def forward(self, x):
        self.out = 2 / (1 + np.exp(-2 * x)) - 1
        return self.out

    def backward(self, dout):
        return dout * (1 + self.out) * (1 - self.out)


def probs_in_place(self, dout=1.0):
    self.probs -= self.targets          # changes what forward kept: a second call differs
    return self.probs * dout / len(self.probs)


def sigmoid_out_in_place(self, dout):
    self.out *= 1 - self.out
    return dout * self.out


def affine_accumulating(self, dout):
    self.grads["W"] += self.x.T @ dout
    self.grads["b"] += dout.sum(axis=0)
    return (dout @ self.params["W"].T).reshape(self.x_shape)


REFERENCES = [
    (exercises.check_relu, layer(layers.ReLU, relu_by_loop)),
    (exercises.check_affine, affine(affine_by_loops)),
    (exercises.check_softmax_with_loss, softmax_backward(softmax_loss_by_a_copy)),
    (exercises.check_softmax, softmax_by_transposing),
    (exercises.check_tanh, TanhBySigmoid),
    (exercises.check_relu, layers.ReLU),
    (exercises.check_sigmoid, layers.Sigmoid),
    (exercises.check_tanh, exercises.Tanh),
    (exercises.check_affine, layers.Affine),
    (exercises.check_softmax_with_loss, layers.SoftmaxWithLoss),
    (exercises.check_softmax, softmax),
    (exercises.check_relu, layer(layers.ReLU, relu_by_heaviside)),
    (exercises.check_sigmoid, layer(layers.Sigmoid, sigmoid_by_tanh)),
    (exercises.check_tanh, tanh(tanh_by_cosh)),
    (exercises.check_affine, affine(affine_by_einsum)),
    (exercises.check_softmax_with_loss, softmax_backward(softmax_by_labels)),
    (exercises.check_softmax, softmax_by_logsumexp),
    (exercises.check_relu, layer(layers.ReLU, relu_by_where)),
    (exercises.check_relu, layer(layers.ReLU, relu_by_zeroing_a_copy)),
    (exercises.check_sigmoid, layer(layers.Sigmoid, sigmoid_expanded)),
    (exercises.check_sigmoid, layer(layers.Sigmoid, sigmoid_by_logs)),
    (exercises.check_tanh, TanhExpanded),
    (exercises.check_tanh, TanhFromInput),
    (exercises.check_affine, affine(affine_by_outer_products)),
    (exercises.check_affine, affine(affine_by_tensordot)),
    (exercises.check_softmax_with_loss,
     softmax_backward(lambda p, t, d, n: (p - t) / len(p) * d)),
    (exercises.check_softmax_with_loss,
     softmax_backward(lambda p, t, d, n: d * np.subtract(p, t) / p.shape[0])),
    (exercises.check_softmax, softmax_by_logaddexp),
    (exercises.check_softmax, softmax_by_new_axis),
]


RETURN_THE_FUNCTION = set()


WRONG = [
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
     "grads['W'] on a fixed batch of 2 examples, 2 -> 3 features: dW has the shape of W, "
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
     "entries): compute a new array, not dout -= ..., dout *= ... or dout[...] = ...; the "
     "caller may still need it"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: d * np.where(self.mask, 1.0, 0.0)),
     "ReLU.backward's dx on a random float32 (2, 5) batch is float64, not float32"),
    (exercises.check_sigmoid, layer(layers.Sigmoid,
                                    lambda self, d: d * (self.out * (1 - self.out)).astype(float)),
     "Sigmoid.backward's dx on a random float32 (2, 5) batch is float64, not float32"),
    (exercises.check_tanh, type("TanhInPlace", (exercises.Tanh,),
                                {"forward": tanh_forward_in_place}),
     "your code changed the input x in place in Tanh.forward on the fixed input"),
    (exercises.check_affine, affine_grads(lambda x, d: x.T @ d,
                                          lambda d: np.ones(len(d)) @ d),
     "Affine.backward's grads['b'] on a random float32 batch of 3 examples, 4 -> 2 is float64"),
    (exercises.check_softmax_with_loss, softmax_backward(softmax_one_hot_by_eye),
     "dscores on a random float32 batch of 4 is float64, not float32"),
    (exercises.check_softmax, lambda v: softmax(v.astype(float)),
     "softmax for a random float32 (3, 5) batch is float64, not float32"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: d),
     "multiply dout by the mask: without it the gradient also flows where the input was "
     "negative"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: d * (d > 0)),
     "multiply dout by the mask"),
    (exercises.check_relu, layer(layers.ReLU, lambda self, d: (d * self.mask).tolist()),
     "ReLU.backward's dx on the fixed input [[1.0, -0.5, 0.0, 3.0]] with dout = 2 is a list, "
     "not a numpy array"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, lambda self, d: d * (1 - self.out)),
     "the factor y is missing"),
    (exercises.check_sigmoid, layer(layers.Sigmoid, sigmoid_out_in_place),
     "Sigmoid.backward gives another answer when it is called a second time"),
    (exercises.check_tanh, tanh(lambda self, d: d * (1 - self.out) ** 2),
     "square y alone, not 1 - y"),
    (exercises.check_tanh, tanh(lambda self, d: d * 1 - self.out ** 2),
     "multiply dout by the whole slope 1 - y**2: mind the precedence"),
    (exercises.check_tanh, tanh(lambda self, d: d * (1 - np.tanh(self.out) ** 2)),
     "you applied tanh to it again"),
    (exercises.check_tanh, tanh(lambda self, d: d * self.out * (1 - self.out)),
     "y * (1 - y) is the sigmoid's slope"),
    (exercises.check_affine, affine_grads(lambda x, d: x.T @ d, lambda d: d.sum(axis=1)),
     "grads['b'] has shape (2,) on a fixed batch of 2 examples, 2 -> 3 features, one value per "
     "example: b has one entry per output"),
    (exercises.check_softmax_with_loss,
     softmax_backward(lambda p, t, d, n: (p - t / n) * d),
     "divide the whole difference p - t by N: mind the precedence"),
    (exercises.check_softmax_with_loss, layer(layers.SoftmaxWithLoss, probs_in_place),
     "SoftmaxWithLoss.backward gives another answer when it is called a second time on the "
     "fixed case scores (2, 1, 0), label 1: it changed what forward kept"),
    (exercises.check_affine, affine(affine_accumulating),
     "grads['W'] doubled when backward ran a second time on a fixed batch of 2 examples, "
     "2 -> 3 features: you add to the stored gradient"),
    (exercises.check_softmax, lambda v: softmax(v).tolist(),
     "softmax for the scores (1, 2, 3) is a list, not a numpy array"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)


def test_a_type_error_inside_the_learners_code_is_not_masked():
    with pytest.raises(TypeError, match="did not contain a loop"):
        exercises.check_softmax(deep_type_error)
