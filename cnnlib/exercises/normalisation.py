"""Checkers of batch norm's forward and backward passes and group norm's backward pass
(notebook 10), with their typical mistakes.
"""

import numpy as np

from ..gradcheck import numerical_gradient
from ..norm import BatchNorm2D, GroupNorm, normalisation_backward
from .diagnosis import (
    ExerciseError,
    call,
    caller_unchanged,
    close,
    compare,
    copy_checked,
    correct,
    fresh,
    keeps_float32,
    zeros_first,
)


def _bn_backward_variant(x, gamma, dout, eps, *, axes=(0, 2, 3), m=None, mean_term=True,
                         var_term=True, var_sign=-1, use_gamma=True, var_scale=1.0):
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
    return direct - scale * (mean_term * mean_path
                             - var_sign * var_term * var_scale * var_path)


def _bn_backward_unkept(x, gamma, dout, eps):
    """The compact backward pass with its two per-channel sums of shape (C,), not (1, C, 1, 1):
    broadcast against (N, C, H, W) they line up with W (possible only when W == C)."""
    axes = (0, 2, 3)
    m = x.size // x.shape[1]
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    xhat = (x - x.mean(axis=axes, keepdims=True)) * inv_std
    dxhat = dout * gamma.reshape(1, -1, 1, 1)
    return inv_std / m * (m * dxhat - dxhat.sum(axis=axes) - xhat * (dxhat * xhat).sum(axis=axes))


def _bn_centred_times_inv_std(x, gamma, dout, eps):
    """The staged backward pass with x - mu rebuilt as xhat * inv_std (it is xhat / inv_std)."""
    axes = (0, 2, 3)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    centred = (x - mean) * inv_std * inv_std
    dxhat = dout * gamma.reshape(1, -1, 1, 1)
    dvar = (dxhat * centred).sum(axis=axes, keepdims=True) * -0.5 * inv_std ** 3
    dmu = (-(dxhat * inv_std).sum(axis=axes, keepdims=True)
           - dvar * 2 / m * centred.sum(axis=axes, keepdims=True))
    return dxhat * inv_std + dvar * 2 * centred / m + dmu / m


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


def _bn_training_pair(cls, c, seed):
    """The learner's ``cls(c)`` and cnnlib's BatchNorm2D, in training mode, with one random gamma
    and beta drawn from ``seed``."""
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
    return layer, ref


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
        layer, ref = _bn_training_pair(cls, c, seed)
        gamma, eps = ref.params["gamma"], ref.eps
        compare("BatchNorm2D.forward", call("BatchNorm2D.forward", layer.forward, x.copy()),
                ref.forward(x), where=where)
        got = copy_checked("BatchNorm2D.backward", dout,
                           lambda d, layer=layer: call("BatchNorm2D.backward", layer.backward, d))
        expected = ref.backward(dout)

        def variant(x=x, gamma=gamma, dout=dout, eps=eps, **mistake):
            return _bn_backward_variant(x, gamma, dout, eps, **mistake)
        no_var, centred = variant(var_term=False), _bn_centred_times_inv_std(x, gamma, dout, eps)
        centred_message = ("x - mu is rebuilt wrongly from the forward pass's arrays: xhat = (x - "
                           "mu) * inv_std, so x - mu = xhat / inv_std; the variance's path then "
                           "comes out far too small")
        if close(centred, no_var):          # the two cannot be told apart on this case
            centred_message = ("dx misses the path through the variance, or that path comes out "
                               "far too small: check the term proportional to xhat_j * "
                               "sum(dxhat * xhat), and that x - mu is xhat / inv_std")
        zeros_first("dx", got, expected, where, "return the gradient you computed for x")
        compare("dx", got, expected, [
           (variant(mean_term=False, var_term=False), "dx misses the paths through the mean "
            "and the variance: x_j reaches the loss through xhat_j directly AND through mu and "
            "sigma^2, which every xhat_i uses; add the terms of both"),
           (centred, centred_message),
           (no_var, "dx misses the path through the variance (the most common "
            "mistake): sigma^2 depends on x_j too, which adds a term proportional to xhat_j * "
            "sum(dxhat * xhat)"),
           (variant(m=n * h * w - 1), f"the sums are divided by m - 1 = {n * h * w - 1}: the "
            f"forward pass's mean and variance divide by m = N*H*W = {n * h * w}"),
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
            "batch norm's statistics are per channel over the whole batch, axis=(0, 2, 3)"),
           (variant(m=n * c * h * w), f"the sums are divided by N*C*H*W = {n * c * h * w}, every "
            f"value of the batch: each channel's mean and variance come from its own m = N*H*W "
            f"= {n * h * w} values"),
           (expected / ref.inv_std, "dx misses the factor 1/s = inv_std: every path from x to "
            "xhat passes through the division by s"),
           (variant(var_scale=2), "the variance's path comes out twice too large: the "
            "derivative of (sigma^2 + eps)**(-1/2) is -1/2 * (sigma^2 + eps)**(-3/2); is the -1/2 "
            "missing?"),
           (variant(var_scale=1 / ref.inv_std), "the variance's path is s times too large: the "
            "derivative of (sigma^2 + eps)**(-1/2) has the power -3/2, inv_std**3")]
           + ([(_bn_backward_unkept(x, gamma, dout, eps), "a per-channel sum of shape (C,) is "
                "broadcast against (N, C, H, W): it lines up with the LAST axis, W, not with "
                "the channels; keep the reduced axes (keepdims=True)")] if w == c else []),
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
    layer = cls(2, dtype=np.float32)
    x32 = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    layer.forward(x32)
    keeps_float32("dx", layer.backward(np.ones_like(x32)), "of a float32 layer")
    correct("batch norm's dx, dgamma and dbeta match cnnlib and the numerical gradient")
    return cls


