"""Two widgets for JupyterLab, and the plain functions under them.

* :class:`ConvExplorer` (notebook 04): pick a digit, a 3x3 kernel (notebook 04's hand-made filters,
  or nine sliders whose numbers can also be typed), the stride, the padding and an output cell; see
  the padded input with that cell's window, the window's values, the kernel and the output map, with
  the output-size formula filled in.
* :class:`DrawDigit` (notebook 08): draw a digit with the mouse on an ``ipycanvas`` canvas; when a
  stroke ends, :func:`mnist_like` turns the drawing into an MNIST-like 28x28 input, and LeNet-5
  shows its class probabilities and its conv1 and conv2 feature maps.

What a widget computes is a plain function (:func:`mnist_like`, :func:`read_digit`,
:func:`draw_line`,
:func:`drawing_figure`) or a method its event handlers call, so tests drive the widgets without a
browser. Displayed, a widget carries a static figure beside its live view (``image/png`` and a line
of text): a notebook viewer without a kernel shows that figure instead of raw widget text, and nbval
compares the line of text. ipywidgets and ipycanvas are imported only when a widget is built.
"""

import base64
import io

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .conv import conv2d_forward, conv_output_size
from .functions import softmax
from .viz import DIVERGING, WRONG
from .viz._base import matrix_panel, symmetric_limit

_SOBEL = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
KERNELS = {
    "vertical edge (Sobel)": _SOBEL,
    "horizontal edge": _SOBEL.T.copy(),
    "horizontal edge, flipped": -_SOBEL.T,
    "diagonal": np.array([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]], dtype=np.float32),
    "blur": np.full((3, 3), 1 / 9, dtype=np.float32),
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32),
}
"""The explorer's ready-made 3x3 kernels: notebook 04's edge filters, a blur and the identity."""
CUSTOM = "custom (sliders)"
EMPTY_MESSAGE = "The canvas is empty: draw a digit with the mouse (press, drag, release)."
EXAMPLE_STROKES = [[(62.0, 58.0), (215.0, 58.0), (190.0, 105.0), (128.0, 238.0)],
                   [(105.0, 150.0), (200.0, 150.0)]]
"""A 7 with a bar, as a list of strokes of canvas points ``(x, y)`` on a 280x280 canvas: the digit a
:class:`DrawDigit` shows as its static figure."""


class EmptyDrawingError(ValueError):
    """Raised by :func:`mnist_like` for an image without ink: there is nothing to read."""


def _png(fig, dpi=72):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _area_weights(n_in, n_out):
    """``(n_out, n_in)`` averaging matrix: row i weights each input pixel by the length of its
    overlap with output pixel i's interval ``[i, i + 1) * n_in / n_out``, divided by that interval's
    length."""
    scale = n_in / n_out
    edges = np.arange(n_out + 1) * scale
    k = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], k + 1) - np.maximum(edges[:-1, None], k)
    return np.clip(overlap, 0, None) / scale


