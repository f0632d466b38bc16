"""Every figure of the series. Each function takes the data it draws and returns a
``matplotlib.figure.Figure`` built without pyplot, so nothing stays open and a notebook shows it once.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .conv import im2col
from .models import predict

WRONG = "#d62728"
DIVERGING = "RdBu_r"


def _as_images(images):
    """``(N, H, W)`` from ``(N, H, W)``, ``(N, 1, H, W)`` or flattened square ``(N, H*W)`` images."""
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


def _check_length(name, values, n):
    if values is not None and len(values) != n:
        raise ValueError(f"{name}: expected {n} values (one per image), got {len(values)}")


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
    images = _as_images(images)
    _check_length("labels", labels, len(images))
    _check_length("preds", preds, len(images))
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
    preds = predict(model_or_preds, x) if hasattr(model_or_preds, "forward") else np.asarray(model_or_preds)
    y = np.asarray(y)
    _check_length("y", y, len(x))
    _check_length("predictions", preds, len(x))
    wrong = np.flatnonzero(preds != y)[:n]
    if len(wrong) == 0:
        fig = Figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    return plot_images(x[wrong], y[wrong], preds[wrong], ncols=ncols, class_names=class_names,
                       title=f"{np.sum(preds != y)} of {len(y)} misclassified; the first {len(wrong)}")


def plot_confusion_matrix(cm, class_names=None, *, title=None):
    """The confusion matrix as a heat map with every count written in its cell (rows: true, columns: predicted)."""
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


def _moving_average(values, window):
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def plot_history(history, *, smooth=50):
    """Two panels: loss per iteration (raw, faint, and a ``smooth``-step moving average) and accuracy per epoch."""
    if not history.loss:
        raise ValueError("history: no iterations recorded (history.loss is empty)")
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    steps = np.arange(1, len(history.loss) + 1)
    loss_ax.plot(steps, history.loss, color="tab:blue", alpha=0.25, lw=0.8, label="loss")
    smoothed = _moving_average(history.loss, smooth)
    loss_ax.plot(steps[len(steps) - len(smoothed):], smoothed, color="tab:blue", label=f"mean of {min(smooth, len(steps))}")
    loss_ax.set(xlabel="iteration", ylabel="loss", title="training loss", yscale="log")
    loss_ax.legend()
    epochs = np.arange(1, len(history.train_acc) + 1)
    acc_ax.plot(epochs, history.train_acc, "o-", label="train (during the epoch)")
    if history.val_acc:
        acc_ax.plot(epochs, history.val_acc, "s-", label="validation")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy per epoch")
    acc_ax.xaxis.get_major_locator().set_params(integer=True)
    acc_ax.legend()
    return fig


def _draw_kernel_rows(axes, rows, limit, fontsize):
    """Draw ``rows``, ``[(label or None, kernels (F, KH, KW))]``, into ``axes`` (rows x F) on the symmetric
    scale ``±limit``: filter numbers above the first row, each label left of its row. Returns the last
    image, for a colour bar."""
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
    """Conv weights ``(F, C, KH, KW)`` as a grid on one symmetric diverging colour scale, with a colour bar.

    One row of F filters when C == 1 or ``channel`` picks an input channel; otherwise C rows (one per
    input channel) by F columns. Red is positive, blue negative, white zero.
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
    cell = 0.9 if n_filters <= 8 else 0.72          # 16 filters stay under 13 inches (1,300 px) wide
    fig = Figure(figsize=(cell * n_filters + 1.2, cell * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, n_filters, squeeze=False)
    labels = [f"in {c if channel is None else channel}" if rows > 1 else None for c in range(rows)]
    image = _draw_kernel_rows(axes, [(label, w[:, c]) for c, label in enumerate(labels)], limit, 9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    if title:
        fig.suptitle(title)
    return fig


def _symmetric_limit(arrays):
    """The largest absolute value over ``arrays`` (1.0 when all are zero): the ends of a symmetric scale."""
    return max((float(np.abs(np.asarray(a)).max()) for a in arrays), default=0.0) or 1.0


def plot_feature_maps(model, image, layers=None, *, max_channels=16, ncols=8):
    """Run one image through ``model`` and show every channel of the chosen layers' outputs.

    image: ``(C, H, W)`` or ``(1, C, H, W)``. layers: layer names (default: every layer with a
    4-D output). Each layer is a block of panels, ``ncols`` to a row (further channels wrap onto
    more rows), up to ``max_channels`` panels labelled "<layer> ch <k>". All channels of a layer
    share one symmetric colour scale (red positive, blue negative, white zero) with its own colour
    bar, so maps of one layer compare directly: a nearly white map is nearly empty. The input
    image comes first, at the top left.
    """
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or len(image) != 1:
        raise ValueError(f"image: expected one image (C, H, W) or (1, C, H, W), got shape {image.shape}")
    if ncols < 1 or max_channels < 1:
        raise ValueError(f"ncols and max_channels: expected positive ints, got {ncols} and {max_channels}")
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
    blocks = right.subfigures(len(layers), 1, height_ratios=[r + 0.35 for r in rows], squeeze=False)[:, 0]
    for block, name, count, nrows in zip(blocks, layers, counts, rows):
        maps = outputs[name][0, :count]
        limit = _symmetric_limit([maps])
        axes = block.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.ravel()):
            ax.set_axis_off()
            if k < count:
                shown = ax.imshow(maps[k], cmap=DIVERGING, vmin=-limit, vmax=limit)
                ax.set_title(f"{name} ch {k}", fontsize=9)
        block.colorbar(shown, ax=axes, shrink=0.9, aspect=12 * nrows)
        block.suptitle(f"{name}: {outputs[name].shape[1]} maps of {maps.shape[1]}x{maps.shape[2]}, "
                       f"one colour scale ±{limit:.2g}", fontsize=10)
    return fig


def plot_curves(x, curves, *, title=None, xlabel="x", ylabel=None, ylim=None):
    """Line plot of several curves over the same ``x``: ``curves`` maps a legend label to y values.
    ``ylim``: ``(bottom, top)`` of the y axis (by default it shows all values and 0)."""
    x = np.asarray(x)
    for label, y in curves.items():
        if np.shape(y) != x.shape:
            raise ValueError(f"curves[{label!r}]: expected shape {x.shape} like x, got {np.shape(y)}")
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for label, y in curves.items():
        ax.plot(x, y, label=label)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend()
    return fig


def _matrix_panel(ax, matrix, title, fmt, cmap, symmetric):
    limit = float(np.abs(matrix).max()) or 1.0
    low, high = (-limit, limit) if symmetric else (float(matrix.min()), float(matrix.max()))
    image = ax.imshow(matrix, cmap=cmap, vmin=low, vmax=high if high > low else low + 1)
    if matrix.size <= 400:
        for (i, j), value in np.ndenumerate(matrix):
            strong = abs(image.norm(value) - (0.5 if symmetric else 0.0)) > (0.3 if symmetric else 0.6)
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8,
                    color="white" if strong else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def plot_matrices(matrices, *, fmt="{:g}", cmap=DIVERGING, symmetric=True):
    """Small 2-D arrays side by side, each value written in its cell; ``matrices`` maps a title to an array.

    With ``symmetric`` each panel's colours are centred on zero (red positive, blue negative).
    """
    if not matrices:
        raise ValueError("matrices: expected at least one {title: 2-D array}")
    for title, matrix in matrices.items():
        if np.ndim(matrix) != 2:
            raise ValueError(f"matrices[{title!r}]: expected a 2-D array, got shape {np.shape(matrix)}")
    widths = [max(np.shape(m)[1], 2) for m in matrices.values()]
    height = max(np.shape(m)[0] for m in matrices.values())
    fig = Figure(figsize=(0.45 * sum(widths) + 0.6 * len(widths), 0.45 * height + 0.8), layout="constrained")
    axes = fig.subplots(1, len(matrices), squeeze=False, width_ratios=widths)[0]
    for ax, (title, matrix) in zip(axes, matrices.items()):
        _matrix_panel(ax, np.asarray(matrix), title, fmt, cmap, symmetric)
    return fig


def plot_im2col(image, kh, kw, stride=1):
    """How im2col works on one small 2-D image: the image with its windows outlined (the first one
    coloured), and the matrix whose row r is window r laid out flat."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image: expected a small 2-D array (H, W), got shape {image.shape}")
    cols = im2col(image[None, None], kh, kw, stride)
    oh = (image.shape[0] - kh) // stride + 1
    fig = Figure(figsize=(0.45 * (image.shape[1] + kh * kw) + 2, 0.45 * max(image.shape[0], len(cols)) + 1),
                 layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[image.shape[1], kh * kw])
    _matrix_panel(left, image, f"image {image.shape[0]}x{image.shape[1]}, {kh}x{kw} windows, stride {stride}",
                  "{:g}", "Greys", False)
    colours = [f"C{k % 10}" for k in range(len(cols))]
    for row in range(len(cols)):
        i, j = divmod(row, len(cols) // oh)
        left.add_patch(Rectangle((j * stride - 0.45, i * stride - 0.45), kw - 0.1, kh - 0.1, fill=False,
                                 ec=colours[row], lw=2.5 if row == 0 else 1, ls="-" if row == 0 else ":"))
    _matrix_panel(right, cols, f"im2col: {cols.shape[0]} windows x {cols.shape[1]} values", "{:g}", "Greys", False)
    for row in range(len(cols)):
        right.add_patch(Rectangle((-0.5, row - 0.5), kh * kw, 1, fill=False, ec=colours[row], lw=1.5))
    return fig


def plot_conv_geometry(configs):
    """Stride, padding and receptive field on square grids, one row per ``(size, kernel, stride, pad)``:
    the padded input (padding cells grey) with the windows of the first two outputs of the top row and
    the first of the second row outlined, and the output grid with those outputs in the same colours."""
    configs = [tuple(c) for c in configs]
    if not configs or any(len(c) != 4 for c in configs):
        raise ValueError(f"configs: expected (size, kernel, stride, pad) tuples, got {configs}")
    fig = Figure(figsize=(8, 3.2 * len(configs)), layout="constrained")
    axes = fig.subplots(len(configs), 2, squeeze=False, width_ratios=[3, 2])
    for (size, kernel, stride, pad), (left, right) in zip(configs, axes):
        out = (size + 2 * pad - kernel) // stride + 1
        if out < 1:
            raise ValueError(f"configs: kernel {kernel} does not fit size {size} with pad {pad}")
        full = size + 2 * pad
        grid = np.zeros((full, full))
        grid[pad:pad + size, pad:pad + size] = 1
        left.imshow(grid, cmap="Greys_r", vmin=-0.6, vmax=1)
        picks = [(0, 0), (0, 1), (1, 0)][:min(3, out * out)]
        for k, (i, j) in enumerate(picks):
            # on the grid lines; where outlines coincide, the later (thinner, dashed) one stays visible
            corner = (j * stride - 0.5, i * stride - 0.5)
            left.add_patch(Rectangle(corner, kernel, kernel, color=f"C{k}", alpha=0.18))
            left.add_patch(Rectangle(corner, kernel, kernel, fill=False, ec=f"C{k}", lw=(4, 2.5, 2)[k],
                                     ls=("-", "--", ":")[k], zorder=3 + k, clip_on=False))
        left.set_title(f"input {size}x{size}, pad {pad} (grey), {kernel}x{kernel} windows, stride {stride}",
                       fontsize=10)
        right.imshow(np.ones((out, out)), cmap="Greys", vmin=0, vmax=4)
        for k, (i, j) in enumerate(picks):
            right.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=f"C{k}", alpha=0.7))
        right.set_title(f"output {out}x{out} = ({size} + 2*{pad} - {kernel}) // {stride} + 1", fontsize=10)
        for ax, n in ((left, full), (right, out)):
            ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
            ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
            ax.grid(which="minor", color="0.6", lw=0.5)
            ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    return fig


def _layered_positions(edges):
    """x = depth (longest path from a source; a source sits just left of its first target), y spread per column."""
    nodes = list(dict.fromkeys([e[0] for e in edges] + [e[1] for e in edges]))
    parents = {n: [e[0] for e in edges if e[1] == n] for n in nodes}
    depth = {}

    def resolve(node):
        if node not in depth:
            depth[node] = 1 + max((resolve(p) for p in parents[node]), default=-1)
        return depth[node]

    for node in nodes:
        resolve(node)
    for node in nodes:
        if not parents[node]:
            depth[node] = min(depth[e[1]] for e in edges if e[0] == node) - 1
    columns = {}
    for node in nodes:
        columns.setdefault(depth[node], []).append(node)
    return {node: (depth[node], (len(column) - 1) / 2 - i)
            for column in columns.values() for i, node in enumerate(column)}, parents


def draw_graph(edges, labels=None, *, title=None):
    """Draw a small computational graph with forward values above each edge and gradients below (in red).

    edges: ``(source, target, value, gradient)`` tuples; ``gradient`` may be None before the backward
    pass. Nodes with incoming edges are operations drawn as circles (label them with ``labels``,
    e.g. ``{"mul1": "×"}``); nodes without incoming edges are inputs, and the last node is the output.
    """
    if not edges:
        raise ValueError("edges: expected at least one (source, target, value, gradient) edge")
    for edge in edges:
        if len(edge) != 4:
            raise ValueError(f"edges: each edge must be (source, target, value, gradient), got {edge!r}")
    labels = labels or {}
    positions, parents = _layered_positions(edges)
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    fig = Figure(figsize=(2.4 * (max(xs) - min(xs) + 1) + 1, 1.3 * (max(ys) - min(ys) + 1) + 1), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    sinks = {e[1] for e in edges} - {e[0] for e in edges}
    for node, (x, y) in positions.items():
        text = labels.get(node, node)
        if parents[node] and node not in sinks:
            ax.text(x, y, text, ha="center", va="center", fontsize=13, zorder=3,
                    bbox=dict(boxstyle="circle,pad=0.4", fc="white", ec="black", lw=1.5))
        else:
            ax.text(x, y, text, ha="center", va="center", fontsize=10, zorder=3,
                    bbox=dict(boxstyle="round", fc="#f3f3f3", ec="grey"))
    for source, target, value, grad in edges:
        (x0, y0), (x1, y1) = positions[source], positions[target]
        ax.annotate("", xy=(x1 - 0.22, y1), xytext=(x0 + 0.3, y0),
                    arrowprops=dict(arrowstyle="->", color="black", lw=1.2))
        mx, my = (x0 + 0.3 + x1 - 0.22) / 2, (y0 + y1) / 2
        ax.text(mx, my + 0.1, _number(value), ha="center", va="bottom", fontsize=10)
        if grad is not None:
            ax.text(mx, my - 0.1, _number(grad), ha="center", va="top", fontsize=10, color=WRONG)
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_title(title or "forward values (black, above) and gradients (red, below)")
    return fig


def _number(value):
    value = float(value)
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def interact_index(plot, count, *, description="index"):
    """A slider over ``0 .. count-1`` that redraws ``plot(i)`` (a function returning a Figure).

    Without ipywidgets (or outside a notebook) it returns the static figure ``plot(0)`` instead.
    """
    try:
        import ipywidgets
        from IPython.display import display
    except ImportError:
        return plot(0)

    def show(i):
        display(plot(i))

    return ipywidgets.interactive(show, i=ipywidgets.IntSlider(0, 0, count - 1, description=description))


def plot_full_convolution(delta, kernel, stride=1, window=(0, 0)):
    """The input gradient of a 1-channel convolution as a *full* convolution, in four panels: the
    kernel w, w rotated by 180°, the upstream gradient ``delta`` dilated by ``stride`` (``stride - 1``
    zeros between entries) and zero-padded by ``K - 1`` on every side with one ``K x K`` window of the
    rotated kernel outlined, and the result dx, where that window's sum of products lands (outlined in
    the same colour). ``delta`` is ``(OH, OW)``, ``kernel`` ``(KH, KW)``; ``window = (p, q)`` picks the
    window, i.e. the entry ``dx[p, q]``. dx has ``(OH - 1) * stride + KH`` rows (columns likewise): the
    input rows that some window read.
    """
    delta, kernel = np.asarray(delta, dtype=float), np.asarray(kernel, dtype=float)
    for name, array in (("delta", delta), ("kernel", kernel)):
        if array.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (one channel), got shape {array.shape}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride: expected a positive integer, got {stride!r}")
    (oh, ow), (kh, kw) = delta.shape, kernel.shape
    dilated = np.zeros(((oh - 1) * stride + 1, (ow - 1) * stride + 1))
    dilated[::stride, ::stride] = delta
    padded = np.pad(dilated, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    rotated = kernel[::-1, ::-1]
    height, width = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    p, q = window
    if not (0 <= p < height and 0 <= q < width):
        raise ValueError(f"window: expected (p, q) with 0 <= p < {height} and 0 <= q < {width}, got {window}")
    dx = np.array([[np.sum(padded[i:i + kh, j:j + kw] * rotated) for j in range(width)]
                   for i in range(height)])

    widths = [max(kw, 2), max(kw, 2), padded.shape[1], width]
    fig = Figure(figsize=(0.5 * sum(widths) + 0.9 * len(widths), 0.5 * padded.shape[0] + 1.3),
                 layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=widths)
    spread = f"dilated by stride {stride}, " if stride > 1 else ""
    titles = [f"kernel w ({kh}x{kw})", "w rotated 180°",
              f"δ {spread}padded by K-1 = {kh - 1}\n(δ inside the dashed box)",
              f"dx = full convolution\n({height}x{width})"]
    for ax, matrix, title in zip(axes, [kernel, rotated, padded, dx], titles):
        _matrix_panel(ax, matrix, title, "{:g}", DIVERGING, True)
    box = axes[2]
    box.add_patch(Rectangle((kw - 1.5, kh - 1.5), dilated.shape[1], dilated.shape[0], fill=False,
                            ec="black", lw=1.5, ls="--"))
    box.add_patch(Rectangle((q - 0.5, p - 0.5), kw, kh, fill=False, ec="C2", lw=3))
    products = []
    for (u, v), weight in np.ndenumerate(rotated):
        box.text(q + v - 0.42, p + u - 0.42, f"×{weight:g}", ha="left", va="top", fontsize=10,
                 color="C2", fontweight="bold", bbox=dict(fc="white", ec="none", pad=0.5))
        if padded[p + u, q + v] != 0:
            products.append(f"({padded[p + u, q + v]:g})×{weight:g}")
    axes[3].add_patch(Rectangle((q - 0.5, p - 0.5), 1, 1, fill=False, ec="C2", lw=3))
    axes[3].set_xlabel(f"dx[{p},{q}] = {' + '.join(products) or '0'} = {dx[p, q]:g}\n"
                       "(green window of δ times rotated w, summed)", fontsize=9)
    return fig


def plot_filter_sets(filter_sets, *, channel=0, title=None):
    """Several sets of conv filters, one row per set, on ONE symmetric colour scale with a colour bar.

    filter_sets: maps a row label (e.g. "initialised", "trained") to conv weights ``(F, C, KH, KW)``;
    every set must have the same shape. Row r shows input channel ``channel`` of every filter of set r,
    so the same filter before and after training sits in the same column.
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
    limit = _symmetric_limit(sets.values())
    fig = Figure(figsize=(1.1 * n_filters + 2.2, 1.1 * len(sets) + 0.8), layout="constrained")
    axes = fig.subplots(len(sets), n_filters, squeeze=False)
    shown = _draw_kernel_rows(axes, [(label, w[:, channel]) for label, w in sets.items()], limit, 10)
    fig.colorbar(shown, ax=axes, shrink=0.9, label="weight")
    if title:
        fig.suptitle(title)
    return fig


