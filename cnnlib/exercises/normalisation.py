"""Checker of batch normalisation's backward pass (notebook 09), with its typical mistakes.
"""

import numpy as np

from ..gradcheck import numerical_gradient
from ..norm import BatchNorm2D, normalisation_backward
from .diagnosis import ExerciseError, call, compare, copy_checked, correct, fresh, zeros_first


def _bn_backward_variant(x, gamma, dout, eps, *, axes=(0, 2, 3), m=None, mean_term=True,
                         var_term=True, var_sign=-1, use_gamma=True):
    """Batch norm's dx with per-channel statistics as the forward pass computes them, and the
    backward pass's sums over ``axes`` divided by ``m``: the reference with the defaults, a typical
    mistake otherwise (a path left out, the variance's term added, no gamma).

    cnnlib's compact form is ``dxhat * inv_std - (path through the mean) - (path through the
    variance)``; with ``xhat = 0`` the variance's path vanishes, which separates the two."""
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
    xhat = (x - mean) * inv_std
    dxhat = dout * gamma.reshape(1, -1, 1, 1) if use_gamma else dout
    direct = dxhat * inv_std
    without_var = normalisation_backward(dxhat, np.zeros_like(xhat), inv_std, axes)
    mean_path = direct - without_var
    var_path = without_var - normalisation_backward(dxhat, xhat, inv_std, axes)
    scale = 1 if m is None else np.prod([x.shape[axis] for axis in axes]) / m
    return direct - scale * (mean_term * mean_path - var_sign * var_term * var_path)


def _check_per_channel(name, got, x):
    """ExerciseError when a per-channel gradient was not summed (or summed over the batch only)."""
    shape = np.shape(got)
    n, c, h, w = x.shape
    if shape == x.shape:
        raise ExerciseError(f"{name} has the shape of x {x.shape}: sum it over N, H and W "
                            f"(axis=(0, 2, 3)) to one value per channel, shape ({c},)")
    if shape == (c, h, w):
        raise ExerciseError(f"{name} has shape {shape}: it is summed over the batch only; sum over "
                            f"N, H and W (axis=(0, 2, 3)) to shape ({c},)")