def resize_area(image, shape):
    """``image`` ``(H, W)`` resampled to ``shape`` ``(h, w)`` by area averaging: each output pixel
    is the mean of the input area it covers, partly covered pixels weighted by their overlap.
    Shrinking a drawing this way anti-aliases it, as MNIST's digits are. Returns float64 ``(h,
    w)``."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"image: expected a non-empty 2-D array (H, W), got shape {image.shape}")
    h, w = shape
    if int(h) < 1 or int(w) < 1:
        raise ValueError(f"shape: expected two positive sizes (h, w), got {shape}")
    return _area_weights(image.shape[0], int(h)) @ image @ _area_weights(image.shape[1], int(w)).T


def mnist_like(image, *, box=20, size=28):
    """Turn a drawing into an input like MNIST's digits, with MNIST's own recipe.

    image: ``(H, W)`` ink, any non-negative scale (larger is more ink; a canvas drawing is 1 where
    drawn). The ink's bounding box (pixels above 1% of the peak) is cut out and resampled by area
    averaging so that its longer side is ``box`` pixels, keeping the aspect ratio; values are scaled
    to a peak of 1; the result is placed in a ``(size, size)`` field of zeros so that its centre of
    mass lands on pixel ``(size / 2, size / 2)`` (where MNIST's digits have theirs, in row/column
    index coordinates), rounded to whole pixels and kept inside the field. Returns float32 ``(size,
    size)`` in [0, 1].

    Raises :class:`EmptyDrawingError` (a ValueError) when ``image`` has no ink.
    """
    try:
        ink = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError("image: expected a 2-D array of numbers, got "
                        f"{type(image).__name__}") from err
    if ink.ndim != 2 or min(ink.shape) < 1:
        raise ValueError(f"image: expected a non-empty 2-D array (H, W), got shape {ink.shape}")
    if not np.all(np.isfinite(ink)):
        raise ValueError("image: expected finite values, got NaN or infinity")
    if not 1 <= box <= size:
        raise ValueError(f"box: expected 1 <= box <= size ({size}), got {box}")
    ink = np.clip(ink, 0, None)
    peak = ink.max()
    if peak <= 0:
        raise EmptyDrawingError(f"image: no ink (no value above 0). {EMPTY_MESSAGE}")
    rows = np.flatnonzero((ink > 0.01 * peak).any(axis=1))
    cols = np.flatnonzero((ink > 0.01 * peak).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] / peak
    scale = box / max(crop.shape)
    h, w = (max(1, min(box, int(round(n * scale)))) for n in crop.shape)
    small = resize_area(crop, (h, w))
    small /= small.max()
    mass = small.sum()
    centre_row = small.sum(axis=1) @ np.arange(h) / mass
    centre_col = small.sum(axis=0) @ np.arange(w) / mass
    top = min(max(int(round(size / 2 - centre_row)), 0), size - h)
    left = min(max(int(round(size / 2 - centre_col)), 0), size - w)
    out = np.zeros((size, size), dtype=np.float32)
    out[top:top + h, left:left + w] = small
    return out


def draw_line(ink, start, end, width):
    """Draw a stroke segment into ``ink`` ``(H, W)`` in place: every pixel whose centre lies within
    ``width / 2`` of the segment from ``start`` to ``end`` (canvas points ``(x, y)``, x to the
    right, y down, in pixels) becomes 1. ``start == end`` draws a dot. Returns ``ink``."""
    (x0, y0), (x1, y1) = start, end
    radius = width / 2
    r0, r1 = (
        max(0, int(np.floor(min(y0, y1) - radius))),
        min(ink.shape[0], int(np.ceil(max(y0, y1) + radius)) + 1),
    )
    c0, c1 = (
        max(0, int(np.floor(min(x0, x1) - radius))),
        min(ink.shape[1], int(np.ceil(max(x0, x1) + radius)) + 1),
    )
    if r0 >= r1 or c0 >= c1:
        return ink
    y = np.arange(r0, r1)[:, None] + 0.5
    x = np.arange(c0, c1)[None, :] + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / length2, 0, 1) if length2 > 0 else 0.0
    near = (x - x0 - t * dx) ** 2 + (y - y0 - t * dy) ** 2 <= radius * radius
    ink[r0:r1, c0:c1][near] = 1
    return ink


def load_lenet5(path=None):
    """LeNet-5 with the trained weights that ship with the series (``data/lenet5_mnist.npz``), or
    those saved at ``path``."""
    from .checkpoints import load_params
    from .datasets import DATA_ROOT
    from .models import LeNet5

    model = LeNet5()
    load_params(model, DATA_ROOT / "lenet5_mnist.npz" if path is None else path)
    return model


def read_digit(model, image, layers=("conv1", "conv2")):
    """Run one ``(28, 28)`` image through ``model``; return ``(probabilities, maps)``: the softmax
    of the last layer's scores ``(classes,)`` and ``{layer: (C, h, w)}`` for the named
    ``layers``."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image: expected one 2-D image (H, W), got shape {image.shape}")
    dtype = next(iter(model.params.values())).dtype
    outputs = model.activations(image.astype(dtype, copy=False)[None, None])
    unknown = [name for name in layers if name not in outputs]
    if unknown:
        raise ValueError(f"layers: unknown {unknown}; the model has {list(outputs)}")
    return softmax(list(outputs.values())[-1])[0], {name: outputs[name][0] for name in layers}


