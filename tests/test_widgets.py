"""cnnlib.widgets: the MNIST recipe for a drawing, and both widgets driven without a browser (their
handlers called as the front end would call them)."""

import base64

import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlib import widgets
from cnnlib.conv import conv2d_forward_naive

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lenet():
    return widgets.load_lenet5()


@pytest.fixture(scope="module")
def digits(mnist):
    _, (x_test, y_test) = mnist
    return x_test[:200, 0], y_test[:200]


def _centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


def _bounding_box(image):
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _stroke(ink, points, width=20):
    for start, end in zip(points[:-1], points[1:]):
        widgets.draw_line(ink, start, end, width)
    return ink


@pytest.mark.parametrize("points", [
    [(20, 20), (120, 20), (20, 110)],                 # a small 7-like hook in the top-left corner
    [(240, 30), (250, 260)],                          # a long thin line near the right edge
    [(60, 200), (200, 200), (200, 240), (60, 240)],   # a wide, flat shape near the bottom
])
def test_a_drawn_shape_is_scaled_and_centred_like_mnist(points):
    image = widgets.mnist_like(_stroke(np.zeros((280, 280), np.float32), points))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() == pytest.approx(1.0)
    height, width = _bounding_box(image > 0)
    assert max(height, width) == 20 and min(height, width) >= 1, (height, width)
    row, col = _centre_of_mass(image)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1, (row, col)


def test_the_aspect_ratio_is_kept():
    ink = np.zeros((300, 300))
    ink[50:250, 100:150] = 3.0                       # a 200x50 bar of strong ink
    image = widgets.mnist_like(ink)
    assert _bounding_box(image > 0) == (20, 5)
    assert image.max() == pytest.approx(1.0)


def test_mnist_digits_keep_their_class_through_the_recipe(lenet, digits):
    # MNIST's own digits, enlarged 10x as if drawn on the canvas, come back as digits LeNet-5 reads
    x, y = digits
    recovered = np.stack([widgets.mnist_like(np.kron(d, np.ones((10, 10)))) for d in x[:100]])
    assert np.abs(recovered - x[:100]).mean() < 0.1
    preds = [int(np.argmax(widgets.read_digit(lenet, im)[0])) for im in recovered]
    assert np.mean(np.array(preds) == y[:100]) >= 0.97


@pytest.mark.parametrize("ink", [np.zeros((280, 280)), -np.ones((10, 10))])
def test_an_empty_canvas_gives_a_message_not_a_prediction(ink):
    with pytest.raises(
        widgets.EmptyDrawingError,
        match=r"image: no ink \(no value above 0\)\. The canvas is empty: draw a digit",
    ):
        widgets.mnist_like(ink)
    assert issubclass(widgets.EmptyDrawingError, ValueError)


def test_mnist_like_rejects_bad_input():
    with pytest.raises(ValueError, match=r"image: expected a non-empty 2-D array \(H, W\), got "
                                         r"shape \(1, 28, 28\)"):
        widgets.mnist_like(np.ones((1, 28, 28)))
    with pytest.raises(ValueError, match="image: expected finite values"):
        widgets.mnist_like(np.full((5, 5), np.nan))
    with pytest.raises(TypeError, match="image: expected a 2-D array of numbers, got str"):
        widgets.mnist_like("digit")


def test_resize_area_averages_blocks_and_keeps_the_mean():
    image = np.arange(36.0).reshape(6, 6)
    halved = widgets.resize_area(image, (3, 3))
    assert np.allclose(halved, image.reshape(3, 2, 3, 2).mean(axis=(1, 3)))
    odd = widgets.resize_area(np.random.default_rng(0).random((7, 11)), (3, 4))
    assert odd.shape == (3, 4)
    assert np.isclose(odd.mean(), widgets.resize_area(odd, (1, 1))[0, 0])
    with pytest.raises(ValueError, match="shape: expected two positive sizes"):
        widgets.resize_area(image, (0, 3))


def test_draw_line_covers_the_segment_and_a_dot():
    ink = widgets.draw_line(np.zeros((20, 20)), (2.0, 10.0), (17.0, 10.0), 4)
    assert ink[8:12, 2:18].all() and not ink[:7].any() and not ink[14:].any()
    dot = widgets.draw_line(np.zeros((20, 20)), (5.0, 5.0), (5.0, 5.0), 4)
    assert dot[3:7, 3:7].sum() >= 12 and dot.sum() == dot[2:8, 2:8].sum()
    outside = widgets.draw_line(np.zeros((20, 20)), (-30.0, -30.0), (-25.0, -30.0), 4)
    assert not outside.any()


