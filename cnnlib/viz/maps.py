"""Filters and feature maps: the learned kernels on one symmetric colour scale, a layer's outputs
labelled with layer and channel, and where a channel fires in the input.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .._checks import positive_int
from ._base import DIVERGING, WRONG, as_images, check_length, symmetric_limit

SEQUENTIAL = "Reds"       # non-negative maps: white at 0, darker red for stronger responses


def _draw_kernel_rows(axes, rows, limit, fontsize):
    """Draw ``rows``, ``[(label or None, kernels (F, KH, KW))]``, into ``axes`` (rows x F) on the
    symmetric scale ``±limit``: filter numbers above the first row, each label left of its row.
    Returns the last image, for a colour bar."""
    for r, (label, kernels) in enumerate(rows):
        for f, kernel in enumerate(kernels):
            ax = axes[r, f]
            image = ax.imshow(kernel, cmap=DIVERGING, vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"filter {f}", fontsize=fontsize)
            if f == 0 and label is not None:
                ax.set_ylabel(label, fontsize=fontsize)
    return image



def plot_filters(w, channel=None, *, title=None):
    """Conv weights ``(F, C, KH, KW)`` as a grid on one symmetric diverging colour scale, with a
    colour bar.

    One row of F filters when C == 1 or ``channel`` picks an input channel; otherwise C rows (one
    per input channel) by F columns. Red is positive, blue negative, white zero.
    """
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"w: expected conv weights (F, C, KH, KW), got shape {w.shape}")
    n_filters, n_channels = w.shape[:2]
    if channel is not None:
        if not 0 <= channel < n_channels:
            raise ValueError(f"channel: expected 0..{n_channels - 1}, got {channel}")
        w = w[:, channel:channel + 1]
    rows = w.shape[1]
    limit = float(np.abs(w).max()) or 1.0
    cell = 0.9 if n_filters <= 8 else 0.72      # 16 filters stay under 13 inches (1,300 px) wide
    fig = Figure(figsize=(cell * n_filters + 1.2, cell * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, n_filters, squeeze=False)
    labels = [f"in {c if channel is None else channel}" if rows > 1 else None for c in range(rows)]
    image = _draw_kernel_rows(axes, [(label, w[:, c]) for c, label in enumerate(labels)], limit, 9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    if title:
        fig.suptitle(title)
    return fig



def plot_feature_maps(model, image, layers=None, *, max_channels=16, ncols=8):
    """Run one image through ``model`` and show every channel of the chosen layers' outputs.

    image: ``(C, H, W)`` or ``(1, C, H, W)``. layers: layer names (default: every layer with a
    4-D output). Each layer is a block of panels, ``ncols`` to a row (further channels wrap onto
    more rows), up to ``max_channels`` panels labelled "<layer> ch <k>". All channels of a layer
    share one colour scale with its own colour bar, so maps of one layer compare directly: a
    symmetric one (red positive, blue negative, white zero) where a map has negative values, a
    sequential one from 0 (white) to the largest value (dark) where none can be negative (ReLU and
    pooling outputs); a nearly white map is nearly empty. The input image comes first, at the top
    left.
    """
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or len(image) != 1:
        raise ValueError(f"image: expected one image (C, H, W) or (1, C, H, W), got shape "
                         f"{image.shape}")
    positive_int("ncols", ncols)
    positive_int("max_channels", max_channels)
    outputs = model.activations(image.astype(next(iter(model.params.values())).dtype, copy=False))
    if layers is None:
        layers = [name for name, out in outputs.items() if out.ndim == 4]
    unknown = [name for name in layers if name not in outputs]
    if unknown:
        raise ValueError(f"layers: unknown {unknown}; the model has {list(outputs)}")
    flat = [name for name in layers if outputs[name].ndim != 4]
    if flat:
        raise ValueError(f"layers: {flat} do not output feature maps (N, C, H, W)")
    counts = [min(max_channels, outputs[name].shape[1]) for name in layers]
    ncols = min(ncols, max(counts))
    rows = [-(-count // ncols) for count in counts]
    cell = 1.25
    fig = Figure(figsize=(cell * (ncols + 1) + 1.0, cell * sum(rows) + 0.45 * len(layers)),
                 layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[cell, cell * ncols + 1.0])
    input_ax = left.add_subplot(sum(rows) + len(layers), 1, (1, 2))
    input_ax.imshow(image[0, 0], cmap="gray_r")
    input_ax.set_title("input", fontsize=10)
    input_ax.set_axis_off()
    blocks = right.subfigures(len(layers), 1, height_ratios=[r + 0.35 for r in rows],
                              squeeze=False)[:, 0]
    for block, name, count, nrows in zip(blocks, layers, counts, rows):
        maps = outputs[name][0, :count]
        limit = symmetric_limit([maps])
        # maps that cannot be negative (after a ReLU, or pooling of one) get a sequential scale
        # from 0: a symmetric one would leave half of it unused and show impossible negatives
        nonnegative = bool(np.all(outputs[name] >= 0))
        cmap, low, scale = (SEQUENTIAL, 0.0, f"0 to {limit:.2g}") if nonnegative else \
            (DIVERGING, -limit, f"±{limit:.2g}")
        axes = block.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.ravel()):
            ax.set_axis_off()
            if k < count:
                shown = ax.imshow(maps[k], cmap=cmap, vmin=low, vmax=limit)
                ax.set_title(f"{name} ch {k}", fontsize=9)
        block.colorbar(shown, ax=axes, shrink=0.9, aspect=12 * nrows)
        block.suptitle(f"{name}: {outputs[name].shape[1]} maps of {maps.shape[1]}x{maps.shape[2]}, "
                       f"one colour scale {scale}", fontsize=10)
    return fig



def plot_filter_sets(filter_sets, *, channel=0, title=None):
    """Several sets of conv filters, one row per set, on ONE symmetric colour scale with a colour
    bar.

    filter_sets: maps a row label (e.g. "initialised", "trained") to conv weights
    ``(F, C, KH, KW)``; every set must have the same shape. Row r shows input channel ``channel``
    of every filter of set r, so the same filter before and after training sits in the same
    column.
    """
    if not filter_sets:
        raise ValueError("filter_sets: expected at least one {label: (F, C, KH, KW) weights}")
    sets = {label: np.asarray(w) for label, w in filter_sets.items()}
    shapes = {w.shape for w in sets.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 4:
        raise ValueError(f"filter_sets: expected conv weights (F, C, KH, KW) of one shape, got "
                         f"{[w.shape for w in sets.values()]}")
    n_filters, n_channels = next(iter(shapes))[:2]
    if not 0 <= channel < n_channels:
        raise ValueError(f"channel: expected 0..{n_channels - 1}, got {channel}")
    limit = symmetric_limit(sets.values())
    fig = Figure(figsize=(1.1 * n_filters + 2.2, 1.1 * len(sets) + 0.8), layout="constrained")
    axes = fig.subplots(len(sets), n_filters, squeeze=False)
    shown = _draw_kernel_rows(axes, [(label, w[:, channel]) for label, w in sets.items()], limit,
                              10)
    fig.colorbar(shown, ax=axes, shrink=0.9, label="weight")
    if title:
        fig.suptitle(title)
    return fig



def plot_where_it_fires(images, boxes, *, titles=None, ncols=6, title=None):
    """Each image with a box around the region that produced a response, and that region enlarged
    below.

    images: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``; boxes: ``(N, 4)`` as (top, left,
    height, width) in pixels, possibly reaching into the zero padding beyond the edge; titles: N
    strings.
    """
    images = as_images(images)
    boxes = np.asarray(boxes, dtype=int)
    if boxes.shape != (len(images), 4):
        raise ValueError(f"boxes: expected ({len(images)}, 4) as (top, left, height, width), got "
                         f"{boxes.shape}")
    check_length("titles", titles, len(images))
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    pad = int(max(0, -boxes[:, :2].min(),
                  (boxes[:, :2] + boxes[:, 2:]).max() - min(images.shape[1:])))
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    fig = Figure(figsize=(1.45 * ncols, 2.9 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(2 * nrows, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    limit = float(images.max()) or 1.0
    for i, (top, left, height, width) in enumerate(boxes):
        row, col = 2 * (i // ncols), i % ncols
        whole, crop = axes[row, col], axes[row + 1, col]
        whole.imshow(images[i], cmap="gray_r", vmin=0, vmax=limit)
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, ec=WRONG,
                                  lw=2))
        if titles is not None:
            whole.set_title(titles[i], fontsize=10)
        crop.imshow(padded[i, top + pad:top + pad + height, left + pad:left + pad + width],
                    cmap="gray_r", vmin=0, vmax=limit)
        crop.add_patch(Rectangle((-0.5, -0.5), width, height, fill=False, ec=WRONG, lw=2))
        crop.set_title(f"{height}x{width} window", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig



def plot_maps(maps, *, ncols=5, title=None, label="value"):
    """2-D maps side by side on ONE symmetric colour scale (red positive, blue negative) with a
    colour bar.

    maps: a dict mapping each panel's title to a 2-D array. Pixel rows and columns are marked every
    10 pixels, so that a shift between two maps can be read off.
    """
    if not maps:
        raise ValueError("maps: expected at least one {title: 2-D array}")
    for name, m in maps.items():
        if np.ndim(m) != 2:
            raise ValueError(f"maps[{name!r}]: expected a 2-D array, got shape {np.shape(m)}")
    ncols = max(1, min(ncols, len(maps)))
    nrows = -(-len(maps) // ncols)
    limit = symmetric_limit(maps.values())
    fig = Figure(figsize=(2.3 * ncols + 1.2, 2.5 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(maps):]:
        ax.set_axis_off()
    for ax, (name, m) in zip(axes.ravel(), maps.items()):
        m = np.asarray(m)
        shown = ax.imshow(m, cmap=DIVERGING, vmin=-limit, vmax=limit)
        ax.set_xticks(range(0, m.shape[1], 10))
        ax.set_yticks(range(0, m.shape[0], 10))
        ax.grid(color="grey", lw=0.4, alpha=0.5)
        ax.set_title(name, fontsize=10)
    fig.colorbar(shown, ax=axes, shrink=0.9, label=label)
    if title:
        fig.suptitle(title)
    return fig
