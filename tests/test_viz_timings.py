"""cnnlib.viz.plot_time_bars: the appendix's bar chart of measured times."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import viz  # noqa: E402


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a viz function left a figure open in pyplot"


def _bars(fig):
    return [p for p in fig.axes[0].patches]


def test_stacked_parts_end_to_end_with_their_total():
    times = {"forward": {"conv1": 1.0, "pool1": 0.5}, "backward": {"conv1": 2.0, "pool1": 0.25}}
    fig = viz.plot_time_bars(times, title="one step")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    where = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert where["conv1"] > where["pool1"]                                  # the first label on top
    bars = _bars(fig)
    assert len(bars) == 4
    conv1_back = bars[2]
    assert conv1_back.get_x() == pytest.approx(1.0) and conv1_back.get_width() == pytest.approx(2.0)
    texts = [t.get_text().strip() for t in ax.texts]
    assert "3.00 ms" in texts and "0.75 ms" in texts
    assert ax.get_title() == "one step" and ax.get_xlabel() == "time (ms)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["forward", "backward"]


def test_side_by_side_series_and_a_single_mapping():
    times = {"plain": {"a": 4.0, "b": 2.0}, "tuned": {"a": 1.0, "b": 1.5}}
    fig = viz.plot_time_bars(times, stacked=False, unit="s")
    bars = _bars(fig)
    assert len(bars) == 4 and all(b.get_x() == 0 for b in bars)
    assert sorted(b.get_width() for b in bars) == [1.0, 1.5, 2.0, 4.0]
    assert fig.axes[0].get_xlim()[1] == pytest.approx(4.8)
    single = viz.plot_time_bars({"matmul": 0.5})
    assert len(_bars(single)) == 1 and single.axes[0].get_legend() is None


def test_rejects_mismatched_labels_and_bad_times():
    with pytest.raises(ValueError, match=r"times\['b'\]: expected the labels \['x', 'y'\]"):
        viz.plot_time_bars({"a": {"x": 1, "y": 2}, "b": {"y": 1, "x": 2}})
    with pytest.raises(ValueError, match=r"finite and >= 0, got \['x'\]"):
        viz.plot_time_bars({"x": -1.0})
    with pytest.raises(ValueError, match="finite"):
        viz.plot_time_bars({"x": np.nan})
    with pytest.raises(ValueError, match="empty"):
        viz.plot_time_bars({})