# --- batch norm's forward pass -------------------------------------------------------------------

def _bn_forward_variant(x, gamma, beta, eps, *, axes=(0, 2, 3), ddof=0, eps_inside=True,
                        use_eps=True, sqrt=True, swap=False, affine=True, per=(1, -1, 1, 1)):
    """Batch norm's training-mode output with its statistics over ``axes``: the reference with the
    defaults, a typical mistake otherwise."""
    mean = x.mean(axis=axes, keepdims=True)
    m = np.prod([x.shape[a] for a in axes])
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (m - ddof)
    e = eps if use_eps else 0.0
    if not sqrt:
        scale = var + e
    else:
        scale = np.sqrt(var + e) if eps_inside else np.sqrt(var) + e
    xhat = (x - mean) / scale
    if not affine:
        return xhat
    g, b = (beta, gamma) if swap else (gamma, beta)
    return g.reshape(per) * xhat + b.reshape(per)


def check_batchnorm_forward(fn):
    """Check ``fn(x, gamma, beta, eps)``: batch norm's forward pass in training mode for images
    ``x`` ``(N, C, H, W)``, ``gamma``, ``beta`` ``(C,)``; returns ``(out, xhat, inv_std)`` with
    ``out``, ``xhat`` shaped like x and ``inv_std`` ``(1, C, 1, 1)``, all of x's dtype, x unchanged.
    """
    rng = np.random.default_rng(12)
    fixed = np.arange(16.0).reshape(2, 2, 2, 2)
    cases = [(fixed, np.array([2.0, 0.5]), np.array([1.0, -1.0]), 1e-5,
              "on the fixed case x = arange(16.0).reshape(2, 2, 2, 2), gamma = [2, 0.5], "
              "beta = [1, -1]"),
             (rng.standard_normal((4, 3, 3, 5)) * 2 + 1, rng.normal(1, 0.5, 3), rng.normal(0, 1, 3),
              1e-5, "on a random (4, 3, 3, 5) batch"),
             (rng.standard_normal((3, 2, 4, 4)) * 0.005 + 0.3, rng.normal(1, 0.5, 2),
              rng.normal(0, 1, 2), 1e-5, "on a random (3, 2, 4, 4) batch of small values "
              "(variance near 2.5e-5, so eps matters)")]
    for x, gamma, beta, eps, where in cases:
        n, c, h, w = x.shape
        args = [x.copy(), gamma.copy(), beta.copy()]
        result = call("batchnorm_forward", fn, *args, eps)
        for name, given, original in zip(("x", "gamma", "beta"), args, (x, gamma, beta)):
            caller_unchanged(f"the caller's {name}", given, original, where,
                             who="batchnorm_forward")
        if not isinstance(result, tuple) or len(result) != 3:
            raise ExerciseError("batchnorm_forward should return three things: "
                                "(out, xhat, inv_std)")
        out, xhat, inv_std = result

        def variant(x=x, gamma=gamma, beta=beta, eps=eps, **mistake):
            return _bn_forward_variant(x, gamma, beta, eps, **mistake)
        expected = variant()
        zeros_first("out", out, expected, where, "return the normalised, scaled and shifted x")
        compare("out", out, expected, [
            (variant(ddof=1), f"the variance divides by m - 1 = {n * h * w - 1}: batch norm "
             f"divides by m = N*H*W = {n * h * w} (the mean of the squared deviations, np.var's "
             f"default ddof=0)"),
            (variant(eps_inside=False), "eps is added to the standard deviation: it belongs "
             "inside the square root, sqrt(var + eps)"),
            (variant(use_eps=False), "eps is missing: divide by sqrt(var + eps), which keeps a "
             "channel with (nearly) constant values finite"),
            (variant(sqrt=False), "you divide by the variance: xhat divides by the standard "
             "deviation, the square root of var + eps"),
            (variant(swap=True), "gamma and beta are swapped: gamma scales xhat, beta is added"),
            (variant(affine=False), "out is xhat alone: the layer then scales and shifts it with "
             "gamma and beta (reshaped to (1, C, 1, 1))"),
            (variant(axes=(0,)), "the statistics are per pixel (axis=0): batch norm takes one "
             "mean and variance per CHANNEL, over N, H and W"),
            (variant(axes=(1, 2, 3)), "the statistics are per example (axis=(1, 2, 3)), as layer "
             "norm takes them: batch norm's are per channel, over N, H and W"),
            (variant(axes=(2, 3)), "the statistics are per image and channel (axis=(2, 3)), as "
             "instance norm takes them: batch norm's are per channel over the whole batch"),
            (variant(axes=(1,)), "the statistics are over the channels (axis=1): batch norm "
             "takes one mean and variance per CHANNEL, over N, H and W"),
            (variant(axes=(0, 2)), "the statistics leave out the W axis: each channel's mean "
             "and variance run over N, H AND W"),
            (variant(axes=(0, 3)), "the statistics leave out the H axis: each channel's mean "
             "and variance run over N, H AND W")]
            + ([(variant(per=(1, 1, 1, -1)), "gamma and beta of shape (C,) broadcast against "
                 "(N, C, H, W) line up with the LAST axis, W: reshape them to (1, C, 1, 1)")]
               if w == c else []),
            where)
        compare("xhat", xhat, variant(affine=False), [
            (expected, "xhat is the output after gamma and beta: keep the normalised x before "
             "them"),
            (variant(affine=False, ddof=1), "xhat: the variance divides by m - 1: batch norm "
             "divides by m = N*H*W (np.var's default, ddof=0)"),
            (variant(affine=False, eps_inside=False), "xhat: eps is added to the standard "
             "deviation: it belongs inside the square root, sqrt(var + eps)"),
            (variant(affine=False, use_eps=False), "xhat: eps is missing: divide by "
             "sqrt(var + eps)")], where)
        inv = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
        compare("inv_std", inv_std, inv, [
            (inv.reshape(c), f"inv_std has shape ({c},): keep the reduced axes "
             f"(keepdims=True), shape (1, {c}, 1, 1)"),
            (1 / inv, "that is the standard deviation: inv_std = 1 / sqrt(var + eps)"),
            (x.var(axis=(0, 2, 3), keepdims=True), "that is the variance: inv_std = "
             "1 / sqrt(var + eps)")], where)
    x = (rng.standard_normal((2, 3, 2, 2)) * 3).astype(np.float32)
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    result = call("batchnorm_forward", fn, x.copy(), gamma, beta, 1e-5)
    for name, value in zip(("out", "xhat", "inv_std"), result):
        keeps_float32(name, value)
    correct("batch norm's forward pass: per-channel statistics over N, H and W, eps inside the "
            "root, gamma and beta")


