import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import viz  # noqa: E402
from cnnlib.conv import conv2d_backward_naive  # noqa: E402
from cnnlib.models import LeNet5  # noqa: E402
from cnnlib.training import History, confusion_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a viz function left a figure open in pyplot"


def _images(n=10, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28)).astype(np.float32)


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images()]


def test_plot_images_titles_and_colours():
    labels, preds = np.arange(10) % 10, np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 1])
    fig = viz.plot_images(_images(), labels, preds, ncols=5)
    assert isinstance(fig, Figure)
    axes = _image_axes(fig)
    assert len(axes) == 10
    assert axes[7].get_title() == "true 7 / pred 7"
    assert axes[9].get_title() == "true 9 / pred 1" and axes[9].title.get_color() == viz.WRONG
    assert axes[0].title.get_color() == "black"
    assert _image_axes(viz.plot_images(_images(3).reshape(3, 784),
                                       labels[:3]))[2].get_title() == "true 2"
    assert len(_image_axes(viz.plot_images(_images(4)[:, 0]))) == 4


@pytest.mark.parametrize("call, message", [
    (lambda: viz.plot_images(np.zeros((2, 3, 28, 28))),
     r"images: expected .* got shape \(2, 3, 28, 28\)"),
    (lambda: viz.plot_images(np.zeros((2, 28, 28)), labels=[1, 2, 3]),
     "labels: expected 2 values.*got 3"),
    (lambda: viz.plot_images(np.zeros((2, 28, 28)), preds=[1]), "preds: expected 2 values"),
    (lambda: viz.plot_images(np.zeros((2, 783))), "square images"),
    (lambda: viz.plot_confusion_matrix(np.zeros((3, 4))),
     r"cm: expected a square 2-D matrix, got shape \(3, 4\)"),
    (lambda: viz.plot_confusion_matrix(np.eye(3), ["a"]), "class_names: expected 3 names, got 1"),
    (lambda: confusion_matrix([0, 1], [0], 2), "equal length"),
    (lambda: confusion_matrix([0, 5], [0, 1], 3), r"y_true: values must be in \[0, 3\)"),
    (lambda: viz.plot_filters(np.zeros((6, 5, 5))), r"w: expected conv weights \(F, C, KH, KW\)"),
    (lambda: viz.plot_filters(np.zeros((6, 2, 5, 5)), channel=2), "channel: expected 0..1, got 2"),
    (lambda: viz.plot_history(History()), "no iterations"),
    (lambda: viz.plot_misclassified(np.zeros(3, int), _images(4), np.zeros(4, int)),
     "predictions: expected 4"),
    (lambda: viz.draw_graph([("a", "b", 1.0)]), "each edge must be"),
    (lambda: viz.draw_graph([]), "at least one"),
])
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_confusion_matrix_and_plot():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    fig = viz.plot_confusion_matrix(cm, ["zero", "one", "two"])
    ax = _image_axes(fig)[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9 and texts[:3] == ["1", "1", "0"] and texts[-1] == "2"
    assert ax.get_title() == "confusion matrix, accuracy 66.67%"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["zero", "one", "two"]


def test_plot_misclassified_with_predictions_and_model():
    x, y = _images(6), np.array([0, 1, 2, 3, 4, 5])
    fig = viz.plot_misclassified(np.array([0, 1, 9, 3, 8, 5]), x, y)
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["true 2 / pred 9", "true 4 / pred 8"]
    assert fig._suptitle.get_text().startswith("2 of 6 misclassified")
    model = LeNet5()
    preds = model.predict(x)
    fig = viz.plot_misclassified(model, x, y, n=3)
    assert len(_image_axes(fig)) == min(3, int(np.sum(preds != y)))
    assert not _image_axes(viz.plot_misclassified(y, x, y))


def test_plot_history():
    history = History(loss=list(np.linspace(2, 0.1, 300)), train_acc=[0.9, 0.95, 0.97],
                      val_acc=[0.91, 0.94, 0.96])
    fig = viz.plot_history(history, smooth=20)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    assert acc_ax.get_title() == "accuracy per epoch" and acc_ax.get_ylabel() == "accuracy (%)"
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [90, 95, 97])      # in percent
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), [91, 94, 96])
    assert len(viz.plot_history(History(loss=[1.0, 0.5], train_acc=[0.5])).axes[1].lines) == 1