def plot_conv_sum(inputs, kernels, contributions, output, *, input_label="input", output_label="output",
                  title=None):
    """How one output channel of a convolution adds up its input channels.

    inputs ``(C, H, W)``: the input maps; kernels ``(C, KH, KW)``: the filter's slice for each;
    contributions ``(C, OH, OW)``: each input map convolved with its slice; output ``(OH, OW)``:
    their sum plus the bias. Panels are titled "<input_label> ch c", "weights c", "from ch c" and
    "= <output_label>". Three rows (inputs, kernels, contributions), each on its own symmetric
    colour scale with a colour bar; the contributions share theirs with the output, drawn last.
    """
    inputs, kernels = np.asarray(inputs), np.asarray(kernels)
    contributions, output = np.asarray(contributions), np.asarray(output)
    if inputs.ndim != 3 or kernels.ndim != 3 or contributions.ndim != 3 or output.ndim != 2:
        raise ValueError(f"expected inputs (C, H, W), kernels (C, KH, KW), contributions (C, OH, OW) and "
                         f"output (OH, OW), got shapes {inputs.shape}, {kernels.shape}, "
                         f"{contributions.shape}, {output.shape}")
    if not len(inputs) == len(kernels) == len(contributions) or contributions.shape[1:] != output.shape:
        raise ValueError(f"expected one kernel and one contribution per input channel and contributions "
                         f"shaped like the output, got shapes {inputs.shape}, {kernels.shape}, "
                         f"{contributions.shape}, {output.shape}")
    n = len(inputs)
    fig = Figure(figsize=(1.3 * (n + 1) + 1.4, 4.8), layout="constrained")
    axes = fig.subplots(3, n + 1, squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, n].set_axis_off()
    axes[1, n].set_axis_off()
    rows = [(inputs, input_label + " ch {}", input_label), (kernels, "weights {}", "weight"),
            (contributions, "from ch {}", "value")]
    for r, (arrays, label, bar) in enumerate(rows):
        limit = _symmetric_limit([arrays] + ([output] if r == 2 else []))
        for c in range(n):
            shown = axes[r, c].imshow(arrays[c], cmap=DIVERGING, vmin=-limit, vmax=limit)
            axes[r, c].set_title(label.format(c), fontsize=10)
        if r == 2:
            axes[r, n].imshow(output, cmap=DIVERGING, vmin=-limit, vmax=limit)
            axes[r, n].set_title(f"= {output_label}", fontsize=10)
        fig.colorbar(shown, ax=axes[r, :], shrink=0.9, label=bar)
    if title:
        fig.suptitle(title)
    return fig


