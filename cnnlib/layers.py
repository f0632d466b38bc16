"""Layers: each has ``forward(x)``, ``backward(dout) -> dx`` and dicts ``params``/``grads`` with the
same keys.

A layer keeps what its backward pass needs from the last forward pass. Backward never modifies the
caller's ``dout``. Parameters are created in ``dtype`` (float32 for training, float64 for gradient
checks) from ``rng``, a ``numpy.random.Generator``. A layer built without ``rng`` gets a stream of
its own, the next child of one fixed ``SeedSequence``: two such layers get different weights, and a
program that builds its layers in the same order gets the same weights every run.
"""

import numpy as np

from . import conv, pool
from ._checks import check_stride_pad
from .functions import as_targets, log_softmax, sigmoid

INITS = {
    "he": lambda fan_in: np.sqrt(2.0 / fan_in),      # for ReLU networks (He et al., 2015)
    # for sigmoid/tanh networks (Glorot & Bengio, 2010)
    "xavier": lambda fan_in: np.sqrt(1.0 / fan_in),
}

_UNSEEDED_LAYERS = np.random.SeedSequence(0)


def new_layer_rng():
    """A Generator on the next child stream of the fixed ``SeedSequence(0)``: for a layer built
    without ``rng``."""
    return np.random.default_rng(_UNSEEDED_LAYERS.spawn(1)[0])


def init_weights(shape, fan_in, init, dtype, rng):
    """Normal weights of ``shape`` with std ``sqrt(2/fan_in)`` ("he") or ``sqrt(1/fan_in)``
    ("xavier"), or a float std; returned in ``dtype``."""
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(f"init: expected one of {sorted(INITS)} or a float std, got {init!r}")
        std = INITS[init](fan_in)
    else:
        std = float(init)
    rng = new_layer_rng() if rng is None else rng
    return (rng.standard_normal(shape) * std).astype(dtype)


class Layer:
    """Base class: no parameters; subclasses set ``params``/``grads`` and implement
    forward/backward.

    ``training``: True (the default) in training mode, False in evaluation mode; only layers such as
    :class:`cnnlib.norm.BatchNorm2D` and :class:`cnnlib.norm.Dropout` behave differently.
    ``buffers``: arrays a layer keeps that are not parameters (no gradient, no optimizer step), such
    as batch norm's running averages; checkpoints save them with the parameters.
    """

    training = True

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}

    def zero_grads(self):
        """Set ``grads`` to zero arrays shaped like ``params`` (the same keys)."""
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def forward(self, x):
        """Output of the layer for input ``x`` (remembering what backward needs)."""
        raise NotImplementedError

    def backward(self, dout):
        """Gradient with respect to the last input, given ``dout``, the gradient with respect to the
        output; fills ``grads`` with the gradients of the parameters."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class ReLU(Layer):
    """``max(x, 0)``; backward lets the gradient through where the input was positive."""

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self.mask


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``; backward: ``dout * y * (1 - y)`` with the saved output y."""

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class Affine(Layer):
    """Fully connected layer ``y = x @ W + b`` with W ``(in_features, out_features)``,
    b ``(out_features,)``.

    Accepts x of shape ``(N, ...)`` whose trailing dimensions hold ``in_features`` values (e.g.
    images ``(N, 1, 28, 28)`` for 784 inputs): it flattens them, and backward returns dx in x's
    shape.
    """

    def __init__(self, in_features, out_features, *, init="he", dtype=np.float32, rng=None):
        super().__init__()
        sizes = (in_features, out_features)
        if not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
            raise ValueError(f"in_features, out_features: expected positive ints, got "
                             f"{in_features!r}, {out_features!r}")
        self.in_features, self.out_features = in_features, out_features
        weights = init_weights((in_features, out_features), in_features, init, dtype, rng)
        self.params = {"W": weights, "b": np.zeros(out_features, dtype=dtype)}
        self.zero_grads()

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.in_features:
            raise ValueError(f"Affine: expected input (N, {self.in_features}) or (N, ...) with "
                             f"{self.in_features} values per example, got shape {x.shape}")
        self.x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return (dout @ self.params["W"].T).reshape(self.x_shape)

    def __repr__(self):
        return f"Affine({self.in_features}, {self.out_features})"