def test_plot_filters_symmetric_scale():
    w = np.random.default_rng(0).standard_normal((6, 1, 5, 5))
    fig = viz.plot_filters(w)
    axes = _image_axes(fig)
    assert len(axes) == 6 and axes[5].get_title() == "filter 5"
    limit = np.abs(w).max()
    for ax in axes:
        assert ax.get_images()[0].get_clim() == (-limit, limit)
    assert len(fig.axes) == 7  # six filters and the colour bar
    w2 = np.random.default_rng(1).standard_normal((16, 6, 5, 5))
    assert len(_image_axes(viz.plot_filters(w2))) == 96
    one = _image_axes(viz.plot_filters(w2, channel=3))
    assert len(one) == 16
    assert one[0].get_images()[0].get_clim()[1] == pytest.approx(np.abs(w2[:, 3]).max())


def test_plot_feature_maps_labels():
    model = LeNet5()
    fig = viz.plot_feature_maps(model, _images(1)[0])
    titles = [ax.get_title() for ax in _image_axes(fig)]
    assert titles[0] == "input"
    assert "conv1 ch 5" in titles and "pool2 ch 15" in titles
    assert len(titles) == 1 + 6 * 3 + 16 * 3
    fig = viz.plot_feature_maps(model, _images(1), layers=["conv2"], max_channels=4)
    assert [ax.get_title()
            for ax in _image_axes(fig)] == ["input"] + [f"conv2 ch {k}" for k in range(4)]
    with pytest.raises(ValueError, match="layers: unknown"):
        viz.plot_feature_maps(model, _images(1), layers=["conv9"])
    with pytest.raises(ValueError, match="do not output feature maps"):
        viz.plot_feature_maps(model, _images(1), layers=["fc1"])
    with pytest.raises(ValueError, match="image: expected one image"):
        viz.plot_feature_maps(model, _images(2))


def test_draw_graph_values_and_gradients():
    edges = [("apple", "mul1", 100, 2.2), ("count", "mul1", 2, 110), ("mul1", "mul2", 200, 1.1),
             ("tax", "mul2", 1.1, 200), ("mul2", "price", 220, 1)]
    fig = viz.draw_graph(edges, {"mul1": "×", "mul2": "×"})
    texts = [t.get_text() for t in fig.axes[0].texts]
    for expected in ["×", "apple", "price", "100", "2.2", "110", "220", "200"]:
        assert expected in texts
    reds = [t.get_text() for t in fig.axes[0].texts if t.get_color() == viz.WRONG]
    assert sorted(reds) == sorted(["2.2", "110", "1.1", "200", "1"])
    before = viz.draw_graph([(a, b, v, None) for a, b, v, _ in edges])
    assert not [t for t in before.axes[0].texts if t.get_color() == viz.WRONG]


def test_draw_graph_arrows_reach_the_nodes_and_numbers_do_not_overlap():
    from matplotlib.patches import Circle

    edges = [("apple", "mul1", 100, 2.2), ("count", "mul1", 2, 110), ("mul1", "mul2", 200, 1.1),
             ("tax", "mul2", 1.1, 200), ("mul2", "price", 220, 1)]
    fig = viz.draw_graph(edges, {"mul1": "×", "mul2": "×"})
    ax = fig.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 2
    ends = [np.array(a.xy, float) for a in ax.texts if hasattr(a, "xyann")]
    assert len(ends) == len(edges)
    for circle in circles:          # the arrows into an operation end on its circle
        centre, radius = np.array(circle.center), circle.radius
        reaching = [e for e in ends if abs(np.hypot(*(e - centre)) - radius) < 1e-9]
        assert len(reaching) == 2
    fig.draw_without_rendering()
    numbers = [t for t in ax.texts if not hasattr(t, "xyann") and t.get_text()
               and t.get_text()[0].isdigit()]
    boxes = [t.get_window_extent() for t in numbers]
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            assert not first.overlaps(second)


def test_interact_index_returns_a_slider_widget():
    import ipywidgets

    result = viz.interact_index(lambda i: viz.plot_images(_images(3)[i:i + 1]), 3)
    assert isinstance(result, ipywidgets.interactive)
    slider = result.children[0]
    assert (slider.min, slider.max, slider.value, slider.description) == (0, 2, 0, "index")


