"""Normalisation and dropout: layers that behave differently in training and in evaluation.

Every layer has a ``training`` flag (``True`` unless set; :meth:`cnnlib.models.Sequential.train` and
:meth:`~cnnlib.models.Sequential.eval` set it on all layers, and ``fit``/``evaluate`` call them).

* :class:`BatchNorm2D` normalises each channel over the batch and the image, ``(N, H, W)``;
  :class:`BatchNorm1D` each feature over the batch, for the ``(N, D)`` outputs of affine layers. In
  training they use the batch's own mean and variance and update running averages of them; in
  evaluation they use those running averages, so an image's output does not depend on its batch.
* :class:`GroupNorm` normalises each image on its own, over groups of channels (one group: layer
  norm); it does the same in training and evaluation and never looks at the rest of the batch.
* :class:`Dropout` zeroes a random fraction ``p`` of the values in training and scales the others by
  ``1 / (1 - p)`` (inverted dropout), so evaluation is the identity.

The running averages are *buffers* (``layer.buffers``), not parameters: no optimizer changes them,
``save_params``/``load_params`` save and load them with the parameters.

The backward passes are in the compact form, :func:`normalisation_backward`. With
``xhat = (x - mean) / sqrt(var + eps)``, ``y = gamma * xhat + beta`` and ``m`` values per statistic
(``N*H*W`` for ``BatchNorm2D``):
``dgamma = sum(dy * xhat)``, ``dbeta = sum(dy)``, and with ``dxhat = gamma * dy``,
``dx = (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) / (m * sqrt(var + eps))``, the sums taken
over the same values as the statistics.
"""

import numbers

import numpy as np

from ._checks import positive_int
from .layers import Layer, new_layer_rng


def _check_eps(eps):
    if not (isinstance(eps, numbers.Real) and eps > 0):
        raise ValueError(f"eps: expected a positive number, got {eps!r}")
    return eps


def _check_float(x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x: expected a float array, got dtype {x.dtype}")
    return x


def normalisation_backward(dxhat, xhat, inv_std, axes):
    """dx of ``xhat = (x - mean) * inv_std`` when the mean and the variance are taken over ``axes``
    of x (so they depend on x too): the compact form
    ``dx = inv_std / m * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))``, the sums over
    ``axes``, ``m`` the number of values behind each statistic.

    ``dxhat``, ``xhat``: one shape, e.g. ``(N, C, H, W)`` with ``axes=(0, 2, 3)`` for batch norm;
    ``inv_std``: ``1 / sqrt(var + eps)`` with the reduced axes kept (``(1, C, 1, 1)``). Returns dx
    shaped and typed like ``xhat``.
    """
    m = xhat.dtype.type(np.prod([xhat.shape[axis] for axis in axes]))
    return (inv_std / m) * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                            - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))


