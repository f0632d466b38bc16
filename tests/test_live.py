import base64

import numpy as np
import pytest

from cnnlib import live as live_module
from cnnlib.live import LivePlot, LiveRun, evaluate_loss, live_run
from cnnlib.models import TwoLayerNet
from cnnlib.optim import SGD
from cnnlib.training import fit

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()[:10]      # how a PNG starts, in base64


class FakeDisplay:
    """IPython's ``display(obj, raw=True, display_id=True)``: records what is shown, and updates."""

    def __init__(self):
        self.shown, self.updates = [], []

    def __call__(self, bundle, raw=False, display_id=None):
        assert raw and display_id is True
        self.shown.append(bundle)
        return self

    def update(self, bundle, raw=False):
        assert raw
        self.updates.append(bundle)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]], np.float32)
    return centers[y] + rng.standard_normal((n, 2)).astype(np.float32) * 0.5, y


def _train(live, seed=0, epochs=3):
    """A two-layer net on 200 points in 3 blobs, batches of 50 (4 steps per epoch), validated on 40
    more."""
    x, y = _blobs()
    model = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(seed))
    history = fit(model, SGD(0.1), x[:200], y[:200], epochs=epochs, batch_size=50, x_val=x[200:],
                  y_val=y[200:], progress=False, threads=1, live=live)
    return model, history


def test_without_a_kernel_nothing_is_shown_and_fit_runs(capsys):
    plot = LivePlot()                        # pytest: no IPython kernel
    assert not plot.shown
    _, history = _train(plot)
    assert plot.redraws == 0 and capsys.readouterr().out == ""
    assert plot.runs[0]["loss"] == history.loss              # still recorded, for draw()
    assert len(plot.runs[0]["val_loss"]) == 3
    _, again = _train(True)
    assert again.loss == history.loss


def test_kernel_detection(monkeypatch):
    import IPython

    class Shell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert live_module._kernel_display() is not None
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())     # terminal IPython: no kernel
    assert live_module._kernel_display() is None


def test_one_output_updated_in_place_at_most_once_per_interval():
    display, clock = FakeDisplay(), Clock()
    plot = LivePlot(interval=2.0, display=display, clock=clock)
    run = plot.run()
    assert len(display.shown) == 1 and display.shown[0]["image/png"].startswith(PNG)
    for step in range(40):
        clock.now = 0.1 * step                                   # 0.0 .. 3.9 s
        run.step(1.0 / (step + 1))
    assert len(display.updates) == 1                             # at 2.0 s, not before, not again
    run.epoch(0.5, val_acc=0.6)                                  # 3.9 s: under 2 s since the last
    assert len(display.updates) == 1
    clock.now = 4.0
    run.epoch(0.7, val_acc=0.8)
    assert len(display.updates) == 2
    run.close()                                                  # the final figure, at once
    assert len(display.updates) == 3 and len(display.shown) == 1
    assert all(u["image/png"].startswith(PNG) for u in display.updates)
    assert plot.redraws == 4


def test_slow_redraws_are_spaced_to_stay_within_the_budget():
    clock = Clock()

    class SlowDisplay(FakeDisplay):           # each redraw takes 1 s
        def __call__(self, bundle, raw=False, display_id=None):
            clock.now += 1.0
            return super().__call__(bundle, raw, display_id)

        def update(self, bundle, raw=False):
            clock.now += 1.0
            super().update(bundle, raw)

    display = SlowDisplay()
    run = LivePlot(interval=2.0, budget=0.1, display=display, clock=clock).run()   # ends at 1 s
    clock.now = 9.9                           # 1 s of drawing in 10 s: after 9 s of training
    run.step(0.5)
    assert not display.updates
    clock.now = 10.0
    run.step(0.5)
    assert len(display.updates) == 1 and clock.now == 11.0


def test_fit_draws_the_final_figure_once_and_shows_one_output():
    display, clock = FakeDisplay(), Clock()       # the clock stands still: no redraw during the run
    plot = LivePlot(interval=1.0, display=display, clock=clock)
    _train(plot)
    assert len(display.shown) == 1 and len(display.updates) == 1 and plot.redraws == 2


def test_fit_records_the_curves_and_changes_no_number():
    _, plain = _train(None, epochs=2)
    display = FakeDisplay()
    plot = LivePlot(interval=0, budget=1, display=display)        # redraw at every step
    model, watched = _train(plot, epochs=2)
    for field in ("loss", "train_acc", "val_acc"):
        assert getattr(watched, field) == getattr(plain, field), field
    run = plot.runs[0]
    assert run["loss"] == watched.loss and run["train_acc"] == watched.train_acc
    assert run["val_acc"] == watched.val_acc and run["val_step"] == [4, 8]
    x, y = _blobs()
    assert run["val_loss"][-1] == evaluate_loss(model, x[200:], y[200:])
    assert len(display.shown) == 1 and len(display.updates) == 8 + 2 + 1   # steps, epochs, end