def test_interact_index_without_ipywidgets_returns_the_first_figure(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)    # makes "import ipywidgets" fail
    result = viz.interact_index(lambda i: viz.plot_images(_images(3)[i:i + 1], labels=[i]), 3)
    assert isinstance(result, Figure) and _image_axes(result)[0].get_title() == "true 0"


def test_plot_curves():
    x = np.linspace(-2, 2, 11)
    fig = viz.plot_curves(x, {"relu": np.maximum(x, 0), "x^2": x**2}, title="t", xlabel="x")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines][:2] == ["relu", "x^2"] and ax.get_title() == "t"
    with pytest.raises(ValueError, match=r"curves\['bad'\]: expected shape \(11,\)"):
        viz.plot_curves(x, {"bad": x[:3]})


def test_plot_matrices_writes_every_value():
    fig = viz.plot_matrices({"a": np.arange(6).reshape(2, 3) - 2, "b": np.eye(2)})
    a, b = fig.axes
    assert [t.get_text() for t in a.texts] == ["-2", "-1", "0", "1", "2", "3"]
    assert a.get_title() == "a"
    assert len(b.texts) == 4 and b.get_images()[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError, match=r"matrices\['v'\]: expected a 2-D array"):
        viz.plot_matrices({"v": np.zeros(3)})
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_matrices({})


def test_plot_im2col_rows_are_windows():
    fig = viz.plot_im2col(np.arange(16).reshape(4, 4), 3, 3)
    image_ax, cols_ax = fig.axes
    assert len(image_ax.patches) == 4 and len(cols_ax.patches) == 4
    assert [t.get_text() for t in cols_ax.texts][:9] == ["0", "1", "2", "4", "5", "6", "8", "9",
                                                         "10"]
    assert cols_ax.get_title() == "im2col: 4 windows x 9 values"
    with pytest.raises(ValueError, match="image: expected a small 2-D array"):
        viz.plot_im2col(np.zeros((1, 4, 4)), 3, 3)


def test_plot_conv_geometry():
    fig = viz.plot_conv_geometry([(5, 3, 1, 0), (7, 3, 2, 1)])
    assert len(fig.axes) == 4
    assert fig.axes[3].get_title() == "output 4x4 = (7 + 2*1 - 3) // 2 + 1"
    with pytest.raises(ValueError, match="does not fit"):
        viz.plot_conv_geometry([(3, 5, 1, 0)])
    with pytest.raises(ValueError, match=r"expected \(size, kernel, stride, pad\)"):
        viz.plot_conv_geometry([(3, 5)])


# --- the full convolution of notebook 05 ---

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
    fig = viz.plot_full_convolution(
        np.array([[2.0, 1.0], [-2.0, 0.0]]), np.arange(1, 10).reshape(3, 3), window=(1, 0)
    )
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


# --- looking inside a network (notebook 08) ---

def _digit(seed=0):
    return np.random.default_rng(seed).random((1, 28, 28)).astype(np.float32)


def test_feature_maps_share_one_scale_per_layer_from_zero_when_nonnegative():
    model = LeNet5()
    fig = viz.plot_feature_maps(model, _digit(), layers=["conv1", "relu2"])
    outputs = model.activations(_digit()[None])
    for name in ["conv1", "relu2"]:
        limit = float(np.abs(outputs[name]).max())
        axes = [ax for ax in _image_axes(fig) if ax.get_title().startswith(f"{name} ch")]
        assert len(axes) == outputs[name].shape[1]
        for ax in axes:
            low, high = ax.get_images()[0].get_clim()
            # relu2 cannot be negative: a sequential scale from 0, not a symmetric one
            assert low == pytest.approx(0 if name == "relu2" else -limit)
            assert high == pytest.approx(limit)
            assert ax.get_images()[0].get_cmap().name == ("Reds" if name == "relu2" else "RdBu_r")
    # one colour bar per layer, labelled blocks
    assert len([ax for ax in fig.axes if ax.get_label() == "<colorbar>"]) == 2
    suptitles = [sub._suptitle.get_text() for sub in fig.subfigs[1].subfigs]
    assert suptitles[0].startswith("conv1: 6 maps of "
                                   "28x28") and suptitles[1].startswith("relu2: 16 maps")