class _BatchNorm(Layer):
    """Batch normalisation over ``axes`` with one ``gamma``/``beta`` per channel (axis 1)."""

    ndim = axes = None
    layout = ""

    def __init__(self, num_channels, *, momentum=0.9, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.num_channels = positive_int("num_channels", num_channels)
        if not (isinstance(momentum, numbers.Real) and 0 <= momentum < 1):
            raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
        self.momentum, self.eps = float(momentum), _check_eps(eps)
        self.params = {"gamma": np.ones(num_channels, dtype=dtype),
                       "beta": np.zeros(num_channels, dtype=dtype)}
        self.zero_grads()
        self.buffers = {"running_mean": np.zeros(num_channels, dtype=dtype),
                        "running_var": np.ones(num_channels, dtype=dtype)}

    def _shape(self, x):
        """``(1, C)`` or ``(1, C, 1, 1)``: the per-channel arrays shaped to broadcast against x."""
        return (1, self.num_channels) + (1,) * (x.ndim - 2)

    def forward(self, x):
        """Normalise ``x`` per channel: with the batch's statistics (and update the running
        averages) in training, with the running averages in evaluation. Output shaped and typed
        like x."""
        x = _check_float(x)
        if x.ndim != self.ndim or x.shape[1] != self.num_channels:
            raise ValueError(f"x: expected shape {self.layout.format(self.num_channels)}, "
                             f"got {x.shape}")
        shape = self._shape(x)
        self.batch_stats = self.training
        if self.training:
            if x.size == self.num_channels:
                raise ValueError(f"x: batch normalisation in training needs more than one value "
                                 f"per channel (got shape {x.shape}); use eval mode or a larger "
                                 f"batch")
            mean = x.mean(axis=self.axes, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=self.axes, keepdims=True)
            m = self.momentum
            self.buffers["running_mean"] *= m
            self.buffers["running_mean"] += (1 - m) * mean.reshape(-1)
            self.buffers["running_var"] *= m
            self.buffers["running_var"] += (1 - m) * var.reshape(-1)
        else:
            mean = self.buffers["running_mean"].reshape(shape)
            var = self.buffers["running_var"].reshape(shape)
        self.inv_std = (1 / np.sqrt(var + x.dtype.type(self.eps))).astype(x.dtype)
        self.xhat = (x - mean) * self.inv_std
        return self.params["gamma"].reshape(shape) * self.xhat + self.params["beta"].reshape(shape)

    def backward(self, dout):
        """dx from ``dout``; fills ``grads['gamma']``, ``grads['beta']``. After a training
        forward pass the batch's statistics depend on x too (the compact form); after an
        evaluation pass they are constants and dx is ``gamma * dout / sqrt(running_var + eps)``."""
        axes, xhat = self.axes, self.xhat
        self.grads["gamma"] = (dout * xhat).sum(axis=axes)
        self.grads["beta"] = dout.sum(axis=axes)
        dxhat = dout * self.params["gamma"].reshape(self._shape(xhat))
        if not self.batch_stats:
            return dxhat * self.inv_std
        return normalisation_backward(dxhat, xhat, self.inv_std, axes)

    def __repr__(self):
        return (f"{type(self).__name__}({self.num_channels}, momentum={self.momentum}, "
                f"eps={self.eps})")


class BatchNorm2D(_BatchNorm):
    """Spatial batch normalisation of images ``(N, C, H, W)``: one mean and variance per channel
    over the ``N*H*W`` values of that channel in the batch; ``gamma``, ``beta`` ``(C,)``.

    ``buffers``: ``running_mean``, ``running_var`` ``(C,)``, updated in training as
    ``running = momentum * running + (1 - momentum) * batch statistic`` (the batch variance
    divides by ``N*H*W``) and used in evaluation. Forward keeps ``xhat`` ``(N, C, H, W)`` and
    ``inv_std`` ``(1, C, 1, 1)`` for backward.
    """

    ndim, axes, layout = 4, (0, 2, 3), "(N, {}, H, W)"


class BatchNorm1D(_BatchNorm):
    """Batch normalisation of features ``(N, D)`` (e.g. an affine layer's output): one mean and
    variance per feature over the batch; ``gamma``, ``beta``, and the buffers ``running_mean``,
    ``running_var`` ``(D,)``, as in :class:`BatchNorm2D`."""

    ndim, axes, layout = 2, (0,), "(N, {})"


class GroupNorm(Layer):
    """Group normalisation: each image's channels split into ``num_groups`` groups of
    ``num_channels / num_groups``; each group normalised over its channels and pixels, then
    ``gamma * xhat + beta`` per channel (``(C,)`` each).

    Input ``(N, C, H, W)`` or ``(N, C)``. The statistics of an image come from that image alone,
    so the output does not depend on the batch and training and evaluation compute the same thing
    (no running averages). ``num_groups=1`` is layer normalisation; ``num_groups=num_channels`` is
    instance normalisation.
    """

    def __init__(self, num_channels, num_groups, *, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.num_channels = positive_int("num_channels", num_channels)
        self.num_groups = positive_int("num_groups", num_groups)
        if num_channels % num_groups:
            raise ValueError(f"num_groups: must divide num_channels {num_channels}, "
                             f"got {num_groups}")
        self.eps = _check_eps(eps)
        self.params = {"gamma": np.ones(num_channels, dtype=dtype),
                       "beta": np.zeros(num_channels, dtype=dtype)}
        self.zero_grads()

    def forward(self, x):
        """``(N, C, H, W)`` or ``(N, C)`` in, the same shape and dtype out."""
        x = _check_float(x)
        if x.ndim not in (2, 4) or x.shape[1] != self.num_channels:
            raise ValueError(f"x: expected shape (N, {self.num_channels}, H, W) or "
                             f"(N, {self.num_channels}), got {x.shape}")
        self.x_shape = x.shape
        groups = x.reshape(len(x), self.num_groups, -1)          # (N, G, C/G * H * W)
        mean = groups.mean(axis=2, keepdims=True)
        var = ((groups - mean) ** 2).mean(axis=2, keepdims=True)
        self.inv_std = (1 / np.sqrt(var + x.dtype.type(self.eps))).astype(x.dtype)   # (N, G, 1)
        self.xhat = ((groups - mean) * self.inv_std).reshape(x.shape)
        shape = (1, self.num_channels) + (1,) * (x.ndim - 2)
        return self.params["gamma"].reshape(shape) * self.xhat + self.params["beta"].reshape(shape)

    def backward(self, dout):
        """dx ``(N, C, ...)``; ``grads['gamma']``, ``grads['beta']`` summed over N and the
        pixels. The compact form of batch norm, with the sums over each image's group instead of
        the batch."""
        axes = (0,) + tuple(range(2, dout.ndim))
        self.grads["gamma"] = (dout * self.xhat).sum(axis=axes)
        self.grads["beta"] = dout.sum(axis=axes)
        shape = (1, self.num_channels) + (1,) * (dout.ndim - 2)
        n, g = len(dout), self.num_groups
        dxhat = (dout * self.params["gamma"].reshape(shape)).reshape(n, g, -1)
        dx = normalisation_backward(dxhat, self.xhat.reshape(n, g, -1), self.inv_std, (2,))
        return dx.reshape(self.x_shape)

    def __repr__(self):
        return f"GroupNorm({self.num_channels}, num_groups={self.num_groups}, eps={self.eps})"


class Dropout(Layer):
    """Inverted dropout: in training each value is kept with probability ``1 - p`` and scaled by
    ``1 / (1 - p)`` (so its expected value is unchanged), else set to 0; in evaluation the identity.

    ``rng``: a ``numpy.random.Generator`` for the masks (a fixed stream of its own when None). Any
    input shape; backward multiplies ``dout`` by the same mask.
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        if not (isinstance(p, numbers.Real) and 0 <= p < 1):
            raise ValueError(f"p: expected a drop probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = new_layer_rng() if rng is None else rng

    def forward(self, x):
        """``x * mask`` in training (mask: 0 or ``1/(1-p)``, drawn anew each call); x itself in
        evaluation."""
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self.mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - self.p))
        return x * self.mask

    def backward(self, dout):
        """``dout * mask`` (``dout`` unchanged in evaluation)."""
        return dout if self.mask is None else dout * self.mask

    def __repr__(self):
        return f"Dropout(p={self.p})"
