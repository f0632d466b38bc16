"""Numerical gradients by central differences, to check every analytic backward pass.

Use float64: with ``h = 1e-5`` the central difference is accurate to about ``1e-10`` relative, so a
correct backward pass agrees to well below ``1e-7``; float32 cannot resolve differences that small.
"""

import numbers

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """``df/dx`` of a scalar function ``f(x)`` by central differences ``(f(x+h) - f(x-h)) / 2h``.

    ``x`` is an array of any shape; it is changed in place one element at a time (so ``f`` may read
    it through another reference, e.g. a layer's weight) and always restored. Returns an array
    shaped like x.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x: expected a float numpy array, got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}".rstrip())
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not 0 < h < np.inf:
        raise ValueError(f"h: expected a finite step > 0 (such as 1e-5), got {h!r}")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            f_plus = float(f(x))
            x[index] = original - h
            f_minus = float(f(x))
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Largest absolute difference relative to the larger of the two arrays' largest magnitudes.

    ``max|a - b| / max(max|a|, max|b|)``: scale-free, and safe at zero (0 when both are all zero).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def check_layer(layer, x, *, labels=None, seed=0):
    """Compare a layer's backward pass with numerical gradients; return ``{"dx": err, "dW": err,
    ...}``.

    The scalar checked is ``sum(layer.forward(x) * dout)`` for a random upstream gradient ``dout``
    drawn with ``seed``, or the loss ``layer.forward(x, labels)`` for a loss layer. Pass float64
    data and a layer built with ``dtype=np.float64``.
    """
    x = np.asarray(x)
    x = np.array(x, dtype=np.float64 if x.dtype.kind != "f" else x.dtype)
    if labels is None:
        dout = np.random.default_rng(seed).standard_normal(layer.forward(x).shape).astype(x.dtype)

        def f(_):
            return np.sum(layer.forward(x) * dout)
    else:
        dout = 1.0

        def f(_):
            return layer.forward(x, labels)

    f(x)
    dx = layer.backward(dout)
    analytic = {"dx": dx, **{f"d{name}": grad.copy() for name, grad in layer.grads.items()}}
    numeric = {"dx": numerical_gradient(f, x),
               **{f"d{name}": numerical_gradient(f, param) for name, param in layer.params.items()}}
    return {key: rel_error(analytic[key], numeric[key]) for key in analytic}


def check_model(model, x, y):
    """Compare ``model``'s backprop gradients of ``model.loss(x, y)`` with numerical ones.

    Returns ``{param_name: rel_error}`` for every parameter (use a float64 model and a few
    examples).
    """
    model.loss(x, y)
    model.backward()
    analytic = {name: grad.copy() for name, _, grad in model.named_params()}
    return {name: rel_error(analytic[name], numerical_gradient(lambda _: model.loss(x, y), param))
            for name, param, _ in model.named_params()}