def test_feature_maps_wrap_channels_and_stay_narrow():
    model = LeNet5()
    fig = viz.plot_feature_maps(model, _digit(), ncols=8)
    width, height = fig.get_size_inches()
    assert width * 100 <= 1400, "the natural width at 100 dpi must fit a 1,400 px notebook column"
    conv2_axes = [ax for ax in _image_axes(fig) if ax.get_title().startswith("conv2 ch")]
    rows = {round(ax.get_position().y0, 3) for ax in conv2_axes}
    assert len(conv2_axes) == 16 and len(rows) == 2, "16 channels wrap onto two rows of 8"
    assert all(ax.title.get_fontsize() >= 9 for ax in conv2_axes)
    with pytest.raises(ValueError, match="ncols: expected a positive integer, got 0"):
        viz.plot_feature_maps(model, _digit(), ncols=0)


def test_plot_filters_sixteen_filters_fit_the_width():
    w = np.random.default_rng(0).standard_normal((16, 6, 5, 5))
    assert viz.plot_filters(w).get_size_inches()[0] * 100 <= 1400


def test_plot_filter_sets_one_scale_and_rows():
    rng = np.random.default_rng(0)
    before, after = rng.standard_normal((6, 1, 5, 5)), 3 * rng.standard_normal((6, 1, 5, 5))
    fig = viz.plot_filter_sets({"initialised": before, "trained": after}, title="t")
    axes = _image_axes(fig)
    assert len(axes) == 12
    limit = max(np.abs(before).max(), np.abs(after).max())
    assert all(ax.get_images()[0].get_clim() == (-limit, limit) for ax in axes)
    assert axes[0].get_ylabel() == "initialised" and axes[6].get_ylabel() == "trained"
    assert axes[5].get_title() == "filter 5"
    np.testing.assert_array_equal(axes[7].get_images()[0].get_array(), after[1, 0])
    with pytest.raises(ValueError, match="one shape"):
        viz.plot_filter_sets({"a": before, "b": after[:3]})
    with pytest.raises(ValueError, match="channel: expected 0..0"):
        viz.plot_filter_sets({"a": before}, channel=1)
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_filter_sets({})


def test_plot_conv_sum_rows_and_scales():
    rng = np.random.default_rng(0)
    inputs, kernels = rng.standard_normal((6, 14, 14)), rng.standard_normal((6, 5, 5))
    parts = rng.standard_normal((6, 10, 10))
    output = parts.sum(axis=0) + 0.5
    fig = viz.plot_conv_sum(inputs, kernels, parts, output, input_label="pool1",
                            output_label="conv2 ch 8")
    titles = [ax.get_title() for ax in _image_axes(fig)]
    assert titles[:6] == [f"pool1 ch {c}" for c in range(6)]
    assert titles[6:12] == [f"weights {c}" for c in range(6)]
    assert titles[12:] == [f"from ch {c}" for c in range(6)] + ["= conv2 ch 8"]
    limit = max(np.abs(parts).max(), np.abs(output).max())
    for ax in _image_axes(fig)[12:]:
        assert ax.get_images()[0].get_clim() == (-limit, limit)
    assert _image_axes(fig)[0].get_images()[0].get_clim()[0] < 0     # signed inputs: red-blue
    relu = np.maximum(inputs, 0)             # maps of a ReLU or pooling layer: from 0, in reds
    fig = viz.plot_conv_sum(relu, kernels, parts, output)
    for ax in _image_axes(fig)[:6]:
        image = ax.get_images()[0]
        assert image.get_clim() == (0, relu.max()) and image.get_cmap().name == "Reds"
    assert _image_axes(fig)[6].get_images()[0].get_clim()[0] < 0      # the weights keep theirs
    with pytest.raises(ValueError, match="one kernel and one contribution per input channel"):
        viz.plot_conv_sum(inputs, kernels[:5], parts, output)
    with pytest.raises(ValueError, match="expected inputs"):
        viz.plot_conv_sum(inputs[0], kernels, parts, output)


def test_plot_receptive_field_draws_one_square_per_field():
    fields = {"conv1: 5x5": (10, 10, 5), "pool2: 16x16": (-2, -2, 16)}
    fig = viz.plot_receptive_field(_digit()[0], fields)
    ax = _image_axes(fig)[0]
    assert len(ax.patches) == 2
    assert ax.patches[1].get_xy() == (-2.5, -2.5) and ax.patches[1].get_width() == 16
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(fields)
    assert ax.get_xlim()[0] <= -3, "a field reaching into the padding stays visible"
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_receptive_field(_digit()[0], {})