def plot_receptive_field(image, fields, *, title=None):
    """One grey image with nested squares: ``fields`` maps a label to ``(top, left, size)`` in pixels.

    Each square outlines the input pixels that one unit of a layer can see (its receptive field);
    squares may reach past the image edge, into the zero padding. Nested fields often share an
    edge (a pooling unit's field starts where its first input's does), so squares are drawn from
    the largest down, alternately solid and dashed, each over the larger ones: on a shared edge
    both colours show.
    """
    image = _as_images(np.asarray(image)[None])[0]
    if not fields:
        raise ValueError("fields: expected at least one {label: (top, left, size)}")
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.subplots()
    ax.imshow(image, cmap="gray_r")
    low, high = -0.5, image.shape[0] - 0.5
    sizes = sorted({size for _, _, size in fields.values()})
    for k, (label, (top, left, size)) in enumerate(fields.items()):
        rank = len(sizes) - 1 - sizes.index(size)          # 0 for the largest square
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, lw=2.5,
                               ls="-" if rank % 2 == 0 else (0, (2.5, 1.5)), ec=f"C{k % 10}",
                               label=label, zorder=3 + rank))
        low, high = min(low, top - 1, left - 1), max(high, top + size, left + size)
    ax.set_xlim(low, high)
    ax.set_ylim(high, low)
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=10, title="receptive field of")
    ax.set_title(title or "receptive fields")
    return fig


