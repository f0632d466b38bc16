"""Checkers of notebook 01's exercises: the multiply and add nodes of a computational graph,
the shipping example, and counting passes.
"""

import numpy as np

from .. import graph
from ..gradcheck import numerical_gradient
from .diagnosis import (
    ExerciseError,
    call,
    caller_unchanged,
    compare,
    correct,
    keeps_float32,
)


def _is_pair(got, length=2):
    """Whether ``got`` is a tuple or a list of ``length`` items (a caller unpacks either)."""
    return isinstance(got, (tuple, list)) and len(got) == length


def _check_node(cls, reference, name, mistakes_of):
    rng = np.random.default_rng(0)
    cases = [(3.0, -2.0, 1.0, "on the fixed case x=3, y=-2, dout=1"),
             (3.0, -2.0, 2.0, "on the fixed case x=3, y=-2, dout=2")]
    x, y, dout = (rng.standard_normal((2, 3)) for _ in range(3))
    cases.append((x, y, dout, "on random (2, 3) arrays"))
    x, y, dout = (rng.standard_normal((3, 2)).astype(np.float32) for _ in range(3))
    cases.append((x, y, dout, "on random float32 (3, 2) arrays"))
    for x, y, dout, where in cases:
        node, ref = call(f"{name}()", cls), reference()
        given = {"x": np.copy(x), "y": np.copy(y), "dout": np.copy(dout)}
        out = call(f"{name}.forward", node.forward, given["x"], given["y"])
        compare(f"{name}.forward", out, ref.forward(x, y), where=where)
        got = call(f"{name}.backward", node.backward, given["dout"])
        if not _is_pair(got):
            raise ExerciseError(f"{name}.backward must return a pair (dx, dy), got {got!r}")
        for key, value in (("x", x), ("y", y), ("dout", dout)):
            caller_unchanged(key, given[key], value, where)
        expected = ref.backward(dout)
        for i, label in enumerate(("dx", "dy")):
            compare(f"{name}.backward's {label}", got[i], expected[i], mistakes_of(x, y, dout)[i],
                    where)
            if np.ndim(x) and np.asarray(x).dtype == np.float32:
                keeps_float32(f"{name}.backward's {label}", got[i], where)
    # the numerical gradient of sum(forward(x, y) * dout) agrees
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal(4)
    node = cls()
    node.forward(x, y)
    dx, dy = node.backward(dout)
    fresh = cls()
    numeric_dx = numerical_gradient(lambda v: np.sum(fresh.forward(v, y) * dout), x.copy())
    numeric_dy = numerical_gradient(lambda v: np.sum(fresh.forward(x, v) * dout), y.copy())
    compare(f"{name}.backward's dx", dx, numeric_dx, where="against the numerical gradient")
    compare(f"{name}.backward's dy", dy, numeric_dy, where="against the numerical gradient")


def check_mul_layer(cls):
    """Check a MulLayer class: ``forward(x, y) -> x*y``, ``backward(dout) -> (dout*y, dout*x)``."""
    def mistakes(x, y, dout):
        swapped = ("each input gets dout times the OTHER input, not its own (see the local "
                   "derivatives)")
        no_dout = "multiply by dout: the gradient from further down the graph (chain rule)"
        return ([(dout * x, swapped), (np.broadcast_to(y, np.shape(dout)), no_dout)],
                [(dout * y, swapped), (np.broadcast_to(x, np.shape(dout)), no_dout)])
    _check_node(cls, graph.MulLayer, "MulLayer", mistakes)
    correct("MulLayer matches cnnlib and the numerical gradient (fixed case and random arrays)")
    return cls


def check_add_layer(cls):
    """Check an AddLayer class: ``forward(x, y) -> x+y``, ``backward(dout) -> (dout, dout)``."""
    def mistakes(x, y, dout):
        ones = "an add node passes dout on unchanged, not 1 (chain rule: dout * 1)"
        half = "each input gets the whole dout, not a share of it (both local slopes are 1)"
        pair = [(np.ones_like(np.asarray(dout, dtype=float)), ones), (np.asarray(dout) / 2, half)]
        return pair, pair
    _check_node(cls, graph.AddLayer, "AddLayer", mistakes)
    correct("AddLayer matches cnnlib and the numerical gradient (fixed case and random arrays)")
    return cls


def check_shipping(fn):
    """Exercise: ``fn(fruit_total, shipping, tax) -> (price, d_shipping)`` through graph nodes."""
    for args in [(650.0, 30.0, 1.1), (100.0, 5.0, 1.2), (10.0, 0.0, 2.0)]:
        got = call("your function", fn, *args)
        if not _is_pair(got):
            raise ExerciseError(f"return a pair (price, d_shipping), got {got!r}")
        fruit_total, shipping, tax = args
        where = f"for fruit_total={fruit_total}, shipping={shipping}, tax={tax}"
        if np.ndim(got[1]) != 0:
            raise ExerciseError(f"d_shipping {where} should be one number, got {got[1]!r}: the "
                                f"add node's backward returns a gradient for each of its two "
                                f"inputs; which one is the shipping fee's?")
        compare("price", got[0], (fruit_total + shipping) * tax, where=where)
        numeric = numerical_gradient(lambda s, fruit_total=fruit_total, tax=tax:
                                     (fruit_total + s[0]) * tax, np.array([shipping]))
        compare("d_shipping", got[1], numeric[0], [(1.0, "the add node passes on dout, which "
                                                    "here is d price / d sum = tax, not 1")],
                where)
    correct("price and d price / d shipping for three bills")


def check_add_mul(fn):
    """Exercise: ``fn(x, y, z) -> (f, (dx, dy, dz))`` for ``f = (x + y) * z``."""
    for x, y, z in [(-2.0, 5.0, -4.0), (1.0, 2.0, 3.0), (0.5, -1.5, 2.0)]:
        got = call("your function", fn, x, y, z)
        if not _is_pair(got) or np.ndim(got[1]) != 1 or len(got[1]) != 3:
            raise ExerciseError(f"return (f, (dx, dy, dz)), got {got!r}")
        where = f"at x={x}, y={y}, z={z}"
        compare("f", got[0], (x + y) * z, where=where)
        numeric = numerical_gradient(lambda v: (v[0] + v[1]) * v[2], np.array([x, y, z]))
        compare("(dx, dy, dz)", np.array(got[1], dtype=float), numeric,
                [([1.0, 1.0, x + y], "dx and dy: the add node passes on what the multiply "
                  "node sends it, not 1")], where)
    correct("f and its three gradients at three points")


def check_passes(fn):
    """Exercise: ``fn(n_params) -> (numeric_evals, backward_passes)``."""
    for n in [5, 61706, 1]:
        got = call("your function", fn, n)
        compare("(numeric_evals, backward_passes)", np.array(got, dtype=float), [2 * n, 1],
                [([n, 1], "central differences evaluate the function twice per parameter"),
                 ([n + 1, 1], "that counts forward differences, f(v + h e_k) and one f(v); "
                  "section 4's central difference uses two evaluations per parameter and "
                  "no f(v)"),
                 ([2 * n + 1, 1], "section 4's central difference never evaluates f(v) "
                  "itself: two evaluations per parameter, nothing more"),
                 ([2 * n, n], "one backward pass gives the gradient of every parameter at once")],
                f"for {n} parameters")
    correct("two evaluations per parameter numerically, one backward pass for all")