# --- group norm's backward pass ------------------------------------------------------------------

def _gn_backward_variant(x, gamma, dout, groups, eps, *, per="group", ddof=0, mean_term=True,
                         var_term=True, var_sign=-1, use_gamma=True):
    """Group norm's dx from the forward pass's per-group statistics, with the backward pass's
    sums taken ``per`` group (the reference), per channel, or over the batch's groups too."""
    n, c = x.shape[:2]
    shape = (1, c) + (1,) * (x.ndim - 2)
    g = x.reshape(n, groups, -1)
    xhat = (g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + eps)
    inv_std = 1 / np.sqrt(g.var(axis=2, keepdims=True) + eps)
    dxhat = (dout * gamma.reshape(shape) if use_gamma else dout).reshape(n, groups, -1)
    xhat, inv_std_full = xhat.reshape(x.shape), (inv_std * np.ones_like(g)).reshape(x.shape)
    dxhat = dxhat.reshape(x.shape)
    if per == "group":
        view = (n, groups, -1)
        axes = (2,)
    elif per == "channel":
        view = (n, c, -1)
        axes = (2,)
    else:                                               # the batch's groups together
        view = (n, groups, -1)
        axes = (0, 2)
    dh, xh, inv = (a.reshape(view) for a in (dxhat, xhat, inv_std_full))
    m = np.prod([dh.shape[a] for a in axes]) - ddof
    mean_path = dh.sum(axis=axes, keepdims=True) / m if mean_term else 0
    var_path = xh * (dh * xh).sum(axis=axes, keepdims=True) / m if var_term else 0
    return (inv * (dh - mean_path + var_sign * var_path)).reshape(x.shape)