def check_batchnorm_backward(cls):
    """Check a spatial batch norm class built as ``cls(C, dtype=np.float64)`` (cnnlib's
    :class:`~cnnlib.norm.BatchNorm2D` forward: it keeps ``xhat`` and ``inv_std``): in training mode,
    backward returns dx ``(N, C, H, W)`` and sets ``grads['gamma']``, ``grads['beta']`` ``(C,)``."""
    rng = np.random.default_rng(9)
    fixed = np.arange(16.0).reshape(2, 2, 2, 2) ** 2
    fixed_dout = (np.arange(16.0) % 3 - 1).reshape(2, 2, 2, 2)
    cases = [(fixed, fixed_dout, "on the fixed case x = arange(16).reshape(2, 2, 2, 2)**2, "
              "dout = (arange(16) % 3 - 1).reshape(2, 2, 2, 2), gamma and beta random"),
             (rng.standard_normal((4, 3, 3, 5)) * 2 + 1, None, "on a random (4, 3, 3, 5) batch"),
             (rng.standard_normal((2, 2, 4, 4)) * 3 - 2, None, "on a random (2, 2, 4, 4) batch")]
    for x, dout, where in cases:
        n, c, h, w = x.shape
        dout = rng.standard_normal(x.shape) if dout is None else dout
        seed = int(rng.integers(1 << 30))
        layer = fresh(cls, "BatchNorm2D", c, dtype=np.float64)
        ref = BatchNorm2D(c, dtype=np.float64)
        for key in ("gamma", "beta"):
            if key not in getattr(layer, "params", {}):
                raise ExerciseError(f"BatchNorm2D has no params['{key}']: build it on cnnlib's "
                                    f"BatchNorm2D")
        values = np.random.default_rng(seed).standard_normal((2, c))
        for target in (layer, ref):
            target.params["gamma"][...] = values[0] + 1.5
            target.params["beta"][...] = values[1]
            target.training = True
        gamma, eps = ref.params["gamma"], ref.eps
        compare("BatchNorm2D.forward", call("BatchNorm2D.forward", layer.forward, x.copy()),
                ref.forward(x), where=where)
        got = copy_checked("BatchNorm2D.backward", dout,
                           lambda d: call("BatchNorm2D.backward", layer.backward, d))
        expected = ref.backward(dout)

        def variant(**mistake):
            return _bn_backward_variant(x, gamma, dout, eps, **mistake)
        zeros_first("dx", got, expected, where, "return the gradient you computed for x")
        compare("dx", got, expected, [
           (variant(mean_term=False, var_term=False), "dx misses the paths through the mean "
            "and the variance: x_j reaches the loss through xhat_j directly AND through mu and "
            "sigma^2, which every xhat_i uses; add the terms of both"),
           (variant(var_term=False), "dx misses the path through the variance (the most common "
            "mistake): sigma^2 depends on x_j too, which adds a term proportional to xhat_j * "
            "sum(dxhat * xhat)"),
           (variant(mean_term=False), "dx misses the path through the mean: mu depends on every "
            "x_j, which subtracts the channel's mean of dxhat (sum(dxhat) / m) before the step "
            "through inv_std"),
           (variant(var_sign=1), "the variance's term has the wrong sign: a larger x_j raises "
            "sigma^2, which shrinks every xhat_i, so that term is subtracted"),
           (variant(use_gamma=False), "you forgot gamma: the output is gamma * xhat + beta, so "
            "dxhat = gamma * dout (gamma reshaped to (1, C, 1, 1))"),
           (variant(m=n), f"m is the number of values behind each mean, N*H*W = {n * h * w}, not "
            f"the batch size N = {n}"),
           (variant(axes=(0,), m=n), "the sums run over N, H and W (axis=(0, 2, 3)), not over the "
            "batch axis only"),
           (variant(axes=(1, 2, 3), m=c * h * w), "those sums are per example (axis=(1, 2, 3)): "
            "batch norm's statistics are per CHANNEL, over N, H and W (axis=(0, 2, 3))"),
           (variant(axes=(2, 3), m=h * w), "those sums are per image and channel (axis=(2, 3)): "
            "batch norm's statistics are per channel over the whole batch, axis=(0, 2, 3)")],
           where)
        xhat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(
            x.var(axis=(0, 2, 3), keepdims=True) + eps)
        grads = getattr(layer, "grads", {})
        for key, mistakes in [
                ("gamma", [((dout * x).sum(axis=(0, 2, 3)), "dgamma = sum(dout * xhat) with the "
                            "NORMALISED input xhat, not x"),
                           ((dout * gamma.reshape(1, -1, 1, 1) * xhat).sum(axis=(0, 2, 3)),
                            "grads['gamma'] is multiplied by gamma: gamma multiplies xhat, so its "
                            "own gradient is sum(dout * xhat), without gamma"),
                           (dout.sum(axis=(0, 2, 3)), "that is dbeta: dgamma = sum(dout * xhat)")]),
                ("beta", [((dout * xhat).sum(axis=(0, 2, 3)), "that is dgamma: dbeta = sum(dout)"),
                          ((dout * gamma.reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3)),
                           "dbeta = sum(dout): beta is added as it is, not times gamma")])]:
            if key not in grads:
                raise ExerciseError(f"set self.grads['{key}'] in backward")
            _check_per_channel(f"grads['{key}']", grads[key], x)
            zeros_first(f"grads['{key}']", grads[key], ref.grads[key], where,
                        f"store its gradient in self.grads['{key}'] (it starts as zeros)")
            compare(f"grads['{key}']", grads[key], ref.grads[key], mistakes, where)
    # against the numerical gradient of sum(forward(x) * dout)
    x, dout = rng.standard_normal((3, 2, 2, 3)), rng.standard_normal((3, 2, 2, 3))
    layer, ref = cls(2, dtype=np.float64), BatchNorm2D(2, dtype=np.float64)
    for target in (layer, ref):
        target.params["gamma"][...] = [0.7, -1.3]
        target.params["beta"][...] = [0.2, 0.5]
    layer.forward(x)
    dx = layer.backward(dout)

    def f(_):
        return np.sum(ref.forward(x) * dout)
    numeric = {"dx": numerical_gradient(f, x),
               "grads['gamma']": numerical_gradient(f, ref.params["gamma"]),
               "grads['beta']": numerical_gradient(f, ref.params["beta"])}
    for key, got in [("dx", dx), ("grads['gamma']", layer.grads["gamma"]),
                     ("grads['beta']", layer.grads["beta"])]:
        compare(key, got, numeric[key], where="against the numerical gradient")
    correct("batch norm's dx, dgamma and dbeta match cnnlib and the numerical gradient")
    return cls
