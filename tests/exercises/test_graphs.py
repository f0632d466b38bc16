"""The checkers of notebook 01's graph nodes (cnnlib.exercises.graphs) accept right answers (written
independently of cnnlib where the exercise allows) and name each typical mistake."""

import numpy as np

from cnnlib import exercises, graph

from .helpers import checker_tests, stub


def node(reference, backward):
    class Node(reference):
        pass
    Node.backward = backward
    return Node


# --- right answers written from scratch, not on cnnlib's classes ---------------------------------

class MulByHand:
    """A multiply node: d(xy)/dx = y, d(xy)/dy = x."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddByHand:
    """An add node: both inputs receive dout unchanged."""

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout * 1, dout * 1


class MulByProductRule:
    """Backward by the product rule written as a gradient: d(xy) = y dx + x dy."""

    def forward(self, x, y):
        self.saved = (x, y)
        return np.multiply(x, y)

    def backward(self, dout):
        x, y = self.saved
        return np.multiply(y, dout), np.multiply(x, dout)


class MulByList:
    """Keeps its inputs in a list and swaps them for the backward pass."""

    def forward(self, x, y):
        self.inputs = [x, y]
        return x * y

    def backward(self, dout):
        other = self.inputs[::-1]
        return tuple(dout * v for v in other)


class AddByNumpy:
    """Copies dout for each input."""

    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, dout):
        return np.copy(dout), np.copy(dout)


class AddByPair:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return tuple([dout] * 2)


def shipping_by_nodes(fruit_total, shipping, tax):
    """Written with the learner's-style node classes of this file."""
    add, mul = AddByHand(), MulByHand()
    price = mul.forward(add.forward(fruit_total, shipping), tax)
    d_sum, _ = mul.backward(1.0)
    return price, add.backward(d_sum)[1]


def shipping_by_calculus(fruit_total, shipping, tax):
    return fruit_total * tax + shipping * tax, tax * 1.0


def add_mul_by_nodes(x, y, z):
    add, mul = AddByNumpy(), MulByList()
    f = mul.forward(add.forward(x, y), z)
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    return f, (dx, dy, dz)


def add_mul_expanded(x, y, z):
    """f = xz + yz expanded, its partial derivatives by hand."""
    return x * z + y * z, [z, z, x + y]


def mul_in_place(self, dout):
    dy = dout * self.x
    dout *= self.y
    return dout, dy


class MulReturningAList:
    """Returns the pair as a list, which the caller unpacks just as well."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return [dout * self.y, dout * self.x]


class AddReturningAList:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return [dout, dout]


REFERENCES = [
    (exercises.check_mul_layer, MulReturningAList),
    (exercises.check_add_layer, AddReturningAList),
    (exercises.check_shipping, lambda f, s, t: [(f + s) * t, t]),
    (exercises.check_add_mul, lambda x, y, z: [(x + y) * z, np.array([z, z, x + y])]),
    (exercises.check_mul_layer, graph.MulLayer),
    (exercises.check_add_layer, graph.AddLayer),
    (exercises.check_shipping, lambda f, s, t: ((f + s) * t, t)),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (z, z, x + y))),
    (exercises.check_passes, lambda n: (2 * n, 1)),
    (exercises.check_mul_layer, MulByHand),
    (exercises.check_add_layer, AddByHand),
    (exercises.check_mul_layer, MulByProductRule),
    (exercises.check_mul_layer, MulByList),
    (exercises.check_add_layer, AddByNumpy),
    (exercises.check_add_layer, AddByPair),
    (exercises.check_shipping, shipping_by_nodes),
    (exercises.check_shipping, shipping_by_calculus),
    (exercises.check_add_mul, add_mul_by_nodes),
    (exercises.check_add_mul, add_mul_expanded),
    (exercises.check_passes, lambda n: [n + n, 1]),
    (exercises.check_passes, lambda n: (len(("f(v + h e_k)", "f(v - h e_k)")) * n, 1)),
]


RETURN_THE_FUNCTION = set()


WRONG = [
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
     "dx and dy: the add node passes on what the multiply node sends it"),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, (-z, -z, -(x + y))),
     "sign flipped"),
    (exercises.check_passes, stub, "not written yet"),
    (exercises.check_passes, lambda n: (0, 0), "is all zeros"),
    (exercises.check_passes, lambda n: (n, 1), "twice per parameter"),
    (exercises.check_passes, lambda n: (2 * n, n), "one backward pass gives the gradient of every"),
    (exercises.check_passes, lambda n: (123412, 1), "for 5 parameters"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: (
        d * np.asarray(self.y, dtype=float), d * np.asarray(self.x, dtype=float))),
     "MulLayer.backward's dx on random float32 (3, 2) arrays is float64, not float32"),
    (exercises.check_add_layer, node(graph.AddLayer, lambda self, d: (
        d * np.ones(np.shape(d)), d * np.ones(np.shape(d)))),
     "is float64, not float32, for float32 inputs: an array built in float64"),
    (exercises.check_shipping, lambda f, s, t: ((f + s) * t, (t, t)),
     "d_shipping for fruit_total=650.0, shipping=30.0, tax=1.1 should be one number"),
    (exercises.check_add_mul, lambda x, y, z: ((x + y) * z, z, z, x + y),
     "return (f, (dx, dy, dz))"),
    (exercises.check_passes, lambda n: (n + 1, 1), "that counts forward differences"),
    (exercises.check_passes, lambda n: (2 * n + 1, 1), "never evaluates f(v) itself"),
    (exercises.check_mul_layer, node(graph.MulLayer, lambda self, d: (d * self.y, d * self.y)),
     "MulLayer.backward's dy on the fixed case x=3, y=-2, dout=1: each input gets dout times "
     "the OTHER input"),
    (exercises.check_mul_layer, node(graph.MulLayer, mul_in_place),
     "your code changed dout in place on the fixed case x=3, y=-2, dout=1"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
