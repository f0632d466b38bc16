"""Convolution geometry: small matrices with their values, im2col windows, stride and padding on
grids, the full convolution of backprop, sums over channels, receptive fields; and computational
graphs (notebook 01).
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from .._checks import positive_int
from ..conv import conv_output_size, im2col
from ._base import DIVERGING, WRONG, as_images, matrix_panel, symmetric_limit
from .maps import SEQUENTIAL


def plot_matrices(matrices, *, fmt="{:g}", cmap=DIVERGING, symmetric=True):
    """Small 2-D arrays side by side, each value written in its cell; ``matrices`` maps a title to
    an array.

    With ``symmetric`` each panel's colours are centred on zero (red positive, blue negative).
    """
    if not matrices:
        raise ValueError("matrices: expected at least one {title: 2-D array}")
    for title, matrix in matrices.items():
        if np.ndim(matrix) != 2:
            raise ValueError(f"matrices[{title!r}]: expected a 2-D array, got shape "
                             f"{np.shape(matrix)}")
    widths = [max(np.shape(m)[1], 2) for m in matrices.values()]
    height = max(np.shape(m)[0] for m in matrices.values())
    fig = Figure(figsize=(0.45 * sum(widths) + 0.6 * len(widths), 0.45 * height + 0.8),
                 layout="constrained")
    axes = fig.subplots(1, len(matrices), squeeze=False, width_ratios=widths)[0]
    for ax, (title, matrix) in zip(axes, matrices.items()):
        matrix_panel(ax, np.asarray(matrix), title, fmt, cmap, symmetric)
    return fig



def plot_im2col(image, kh, kw, stride=1):
    """How im2col works on one small 2-D image: the image with its windows outlined (the first one
    coloured), and the matrix whose row r is window r laid out flat."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image: expected a small 2-D array (H, W), got shape {image.shape}")
    cols = im2col(image[None, None], kh, kw, stride)
    oh = conv_output_size(image.shape[0], kh, stride)
    fig = Figure(figsize=(0.45 * (image.shape[1] + kh * kw) + 2,
                          0.45 * max(image.shape[0], len(cols)) + 1),
                 layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[image.shape[1], kh * kw])
    matrix_panel(left, image,
                 f"image {image.shape[0]}x{image.shape[1]}, {kh}x{kw} windows, stride {stride}",
                 "{:g}", "Greys", False)
    colours = [f"C{k % 10}" for k in range(len(cols))]
    for row in range(len(cols)):
        i, j = divmod(row, len(cols) // oh)
        left.add_patch(Rectangle((j * stride - 0.45, i * stride - 0.45), kw - 0.1, kh - 0.1,
                                 fill=False, ec=colours[row], lw=2.5 if row == 0 else 1,
                                 ls="-" if row == 0 else ":"))
    matrix_panel(right, cols, f"im2col: {cols.shape[0]} windows x {cols.shape[1]} values", "{:g}",
                 "Greys", False)
    for row in range(len(cols)):
        right.add_patch(Rectangle((-0.5, row - 0.5), kh * kw, 1, fill=False, ec=colours[row],
                                  lw=1.5))
    return fig



def plot_conv_geometry(configs):
    """Stride, padding and receptive field on square grids, one row per
    ``(size, kernel, stride, pad)``: the padded input (padding cells grey) with the windows of the
    first two outputs of the top row and the first of the second row outlined, and the output grid
    with those outputs in the same colours."""
    configs = [tuple(c) for c in configs]
    if not configs or any(len(c) != 4 for c in configs):
        raise ValueError(f"configs: expected (size, kernel, stride, pad) tuples, got {configs}")
    fig = Figure(figsize=(8, 3.2 * len(configs)), layout="constrained")
    axes = fig.subplots(len(configs), 2, squeeze=False, width_ratios=[3, 2])
    for (size, kernel, stride, pad), (left, right) in zip(configs, axes):
        try:
            out = conv_output_size(size, kernel, stride, pad)
        except ValueError:
            raise ValueError(f"configs: kernel {kernel} does not fit size {size} with pad "
                             f"{pad}") from None
        full = size + 2 * pad
        grid = np.zeros((full, full))
        grid[pad:pad + size, pad:pad + size] = 1
        left.imshow(grid, cmap="Greys_r", vmin=-0.6, vmax=1)
        picks = [(0, 0), (0, 1), (1, 0)][:min(3, out * out)]
        for k, (i, j) in enumerate(picks):
            # on the grid lines; where outlines coincide, the later (thinner, dashed) one stays
            # visible
            corner = (j * stride - 0.5, i * stride - 0.5)
            left.add_patch(Rectangle(corner, kernel, kernel, color=f"C{k}", alpha=0.18))
            left.add_patch(Rectangle(corner, kernel, kernel, fill=False, ec=f"C{k}",
                                     lw=(4, 2.5, 2)[k], ls=("-", "--", ":")[k], zorder=3 + k,
                                     clip_on=False))
        left.set_title(f"input {size}x{size}, pad {pad} (grey), {kernel}x{kernel} windows, "
                       f"stride {stride}", fontsize=10)
        right.imshow(np.ones((out, out)), cmap="Greys", vmin=0, vmax=4)
        for k, (i, j) in enumerate(picks):
            right.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=f"C{k}", alpha=0.7))
        right.set_title(f"output {out}x{out} = ({size} + 2*{pad} - {kernel}) // {stride} + 1",
                        fontsize=10)
        for ax, n in ((left, full), (right, out)):
            ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
            ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
            ax.grid(which="minor", color="0.6", lw=0.5)
            ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    return fig



