"""Images and what the network predicted for them: grids of digits, the misclassified ones, the
confusion matrix.
"""

import numpy as np
from matplotlib.figure import Figure

from ..models import predict
from ._base import WRONG, as_images, check_length


def _grid(n, ncols, cell=1.3, extra_height=0.0):
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(cell * ncols, cell * nrows + extra_height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    return fig, axes[:n]



def plot_images(images, labels=None, preds=None, *, ncols=8, class_names=None, title=None):
    """A grid of grey images titled "true 7", or "true 7 / pred 1" with wrong predictions in red.

    images: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``; labels, preds: ``(N,)`` ints or None.
    """
    images = as_images(images)
    check_length("labels", labels, len(images))
    check_length("preds", preds, len(images))
    if len(images) == 0:
        raise ValueError("images: nothing to plot (0 images)")
    name = (lambda k: class_names[k]) if class_names is not None else str
    fig, axes = _grid(len(images), ncols)
    for i, ax in enumerate(axes):
        ax.imshow(images[i], cmap="gray_r")
        parts, color = [], "black"
        if labels is not None:
            parts.append(f"true {name(int(labels[i]))}")
        if preds is not None:
            parts.append(f"pred {name(int(preds[i]))}")
            if labels is not None and int(preds[i]) != int(labels[i]):
                color = WRONG
        if parts:
            ax.set_title(" / ".join(parts), fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    return fig



def plot_misclassified(model_or_preds, x, y, n=16, *, ncols=8, class_names=None):
    """The first ``n`` images of ``x`` whose prediction differs from ``y``, titled true / pred.

    ``model_or_preds``: a model (anything with ``forward``) or precomputed predictions ``(N,)``.
    """
    preds = (predict(model_or_preds, x) if hasattr(model_or_preds, "forward")
             else np.asarray(model_or_preds))
    y = np.asarray(y)
    check_length("y", y, len(x))
    check_length("predictions", preds, len(x))
    wrong = np.flatnonzero(preds != y)[:n]
    if len(wrong) == 0:
        fig = Figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    return plot_images(x[wrong], y[wrong], preds[wrong], ncols=ncols, class_names=class_names,
                       title=f"{np.sum(preds != y)} of {len(y)} misclassified; the first "
                             f"{len(wrong)}")



def plot_confusion_matrix(cm, class_names=None, *, title=None):
    """The confusion matrix as a heat map with every count written in its cell (rows: true,
    columns: predicted)."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm: expected a square 2-D matrix, got shape {cm.shape}")
    k = len(cm)
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    if len(names) != k:
        raise ValueError(f"class_names: expected {k} names, got {len(names)}")
    fig = Figure(figsize=(0.55 * k + 2, 0.55 * k + 1.2), layout="constrained")
    ax = fig.subplots()
    # a log-like scale keeps the small off-diagonal counts visible next to the large diagonal
    image = ax.imshow(np.log1p(cm), cmap="Blues")
    threshold = np.log1p(cm).max() / 2
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if np.log1p(cm[i, j]) > threshold else "black")
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"confusion matrix, accuracy {np.trace(cm) / max(cm.sum(), 1):.2%}")
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    return fig