def test_accuracy_is_drawn_in_percent():
    plot = LivePlot(display=FakeDisplay(), clock=Clock())
    _, history = _train(plot.run("a"), epochs=2)
    acc_ax = plot.draw().axes[1]
    assert acc_ax.get_ylabel() == "accuracy (%)"
    train_line, val_line = acc_ax.get_lines()
    np.testing.assert_allclose(train_line.get_ydata(), 100 * np.array(history.train_acc))
    np.testing.assert_allclose(val_line.get_ydata(), 100 * np.array(history.val_acc))
    assert plot.runs[0]["val_acc"] == history.val_acc          # the record keeps fractions


def test_several_runs_share_the_axes_each_labelled():
    plot = LivePlot(display=FakeDisplay(), clock=Clock())
    _train(plot.run("lr 0.1"))
    _train(plot.run("lr 0.1, seed 1"), seed=1)
    _train(plot)                                              # unnamed: "run 3"
    assert [r["label"] for r in plot.runs] == ["lr 0.1", "lr 0.1, seed 1", "run 3"]
    loss_ax, acc_ax = plot.draw().axes
    for ax in (loss_ax, acc_ax):
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["lr 0.1", "lr 0.1, seed 1", "run 3"]
    colors = {line.get_color() for line in loss_ax.get_lines()}
    assert colors == {"C0", "C1", "C2"}
    assert loss_ax.get_yscale() == "log"


def test_evaluate_loss_is_the_mean_loss_in_evaluation_mode():
    x, y = _blobs()
    model = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(0))
    model.train()
    whole = float(model.loss(x, y))
    assert evaluate_loss(model, x, y, batch_size=7) == pytest.approx(whole, rel=1e-6)
    assert isinstance(evaluate_loss(model, x, y), float) and model.training
    one_hot = np.eye(3, dtype=np.float32)[y]
    assert evaluate_loss(model, x, one_hot) == pytest.approx(whole, rel=1e-6)


def test_bad_arguments_are_named():
    x, y = _blobs()
    model = TwoLayerNet(2, 8, 3)
    with pytest.raises(ValueError, match="x and y: lengths differ: 240 examples, 239 labels"):
        evaluate_loss(model, x, y[:-1])
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        evaluate_loss(model, x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"interval: expected seconds >= 0, got -1"):
        LivePlot(interval=-1)
    with pytest.raises(ValueError, match=r"budget: expected a fraction of the time in \(0, 1\], "
                                         r"got 0"):
        LivePlot(budget=0)
    with pytest.raises(ValueError, match=r"smooth: expected a positive int, got 0"):
        LivePlot(smooth=0)
    with pytest.raises(TypeError, match="live: expected None, True, False, a LivePlot .* got str"):
        live_run("yes")
    assert live_run(None) is None and live_run(False) is None
    run = LivePlot(display=None).run("a")
    assert isinstance(run, LiveRun) and live_run(run) is run


def test_without_validation_data_the_figure_names_training_curves_only():
    plot = LivePlot(display=FakeDisplay(), clock=Clock())
    x, y = _blobs()
    for label in ("plain", "residual"):
        fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=1, batch_size=40, progress=False,
            live=plot.run(label))
    loss_ax, acc_ax = plot.draw().axes
    assert "no validation" in loss_ax.get_title() and "validation" not in acc_ax.get_title()
    assert acc_ax.get_xlim() == (0.5, 1.5)                      # one epoch: one point, centred
    legend = acc_ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["plain", "residual"]
    assert {handle.get_marker() for handle in legend.legend_handles} == {"o"}   # as drawn


def test_with_validation_data_the_legend_shows_the_validation_squares():
    plot = LivePlot(display=FakeDisplay(), clock=Clock())
    _train(plot.run("a"), epochs=2)
    _, acc_ax = plot.draw().axes
    assert "validation (squares)" in acc_ax.get_title()
    assert {h.get_marker() for h in acc_ax.get_legend().legend_handles} == {"s"}
    assert acc_ax.get_xlim() == (0.5, 2.5)


def test_epoch_ticks_are_whole_epochs_for_short_and_long_runs():
    plot = LivePlot(display=FakeDisplay(), clock=Clock())
    run = plot.run("a")
    run.epoch(0.5)
    assert list(plot.draw().axes[1].get_xticks()) == [1]
    for _ in range(29):
        run.epoch(0.6)
    ticks = [t for t in plot.draw().axes[1].get_xticks() if 0.5 <= t <= 30.5]   # those shown
    assert 2 <= len(ticks) <= 11 and all(t == int(t) for t in ticks)
