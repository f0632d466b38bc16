"""Interpretation: saliency and occlusion maps beside their images, and adversarial examples with
the perturbation that made them.
"""

import numpy as np
from matplotlib.figure import Figure

from .._checks import positive_int
from ._base import DIVERGING, WRONG, as_images, check_length, symmetric_limit


def _image_and_map_columns(n, ncols, rows_per_image=2, cell=1.45):
    """Axes ``(n, rows_per_image)``: each image gets a column of ``rows_per_image`` panels; columns
    wrap after ``ncols``."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(cell * ncols + 1.2, cell * rows_per_image * nrows + 0.5),
                 layout="constrained")
    grid = fig.subplots(rows_per_image * nrows, ncols, squeeze=False)
    for ax in grid.ravel():
        ax.set_axis_off()
    axes = [[grid[rows_per_image * (i // ncols) + r, i % ncols] for r in range(rows_per_image)]
            for i in range(n)]
    return fig, axes, grid



def _title_true_pred(ax, label, pred, name):
    parts = ([f"true {name(int(label))}"] if label is not None else []) + \
        ([f"pred {name(int(pred))}"] if pred is not None else [])
    wrong = label is not None and pred is not None and int(label) != int(pred)
    # long class names on two lines
    text = " / ".join(parts) if sum(map(len, parts)) <= 18 else "\n".join(parts)
    ax.set_title(text, fontsize=8, color=WRONG if wrong else "black")



def plot_saliency(images, maps, labels=None, preds=None, *, class_names=None, ncols=6, title=None,
                  outline=0.5):
    """Each image above its saliency map, with the image's outline drawn over the map.

    images: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``; maps: ``(N, H, W)``, e.g. from
    :func:`cnnlib.interpret.saliency`; labels, preds: ``(N,)`` or None (titles "true 7 / pred 1",
    wrong predictions in red; long class names on two lines). Each map is divided by its own
    maximum, so its colours run from 0 (transparent) to 1 (dark red): they show where an image's
    gradient is large, not how large it is compared with another image's; values under 2% of the
    maximum are left white, so a white pixel inside the outline is one whose gradient is (nearly)
    zero. No copy of the image is drawn under the map: the image's outline
    (the contour at ``outline`` of its intensity range, half by default) is drawn over the map.
    """
    images = as_images(images)
    maps = np.asarray(maps, dtype=float)
    if maps.shape != images.shape:
        raise ValueError(f"maps: expected one map per image, shape {images.shape}, got "
                         f"{maps.shape}")
    check_length("labels", labels, len(images))
    check_length("preds", preds, len(images))
    if len(images) == 0:
        raise ValueError("images: nothing to plot (0 images)")
    name = (lambda k: class_names[k]) if class_names is not None else str
    fig, axes, grid = _image_and_map_columns(len(images), ncols)
    for i, (top, bottom) in enumerate(axes):
        top.imshow(images[i], cmap="gray_r")
        _title_true_pred(top, None if labels is None else labels[i],
                         None if preds is None else preds[i], name)
        scaled = maps[i] / (maps[i].max() or 1.0)
        shown = bottom.imshow(np.ma.masked_less(scaled, 0.02), cmap="Reds", vmin=0, vmax=1,
                              alpha=0.9)
        if images[i].max() > images[i].min():
            low, high = float(images[i].min()), float(images[i].max())
            bottom.contour(images[i], levels=[low + outline * (high - low)], colors="black",
                           linewidths=0.6)
        bottom.set_title("saliency", fontsize=8)
    fig.colorbar(shown, ax=grid, shrink=0.6, label="|gradient| / its maximum")
    if title:
        fig.suptitle(title)
    return fig



def plot_occlusion(images, maps, *, titles=None, stride=1, ncols=6, title=None,
                   label="drop in p(true class)", outline=0.5):
    """Each image above its occlusion map, all maps on ONE symmetric colour scale with a colour bar.

    images: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``; maps: ``(N, OH, OW)`` from
    :func:`cnnlib.interpret.occlusion` with the same ``stride`` (map cell ``(i, j)`` is drawn
    centred on pixel ``(i * stride, j * stride)``); titles: N strings. Red: covering that place
    lowers the class's probability; blue: it raises it. The image's outline, the contour at
    ``outline`` times its maximum (half by default; lower it for light objects such as garments), is
    drawn over each map.
    """
    images = as_images(images)
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 3 or len(maps) != len(images):
        raise ValueError(f"maps: expected {len(images)} maps (N, OH, OW), got shape {maps.shape}")
    positive_int("stride", stride)
    check_length("titles", titles, len(images))
    limit = symmetric_limit([maps])
    fig, axes, grid = _image_and_map_columns(len(images), ncols)
    half = stride / 2
    for i, (top, bottom) in enumerate(axes):
        top.imshow(images[i], cmap="gray_r")
        if titles is not None:
            top.set_title(titles[i], fontsize=8)
        oh, ow = maps[i].shape
        shown = bottom.imshow(maps[i], cmap=DIVERGING, vmin=-limit, vmax=limit,
                              extent=(-half, ow * stride - half, oh * stride - half, -half))
        bottom.contour(images[i], levels=[outline * (float(images[i].max()) or 1.0)],
                       colors="black", linewidths=0.6)
        bottom.set_xlim(-0.5, images.shape[2] - 0.5)
        bottom.set_ylim(images.shape[1] - 0.5, -0.5)
        bottom.set_title("occlusion", fontsize=8)
    fig.colorbar(shown, ax=grid, shrink=0.6, label=label)
    if title:
        fig.suptitle(title)
    return fig



def plot_adversarial(images, adversarial, labels, preds, adv_preds, *, class_names=None, ncols=6,
                     title=None):
    """Original images, the perturbations and the adversarial images, one column per example.

    images, adversarial: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``, the same shape; labels,
    preds, adv_preds: ``(N,)`` true labels and the predictions before and after. Row 1: the image,
    titled "true 7 / pred 7"; row 2: ``adversarial - images`` on one symmetric colour scale (red
    added, blue removed); row 3: the adversarial image titled with its new prediction (red when
    wrong).
    """
    images, adversarial = as_images(images), as_images(adversarial)
    if images.shape != adversarial.shape:
        raise ValueError(f"adversarial: expected the shape of images {images.shape}, got "
                         f"{adversarial.shape}")
    for key, values in (("labels", labels), ("preds", preds), ("adv_preds", adv_preds)):
        if values is None:
            raise ValueError(f"{key}: expected {len(images)} values (one per image), got None")
        check_length(key, values, len(images))
    if len(images) == 0:
        raise ValueError("images: nothing to plot (0 images)")
    name = (lambda k: class_names[k]) if class_names is not None else str
    delta = adversarial - images
    limit = symmetric_limit([delta])
    fig, axes, grid = _image_and_map_columns(len(images), ncols, rows_per_image=3, cell=1.35)
    for i, (top, middle, bottom) in enumerate(axes):
        top.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        _title_true_pred(top, labels[i], preds[i], name)
        shown = middle.imshow(delta[i], cmap=DIVERGING, vmin=-limit, vmax=limit)
        middle.set_title("perturbation", fontsize=8)
        bottom.imshow(adversarial[i], cmap="gray_r", vmin=0, vmax=1)
        wrong = int(adv_preds[i]) != int(labels[i])
        bottom.set_title(f"now {name(int(adv_preds[i]))}", fontsize=8,
                         color=WRONG if wrong else "black")
    fig.colorbar(shown, ax=grid, shrink=0.5, label="change of the pixel")
    if title:
        fig.suptitle(title)
    return fig