def plot_full_convolution(delta, kernel, stride=1, window=(0, 0)):
    """The input gradient of a 1-channel convolution as a *full* convolution, in four panels: the
    kernel w, w rotated by 180°, the upstream gradient ``delta`` dilated by ``stride``
    (``stride - 1`` zeros between entries) and zero-padded by ``K - 1`` on every side with one
    ``K x K`` window of the rotated kernel outlined, and the result dx, where that window's sum of
    products lands (outlined in the same colour). ``delta`` is ``(OH, OW)``, ``kernel``
    ``(KH, KW)``; ``window = (p, q)`` picks the window, i.e. the entry ``dx[p, q]``. dx has
    ``(OH - 1) * stride + KH`` rows (columns likewise): the input rows that some window read.
    """
    delta, kernel = np.asarray(delta, dtype=float), np.asarray(kernel, dtype=float)
    for name, array in (("delta", delta), ("kernel", kernel)):
        if array.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (one channel), got shape {array.shape}")
    positive_int("stride", stride)
    (oh, ow), (kh, kw) = delta.shape, kernel.shape
    dilated = np.zeros(((oh - 1) * stride + 1, (ow - 1) * stride + 1))
    dilated[::stride, ::stride] = delta
    padded = np.pad(dilated, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    rotated = kernel[::-1, ::-1]
    height, width = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    p, q = window
    if not (0 <= p < height and 0 <= q < width):
        raise ValueError(f"window: expected (p, q) with 0 <= p < {height} and 0 <= q < {width}, "
                         f"got {window}")
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
        matrix_panel(ax, matrix, title, "{:g}", DIVERGING, True)
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



def plot_conv_sum(inputs, kernels, contributions, output, *, input_label="input",
                  output_label="output", title=None):
    """How one output channel of a convolution adds up its input channels.

    inputs ``(C, H, W)``: the input maps; kernels ``(C, KH, KW)``: the filter's slice for each;
    contributions ``(C, OH, OW)``: each input map convolved with its slice; output ``(OH, OW)``:
    their sum plus the bias. Panels are titled "<input_label> ch c", "weights c", "from ch c" and
    "= <output_label>". Three rows (inputs, kernels, contributions), each on its own colour
    scale with a colour bar: symmetric, red-blue, except for inputs that are all >= 0 (ReLU or
    pooling maps), drawn white at 0 to dark red at their largest value; the contributions share
    their scale with the output, drawn last.
    """
    inputs, kernels = np.asarray(inputs), np.asarray(kernels)
    contributions, output = np.asarray(contributions), np.asarray(output)
    if inputs.ndim != 3 or kernels.ndim != 3 or contributions.ndim != 3 or output.ndim != 2:
        raise ValueError(f"expected inputs (C, H, W), kernels (C, KH, KW), contributions "
                         f"(C, OH, OW) and output (OH, OW), got shapes {inputs.shape}, "
                         f"{kernels.shape}, {contributions.shape}, {output.shape}")
    if (not len(inputs) == len(kernels) == len(contributions)
            or contributions.shape[1:] != output.shape):
        raise ValueError(f"expected one kernel and one contribution per input channel and "
                         f"contributions shaped like the output, got shapes {inputs.shape}, "
                         f"{kernels.shape}, {contributions.shape}, {output.shape}")
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
        limit = symmetric_limit([arrays] + ([output] if r == 2 else []))
        cmap, low = (SEQUENTIAL, 0.0) if r == 0 and inputs.min() >= 0 else (DIVERGING, -limit)
        for c in range(n):
            shown = axes[r, c].imshow(arrays[c], cmap=cmap, vmin=low, vmax=limit)
            axes[r, c].set_title(label.format(c), fontsize=10)
        if r == 2:
            axes[r, n].imshow(output, cmap=DIVERGING, vmin=-limit, vmax=limit)
            axes[r, n].set_title(f"= {output_label}", fontsize=10)
        fig.colorbar(shown, ax=axes[r, :], shrink=0.9, label=bar)
    if title:
        fig.suptitle(title)
    return fig



def plot_receptive_field(image, fields, *, title=None):
    """One grey image with nested squares: ``fields`` maps a label to ``(top, left, size)`` in
    pixels.

    Each square outlines the input pixels that one unit of a layer can see (its receptive field);
    squares may reach past the image edge, into the zero padding. Nested fields often share an
    edge (a pooling unit's field starts where its first input's does), so squares are drawn from
    the largest down, alternately solid and dashed, each over the larger ones: on a shared edge
    both colours show.
    """
    image = as_images(np.asarray(image)[None])[0]
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



def _layered_positions(edges):
    """x = depth (longest path from a source; a source sits just left of its first target), y spread
    per column."""
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
    """Draw a small computational graph with forward values above each edge and gradients below
    (in red).

    edges: ``(source, target, value, gradient)`` tuples; ``gradient`` may be None before the
    backward pass. Nodes with incoming edges are operations drawn as circles (label them with
    ``labels``, e.g. ``{"mul1": "×"}``); nodes without incoming edges are inputs, and the last
    node is the output.
    Each arrow runs from the edge of its source's box or circle to the edge of its target's; the
    numbers sit on either side of the arrow, near its source, where converging arrows lie apart.
    """
    if not edges:
        raise ValueError("edges: expected at least one (source, target, value, gradient) edge")
    for edge in edges:
        if len(edge) != 4:
            raise ValueError(f"edges: each edge must be (source, target, value, gradient), "
                             f"got {edge!r}")
    labels = labels or {}
    layered, parents = _layered_positions(edges)
    positions = {node: (_GRAPH_DX * x, y) for node, (x, y) in layered.items()}
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    low_x, high_x = min(xs) - _GRAPH_DX / 2 - 0.2, max(xs) + _GRAPH_DX / 2 + 0.2
    low_y, high_y = min(ys) - 0.55, max(ys) + 0.55
    inches = min(1.25, _GRAPH_MAX_WIDTH / (high_x - low_x))  # per unit; a wide graph is scaled down
    fig = Figure(figsize=(inches * (high_x - low_x), inches * (high_y - low_y) + 0.5),
                 layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_aspect("equal")
    sinks = {e[1] for e in edges} - {e[0] for e in edges}
    operations = {node for node in positions if parents[node] and node not in sinks}
    box = dict(boxstyle="round,pad=0.3", fc="#f3f3f3", ec="grey")
    for node, (x, y) in positions.items():
        text = labels.get(node, node)
        if node in operations:
            ax.add_patch(Circle((x, y), _GRAPH_RADIUS, fc="white", ec="black", lw=1.5, zorder=3))
            ax.text(x, y, text, ha="center", va="center", fontsize=14, zorder=4)
        elif parents[node]:           # the output: its box starts where the arrows end
            ax.text(x - _GRAPH_HALF_BOX, y, text, ha="left", va="center", fontsize=10, zorder=3,
                    bbox=box)
        else:                         # an input: its box ends where its arrows start
            ax.text(x + _GRAPH_HALF_BOX, y, text, ha="right", va="center", fontsize=10, zorder=3,
                    bbox=box)
    for source, target, value, grad in edges:
        start, end = np.array(positions[source], float), np.array(positions[target], float)
        unit = (end - start) / np.hypot(*(end - start))
        start = start + unit * (_GRAPH_RADIUS if source in operations else 0)
        if source not in operations:
            start[0] += _GRAPH_HALF_BOX + 0.12
        end = end - unit * (_GRAPH_RADIUS if target in operations else 0)
        if target not in operations:
            end[0] -= _GRAPH_HALF_BOX + 0.12
        ax.annotate("", xy=tuple(end), xytext=tuple(start), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="black", lw=1.2, shrinkA=0, shrinkB=0,
                                    mutation_scale=14))
        unit = (end - start) / np.hypot(*(end - start))
        normal = np.array([-unit[1], unit[0]])             # the left side of the arrow: "above"
        at = start + 0.42 * (end - start)
        for sign, number, colour in [(1, value, "black"), (-1, grad, WRONG)]:
            if number is None:
                continue
            ax.text(*(at + sign * 0.13 * normal), _number(number), fontsize=10, color=colour,
                    ha="center", va="center", rotation=np.degrees(np.arctan2(unit[1], unit[0])),
                    rotation_mode="anchor", zorder=3,
                    bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none"))
    ax.set_xlim(low_x, high_x)
    ax.set_ylim(low_y, high_y)
    ax.set_title(title or "forward values (black, above each arrow) and gradients (red, below)")
    return fig


_GRAPH_DX = 2.2          # data units between columns (one unit between rows)
_GRAPH_MAX_WIDTH = 12.0   # inches: about 1,200 px, shown at 0.7 or more in a 1,280 px JupyterLab
_GRAPH_RADIUS = 0.2      # an operation's circle
_GRAPH_HALF_BOX = 0.45   # inputs end, the output starts, this far from their column



def _number(value):
    value = float(value)
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