def test_plot_where_it_fires_boxes_and_crops():
    images = np.zeros((3, 28, 28), dtype=np.float32)
    images[:, 10, 12] = 1.0
    boxes = np.array([[4, 6, 14, 14], [-2, 0, 14, 14], [16, 16, 14, 14]])
    fig = viz.plot_where_it_fires(images, boxes, titles=["a", "b", "c"], ncols=3)
    axes = _image_axes(fig)
    assert len(axes) == 6
    whole, crop = axes[0], axes[3]
    assert whole.get_title() == "a" and crop.get_title() == "14x14 window"
    crop_pixels = crop.get_images()[0].get_array()
    assert crop_pixels.shape == (14, 14) and crop_pixels[10 - 4, 12 - 6] == 1.0
    # a box that reaches past the edge is filled with zero padding
    assert axes[4].get_images()[0].get_array().shape == (14, 14)
    assert axes[4].get_images()[0].get_array()[12, 12] == 1.0
    assert not axes[4].get_images()[0].get_array()[:2].any()
    assert axes[5].get_images()[0].get_array().shape == (14, 14)
    with pytest.raises(ValueError, match=r"boxes: expected \(3, 4\)"):
        viz.plot_where_it_fires(images, boxes[:2])


def test_plot_maps_one_scale_with_colour_bar():
    a = np.arange(12.0).reshape(3, 4)
    fig = viz.plot_maps({"a": a, "minus a": -2 * a}, title="t")
    assert isinstance(fig, Figure)
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["a", "minus a"]
    assert all(ax.get_images()[0].get_clim() == (-22.0, 22.0) for ax in axes)
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match=r"maps\['v'\]: expected a 2-D array"):
        viz.plot_maps({"v": np.zeros(3)})


def test_plot_curve_panels_gives_each_panel_its_own_axis():
    x = np.linspace(-6, 6, 25)
    s = 1 / (1 + np.exp(-x))
    fig = viz.plot_curve_panels(x, {"ReLU": {"relu": np.maximum(x, 0), "slope": (x > 0) * 1.0},
                                    "sigmoid": {"sigmoid": s, "slope": s * (1 - s)}}, title="t")
    left, right = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["ReLU", "sigmoid"]
    assert [line.get_label() for line in right.lines][:2] == ["sigmoid", "slope"]
    assert left.get_ylim()[1] > 5 and right.get_ylim()[1] < 1.2, "the sigmoid is not flattened"
    with pytest.raises(ValueError, match=r"panels\['p'\]\['bad'\]: expected shape \(25,\)"):
        viz.plot_curve_panels(x, {"p": {"bad": x[:3]}})
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_curve_panels(x, {})


def test_plot_receptive_field_squares_that_share_edges_stay_distinct():
    fields = {"conv1": (10, 10, 5), "pool1": (10, 10, 6), "conv2": (6, 6, 14), "pool2": (6, 6, 16)}
    ax = _image_axes(viz.plot_receptive_field(_digit()[0], fields))[0]
    styles = {label: (p.get_linestyle(), p.get_zorder()) for label, p in zip(fields, ax.patches)}
    for inner, outer in [("conv1", "pool1"), ("conv2", "pool2")]:      # each pair shares a corner
        assert styles[inner][0] != styles[outer][0], "one solid, one dashed: both colours show"
        assert styles[inner][1] > styles[outer][1], "the smaller square is drawn on top"
# --- notebooks 12 and 13: saliency, occlusion, adversarial examples, accuracy curves ------------


def test_plot_saliency_image_above_its_scaled_map():
    images = _images(3)
    maps = np.zeros((3, 28, 28))
    maps[:, 5, 7] = [2.0, 0.5, 0.0]
    maps[0, 6, 7] = 1.0
    fig = viz.plot_saliency(images, maps, labels=[1, 2, 3], preds=[1, 0, 3], ncols=3, title="s")
    axes = _image_axes(fig)
    assert len(axes) == 6
    # row 1: the images; row 2: their maps
    assert [ax.get_title() for ax in axes] == ["true 1 / pred 1", "true 2 / pred 0",
                                               "true 3 / pred 3"] + ["saliency"] * 3
    assert axes[1].title.get_color() == viz.WRONG and axes[0].title.get_color() == "black"
    assert len(axes[3].get_images()) == 1                 # the map alone, under the outline
    shown = axes[3].get_images()[0].get_array()
    assert shown[5, 7] == 1.0 and shown[6, 7] == 0.5     # divided by its own maximum
    assert axes[5].get_images()[0].get_array().mask.all()   # an all-zero map shows nothing
    with pytest.raises(ValueError, match=r"maps: expected one map per image, shape \(3, 28, 28\)"):
        viz.plot_saliency(images, maps[:2])
    with pytest.raises(ValueError, match="labels: expected 3 values"):
        viz.plot_saliency(images, maps, labels=[1])


