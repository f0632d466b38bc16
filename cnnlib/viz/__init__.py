"""Every figure of the series, one module per kind of figure. Each function takes the data it draws
and returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing stays open and a
notebook shows it once. Every figure is importable from here (``cnnlib.viz.plot_images``):

* :mod:`~cnnlib.viz.images`: images and predictions (grids, misclassified examples, confusion
  matrix);
* :mod:`~cnnlib.viz.curves`: training histories and other curves;
* :mod:`~cnnlib.viz.geometry`: convolution geometry (im2col, stride and padding, the full
  convolution, receptive fields) and computational graphs;
* :mod:`~cnnlib.viz.maps`: filters and feature maps;
* :mod:`~cnnlib.viz.interpretation`: saliency, occlusion, adversarial examples;
* :mod:`~cnnlib.viz.timings`: measured times as bars (the appendix on making numpy fast).

The figures only the widgets draw (the convolution explorer's window, the digit reading) live in
:mod:`cnnlib.widgets`.
"""

from ._base import DIVERGING, WRONG
from .curves import (
    plot_accuracy_curves,
    plot_activation_histograms,
    plot_curve_panels,
    plot_curves,
    plot_gradient_norms,
    plot_histories,
    plot_history,
    plot_search,
    plot_train_val_gap,
    plot_trajectories,
)
from .geometry import (
    draw_graph,
    plot_conv_geometry,
    plot_conv_sum,
    plot_full_convolution,
    plot_im2col,
    plot_matrices,
    plot_receptive_field,
)
from .images import plot_confusion_matrix, plot_images, plot_misclassified
from .interpretation import plot_adversarial, plot_occlusion, plot_saliency
from .maps import (
    plot_feature_maps,
    plot_filter_sets,
    plot_filters,
    plot_maps,
    plot_where_it_fires,
)
from .timings import plot_time_bars

__all__ = ["WRONG", "DIVERGING", "interact_index",
           "plot_images", "plot_misclassified", "plot_confusion_matrix",
           "plot_history", "plot_curves", "plot_curve_panels", "plot_accuracy_curves",
           "plot_activation_histograms",
           "plot_trajectories", "plot_histories", "plot_train_val_gap", "plot_gradient_norms",
           "plot_search",
           "plot_matrices", "plot_im2col", "plot_conv_geometry", "plot_full_convolution",
           "plot_conv_sum",
           "plot_receptive_field", "draw_graph",
           "plot_filters", "plot_feature_maps", "plot_filter_sets", "plot_where_it_fires",
           "plot_maps",
           "plot_saliency", "plot_occlusion", "plot_adversarial",
           "plot_time_bars"]


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

    return ipywidgets.interactive(show, i=ipywidgets.IntSlider(0, 0, count - 1,
                                                               description=description))