def _event(canvas, kind, x, y):
    """What the browser sends when the mouse does something on the canvas."""
    canvas._handle_frontend_event(canvas, {"event": kind, "x": x, "y": y}, [])


def test_a_vertical_line_drawn_with_the_mouse_reads_as_a_one(lenet):
    pad = widgets.DrawDigit(lenet)
    assert pad.message.value == widgets.EMPTY_MESSAGE and pad.figure.layout.display == "none"
    _event(pad.canvas, "mouse_move", 140, 30)  # moving without the button: no ink
    assert not pad.ink.any()
    _event(pad.canvas, "mouse_down", 140, 40)
    for y in range(50, 250, 10):
        _event(pad.canvas, "mouse_move", 141, y)
    assert pad.probabilities is None, "the reading waits for the end of the stroke"
    _event(pad.canvas, "mouse_up", 141, 250)
    assert int(np.argmax(pad.probabilities)) == 1 and pad.probabilities[1] > 0.9
    assert "reads a 1" in pad.message.value
    assert bytes(pad.figure.value).startswith(PNG) and pad.figure.layout.display is None
    pad.clear_button.click()
    assert not pad.ink.any() and pad.probabilities is None
    assert pad.message.value == widgets.EMPTY_MESSAGE and pad.figure.layout.display == "none"


def test_touch_strokes_and_a_stroke_leaving_the_canvas(lenet):
    pad = widgets.DrawDigit(lenet)
    pad.canvas._handle_frontend_event(pad.canvas,
                                      {"event": "touch_start", "touches": [{"x": 60, "y": 60}]}, [])
    pad.canvas._handle_frontend_event(pad.canvas,
                                      {"event": "touch_move", "touches": [{"x": 220, "y": 60}]}, [])
    pad.canvas._handle_frontend_event(pad.canvas, {"event": "touch_end", "touches": []}, [])
    assert pad.ink[60, 60:220].all() and pad.probabilities is not None
    first = pad.probabilities
    _event(pad.canvas, "mouse_down", 215, 60)
    _event(pad.canvas, "mouse_move", 130, 240)
    _event(pad.canvas, "mouse_out", 128, 279)  # leaving the canvas ends the stroke
    assert pad.ink[150, 165:180].all() and pad.probabilities is not first
    assert int(np.argmax(pad.probabilities)) == 7


def test_draw_digit_displays_a_static_reading_of_an_example(lenet):
    bundle = widgets.DrawDigit(lenet)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert bundle["text/plain"].endswith(
        "Stored: a pre-drawn 7; LeNet-5 reads a 7 (probability 1.00)."
    )


def test_drawing_figure_and_read_digit(lenet):
    ink = _stroke(np.zeros((280, 280), np.float32), widgets.EXAMPLE_STROKES[0])
    fig, probabilities = widgets.drawing_figure(lenet, ink)
    assert probabilities.shape == (10,) and np.isclose(probabilities.sum(), 1, atol=1e-5)
    assert fig.texts[0].get_text().startswith(f"reads {int(np.argmax(probabilities))}")
    probabilities, maps = widgets.read_digit(lenet, widgets.mnist_like(ink))
    assert {name: m.shape for name,
            m in maps.items()} == {"conv1": (6, 28, 28), "conv2": (16, 10, 10)}
    with pytest.raises(ValueError, match="layers: unknown"):
        widgets.read_digit(lenet, np.zeros((28, 28)), layers=("conv9",))
    with pytest.raises(widgets.EmptyDrawingError):
        widgets.drawing_figure(lenet, np.zeros((280, 280)))


@pytest.fixture
def explorer(digits):
    x, y = digits
    return widgets.ConvExplorer(x[:10], y[:10], index=3, stride=2, pad=1, position=(6, 7))


def _naive(explorer):
    image = explorer.images[explorer.digit.value][None, None]
    w = explorer.kernel[None, None]
    return conv2d_forward_naive(image, w, np.zeros(1, np.float32), explorer.stride.value,
                                explorer.pad.value)[0, 0]


def test_the_explorer_computes_the_loops_result_for_every_setting(explorer):
    assert explorer.output.shape == (14, 14)
    assert np.allclose(explorer.output, _naive(explorer), atol=1e-5)
    first = explorer.figure.value
    explorer.stride.value = 3
    assert explorer.output.shape == (10, 10) and np.allclose(
        explorer.output, _naive(explorer), atol=1e-5
    )
    assert explorer.figure.value != first
    explorer.pad.value = 0
    explorer.digit.value = 7
    explorer.kernel_name.value = "diagonal"
    assert np.array_equal(explorer.kernel, widgets.KERNELS["diagonal"])
    assert [s.value for s in explorer.weights] == widgets.KERNELS["diagonal"].ravel().tolist()
    assert explorer.output.shape == (9, 9) and np.allclose(
        explorer.output, _naive(explorer), atol=1e-5
    )
    assert "(28 + 2*0 - 3) // 3 + 1 = <b>9</b>" in explorer.formula.value


