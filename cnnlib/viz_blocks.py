"""Figures of notebook 11 (modern building blocks). Like :mod:`cnnlib.viz`, each function takes the
data it draws and returns a ``matplotlib.figure.Figure`` built without pyplot."""

import numpy as np
from matplotlib.figure import Figure


def plot_gradient_norms(norms, *, title=None):
    """The gradient norm of each layer's weights, layer by layer from the input, for several networks.

    norms: ``{label: {layer name: norm}}`` (e.g. ``{"plain": {...}, "residual": {...}}``), each
    inner dict in order from the first layer to the last; the x axis is the layer's depth (1 = first)
    and the y axis is logarithmic, so a factor lost per layer shows as a straight slope.
    """
    if not norms:
        raise ValueError("norms: expected at least one {label: {layer name: norm}}")
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    for label, values in norms.items():
        values = np.asarray(list(values.values()), dtype=np.float64)
        if values.ndim != 1 or not len(values) or np.any(values <= 0):
            raise ValueError(f"norms[{label!r}]: expected positive norms, one per layer, "
                             f"got {values}")
        ax.plot(np.arange(1, len(values) + 1), values, "o-", label=label)
    ax.set(xlabel="layer (1 = next to the input)", ylabel="gradient norm ||dL/dW||", yscale="log",
           title=title or "gradient norm per layer at initialisation")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return fig