def test_plot_occlusion_one_symmetric_scale_aligned_with_the_pixels():
    images = _images(2)
    maps = np.zeros((2, 14, 14))
    maps[0, 3, 4], maps[1, 0, 0] = 0.8, -0.2
    fig = viz.plot_occlusion(images, maps, titles=["a", "b"], stride=2)
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["a", "b", "occlusion", "occlusion"]
    shown = axes[2].get_images()[0]
    assert shown.get_clim() == (-0.8, 0.8) and axes[3].get_images()[0].get_clim() == (-0.8, 0.8)
    assert shown.get_extent() == [-1.0, 27.0, 27.0, -1.0]     # cell (i, j) centred on (2i, 2j)
    assert axes[2].get_xlim() == (-0.5, 27.5)
    with pytest.raises(ValueError, match=r"maps: expected 2 maps \(N, OH, OW\)"):
        viz.plot_occlusion(images, maps[0])
    with pytest.raises(ValueError, match="stride: expected a positive integer"):
        viz.plot_occlusion(images, maps, stride=0)


def test_plot_adversarial_three_rows_and_new_predictions():
    images = _images(2)
    adversarial = np.clip(images + 0.1, 0, 1)
    fig = viz.plot_adversarial(images, adversarial, [3, 4], [3, 4], [3, 9],
                               class_names=[f"c{k}" for k in range(10)])
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["true c3 / pred c3", "true c4 / pred c4",
                                               "perturbation", "perturbation", "now c3", "now c9"]
    assert axes[5].title.get_color() == viz.WRONG and axes[4].title.get_color() == "black"
    np.testing.assert_allclose(axes[2].get_images()[0].get_array(), (adversarial - images)[0, 0])
    with pytest.raises(ValueError, match="adversarial: expected the shape of images"):
        viz.plot_adversarial(images, adversarial[:1], [3, 4], [3, 4], [3, 9])
    with pytest.raises(ValueError, match="adv_preds: expected 2 values"):
        viz.plot_adversarial(images, adversarial, [3, 4], [3, 4], [3])


def test_plot_accuracy_curves_in_percent_with_chance():
    fig = viz.plot_accuracy_curves([0, 0.1, 0.2], {"cnn": [1.0, 0.5, 0.25], "mlp": [0.9, 0.2, 0.0]},
                                   xlabel="epsilon", chance=0.1, title="t")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["cnn", "mlp", "chance"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [100, 50, 25])
    assert ax.get_ylabel() == "accuracy (%)" and ax.get_xlabel() == "epsilon"
    with pytest.raises(ValueError, match=r"curves\['cnn'\]: accuracies must be in \[0, 1\]"):
        viz.plot_accuracy_curves([0, 1], {"cnn": [95, 90]}, xlabel="x")
    with pytest.raises(ValueError, match=r"curves\['cnn'\]: expected shape \(2,\)"):
        viz.plot_accuracy_curves([0, 1], {"cnn": [1.0]}, xlabel="x")


def test_plot_accuracy_curves_legend_outside_the_axes():
    fig = viz.plot_accuracy_curves([0, 1], {"cnn": [1.0, 0.5], "mlp": [0.9, 0.1]}, xlabel="x",
                                   legend_loc="outside")
    legend = fig.axes[0].get_legend()
    assert legend._loc == 2 and legend.get_bbox_to_anchor().x0 > fig.axes[0].bbox.x1 - 1


def test_plot_accuracy_curves_ticks_and_legend_where_asked():
    fig = viz.plot_accuracy_curves([0, 1, 2, 3], {"cnn": [1.0, 0.9, 0.8, 0.5]}, xlabel="shift",
                                   xticks=[0, 1, 2, 3], legend_loc="lower left")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_xticks(), [0, 1, 2, 3])
    assert ax.get_legend()._loc == 3                     # matplotlib's code of "lower left"


