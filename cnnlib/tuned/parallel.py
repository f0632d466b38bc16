"""Training steps split across threads: each worker thread runs its slice of the batch through its
own replica of the model, and the gradients are combined.

Why: numpy hands only its matrix products to BLAS's threads; the copies, maxima and masks around
them (most of a tuned LeNet-5 step) run on one core. Splitting the batch instead keeps every core
busy for the whole step: numpy releases Python's global lock inside its array loops and products, so
two threads with one BLAS thread each work at the same time.

The numbers: the loss is the mean over the batch, so the batch's gradient is the mean of the
slices' gradients weighted by their sizes; it equals the one-thread gradient up to rounding.
"""

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._checks import positive_int

__all__ = ["SplitBatch", "check_splittable"]


def check_splittable(model):
    """ValueError naming the layer unless ``model``'s slices can run independently: a flat stack
    of layers (no nested blocks), no buffers (batch norm's statistics would be per slice) and no
    random layers (dropout's masks would differ from one thread's)."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, dict):
        raise TypeError(f"model: expected a Sequential model with a layers dict, got "
                        f"{type(model).__name__}")
    for name, layer in layers.items():
        if hasattr(layer, "layers"):
            reason = "it nests layers of its own"
        elif getattr(layer, "buffers", None):
            reason = f"it keeps buffers ({', '.join(layer.buffers)}), computed per batch"
        elif hasattr(layer, "rng"):
            reason = "it draws random numbers in training"
        else:
            continue
        raise ValueError(f"model: cannot split batches across threads: layer {name!r} "
                         f"({type(layer).__name__}): {reason}; train with workers=1")


def _replica(model):
    """A shallow copy of ``model`` whose layers and loss layer are copies: the same parameter
    arrays, but gradients and caches of their own."""
    twin = copy.copy(model)
    twin.layers = {}
    for name, layer in model.layers.items():
        twin.layers[name] = copy.copy(layer)
        twin.layers[name].grads = dict(layer.grads)
    twin.loss_layer = copy.copy(model.loss_layer)
    return twin


def _loss(replica, x, y):
    return replica.loss(x, y)


def _backward(replica):
    replica.backward()


class SplitBatch:
    """``loss``/``backward`` of ``model`` computed on ``workers`` slices of each batch at once.

    After :meth:`loss` the model's ``last_scores`` hold the whole batch's scores ``(N, classes)``;
    after :meth:`backward` its ``grads`` hold the whole batch's gradients, as if ``model`` itself
    had run the batch. Use it as a context manager (it stops its threads on exit), with BLAS held to
    one thread (``fit(..., workers=2)`` does both). ``model``: see :func:`check_splittable`.
    """

    def __init__(self, model, workers=2):
        positive_int("workers", workers)
        check_splittable(model)
        self.model = model
        self.replicas = [model] + [_replica(model) for _ in range(workers - 1)]
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="cnnlib-split")
        self.active, self.sizes = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.pool.shutdown()

    def loss(self, x, y):
        """The mean loss of the batch ``x`` ``(N, ...)`` against labels ``y``, as ``model.loss``."""
        bounds = np.linspace(0, len(x), len(self.replicas) + 1).round().astype(int)
        slices = [(replica, start, stop) for replica, start, stop
                  in zip(self.replicas, bounds[:-1], bounds[1:]) if stop > start]
        self.active = [replica for replica, _, _ in slices]
        self.sizes = [stop - start for _, start, stop in slices]
        losses = list(self.pool.map(_loss, self.active,
                                    [x[start:stop] for _, start, stop in slices],
                                    [y[start:stop] for _, start, stop in slices]))
        self.model.last_scores = np.concatenate([replica.last_scores for replica in self.active])
        return sum(size * float(loss) for size, loss in zip(self.sizes, losses)) / len(x)

    def backward(self):
        """Backpropagate the last :meth:`loss` in every slice; the model's ``grads`` then hold the
        batch's gradients (the slices' gradients averaged, weighted by slice size)."""
        list(self.pool.map(_backward, self.active))
        total = sum(self.sizes)
        for name, layer in self.model.layers.items():
            for key in layer.grads:
                parts = [replica.layers[name].grads[key] for replica in self.active]
                layer.grads[key] = sum(size / total * grad
                                       for size, grad in zip(self.sizes, parts))