def test_the_explorer_kernel_sliders_make_a_custom_kernel(explorer):
    explorer.weights[4].value = 2.5
    assert explorer.kernel_name.value == widgets.CUSTOM
    expected = widgets.KERNELS["vertical edge (Sobel)"].copy()
    expected[1, 1] = 2.5
    assert np.array_equal(explorer.kernel, expected)
    assert np.allclose(explorer.output, _naive(explorer), atol=1e-5)
    explorer.kernel_name.value = "blur"  # a preset moves the sliders back
    assert np.allclose([s.value for s in explorer.weights],
                       1 / 9) and explorer.kernel_name.value == "blur"


def test_the_highlighted_cell_stays_inside_the_output(explorer):
    explorer.row.value, explorer.col.value = 13, 13
    assert explorer.position == (13, 13)
    explorer.stride.value = 3  # the output shrinks to 10x10
    assert (explorer.row.max, explorer.col.max) == (9, 9) and explorer.position == (9, 9)
    window = np.pad(explorer.images[3], 1)[27:30, 27:30]
    assert np.isclose(explorer.output[9, 9], np.sum(window * explorer.kernel), atol=1e-5)
    assert f"out[9, 9] = <b>{explorer.output[9, 9]:.2f}</b>" in explorer.formula.value


def test_the_explorer_displays_a_static_figure(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == bytes(explorer.figure.value)
    assert (
        "Stored: digit 3 (a 0), kernel vertical edge (Sobel), stride 2, padding 1 -> output 14x14, "
        f"out[6, 7] = {explorer.output[6, 7]:.2f}."
    ) in bundle["text/plain"]


def test_the_explorer_rejects_bad_arguments(digits):
    with pytest.raises(ValueError, match=r"images: expected \(N, H, W\) or \(N, 1, H, W\)"):
        widgets.ConvExplorer(digits[0][0])
    with pytest.raises(ValueError, match="kernel: expected one of"):
        widgets.ConvExplorer(digits[0][:2], kernel="sharpen")
    with pytest.raises(ValueError, match="index: expected an int from 0 to 1, got 2"):
        widgets.ConvExplorer(digits[0][:2], index=2)
    with pytest.raises(ValueError, match="stride: expected an int from 1 to 3, got 0"):
        widgets.ConvExplorer(digits[0][:2], stride=0)


# --- the figures only the widgets draw
# -------------------------------------------------------------

def test_plot_conv_window_outlines_the_window_and_fills_in_the_formula():
    image = np.arange(36.0).reshape(6, 6) / 36
    kernel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    out = conv2d_forward_naive(image[None, None], kernel[None, None],
                               np.zeros(1), stride=2, pad=1)[0, 0]
    fig = widgets.plot_conv_window(image, kernel, out, stride=2, pad=1, position=(1, 2))
    assert isinstance(fig, Figure)
    padded_ax, window_ax, kernel_ax, out_ax = fig.axes[:4]
    assert padded_ax.get_images()[0].get_array().shape == (8, 8)
    box = padded_ax.patches[-1]
    assert box.get_xy() == (4 - 0.5, 2 - 0.5) and (box.get_width(), box.get_height()) == (3, 3)
    window = np.pad(image, 1)[2:5, 4:7]
    assert np.allclose(window_ax.get_images()[0].get_array(), window)
    assert out_ax.patches[-1].get_xy() == (2 - 0.5, 1 - 0.5)
    title = fig._suptitle.get_text()
    assert (
        "(6 + 2*1 - 3) // 2 + 1 = 3" in title
        and f"out[1, 2] = sum(window * kernel) = {out[1, 2]:.3g}" in title
    )
    with pytest.raises(ValueError, match=r"out: expected shape \(3, 3\)"):
        widgets.plot_conv_window(image, kernel, out[:2], stride=2, pad=1)
    with pytest.raises(ValueError, match="position: expected a cell of the 3x3 output"):
        widgets.plot_conv_window(image, kernel, out, stride=2, pad=1, position=(3, 0))


def test_plot_digit_reading_bars_and_map_mosaics():
    probabilities = np.full(10, 0.02)
    probabilities[3] = 0.82
    maps = {"conv1": np.ones((6, 28, 28)), "conv2": -np.ones((16, 10, 10))}
    fig = widgets.plot_digit_reading(np.zeros((28, 28)), probabilities, maps,
                                     drawing=np.zeros((50, 50)))
    assert fig._suptitle.get_text() == "reads 3 (probability 0.82)"
    axes = {ax.get_label(): ax for ax in fig.axes if ax.get_label() != "<colorbar>"}
    assert list(axes) == ["drawing", "input", "probabilities", "maps: conv1", "maps: conv2"]
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 2, "one colour bar per layer"
    bars = axes["probabilities"].patches
    assert len(bars) == 10 and bars[3].get_facecolor() != bars[0].get_facecolor()
    conv1, conv2 = (axes[f"maps: {name}"].get_images()[0] for name in maps)
    assert conv1.get_array().shape == (28,
                                       6 * 29 - 1) and conv2.get_array().shape == (21, 8 * 11 - 1)
    assert conv2.get_clim() == (-1.0, 1.0) and np.ma.count_masked(conv1.get_array()) == 28 * 5
    labels = axes["maps: conv2"].texts
    assert [t.get_text() for t in labels] == [f"ch {k}" for k in range(16)]
    assert all(t.get_fontsize() >= 9 for t in labels), "channel labels legible in the stored view"
    with pytest.raises(ValueError, match=r"maps\['conv1'\]: expected \(C, h, w\)"):
        widgets.plot_digit_reading(np.zeros((28, 28)), probabilities, {"conv1": np.zeros((28, 28))})
    with pytest.raises(ValueError, match="class_names: expected 10 names"):
        widgets.plot_digit_reading(np.zeros((28, 28)), probabilities, maps, class_names=["a"])


def test_update_digit_reading_redraws_like_a_new_figure():
    rng = np.random.default_rng(0)
    readings = [(rng.random((28, 28)), rng.dirichlet(np.ones(10)),
                 {"conv1": rng.standard_normal((6, 28, 28)),
                  "conv2": rng.standard_normal((16, 10, 10))})
                for _ in range(2)]
    updated = widgets.plot_digit_reading(*readings[0], drawing=np.zeros((40, 40)))
    assert widgets.update_digit_reading(updated, *readings[1], drawing=np.ones((40, 40))) is updated
    fresh = widgets.plot_digit_reading(*readings[1], drawing=np.ones((40, 40)))
    assert updated._suptitle.get_text() == fresh._suptitle.get_text()
    for a, b in zip(updated.axes, fresh.axes):
        assert a.get_title() == b.get_title()
        assert [p.get_height() for p in a.patches] == [p.get_height() for p in b.patches]
        assert [p.get_facecolor() for p in a.patches] == [p.get_facecolor() for p in b.patches]
        for x, y in zip(a.get_images(), b.get_images()):
            np.testing.assert_array_equal(np.ma.filled(x.get_array(), np.nan),
                                          np.ma.filled(y.get_array(), np.nan))
            assert x.get_clim() == y.get_clim()
    with pytest.raises(ValueError, match="expected 2 layers and 10 classes"):
        widgets.update_digit_reading(updated, readings[0][0], readings[0][1],
                                     {"conv1": readings[0][2]["conv1"]},
                                 drawing=np.ones((40, 40)))
    with pytest.raises(ValueError, match="drawing: give one exactly when"):
        widgets.update_digit_reading(updated, *readings[0])
    with pytest.raises(ValueError, match="fig: expected a figure made by plot_digit_reading"):
        widgets.update_digit_reading(Figure(), *readings[0])


def test_update_digit_reading_finds_the_axes_by_name_not_position():
    rng = np.random.default_rng(1)
    maps = {"conv1": rng.standard_normal((6, 28, 28)), "conv2": rng.standard_normal((16, 10, 10))}
    fig = widgets.plot_digit_reading(rng.random((28, 28)), rng.dirichlet(np.ones(10)), maps)
    # new order: input, probabilities, the maps, an extra axes, then the (empty) drawing's axes
    fig.axes[0].remove()
    fig.add_subplot(4, 4, 1, label="added later")
    fig.add_subplot(4, 4, 2, label="drawing")
    widgets.update_digit_reading(fig, rng.random((28, 28)), np.eye(10)[4],
                                 {k: -m for k, m in maps.items()})
    axes = {ax.get_label(): ax for ax in fig.axes}
    assert [p.get_height() for p in axes["probabilities"].patches] == list(np.eye(10)[4])
    assert fig._suptitle.get_text() == "reads 4 (probability 1.00)"