def test_plot_occlusion_and_saliency_outline_level():
    images = _images(1)
    low, high = float(images.min()), float(images.max())
    maps = np.zeros((1, 28, 28))
    for fig, level in [(viz.plot_occlusion(images, maps), 0.5 * high),          # of the maximum
                       (viz.plot_occlusion(images, maps, outline=0.2), 0.2 * high),
                       (viz.plot_saliency(images, maps + 1, outline=0.2),          # of the range
                        low + 0.2 * (high - low))]:
        ax = _image_axes(fig)[1]
        contours = [c for c in ax.collections if hasattr(c, "levels")]
        np.testing.assert_allclose(contours[0].levels, [level], rtol=1e-6)


def test_plot_conv_geometry_draws_windows_on_the_grid_lines():
    from matplotlib.patches import Rectangle

    fig = viz.plot_conv_geometry([(7, 3, 2, 1)])
    windows = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    corners = sorted({(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in windows})
    # the windows of outputs (0, 0), (0, 1), (1, 0) at stride 2 start at cells (0, 0), (0, 2), (2,
    # 0)
    assert corners == [(-0.5, -0.5, 3, 3), (-0.5, 1.5, 3, 3), (1.5, -0.5, 3, 3)]


# --- notebook 09: training well
# ---------------------------------------------------------------------

def test_plot_activation_histograms_rows_columns_and_spread():
    rng = np.random.default_rng(0)
    runs = {"small": {"layer 1": np.tile([-0.1, 0.1], 250), "layer 2": rng.normal(0, 0.01, 500)},
            "He": {"layer 1": rng.normal(0, 1, (5, 100))}}
    fig = viz.plot_activation_histograms(runs, bins=10)
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 4 and not axes[3].axison, (
        "a row with fewer layers leaves its last panel empty"
    )
    assert axes[0].get_title() == "layer 1: std 0.1" and axes[1].get_title().startswith(
        "layer 2: std 0.0"
    )
    assert axes[0].get_ylabel() == "small" and axes[2].get_ylabel() == "He"
    assert len(axes[0].patches) == 10
    assert axes[0].get_xlim() == axes[1].get_xlim(), "a row shares one value range"
    with pytest.raises(ValueError, match="at least one layer"):
        viz.plot_activation_histograms({"empty": {}})


def test_plot_trajectories_one_panel_per_path_over_contours():
    def bowl(x, y):
        return x ** 2 / 4 + y ** 2

    paths = {"SGD": np.array([[-3.0, 2.0], [-2.0, 1.0], [0.0, 0.0]]),
             "Adam": np.array([[-3.0, 2.0], [1.0, 0.5]])}
    fig = viz.plot_trajectories(bowl, paths, xlim=(-4, 4), ylim=(-3, 3), minimum=(0, 0))
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["SGD: loss 0", "Adam: loss 0.5"]
    assert axes[0].collections, "the contour lines are drawn"
    np.testing.assert_array_equal(axes[0].lines[0].get_xydata(), paths["SGD"])
    assert axes[0].get_xlim() == (-4, 4)
    with pytest.raises(ValueError, match=r"paths\['x'\]: expected a \(T, 2\) array of points, got "
                                         r"shape \(3,\)"):
        viz.plot_trajectories(bowl, {"x": np.zeros(3)}, xlim=(-1, 1), ylim=(-1, 1))


def test_plot_histories_compares_runs():
    a = History(loss=[2.0, 1.5, 1.0, 0.8], train_acc=[0.5, 0.7], val_acc=[0.6, 0.8])
    b = History(loss=[2.0, 1.9], train_acc=[0.3])
    fig = viz.plot_histories({"a": a, "b": b}, smooth=2)
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [1.75, 1.25, 0.9])
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [60, 80])   # validation, in %
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), [30])       # else training
    assert acc_ax.get_ylabel() == "accuracy (%)"
    assert loss_ax.lines[1].get_color() == acc_ax.lines[1].get_color()
    assert acc_ax.get_title() == "training / validation accuracy per epoch"
    with pytest.raises(ValueError, match=r"histories\['c'\]: no iterations recorded"):
        viz.plot_histories({"c": History()})


