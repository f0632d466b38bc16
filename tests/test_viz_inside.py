"""Figures for looking inside a network (notebook 08): shared colour scales, layouts and boxes."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import viz  # noqa: E402
from cnnlib.models import LeNet5  # noqa: E402


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a viz function left a figure open in pyplot"


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images()]


def _digit(seed=0):
    return np.random.default_rng(seed).random((1, 28, 28)).astype(np.float32)


def test_feature_maps_share_one_symmetric_scale_per_layer():
    model = LeNet5()
    fig = viz.plot_feature_maps(model, _digit(), layers=["conv1", "relu2"])
    outputs = model.activations(_digit()[None])
    for name in ["conv1", "relu2"]:
        limit = float(np.abs(outputs[name]).max())
        axes = [ax for ax in _image_axes(fig) if ax.get_title().startswith(f"{name} ch")]
        assert len(axes) == outputs[name].shape[1]
        for ax in axes:
            low, high = ax.get_images()[0].get_clim()
            assert low == pytest.approx(-limit) and high == pytest.approx(limit)
    # one colour bar per layer, labelled blocks
    assert len([ax for ax in fig.axes if ax.get_label() == "<colorbar>"]) == 2
    suptitles = [sub._suptitle.get_text() for sub in fig.subfigs[1].subfigs]
    assert suptitles[0].startswith("conv1: 6 maps of 28x28") and suptitles[1].startswith("relu2: 16 maps")


def test_feature_maps_wrap_channels_and_stay_narrow():
    model = LeNet5()
    fig = viz.plot_feature_maps(model, _digit(), ncols=8)
    width, height = fig.get_size_inches()
    assert width * 100 <= 1400, "the natural width at 100 dpi must fit a 1,400 px notebook column"
    conv2_axes = [ax for ax in _image_axes(fig) if ax.get_title().startswith("conv2 ch")]
    rows = {round(ax.get_position().y0, 3) for ax in conv2_axes}
    assert len(conv2_axes) == 16 and len(rows) == 2, "16 channels wrap onto two rows of 8"
    assert all(ax.title.get_fontsize() >= 9 for ax in conv2_axes)
    with pytest.raises(ValueError, match="ncols and max_channels"):
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
    fig = viz.plot_conv_sum(inputs, kernels, parts, output, input_label="pool1", output_label="conv2 ch 8")
    titles = [ax.get_title() for ax in _image_axes(fig)]
    assert titles[:6] == [f"pool1 ch {c}" for c in range(6)]
    assert titles[6:12] == [f"weights {c}" for c in range(6)]
    assert titles[12:] == [f"from ch {c}" for c in range(6)] + ["= conv2 ch 8"]
    limit = max(np.abs(parts).max(), np.abs(output).max())
    for ax in _image_axes(fig)[12:]:
        assert ax.get_images()[0].get_clim() == (-limit, limit)
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