# --- the figures only the widgets draw
# --------------------------------------------------------------

# the names of a digit reading's top row of axes
READING_AXES = ("drawing", "input", "probabilities")


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
    expected = (conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad))
    if out.shape != expected:
        raise ValueError(f"out: expected shape {expected} for a {h}x{w} image, {kh}x{kw} kernel, "
                         f"stride {stride}, pad {pad}; got {out.shape}")
    i, j = position
    if not (0 <= i < out.shape[0] and 0 <= j < out.shape[1]):
        raise ValueError(f"position: expected a cell of the {out.shape[0]}x{out.shape[1]} output, "
                         f"got {position}")
    padded = np.pad(image, pad)
    window = padded[i * stride:i * stride + kh, j * stride:j * stride + kw]
    fig = Figure(figsize=(11, 3.9))
    left, win_ax, ker_ax, right = fig.subplots(
        1, 4, width_ratios=[padded.shape[1], 9, 9, out.shape[1] * 1.25]
    )
    fig.subplots_adjust(left=0.02, right=0.96, bottom=0.04, top=0.8, wspace=0.25)
    left.imshow(padded, cmap="gray_r", vmin=0, vmax=max(1.0, float(image.max())))
    if pad:
        frame = np.zeros(padded.shape + (4,))
        frame[..., :3] = 0.55
        frame[..., 3] = 0.45
        frame[pad:pad + h, pad:pad + w, 3] = 0
        left.imshow(frame)
    left.add_patch(Rectangle((j * stride - 0.5, i * stride - 0.5), kw, kh,
                             fill=False, ec=WRONG, lw=2.5))
    left.set_title(
        f"input {h}x{w}, padded to {padded.shape[0]}x{padded.shape[1]} (grey)", fontsize=10
    )
    matrix_panel(win_ax, window, f"window: padded rows {i * stride}-{i * stride + kh - 1}",
                 "{:.2f}", "Greys", False)
    matrix_panel(ker_ax, kernel, f"kernel {kh}x{kw}", "{:.3g}", DIVERGING, True)
    limit = symmetric_limit([out])
    shown = right.imshow(out, cmap=DIVERGING, vmin=-limit, vmax=limit)
    right.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=2.5))
    right.set_title(f"output {out.shape[0]}x{out.shape[1]}", fontsize=10)
    fig.colorbar(shown, ax=right, fraction=0.06, pad=0.03)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    value = float(np.sum(window * kernel) + bias)
    fig.suptitle(f"OH = (H + 2p - K) // s + 1 = ({h} + 2*{pad} - {kh}) // {stride} + 1 = "
                 f"{out.shape[0]}"
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
    return (f"{name}: {np.shape(maps)[0]} maps {np.shape(maps)[1]}x{np.shape(maps)[2]}, "
            f"one scale ±{limit:.2g}")


def plot_digit_reading(image, probabilities, maps, *, drawing=None, class_names=None, title=None):
    """What a network reads in one digit: the input (and the raw ``drawing`` it was made from), the
    class probabilities as bars (the most likely class highlighted), and each layer of ``maps`` as
    one row of channel tiles on that layer's own symmetric colour scale (red positive, blue
    negative), with its colour bar.

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
    names = (list(class_names) if class_names is not None
             else [str(k) for k in range(len(probabilities))])
    if len(names) != len(probabilities):
        raise ValueError(f"class_names: expected {len(probabilities)} names, got {len(names)}")
    for name, m in maps.items():
        if np.ndim(m) != 3:
            raise ValueError(f"maps[{name!r}]: expected (C, h, w) feature maps, got shape "
                             f"{np.shape(m)}")
    best = int(probabilities.argmax())
    heights = [1.3] + [0.55 + 0.25 * min(2, -(-np.shape(m)[0] // 8)) for m in maps.values()]
    fig = Figure(figsize=(9, 2.3 * sum(heights)))
    grid = fig.add_gridspec(1 + len(maps), 3, height_ratios=heights, width_ratios=[1, 1, 3],
                            left=0.04, right=0.97, bottom=0.03, top=0.9, hspace=0.45, wspace=0.25)
    top = [fig.add_subplot(grid[0, k], label=label) for k, label in enumerate(READING_AXES)]
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
    cmap = colormaps[DIVERGING].with_extremes(bad="white")
    for row, (name, m) in enumerate(maps.items(), start=1):
        m = np.asarray(m)[:16]
        ncols = min(8, len(m))
        limit = symmetric_limit([m])
        ax = fig.add_subplot(grid[row, :], label=f"maps: {name}")
        shown = ax.imshow(_mosaic(m, ncols), cmap=cmap, vmin=-limit, vmax=limit)
        fig.colorbar(shown, ax=ax, fraction=0.025, pad=0.01)
        for k in range(len(m)):
            r, q = divmod(k, ncols)
            ax.text(q * (m.shape[2] + 1) - 0.3, r * (m.shape[1] + 1) - 0.3, f"ch {k}",
                    fontsize=9, color="black", ha="left", va="top",
                    bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "linewidth": 0})
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_reading_title(name, maps[name], limit), fontsize=10)
        for side in ax.spines.values():
            side.set_visible(False)
    fig.suptitle(title or f"reads {names[best]} (probability "
                          f"{probabilities[best]:.2f})", fontsize=12)
    return fig


def update_digit_reading(fig, image, probabilities, maps, *, drawing=None, title=None):
    """Redraw a figure made by :func:`plot_digit_reading` in place with a new reading (same layers
    and shapes): the images, bars, colour scales and titles change, nothing is rebuilt, so a widget
    that redraws on every stroke pays only for rendering. The axes are found by the names
    :func:`plot_digit_reading` gave them (:data:`READING_AXES` and ``"maps: <layer>"``). Returns
    ``fig``."""
    image, probabilities = np.asarray(image), np.asarray(probabilities, dtype=np.float64)
    axes = {ax.get_label(): ax for ax in fig.axes}
    if not set(READING_AXES) <= set(axes):
        raise ValueError("fig: expected a figure made by plot_digit_reading, with axes "
                         f"{READING_AXES}")
    top = [axes[label] for label in READING_AXES]
    rows = [axes[f"maps: {name}"] for name in maps if f"maps: {name}" in axes]
    layers = sum(label.startswith("maps: ") for label in axes)
    if len(rows) != len(maps) or layers != len(maps) or len(top[2].patches) != len(probabilities):
        raise ValueError(
            f"maps, probabilities: expected {layers} layers and {len(top[2].patches)} classes "
            f"as when the figure was made, got {len(maps)} and {len(probabilities)}"
        )
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
            raise ValueError(f"maps[{name!r}]: expected the shape the figure was made with, got "
                             f"{np.shape(maps[name])}")
        limit = symmetric_limit([m])
        shown.set_data(tiled)
        shown.set_clim(-limit, limit)
        ax.set_title(_reading_title(name, maps[name], limit), fontsize=10)
    fig.suptitle(title or f"reads {names[best]} (probability "
                          f"{probabilities[best]:.2f})", fontsize=12)
    return fig


def drawing_figure(model, drawing):
    """What ``model`` reads in a drawing: ``(figure, probabilities)``, the figure from
    :func:`plot_digit_reading` of ``mnist_like(drawing)`` with the drawing beside it.
    Raises :class:`EmptyDrawingError` for a drawing without ink."""
    image = mnist_like(drawing)
    probabilities, maps = read_digit(model, image)
    return plot_digit_reading(image, probabilities, maps, drawing=drawing), probabilities


def _verdict(probabilities):
    best = int(np.argmax(probabilities))
    return f"LeNet-5 reads a {best} (probability {probabilities[best]:.2f})"


class ConvExplorer:
    """Sliders over one convolution of a digit: digit, kernel, stride, padding and the output cell
    whose window is highlighted. ``widget`` is the ipywidgets box; ``output`` the current output map
    ``(OH, OW)``, ``kernel`` the current 3x3 kernel, ``position`` the highlighted cell; ``figure``
    (an ipywidgets Image) shows :func:`plot_conv_window` and ``formula`` (HTML) the output size.
    Displaying the explorer shows the live widget, with a static figure of its state beside it.

    images: ``(N, H, W)`` or ``(N, 1, H, W)``; labels: ``(N,)`` or None; index: the digit shown
    first; kernel: a name of :data:`KERNELS`; stride: 1 to 3; pad: 0 to 3; position: the highlighted
    output cell ``(row, col)``, kept inside the output when it shrinks.
    """

    def __init__(self, images, labels=None, *, index=0, kernel="vertical edge (Sobel)", stride=1,
                 pad=0, position=(0, 0), dpi=72):
        import ipywidgets as w

        images = np.asarray(images)
        if images.ndim == 4 and images.shape[1] == 1:
            images = images[:, 0]
        if images.ndim != 3 or len(images) == 0:
            raise ValueError("images: expected (N, H, W) or (N, 1, H, W) with N >= 1, got shape "
                             f"{images.shape}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {list(KERNELS)}, got {kernel!r}")
        for name, value, low, high in [("index", index, 0, len(images) - 1),
                                       ("stride", stride, 1, 3),
                                       ("pad", pad, 0, 3)]:
            if not low <= value <= high:
                raise ValueError(f"{name}: expected an int from {low} to {high}, got {value}")
        self.images = images.astype(np.float32, copy=False)
        self.labels = None if labels is None else np.asarray(labels)
        self.dpi = dpi
        self._busy = False
        small, wide = w.Layout(width="250px"), {"description_width": "75px"}
        self.digit = w.IntSlider(index, 0, len(images) - 1, description="digit",
                                 layout=small, style=wide)
        self.kernel_name = w.Dropdown(options=list(KERNELS) + [CUSTOM],
                                      value=kernel, description="kernel",
                                      layout=small, style=wide)
        self.weights = [w.FloatSlider(float(KERNELS[kernel][r, c]), min=-3, max=3,
                                      step=0.1, readout_format=".2f",
                                      description=f"w[{r},{c}]", continuous_update=False,
                                      layout=w.Layout(width="180px"),
                                      style={"description_width": "40px"})
                        for r in range(3) for c in range(3)]
        self.stride = w.IntSlider(stride, 1, 3, description="stride", layout=small, style=wide)
        self.pad = w.IntSlider(pad, 0, 3, description="padding", layout=small, style=wide)
        self.row = w.IntSlider(position[0], 0, 100, description="output row",
                               layout=small, style=wide)
        self.col = w.IntSlider(position[1], 0, 100, description="output col",
                               layout=small, style=wide)
        self.formula = w.HTML()
        self.figure = w.Image(format="png")
        for widget, name in [(self.digit, "digit"),
                             (self.kernel_name, "kernel"), (self.stride, "stride"),
                             (self.pad, "pad"), (self.row, "row"), (self.col, "col"),
                             (self.formula, "formula"),
                             (self.figure, "figure")]:
            widget.add_class(f"cnnlib-conv-{name}")
        for slider in self.weights:
            slider.add_class("cnnlib-conv-weight")
        controls = w.HBox([w.VBox([self.digit, self.kernel_name, self.stride,
                                   self.pad, self.row, self.col]),
                           w.GridBox(self.weights,
                                     layout=w.Layout(grid_template_columns="repeat(3, 185px)"))])
        self.widget = w.VBox([controls, self.formula, self.figure])
        self.widget.add_class("cnnlib-conv-explorer")
        for widget in (self.digit, self.stride, self.pad, self.row, self.col):
            widget.observe(self.update, names="value")
        self.kernel_name.observe(self._kernel_chosen, names="value")
        for slider in self.weights:
            slider.observe(self._weight_moved, names="value")
        self._kernel = KERNELS[kernel].copy()
        self.update()

    @property
    def kernel(self):
        """The current 3x3 kernel (float32)."""
        return self._kernel.copy()

    def _kernel_chosen(self, change):
        if self._busy or change["new"] == CUSTOM:
            return
        self._kernel = KERNELS[change["new"]].copy()
        self._busy = True
        try:
            for slider, value in zip(self.weights, self._kernel.ravel()):
                slider.value = float(value)
        finally:
            self._busy = False
        self.update()

    def _weight_moved(self, change):
        if self._busy:
            return
        self._kernel = np.array([s.value for s in self.weights], dtype=np.float32).reshape(3, 3)
        self._busy = True
        try:
            self.kernel_name.value = CUSTOM
        finally:
            self._busy = False
        self.update()

    def update(self, change=None):
        """Recompute the output map and redraw (every control calls this when it changes)."""
        if self._busy:
            return
        self._busy = True
        try:
            image, stride, pad = self.images[self.digit.value], self.stride.value, self.pad.value
            oh, ow = (conv_output_size(n, 3, stride, pad) for n in image.shape)
            self.row.max, self.col.max = oh - 1, ow - 1
            out, _ = conv2d_forward(image[None, None], self._kernel[None, None],
                                    np.zeros(1, np.float32), stride, pad)
            self.output = out[0, 0]
            self.position = (self.row.value, self.col.value)
            fig = plot_conv_window(image, self._kernel, self.output, stride=stride, pad=pad,
                                       position=self.position)
            self.figure.value = _png(fig, self.dpi)
            h = image.shape[0]
            self.formula.value = (f"output size: OH = (H + 2p - K) // s + 1 = ({h} + 2*{pad} - 3) "
                                  f"// {stride} + 1 "
                                  f"= <b>{oh}</b>, so the output map is <b>{oh}x{ow}</b>; "
                                  f"out[{self.position[0]}, "
                                  f"{self.position[1]}] = <b>{self.output[self.position]:.2f}</b>")
        finally:
            self._busy = False

    def describe(self):
        """One line naming the current settings and the output size."""
        label = "" if self.labels is None else f" (a {self.labels[self.digit.value]})"
        oh, ow = self.output.shape
        return (f"digit {self.digit.value}{label}, kernel {self.kernel_name.value}, stride "
                f"{self.stride.value}, "
                f"padding {self.pad.value} -> output {oh}x{ow}, out[{self.position[0]}, "
                f"{self.position[1]}] = {self.output[self.position]:.2f}")

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self.figure.value).decode("ascii")
        bundle["text/plain"] = ("A convolution explorer (digit, kernel, stride, padding, output "
                                f"cell): run the notebook to use it. Stored: {self.describe()}.")
        return bundle


class DrawDigit:
    """A canvas to draw a digit on with the mouse, and LeNet-5's reading of it, redrawn whenever a
    stroke ends: class probabilities and conv1 / conv2 feature maps; a Clear button wipes the
    canvas.

    model: a trained LeNet-5 (default: the shipped weights, :func:`load_lenet5`). ``ink`` ``(size,
    size)`` holds the drawing (1 where drawn) for :func:`mnist_like`. The handlers ``pen_down``,
    ``pen_move`` and ``pen_up`` take canvas points ``(x, y)``; ``clear`` wipes. Displayed, the
    widget carries a static figure of LeNet-5 reading :data:`EXAMPLE_STROKES` beside the live
    canvas.
    """

    def __init__(self, model=None, *, size=280, line_width=20, dpi=72):
        import ipywidgets as w
        from ipycanvas import Canvas

        self.model = load_lenet5() if model is None else model
        self.line_width, self.dpi = line_width, dpi
        self.ink = np.zeros((size, size), dtype=np.float32)
        self.probabilities = None
        self._last = None
        self._figure = None  # made at the first reading, then redrawn in place
        self.canvas = Canvas(
            width=size,
            height=size,
            layout=w.Layout(width=f"{size}px", height=f"{size}px", border="1px solid #888"),
        )
        self.canvas.add_class("cnnlib-draw-canvas")
        self.clear_button = w.Button(description="Clear", tooltip="wipe the canvas")
        self.clear_button.add_class("cnnlib-draw-clear")
        self.message = w.HTML(EMPTY_MESSAGE)
        self.message.add_class("cnnlib-draw-prediction")
        self.figure = w.Image(format="png", layout=w.Layout(display="none"))
        self.figure.add_class("cnnlib-draw-figure")
        self.widget = w.HBox([w.VBox([self.canvas, self.clear_button, self.message],
                                     layout=w.Layout(width=f"{size + 20}px")), self.figure])
        self.widget.add_class("cnnlib-draw-digit")
        self._paper()
        self.canvas.on_mouse_down(self.pen_down)
        self.canvas.on_mouse_move(self.pen_move)
        self.canvas.on_mouse_up(self.pen_up)
        self.canvas.on_mouse_out(self.pen_up)
        self.canvas.on_touch_start(lambda touches: self.pen_down(*touches[0]) if touches else None)
        self.canvas.on_touch_move(lambda touches: self.pen_move(*touches[0]) if touches else None)
        self.canvas.on_touch_end(lambda touches: self.pen_up())
        self.clear_button.on_click(lambda button: self.clear())
        example = np.zeros_like(self.ink)
        for stroke in EXAMPLE_STROKES:
            for start, end in zip(stroke[:-1], stroke[1:]):
                draw_line(example, start, end, line_width)
        fig, probabilities = drawing_figure(self.model, example)
        # the stored view is read without a kernel: drawn larger than the live one (which redraws
        # on every stroke), so that its channel labels and colour bars are legible
        self._example_png, self._example_text = _png(fig, max(dpi, 110)), _verdict(probabilities)

    def _paper(self):
        self.canvas.clear()
        self.canvas.fill_style = "white"
        self.canvas.fill_rect(0, 0, self.canvas.width, self.canvas.height)
        self.canvas.stroke_style = self.canvas.fill_style = "black"
        self.canvas.line_width = self.line_width
        self.canvas.line_cap = self.canvas.line_join = "round"

    def pen_down(self, x, y):
        """Start a stroke at canvas point ``(x, y)`` (a dot until the pen moves)."""
        self._last = (x, y)
        self.canvas.fill_circle(x, y, self.line_width / 2)
        draw_line(self.ink, (x, y), (x, y), self.line_width)

    def pen_move(self, x, y):
        """Continue the stroke to ``(x, y)``; a move without the pen down draws nothing."""
        if self._last is None:
            return
        self.canvas.stroke_line(*self._last, x, y)
        draw_line(self.ink, self._last, (x, y), self.line_width)
        self._last = (x, y)

    def pen_up(self, x=None, y=None):
        """End the stroke (at ``(x, y)`` when given) and show what LeNet-5 reads in the drawing."""
        if self._last is None:
            return
        if x is not None:
            self.pen_move(x, y)
        self._last = None
        self.update()

    def clear(self):
        """Wipe the canvas and the reading."""
        self.ink[:] = 0
        self._last = None
        self._paper()
        self.update()

    def update(self):
        """Read the drawing and redraw the figure; an empty canvas shows :data:`EMPTY_MESSAGE`."""
        try:
            image = mnist_like(self.ink)
        except EmptyDrawingError:
            self.probabilities = None
            self.message.value = EMPTY_MESSAGE
            self.figure.layout.display = "none"
            return
        probabilities, maps = read_digit(self.model, image)
        if self._figure is None:
            self._figure = plot_digit_reading(image, probabilities, maps, drawing=self.ink)
        else:
            update_digit_reading(self._figure, image, probabilities, maps, drawing=self.ink)
        self.probabilities = probabilities
        self.figure.value = _png(self._figure, self.dpi)
        self.figure.layout.display = None
        self.message.value = f"<b>{_verdict(probabilities)}</b>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self._example_png).decode("ascii")
        bundle["text/plain"] = ("A canvas to draw a digit on: run the notebook to draw; LeNet-5 "
                                "reads the drawing "
                                f"when a stroke ends. Stored: a pre-drawn 7; {self._example_text}.")
        return bundle
