"""What the figure modules (and the figures in :mod:`cnnlib.widgets`) share: the colours, reading
image batches, checking lengths, one symmetric colour scale, a matrix drawn with its values. (A
private module: these are cnnlib's own, not part of its public API.)
"""

import numpy as np

WRONG = "#d62728"
DIVERGING = "RdBu_r"


def as_images(images):
    """``(N, H, W)`` from ``(N, H, W)``, ``(N, 1, H, W)`` or flattened square ``(N, H*W)``
    images."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        return images[:, 0]
    if images.ndim == 3:
        return images
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side == images.shape[1]:
            return images.reshape(len(images), side, side)
    raise ValueError(f"images: expected (N, H, W), (N, 1, H, W) or (N, H*W) with square images, "
                     f"got shape {images.shape}")



def check_length(name, values, n):
    if values is not None and len(values) != n:
        raise ValueError(f"{name}: expected {n} values (one per image), got {len(values)}")



def symmetric_limit(arrays):
    """The largest absolute value over ``arrays`` (1.0 when all are zero): the ends of a symmetric
    scale."""
    return max((float(np.abs(np.asarray(a)).max()) for a in arrays), default=0.0) or 1.0



def matrix_panel(ax, matrix, title, fmt, cmap, symmetric):
    limit = float(np.abs(matrix).max()) or 1.0
    low, high = (-limit, limit) if symmetric else (float(matrix.min()), float(matrix.max()))
    image = ax.imshow(matrix, cmap=cmap, vmin=low, vmax=high if high > low else low + 1)
    if matrix.size <= 400:
        for (i, j), value in np.ndenumerate(matrix):
            strong = (abs(image.norm(value) - (0.5 if symmetric else 0.0))
                      > (0.3 if symmetric else 0.6))
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8,
                    color="white" if strong else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
