import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import viz  # noqa: E402
from cnnlib.conv import conv2d_backward_naive  # noqa: E402


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a viz function left a figure open in pyplot"


def _values(ax):
    """The numbers written in a matrix panel's cells, in row-major order (not the ×w labels)."""
    return [float(t.get_text()) for t in ax.texts if not t.get_text().startswith("×")]


@pytest.mark.parametrize("stride, kernel_shape", [(1, (3, 3)), (2, (3, 3)), (3, (2, 3))])
def test_plot_full_convolution_draws_the_input_gradient(stride, kernel_shape):
    rng = np.random.default_rng(0)
    delta = rng.integers(-3, 4, (3, 2)).astype(float)
    kernel = rng.integers(-4, 5, kernel_shape).astype(float)
    fig = viz.plot_full_convolution(delta, kernel, stride=stride, window=(1, 1))
    assert isinstance(fig, Figure)
    w_ax, rot_ax, padded_ax, dx_ax = fig.axes
    kh, kw = kernel_shape
    x = np.zeros((1, 1, (3 - 1) * stride + kh, (2 - 1) * stride + kw))   # every input row is read
    dx = conv2d_backward_naive(delta[None, None], x, kernel[None, None], stride=stride)[0][0, 0]
    assert _values(dx_ax) == dx.ravel().tolist()
    assert _values(w_ax) == kernel.ravel().tolist()
    assert _values(rot_ax) == kernel[::-1, ::-1].ravel().tolist()
    padded = np.array(_values(padded_ax)).reshape(dx.shape[0] + kh - 1, dx.shape[1] + kw - 1)
    assert np.array_equal(padded[kh - 1:1 - kh, kw - 1:1 - kw][::stride, ::stride], delta)
    assert np.count_nonzero(padded) == np.count_nonzero(delta)        # zeros everywhere else
    assert ("dilated by stride" in padded_ax.get_title()) == (stride > 1)
    # the highlighted window carries the rotated kernel's weights; its output cell is outlined too
    labels = [t.get_text() for t in padded_ax.texts if t.get_text().startswith("×")]
    assert labels == [f"×{v:g}" for v in kernel[::-1, ::-1].ravel()]
    assert len(padded_ax.patches) == 2 and len(dx_ax.patches) == 1
    assert dx_ax.get_xlabel().startswith("dx[1,1] = ")
    assert dx_ax.get_xlabel().split("\n")[0].endswith(f"= {dx[1, 1]:g}")


def test_plot_full_convolution_window_products_and_errors():
    fig = viz.plot_full_convolution(np.array([[2.0, 1.0], [-2.0, 0.0]]), np.arange(1, 10).reshape(3, 3),
                                    window=(1, 0))
    assert fig.axes[3].get_xlabel().split("\n")[0] == "dx[1,0] = (2)×4 + (-2)×1 = 6"
    corner = viz.plot_full_convolution(np.ones((2, 2)), np.ones((2, 2)), window=(0, 2))
    assert corner.axes[3].get_xlabel().startswith("dx[0,2] = (1)×1 = 1")
    with pytest.raises(ValueError, match="delta: expected a 2-D array"):
        viz.plot_full_convolution(np.zeros((1, 3, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="kernel: expected a 2-D array"):
        viz.plot_full_convolution(np.zeros((3, 3)), np.ones(2))
    with pytest.raises(ValueError, match="stride: expected a positive integer"):
        viz.plot_full_convolution(np.zeros((3, 3)), np.ones((2, 2)), stride=0)
    with pytest.raises(ValueError, match=r"window: expected \(p, q\) with 0 <= p < 4"):
        viz.plot_full_convolution(np.zeros((3, 3)), np.ones((2, 2)), window=(4, 0))
