import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlib.viz import plot_gradient_norms


def test_plot_gradient_norms_draws_one_line_per_network():
    fig = plot_gradient_norms({"plain": {"a": 1e-3, "b": 1e-2, "c": 0.1},
                               "residual": {"a": 0.1, "b": 0.1, "c": 0.2}})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["plain", "residual"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("norms, message", [
    ({}, "expected at least one"),
    ({"plain": {}}, "expected positive norms"),
    ({"plain": {"a": 0.0}}, "expected positive norms"),
])
def test_plot_gradient_norms_rejects_bad_input(norms, message):
    with pytest.raises(ValueError, match=message):
        plot_gradient_norms(norms)