def test_plot_train_val_gap_shades_the_gap():
    fig = viz.plot_train_val_gap({"plain": ([0.5, 0.9, 1.0], [0.5, 0.7, 0.75]),
                                  "dropout": ([0.4, 0.8, 0.9], [0.45, 0.75, 0.85])})
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [
        "plain: gap +25.0 points",
        "dropout: gap +5.0 points",
    ]
    assert len(axes[0].collections) == 1 and len(axes[0].lines) == 2
    assert axes[0].get_ylabel() == "accuracy (%)"
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), [50, 90, 100])     # in percent
    np.testing.assert_allclose(axes[1].lines[1].get_ydata(), [45, 75, 85])
    with pytest.raises(ValueError, match=r"curves\['x'\]: expected \(train, val\)"):
        viz.plot_train_val_gap({"x": ([1, 2], [1])})


def test_plot_search_colours_the_trials_and_circles_the_best():
    trials = [{"lr": 1e-3, "weight_decay": 1e-5, "val_acc": 0.9},
              {"lr": 3e-3, "weight_decay": 1e-4, "val_acc": 0.95},
              {"lr": 1e-4, "weight_decay": 1e-3, "val_acc": 0.8}]
    fig = viz.plot_search(trials, title="search")
    grid_ax, acc_ax, colour_bar = fig.axes
    assert colour_bar.get_ylabel() == "validation accuracy (%)"
    assert grid_ax.get_xscale() == "log" and grid_ax.get_yscale() == "log"
    assert acc_ax.get_xscale() == "log"
    np.testing.assert_allclose(grid_ax.collections[1].get_offsets(), [[3e-3, 1e-4]])
    np.testing.assert_allclose(acc_ax.collections[0].get_offsets()[:, 1], [90, 95, 80])
    assert grid_ax.get_legend().get_texts()[0].get_text() == "best: 95.0%"
    with pytest.raises(ValueError, match="missing the keys"):
        viz.plot_search([{"lr": 1e-3}])


def test_plot_curves_ylim_zooms_in():
    x = np.arange(1, 6)
    fig = viz.plot_curves(x, {"loss": [0.6, 0.55, 0.57, 0.6, 0.65]}, ylim=(0.4, 1.0))
    assert fig.axes[0].get_ylim() == (0.4, 1.0)
    assert viz.plot_curves(x, {"loss": [0.6, 0.55, 0.57, 0.6, 0.65]}).axes[0].get_ylim()[0] <= 0


# --- notebook 09: schedules as stairs, labelled trajectories, plain log-scale ticks ---------------

def test_plot_curves_step_draws_stairs_held_to_the_next_x():
    x = np.arange(4)
    fig = viz.plot_curves(x, {"step": [1.0, 1.0, 0.5, 0.5]}, step=True)
    stairs = fig.axes[0].lines[0]
    assert stairs.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(stairs.get_xdata(), [0, 1, 2, 3, 4])   # the last stair has a width
    np.testing.assert_allclose(stairs.get_ydata(), [1.0, 1.0, 0.5, 0.5, 0.5])
    assert viz.plot_curves(x, {"line": [1.0, 1.0, 0.5, 0.5]}).axes[0].lines[0].get_drawstyle() \
        == "default"


def test_plot_trajectories_labels_the_coordinates():
    def bowl(x, y):
        return x ** 2 + y ** 2

    paths = {name: np.zeros((2, 2)) for name in "abc"}
    fig = viz.plot_trajectories(bowl, paths, xlim=(-1, 1), ylim=(-1, 1), ncols=2,
                                xlabel="a (along)", ylabel="b (across)")
    a, b, c = fig.axes[:3]
    assert [a.get_ylabel(), b.get_ylabel(), c.get_ylabel()] == ["b (across)", "", "b (across)"]
    # the lowest panel of each column
    assert b.get_xlabel() == "a (along)" and c.get_xlabel() == "a (along)"


def test_log_loss_axes_have_plain_tick_labels():
    history = History(loss=list(np.geomspace(3.0, 0.05, 40)), train_acc=[0.5])
    for fig in (viz.plot_histories({"a": history}, smooth=2), viz.plot_history(history, smooth=2)):
        loss_ax = fig.axes[0]
        fig.canvas.draw()
        labels = [t.get_text() for t in loss_ax.get_yticklabels() if t.get_text()]
        labels += [t.get_text() for t in loss_ax.get_yticklabels(minor=True) if t.get_text()]
        assert labels and all("10^" not in s and "times" not in s for s in labels), labels
        assert {"0.1", "0.2", "0.5", "1", "2"} <= set(labels)
