"""Activation and loss functions, written to be numerically safe and to keep the input's dtype.

Shapes: ``softmax`` works along the last axis of any array; ``cross_entropy`` takes probabilities
``(N, C)`` (or ``(C,)`` for one example) and labels as ints ``(N,)`` or one-hot ``(N, C)``.
"""

import numpy as np


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))`` without overflow for large ``|x|``.

    Same shape as ``x``; same dtype for float input, float64 for int or bool input (whose dtype
    cannot hold values in (0, 1)). Raises TypeError for other dtypes (complex, object, strings).
    """
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    elif x.dtype.kind != "f":
        raise TypeError(f"x: expected a real (float, int or bool) array, got dtype {x.dtype}")
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


def relu(x):
    """``max(x, 0)`` elementwise; same shape and dtype."""
    return np.maximum(x, 0)


def softmax(x):
    """Softmax along the last axis, shifted by the maximum so ``exp`` never overflows."""
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x):
    """``log(softmax(x))`` along the last axis, computed without taking the log of a zero."""
    x = np.asarray(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def as_targets(labels, num_examples, num_classes, dtype=np.float64):
    """Validate ``labels`` and return them one-hot as an ``(num_examples, num_classes)`` array.

    ``labels`` are int class indices ``(N,)`` in ``[0, num_classes)`` or one-hot/probability rows
    ``(N, num_classes)``. Raises ValueError naming the expected and received shape or value.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if labels.shape != (num_examples, num_classes):
            raise ValueError("labels: one-hot labels must have shape "
                             f"{(num_examples, num_classes)}, got {labels.shape}")
        return labels.astype(dtype, copy=False)
    if labels.shape != (num_examples,):
        raise ValueError(f"labels: expected int labels of shape ({num_examples},) or one-hot "
                         f"{(num_examples, num_classes)}, got shape {labels.shape}")
    return one_hot(labels, num_classes, dtype)


def one_hot(labels, num_classes, dtype=np.float64):
    """Int class indices ``(N,)`` in ``[0, num_classes)`` as one-hot rows ``(N, num_classes)`` of
    ``dtype``.

    Raises TypeError for labels that are not integers and ValueError for one out of range.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError("labels: expected int class indices of shape (N,), got shape "
                         f"{labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: int class indices expected, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"labels: values must be in [0, {num_classes}), got {bad}")
    targets = np.zeros((len(labels), num_classes), dtype=dtype)
    targets[np.arange(len(labels)), labels] = 1
    return targets


def cross_entropy(probs, labels):
    """Mean cross-entropy ``-sum(t * log p) / N`` of probabilities ``(N, C)`` against labels.

    ``labels`` are ints ``(N,)`` or one-hot ``(N, C)``; a single example may be given as ``(C,)``
    with a scalar label. Probabilities are clipped at the dtype's smallest positive value, so
    ``log(0)`` never happens. Returns a scalar of ``probs``' dtype.
    """
    probs = np.asarray(probs)
    if not np.issubdtype(probs.dtype, np.floating):
        probs = probs.astype(np.float64)
    if probs.ndim == 1:
        labels = np.asarray(labels)
        probs, labels = probs[None], labels.reshape(1) if labels.ndim == 0 else labels[None]
    if probs.ndim != 2:
        raise ValueError(f"probs: expected shape (N, C) or (C,), got {probs.shape}")
    n, c = probs.shape
    targets = as_targets(labels, n, c, probs.dtype)
    log_probs = np.log(np.maximum(probs, np.finfo(probs.dtype).tiny))
    return -(targets * log_probs).sum() / probs.dtype.type(n)