def plot_where_it_fires(images, boxes, *, titles=None, ncols=6, title=None):
    """Each image with a box around the region that produced a response, and that region enlarged below.

    images: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``; boxes: ``(N, 4)`` as (top, left, height,
    width) in pixels, possibly reaching into the zero padding beyond the edge; titles: N strings.
    """
    images = _as_images(images)
    boxes = np.asarray(boxes, dtype=int)
    if boxes.shape != (len(images), 4):
        raise ValueError(f"boxes: expected ({len(images)}, 4) as (top, left, height, width), got {boxes.shape}")
    _check_length("titles", titles, len(images))
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    pad = int(max(0, -boxes[:, :2].min(), (boxes[:, :2] + boxes[:, 2:]).max() - min(images.shape[1:])))
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
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, ec=WRONG, lw=2))
        if titles is not None:
            whole.set_title(titles[i], fontsize=10)
        crop.imshow(padded[i, top + pad:top + pad + height, left + pad:left + pad + width], cmap="gray_r",
                    vmin=0, vmax=limit)
        crop.add_patch(Rectangle((-0.5, -0.5), width, height, fill=False, ec=WRONG, lw=2))
        crop.set_title(f"{height}x{width} window", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def plot_maps(maps, *, ncols=5, title=None, label="value"):
    """2-D maps side by side on ONE symmetric colour scale (red positive, blue negative) with a colour bar.

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
    limit = _symmetric_limit(maps.values())
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


def plot_curve_panels(x, panels, *, title=None, xlabel="x"):
    """Curves over the same ``x`` in side-by-side panels, each with its own y axis.

    panels: ``{panel title: {legend label: y values shaped like x}}``. Use it when curves of very
    different heights would flatten each other on one axis (ReLU's slope of 1 beside the sigmoid's
    of at most 0.25).
    """
    x = np.asarray(x)
    if not panels:
        raise ValueError("panels: expected at least one {panel title: {label: y}}")
    for name, curves in panels.items():
        for label, y in curves.items():
            if np.shape(y) != x.shape:
                raise ValueError(f"panels[{name!r}][{label!r}]: expected shape {x.shape} like x, "
                                 f"got {np.shape(y)}")
    fig = Figure(figsize=(4.2 * len(panels), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (name, curves) in zip(axes, panels.items()):
        for label, y in curves.items():
            ax.plot(x, y, label=label)
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set(xlabel=xlabel, title=name)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _image_and_map_columns(n, ncols, rows_per_image=2, cell=1.45):
    """Axes ``(n, rows_per_image)``: each image gets a column of ``rows_per_image`` panels; columns
    wrap after ``ncols``."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(cell * ncols + 1.2, cell * rows_per_image * nrows + 0.5), layout="constrained")
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
    text = " / ".join(parts) if sum(map(len, parts)) <= 18 else "\n".join(parts)   # long class names
    ax.set_title(text, fontsize=8, color=WRONG if wrong else "black")


def plot_saliency(images, maps, labels=None, preds=None, *, class_names=None, ncols=6, title=None,
                  outline=0.5):
    """Each image above its saliency map drawn over a faint copy of it.

    images: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H*W)``; maps: ``(N, H, W)``, e.g. from
    :func:`cnnlib.interpret.saliency`; labels, preds: ``(N,)`` or None (titles "true 7 / pred 1",
    wrong predictions in red; long class names on two lines). Each map is divided by its own
    maximum, so its colours run from 0 (transparent) to 1 (dark red): they show where an image's
    gradient is large, not how large it is compared with another image's. The image's outline
    (the contour at ``outline`` of its intensity range, half by default) is drawn over the map.
    """
    images = _as_images(images)
    maps = np.asarray(maps, dtype=float)
    if maps.shape != images.shape:
        raise ValueError(f"maps: expected one map per image, shape {images.shape}, got {maps.shape}")
    _check_length("labels", labels, len(images))
    _check_length("preds", preds, len(images))
    if len(images) == 0:
        raise ValueError("images: nothing to plot (0 images)")
    name = (lambda k: class_names[k]) if class_names is not None else str
    fig, axes, grid = _image_and_map_columns(len(images), ncols)
    for i, (top, bottom) in enumerate(axes):
        top.imshow(images[i], cmap="gray_r")
        _title_true_pred(top, None if labels is None else labels[i], None if preds is None else preds[i],
                         name)
        bottom.imshow(images[i], cmap="gray_r", alpha=0.25)
        scaled = maps[i] / (maps[i].max() or 1.0)
        shown = bottom.imshow(np.ma.masked_less(scaled, 0.02), cmap="Reds", vmin=0, vmax=1, alpha=0.9)
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
    :func:`cnnlib.interpret.occlusion` with the same ``stride`` (map cell ``(i, j)`` is drawn centred
    on pixel ``(i * stride, j * stride)``); titles: N strings. Red: covering that place lowers the
    class's probability; blue: it raises it. The image's outline, the contour at ``outline``
    times its maximum (half by default; lower it for light objects such as garments), is drawn
    over each map.
    """
    images = _as_images(images)
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 3 or len(maps) != len(images):
        raise ValueError(f"maps: expected {len(images)} maps (N, OH, OW), got shape {maps.shape}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride: expected a positive integer, got {stride!r}")
    _check_length("titles", titles, len(images))
    limit = _symmetric_limit([maps])
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
    images, adversarial = _as_images(images), _as_images(adversarial)
    if images.shape != adversarial.shape:
        raise ValueError(f"adversarial: expected the shape of images {images.shape}, got "
                         f"{adversarial.shape}")
    for key, values in (("labels", labels), ("preds", preds), ("adv_preds", adv_preds)):
        if values is None:
            raise ValueError(f"{key}: expected {len(images)} values (one per image), got None")
        _check_length(key, values, len(images))
    if len(images) == 0:
        raise ValueError("images: nothing to plot (0 images)")
    name = (lambda k: class_names[k]) if class_names is not None else str
    delta = adversarial - images
    limit = _symmetric_limit([delta])
    fig, axes, grid = _image_and_map_columns(len(images), ncols, rows_per_image=3, cell=1.35)
    for i, (top, middle, bottom) in enumerate(axes):
        top.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        _title_true_pred(top, labels[i], preds[i], name)
        shown = middle.imshow(delta[i], cmap=DIVERGING, vmin=-limit, vmax=limit)
        middle.set_title("perturbation", fontsize=8)
        bottom.imshow(adversarial[i], cmap="gray_r", vmin=0, vmax=1)
        wrong = int(adv_preds[i]) != int(labels[i])
        bottom.set_title(f"now {name(int(adv_preds[i]))}", fontsize=8, color=WRONG if wrong else "black")
    fig.colorbar(shown, ax=grid, shrink=0.5, label="change of the pixel")
    if title:
        fig.suptitle(title)
    return fig


def plot_accuracy_curves(x, curves, *, xlabel, title=None, chance=None, xticks=None,
                         legend_loc="best"):
    """Accuracy (in %) against a perturbation's size, one line with markers per model.

    x: ``(K,)`` sizes (epsilon, pixels, degrees); curves: ``{label: (K,) accuracies in [0, 1]}``;
    chance: an accuracy drawn as a dashed grey line (e.g. 0.1 for ten balanced classes), or None;
    xticks: the x values to label (e.g. ``x`` itself for integer shifts), or None for matplotlib's
    choice; legend_loc: where the legend goes (a matplotlib ``loc``, e.g. "lower left").
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"x: expected a non-empty 1-D array, got shape {x.shape}")
    if not curves:
        raise ValueError("curves: expected at least one {label: accuracies}")
    for label, y in curves.items():
        y = np.asarray(y, dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"curves[{label!r}]: expected shape {x.shape} like x, got {y.shape}")
        if np.any((y < 0) | (y > 1)):
            raise ValueError(f"curves[{label!r}]: accuracies must be in [0, 1], got {y.min()}..{y.max()}")
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    for k, (label, y) in enumerate(curves.items()):
        ax.plot(x, 100 * np.asarray(y, dtype=float), marker="os^vD"[k % 5], label=label)
    if chance is not None:
        ax.axhline(100 * chance, color="grey", ls="--", lw=1, label="chance")
    ax.set(xlabel=xlabel, ylabel="accuracy (%)", ylim=(0, 102), title=title)
    if xticks is not None:
        ax.set_xticks(np.asarray(xticks, dtype=float))
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc)
    return fig


