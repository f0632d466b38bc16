import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import viz  # noqa: E402
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
    assert _image_axes(viz.plot_images(_images(3).reshape(3, 784), labels[:3]))[2].get_title() == "true 2"
    assert len(_image_axes(viz.plot_images(_images(4)[:, 0]))) == 4


@pytest.mark.parametrize("call, message", [
    (lambda: viz.plot_images(np.zeros((2, 3, 28, 28))), r"images: expected .* got shape \(2, 3, 28, 28\)"),
    (lambda: viz.plot_images(np.zeros((2, 28, 28)), labels=[1, 2, 3]), "labels: expected 2 values.*got 3"),
    (lambda: viz.plot_images(np.zeros((2, 28, 28)), preds=[1]), "preds: expected 2 values"),
    (lambda: viz.plot_images(np.zeros((2, 783))), "square images"),
    (lambda: viz.plot_confusion_matrix(np.zeros((3, 4))), r"cm: expected a square 2-D matrix, got shape \(3, 4\)"),
    (lambda: viz.plot_confusion_matrix(np.eye(3), ["a"]), "class_names: expected 3 names, got 1"),
    (lambda: confusion_matrix([0, 1], [0], 2), "equal length"),
    (lambda: confusion_matrix([0, 5], [0, 1], 3), r"y_true: values must be in \[0, 3\)"),
    (lambda: viz.plot_filters(np.zeros((6, 5, 5))), r"w: expected conv weights \(F, C, KH, KW\)"),
    (lambda: viz.plot_filters(np.zeros((6, 2, 5, 5)), channel=2), "channel: expected 0..1, got 2"),
    (lambda: viz.plot_history(History()), "no iterations"),
    (lambda: viz.plot_misclassified(np.zeros(3, int), _images(4), np.zeros(4, int)), "predictions: expected 4"),
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
    history = History(loss=list(np.linspace(2, 0.1, 300)), train_acc=[0.9, 0.95, 0.97], val_acc=[0.91, 0.94, 0.96])
    fig = viz.plot_history(history, smooth=20)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    assert acc_ax.get_title() == "accuracy per epoch"
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.91, 0.94, 0.96])
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
    assert [ax.get_title() for ax in _image_axes(fig)] == ["input"] + [f"conv2 ch {k}" for k in range(4)]
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


def test_interact_index_returns_widget_or_figure():
    result = viz.interact_index(lambda i: viz.plot_images(_images(3)[i:i + 1]), 3)
    assert isinstance(result, Figure) or type(result).__name__ == "interactive"


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
    assert [t.get_text() for t in a.texts] == ["-2", "-1", "0", "1", "2", "3"] and a.get_title() == "a"
    assert len(b.texts) == 4 and b.get_images()[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError, match=r"matrices\['v'\]: expected a 2-D array"):
        viz.plot_matrices({"v": np.zeros(3)})
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_matrices({})


def test_plot_im2col_rows_are_windows():
    fig = viz.plot_im2col(np.arange(16).reshape(4, 4), 3, 3)
    image_ax, cols_ax = fig.axes
    assert len(image_ax.patches) == 4 and len(cols_ax.patches) == 4
    assert [t.get_text() for t in cols_ax.texts][:9] == ["0", "1", "2", "4", "5", "6", "8", "9", "10"]
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