def check_groupnorm_backward(cls):
    """Check a group norm class built as ``cls(C, G, dtype=...)`` on cnnlib's
    :class:`~cnnlib.norm.GroupNorm` forward (it keeps ``xhat`` shaped like x and ``inv_std``
    ``(N, G, 1)``): backward returns dx shaped and typed like x and sets ``grads['gamma']``,
    ``grads['beta']`` ``(C,)``; dout unchanged."""
    rng = np.random.default_rng(14)
    cases = [((3, 6, 4, 4), 2, "on a random (3, 6, 4, 4) batch, 2 groups"),
             ((4, 4, 3, 3), 1, "on a random (4, 4, 3, 3) batch, 1 group (layer norm)"),
             ((5, 6), 3, "on a random (5, 6) batch of features, 3 groups")]
    for shape, groups, where in cases:
        n, c = shape[:2]
        x = rng.standard_normal(shape) * 2 + 1
        dout = rng.standard_normal(shape)
        layer = fresh(cls, "GroupNorm", c, groups, dtype=np.float64)
        ref = GroupNorm(c, groups, dtype=np.float64)
        values = rng.standard_normal((2, c))
        for target in (layer, ref):
            target.params["gamma"][...] = values[0] + 1.5
            target.params["beta"][...] = values[1]
        layer.forward(x.copy())
        ref.forward(x)
        got = copy_checked("GroupNorm.backward", dout,
                           lambda d, layer=layer: call("GroupNorm.backward", layer.backward, d))
        expected = ref.backward(dout)
        gamma, eps = ref.params["gamma"], ref.eps

        def variant(x=x, gamma=gamma, dout=dout, groups=groups, eps=eps, **mistake):
            return _gn_backward_variant(x, gamma, dout, groups, eps, **mistake)
        mistakes = [
            (variant(mean_term=False, var_term=False), "dx misses the paths through the mean "
             "and the variance: every xhat of a group uses that group's mean and variance, which "
             "depend on x_j too"),
            (variant(var_term=False), "dx misses the path through the group's variance: it adds "
             "a term proportional to xhat_j * sum(dxhat * xhat) over the group"),
            (variant(mean_term=False), "dx misses the path through the group's mean: subtract "
             "the group's mean of dxhat"),
            (variant(var_sign=1), "the variance's term has the wrong sign: a larger x_j raises "
             "the group's variance, which shrinks every xhat of the group"),
            (variant(use_gamma=False), "you forgot gamma: dxhat = gamma * dout, gamma reshaped "
             "per channel"),
            (variant(ddof=1), "the sums are divided by m - 1: the forward pass divides by m, "
             "the number of values in a group (C/G * H * W)"),
            (variant(per="batch"), "the sums run over the whole batch, as in batch norm: group "
             "norm's statistics come from ONE image, so sum over each image's group only"),
            (expected / (ref.inv_std * np.ones((n, groups, x.size // (n * groups)))).reshape(
                shape), "dx misses the factor 1/s = self.inv_std: every path from x to xhat "
             "passes through the division by s")]
        if groups < c:
            mistakes.append((variant(per="channel"), "the sums are per channel (instance norm): "
                             "sum over all the channels of the group, C/G of them"))
        zeros_first("dx", got, expected, where, "return the gradient you computed for x")
        compare("dx", got, expected, mistakes, where)
        axes = (0,) + tuple(range(2, len(shape)))
        grads = getattr(layer, "grads", {})
        for key in ("gamma", "beta"):
            if key not in grads:
                raise ExerciseError(f"set self.grads['{key}'] in backward")
            got_g = np.asarray(grads[key])
            if got_g.shape == shape:
                raise ExerciseError(f"grads['{key}'] has the shape of x {shape}: sum it over N "
                                    f"and the pixels to one value per channel, shape ({c},)")
            if len(shape) == 4 and got_g.shape == shape[1:]:
                raise ExerciseError(f"grads['{key}'] has shape {got_g.shape}: summed over the "
                                    f"batch only; sum over N, H and W to shape ({c},)")
            compare(f"grads['{key}']", grads[key], ref.grads[key], [
                ((dout * ref.xhat).sum(axis=axes) if key == "beta" else dout.sum(axis=axes),
                 "dgamma and dbeta are swapped: dgamma = sum(dout * xhat), dbeta = sum(dout)")],
                where)
    # float32 in, float32 out
    layer = fresh(cls, "GroupNorm", 4, 2, dtype=np.float32)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    layer.forward(x)
    keeps_float32("dx", call("GroupNorm.backward", layer.backward, np.ones_like(x)),
                  "of a float32 layer")
    correct("group norm's dx, dgamma and dbeta match cnnlib, per image and group")
    return cls