def plot_conv_window(image, kernel, out, *, stride=1, pad=0, position=(0, 0), bias=0.0):
    """One step of a convolution on a 2-D image: the zero-padded input with the window of output
    ``position`` outlined, that window's values, the kernel, and the output map with the same cell
    outlined; the title fills in the output-size formula and the value computed at ``position``.

    image: ``(H, W)``; kernel: ``(KH, KW)``; out: ``(OH, OW)``, the convolution of ``image`` with
    ``kernel`` (plus ``bias``) at this ``stride`` and ``pad``; position: ``(i, j)`` inside ``out``.
    """
    image, kernel, out = (np.asarray(a, dtype=np.float64) for a in (image, kernel, out))
    if image.ndim != 2 or kernel.ndim != 2 or out.ndim != 2:
        raise ValueError(f"image, kernel, out: expected 2-D arrays, got shapes {image.shape}, "
                         f"{kernel.shape}, {out.shape}")
    (h, w), (kh, kw) = image.shape, kernel.shape
    expected = ((h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1)
    if out.shape != expected:
        raise ValueError(f"out: expected shape {expected} for a {h}x{w} image, {kh}x{kw} kernel, "
                         f"stride {stride}, pad {pad}; got {out.shape}")
    i, j = position
    if not (0 <= i < out.shape[0] and 0 <= j < out.shape[1]):
        raise ValueError(f"position: expected a cell of the {out.shape[0]}x{out.shape[1]} output, got {position}")
    padded = np.pad(image, pad)
    window = padded[i * stride:i * stride + kh, j * stride:j * stride + kw]
    fig = Figure(figsize=(11, 3.9))
    left, win_ax, ker_ax, right = fig.subplots(1, 4, width_ratios=[padded.shape[1], 9, 9, out.shape[1] * 1.25])
    fig.subplots_adjust(left=0.02, right=0.96, bottom=0.04, top=0.8, wspace=0.25)
    left.imshow(padded, cmap="gray_r", vmin=0, vmax=max(1.0, float(image.max())))
    if pad:
        frame = np.zeros(padded.shape + (4,))
        frame[..., :3] = 0.55
        frame[..., 3] = 0.45
        frame[pad:pad + h, pad:pad + w, 3] = 0
        left.imshow(frame)
    left.add_patch(Rectangle((j * stride - 0.5, i * stride - 0.5), kw, kh, fill=False, ec=WRONG, lw=2.5))
    left.set_title(f"input {h}x{w}, padded to {padded.shape[0]}x{padded.shape[1]} (grey)", fontsize=10)
    _matrix_panel(win_ax, window, f"window: padded rows {i * stride}-{i * stride + kh - 1}", "{:.2f}", "Greys", False)
    _matrix_panel(ker_ax, kernel, f"kernel {kh}x{kw}", "{:.3g}", DIVERGING, True)
    limit = _symmetric_limit([out])
    shown = right.imshow(out, cmap=DIVERGING, vmin=-limit, vmax=limit)
    right.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=2.5))
    right.set_title(f"output {out.shape[0]}x{out.shape[1]}", fontsize=10)
    fig.colorbar(shown, ax=right, fraction=0.06, pad=0.03)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    value = float(np.sum(window * kernel) + bias)
    fig.suptitle(f"OH = (H + 2p - K) // s + 1 = ({h} + 2*{pad} - {kh}) // {stride} + 1 = {out.shape[0]}"
                 f"        out[{i}, {j}] = sum(window * kernel) = {value:.3g}", fontsize=11)
    return fig


