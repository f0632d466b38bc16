"""Training steps split across threads: each worker thread runs its slice of the batch through its
own replica of the model, and the gradients are combined.

Why: numpy hands only its matrix products to BLAS's threads; the copies, maxima and masks around
them (most of a tuned LeNet-5 step) run on one core. Splitting the batch instead keeps every core
busy for the whole step: numpy releases Python's global lock inside its array loops and products, so
two threads with one BLAS thread each work at the same time.

The numbers: the loss is the mean over the batch, so the batch's gradient is the mean of the
slices' gradients weighted by their sizes (each slice's backward pass is seeded with its weight, and
the results are added); it equals the one-thread gradient up to rounding.

The cost of splitting: the threads meet once per step (each runs its slice's forward and backward
pass in one go), and the calling thread works on the first slice instead of waiting; what stays on
one core is the sum of the gradients and the optimizer's update.
"""

import contextvars
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
        raise ValueError(f"model: cannot split batches across workers: layer {name!r} "
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


def slices_and_shares(n, parts):
    """``(slices, shares)``: ``n`` examples cut into at most ``parts`` near-equal non-empty
    slices, and each slice's fraction of ``n``."""
    bounds = np.linspace(0, n, parts + 1).round().astype(int)
    slices = [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:]) if stop > start]
    return slices, [(part.stop - part.start) / n for part in slices]


def _loss_and_backward(replica, x, y, share):
    """The slice's loss; when it is finite, also its backward pass, seeded with its ``share`` of
    the batch."""
    loss = replica.loss(x, y)
    if np.isfinite(loss):
        replica.backward(share)
    return loss


class SplitBatch:
    """``loss``/``backward`` of ``model`` computed on ``workers`` slices of each batch at once.

    After :meth:`loss` the model's ``last_scores`` hold the whole batch's scores ``(N, classes)``;
    after :meth:`backward` its ``grads`` hold the whole batch's gradients, as if ``model`` itself
    had run the batch. The calling thread computes the first slice (on ``model`` itself) while
    ``workers - 1`` threads compute the others on replicas; each slice's forward and backward pass
    run in one go, in :meth:`loss`, so the threads meet once per step. Use it as a context manager
    (it stops its threads on exit), with BLAS held to one thread (``fit(..., workers=2)`` does
    both). ``model``: see :func:`check_splittable`.
    """

    def __init__(self, model, workers=2):
        positive_int("workers", workers)
        check_splittable(model)
        self.model = model
        self.replicas = [model] + [_replica(model) for _ in range(workers - 1)]
        self.pool = ThreadPoolExecutor(max(workers - 1, 1), thread_name_prefix="cnnlib-split")
        self.active = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.pool.shutdown()

    def loss(self, x, y):
        """The mean loss of the batch ``x`` ``(N, ...)`` against labels ``y``, as ``model.loss``.

        Each slice's gradients are computed here too (unless its loss is NaN or infinite), ready
        for :meth:`backward`. A slice's loss is the mean over its own examples; seeding its
        backward pass with its share of the batch (``dout`` = slice size / batch size) makes its
        gradients those of its examples in the batch's mean, so the batch's gradients are their
        sum.
        """
        slices, shares = slices_and_shares(len(x), len(self.replicas))
        self.active = self.replicas[:len(slices)]    # the model itself first
        # each worker runs in a copy of this thread's context, so np.errstate settings hold there
        pending = [self.pool.submit(contextvars.copy_context().run, _loss_and_backward, replica,
                                    x[part], y[part], share)
                   for replica, part, share in zip(self.active[1:], slices[1:], shares[1:])]
        losses = [_loss_and_backward(self.model, x[slices[0]], y[slices[0]], shares[0])]
        losses += [future.result() for future in pending]
        self.model.last_scores = np.concatenate([replica.last_scores for replica in self.active])
        return sum(share * float(loss) for share, loss in zip(shares, losses))

    def backward(self):
        """Make the model's ``grads`` the batch's gradients: the sum of the slices' gradients
        computed by the last :meth:`loss`."""
        for name, layer in self.model.layers.items():
            others = [replica.layers[name].grads for replica in self.active[1:]]
            for key in layer.grads if others else ():
                total = layer.grads[key] + others[0][key]
                for grads in others[1:]:
                    total += grads[key]
                layer.grads[key] = total
        self.active = self.active[:1]    # combined: a second call changes nothing