class SoftmaxWithLoss(Layer):
    """Softmax followed by mean cross-entropy, fused so the gradient is simply ``(p - t) / N``.

    ``forward(scores (N, C), labels)`` returns the scalar loss; labels are ints ``(N,)`` or one-hot
    ``(N, C)``. ``backward(dout=1.0)`` returns dscores ``(N, C)``.
    """

    def forward(self, scores, labels):
        scores = np.asarray(scores)
        if scores.ndim != 2:
            raise ValueError(f"scores: expected shape (N, C), got {scores.shape}")
        self.targets = as_targets(labels, *scores.shape, dtype=scores.dtype)
        log_probs = log_softmax(scores)
        self.probs = np.exp(log_probs)
        return -(self.targets * log_probs).sum() / scores.dtype.type(len(scores))

    def backward(self, dout=1.0):
        n = len(self.probs)
        return (self.probs - self.targets) * self.probs.dtype.type(dout / n)


class Conv2D(Layer):
    """2-D convolution with W ``(out_channels, in_channels, KH, KW)`` and b ``(out_channels,)``.

    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, OH, OW)``, computed by
    ``forward_fn`` / ``backward_fn``: :func:`cnnlib.conv.conv2d_forward` /
    :func:`~cnnlib.conv.conv2d_backward` (im2col and col2im), or the tuned pair in
    :class:`cnnlib.tuned.TunedConv2D`. ``input_grad=False`` makes backward skip dx and return None:
    a first layer needs no gradient for the images, and skipping it saves the col2im work.
    """

    forward_fn = staticmethod(conv.conv2d_forward)
    backward_fn = staticmethod(conv.conv2d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0, *, init="he",
                 dtype=np.float32, rng=None, input_grad=True):
        super().__init__()
        self.input_grad = input_grad
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        check_stride_pad(stride, pad)
        self.stride, self.pad = stride, pad
        fan_in = in_channels * kh * kw
        self.params = {"W": init_weights((out_channels, in_channels, kh, kw),
                                         fan_in, init, dtype, rng),
                       "b": np.zeros(out_channels, dtype=dtype)}
        self.zero_grads()

    def forward(self, x):
        out, self.cache = type(self).forward_fn(x, self.params["W"],
                                                self.params["b"], self.stride, self.pad)
        return out

    def backward(self, dout):
        dx, self.grads["W"], self.grads["b"] = type(self).backward_fn(
            dout, self.cache, self.input_grad
        )
        return dx

    def __repr__(self):
        f, c, kh, kw = self.params["W"].shape
        return f"Conv2D({c}, {f}, kernel_size={(kh, kw)}, stride={self.stride}, pad={self.pad})"


class Pool2D(Layer):
    """Base of the pooling layers: ``size x size`` windows moved by ``stride`` (default ``size``),
    computed by the pair of functions ``forward_fn``/``backward_fn`` from :mod:`cnnlib.pool`."""

    forward_fn = backward_fn = None

    def __init__(self, size=2, stride=None):
        super().__init__()
        self.size, self.stride = size, stride

    def forward(self, x):
        out, self.cache = type(self).forward_fn(x, self.size, self.stride)
        return out

    def backward(self, dout):
        return type(self).backward_fn(dout, self.cache)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, stride={self.stride or self.size})"


class MaxPool2D(Pool2D):
    """Max pooling: each window's maximum; backward routes the gradient to it."""

    forward_fn = staticmethod(pool.max_pool2d_forward)
    backward_fn = staticmethod(pool.max_pool2d_backward)


class AvgPool2D(Pool2D):
    """Average pooling: each window's mean; backward spreads the gradient evenly over it."""

    forward_fn = staticmethod(pool.avg_pool2d_forward)
    backward_fn = staticmethod(pool.avg_pool2d_backward)


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C*H*W)``; backward restores the shape."""

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout):
        return dout.reshape(self.x_shape)