def _mosaic(maps, ncols, gap=1):
    """``(C, H, W)`` maps tiled ``ncols`` to a row into one 2-D array, NaN between the tiles."""
    c, h, w = maps.shape
    nrows = -(-c // ncols)
    tiled = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    for k in range(c):
        r, q = divmod(k, ncols)
        tiled[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = maps[k]
    return tiled


def _reading_title(name, maps, limit):
    return f"{name}: {np.shape(maps)[0]} maps {np.shape(maps)[1]}x{np.shape(maps)[2]}, one scale ±{limit:.2g}"


def plot_digit_reading(image, probabilities, maps, *, drawing=None, class_names=None, title=None):
    """What a network reads in one digit: the input (and the raw ``drawing`` it was made from), the class
    probabilities as bars (the most likely class highlighted), and each layer of ``maps`` as one row of
    channel tiles on that layer's own symmetric colour scale (red positive, blue negative).

    image: ``(H, W)``; probabilities: ``(classes,)``; maps: ``{layer name: (C, h, w)}`` (at most two
    rows of 8 channels each are shown per layer, each tile numbered at its top left); drawing:
    ``(H', W')`` or None. A few axes and short texts only, so that the figure redraws quickly while
    someone draws (:func:`update_digit_reading` redraws it in place).
    """
    image, probabilities = np.asarray(image), np.asarray(probabilities, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image: expected a 2-D array (H, W), got shape {image.shape}")
    if probabilities.ndim != 1 or len(probabilities) < 2:
        raise ValueError(f"probabilities: expected a 1-D array of class probabilities, got shape "
                         f"{probabilities.shape}")
    names = list(class_names) if class_names is not None else [str(k) for k in range(len(probabilities))]
    if len(names) != len(probabilities):
        raise ValueError(f"class_names: expected {len(probabilities)} names, got {len(names)}")
    for name, m in maps.items():
        if np.ndim(m) != 3:
            raise ValueError(f"maps[{name!r}]: expected (C, h, w) feature maps, got shape {np.shape(m)}")
    best = int(probabilities.argmax())
    heights = [1.3] + [0.55 + 0.25 * min(2, -(-np.shape(m)[0] // 8)) for m in maps.values()]
    fig = Figure(figsize=(9, 2.3 * sum(heights)))
    grid = fig.add_gridspec(1 + len(maps), 3, height_ratios=heights, width_ratios=[1, 1, 3],
                            left=0.04, right=0.97, bottom=0.03, top=0.9, hspace=0.45, wspace=0.25)
    top = [fig.add_subplot(grid[0, k]) for k in range(3)]
    if drawing is not None:
        drawing = np.asarray(drawing)
        top[0].imshow(drawing, cmap="gray_r", vmin=0, vmax=max(1.0, float(drawing.max())))
        top[0].set_title("your drawing", fontsize=10)
    top[1].imshow(image, cmap="gray_r", vmin=0, vmax=max(1.0, float(image.max())))
    top[1].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=10)
    top[1].set_axis_off()
    top[0].set_xticks([])
    top[0].set_yticks([])
    if drawing is None:
        top[0].set_axis_off()
    bars = top[2].bar(range(len(probabilities)), probabilities, color="0.7")
    bars[best].set_color(WRONG)
    top[2].set_xticks(range(len(probabilities)), names)
    top[2].set_ylim(0, 1)
    top[2].set_yticks([0, 1])
    top[2].set_title("class probabilities", fontsize=10)
    from matplotlib import colormaps

    cmap = colormaps[DIVERGING].with_extremes(bad="white")
    for row, (name, m) in enumerate(maps.items(), start=1):
        m = np.asarray(m)[:16]
        ncols = min(8, len(m))
        limit = _symmetric_limit([m])
        ax = fig.add_subplot(grid[row, :])
        ax.imshow(_mosaic(m, ncols), cmap=cmap, vmin=-limit, vmax=limit)
        for k in range(len(m)):
            r, q = divmod(k, ncols)
            ax.text(q * (m.shape[2] + 1) - 0.3, r * (m.shape[1] + 1) - 0.3, str(k), fontsize=7, color="0.3",
                    ha="left", va="top")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_reading_title(name, maps[name], limit), fontsize=10)
        for side in ax.spines.values():
            side.set_visible(False)
    fig.suptitle(title or f"reads {names[best]} (probability {probabilities[best]:.2f})", fontsize=12)
    return fig


def update_digit_reading(fig, image, probabilities, maps, *, drawing=None, title=None):
    """Redraw a figure made by :func:`plot_digit_reading` in place with a new reading (same layers and
    shapes): the images, bars, colour scales and titles change, nothing is rebuilt, so a widget that
    redraws on every stroke pays only for rendering. Returns ``fig``."""
    image, probabilities = np.asarray(image), np.asarray(probabilities, dtype=np.float64)
    top, rows = fig.axes[:3], fig.axes[3:]
    if len(rows) != len(maps) or len(top[2].patches) != len(probabilities):
        raise ValueError(f"maps, probabilities: expected {len(rows)} layers and {len(top[2].patches)} classes "
                         f"as when the figure was made, got {len(maps)} and {len(probabilities)}")
    if (drawing is None) != (not top[0].get_images()):
        raise ValueError("drawing: give one exactly when the figure was made with one")
    if drawing is not None:
        drawing = np.asarray(drawing)
        top[0].get_images()[0].set_data(drawing)
        top[0].get_images()[0].set_clim(0, max(1.0, float(drawing.max())))
    top[1].get_images()[0].set_data(image)
    top[1].get_images()[0].set_clim(0, max(1.0, float(image.max())))
    best = int(probabilities.argmax())
    for k, (bar, p) in enumerate(zip(top[2].patches, probabilities)):
        bar.set_height(p)
        bar.set_color(WRONG if k == best else "0.7")
    names = [t.get_text() for t in top[2].get_xticklabels()]
    for ax, (name, m) in zip(rows, maps.items()):
        m = np.asarray(m)[:16]
        shown = ax.get_images()[0]
        ncols = min(8, len(m))
        tiled = _mosaic(m, ncols)
        if tiled.shape != shown.get_array().shape:
            raise ValueError(f"maps[{name!r}]: expected the shape the figure was made with, got {np.shape(maps[name])}")
        limit = _symmetric_limit([m])
        shown.set_data(tiled)
        shown.set_clim(-limit, limit)
        ax.set_title(_reading_title(name, maps[name], limit), fontsize=10)
    fig.suptitle(title or f"reads {names[best]} (probability {probabilities[best]:.2f})", fontsize=12)
    return fig


def plot_activation_histograms(runs, *, bins=30, title=None):
    """Histograms of activations, one row per run and one column per layer.

    runs: ``{row label: {layer label: array of activations}}`` (any shapes; every value counts), e.g.
    one row per initialisation scale, one column per layer of a deep stack. Each row shares one
    value range, so the spread shrinking or saturating from layer to layer is visible; each panel
    is titled with its layer and the standard deviation of its values.
    """
    if not runs or not all(runs.values()):
        raise ValueError("runs: expected {row label: {layer label: array}} with at least one layer")
    ncols = max(len(layers) for layers in runs.values())
    fig = Figure(figsize=(2.1 * ncols + 0.8, 1.8 * len(runs) + 0.4), layout="constrained")
    axes = fig.subplots(len(runs), ncols, squeeze=False)
    for row, (run, layers) in zip(axes, runs.items()):
        values = {name: np.asarray(a, dtype=np.float64).ravel() for name, a in layers.items()}
        low = min(v.min() for v in values.values())
        high = max(max(v.max() for v in values.values()), low + 1e-12)
        for ax in row[len(values):]:
            ax.set_axis_off()
        for col, (ax, (name, v)) in enumerate(zip(row, values.items())):
            ax.hist(v, bins=bins, range=(low, high), color="tab:blue")
            ax.set_title(f"{name}: std {v.std():.2g}", fontsize=9)
            ax.set_yticks([])
            ax.tick_params(labelsize=8)
            ax.locator_params(axis="x", nbins=4)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            if col == 0:
                ax.set_ylabel(run, fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def plot_trajectories(loss, paths, *, xlim, ylim, minimum=None, ncols=None, levels=20, title=None):
    """Optimizer paths over the contour plot of a 2-D loss surface, one panel per path.

    loss: a function of two arrays ``(x, y)`` (broadcast elementwise) giving the loss; paths:
    ``{label: (T, 2) array of points}``, the parameters after each step, starting point first;
    ``xlim``, ``ylim``: the ``(low, high)`` ranges drawn; ``minimum``: an ``(x, y)`` point to mark.
    Each panel's title holds its label and the loss at the path's last point.
    """
    if not paths:
        raise ValueError("paths: expected at least one {label: (T, 2) array}")
    for label, path in paths.items():
        if np.ndim(path) != 2 or np.shape(path)[1] != 2:
            raise ValueError(f"paths[{label!r}]: expected a (T, 2) array of points, got shape {np.shape(path)}")
    ncols = len(paths) if ncols is None else max(1, min(ncols, len(paths)))
    nrows = -(-len(paths) // ncols)
    gx, gy = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    surface = loss(gx, gy)
    fig = Figure(figsize=(3.2 * ncols, 2.9 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(paths):]:
        ax.set_axis_off()
    for ax, (label, path) in zip(axes.ravel(), paths.items()):
        path = np.asarray(path, dtype=np.float64)
        ax.contour(gx, gy, surface, levels=levels, cmap="Greys", linewidths=0.6)
        ax.plot(path[:, 0], path[:, 1], "o-", color="tab:red", ms=2.5, lw=1)
        ax.plot(*path[0], "s", color="black", ms=5)
        if minimum is not None:
            ax.plot(*minimum, "*", color="tab:green", ms=10)
        ax.set(xlim=xlim, ylim=ylim, title=f"{label}: loss {float(loss(*path[-1])):.2g}")
        ax.title.set_fontsize(10)
    if title:
        fig.suptitle(title)
    return fig


def plot_histories(histories, *, smooth=20, title=None):
    """Several training runs compared: the training loss per iteration (a ``smooth``-step moving
    average, log scale) and the accuracy per epoch (validation when recorded, else training).

    histories: ``{label: History}`` from :func:`cnnlib.training.fit`. A run that stopped early (or
    diverged) simply ends sooner.
    """
    if not histories:
        raise ValueError("histories: expected at least one {label: History}")
    for label, history in histories.items():
        if not history.loss:
            raise ValueError(f"histories[{label!r}]: no iterations recorded (history.loss is empty)")
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    kinds = set()
    for label, history in histories.items():
        smoothed = _moving_average(history.loss, smooth)
        window = len(history.loss) - len(smoothed)
        line, = loss_ax.plot(np.arange(window + 1, len(history.loss) + 1), smoothed, label=label)
        accuracy, kind = (history.val_acc, "validation") if history.val_acc else (history.train_acc, "training")
        kinds.add(kind)
        acc_ax.plot(np.arange(1, len(accuracy) + 1), accuracy, "o-", color=line.get_color(), label=label)
    loss_ax.set(xlabel="iteration", ylabel="loss", yscale="log", title=f"training loss (mean of {smooth})")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title=" / ".join(sorted(kinds)) + " accuracy per epoch")
    acc_ax.xaxis.get_major_locator().set_params(integer=True)
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_train_val_gap(curves, *, title=None):
    """Training against validation accuracy per epoch, one panel per run, the gap between them shaded.

    curves: ``{label: (train_accuracy, val_accuracy)}``, two sequences of the same length (one value
    per epoch). Each panel's title gives the gap after the last epoch, in percentage points; all
    panels share the y axis.
    """
    if not curves:
        raise ValueError("curves: expected at least one {label: (train, val)}")
    for label, pair in curves.items():
        if len(pair) != 2 or np.shape(pair[0]) != np.shape(pair[1]) or np.ndim(pair[0]) != 1:
            raise ValueError(f"curves[{label!r}]: expected (train, val), two 1-D sequences of equal length")
    fig = Figure(figsize=(3.4 * len(curves), 3.2), layout="constrained")
    axes = fig.subplots(1, len(curves), squeeze=False, sharey=True)[0]
    for ax, (label, (train, val)) in zip(axes, curves.items()):
        train, val = np.asarray(train, dtype=float), np.asarray(val, dtype=float)
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, "-", color="tab:blue", label="training")
        ax.plot(epochs, val, "-", color="tab:orange", label="validation")
        ax.fill_between(epochs, val, train, color="tab:red", alpha=0.15, label="gap")
        ax.set(xlabel="epoch", title=f"{label}: gap {100 * (train[-1] - val[-1]):+.1f} points")
        ax.title.set_fontsize(10)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
