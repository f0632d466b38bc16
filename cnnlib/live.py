"""Training you can watch: loss and accuracy curves drawn while :func:`cnnlib.training.fit` runs.

``fit(..., live=True)`` shows one figure in the cell's output and redraws it in place: the training
loss of every step (faint) with its moving average, the validation loss at the end of every epoch,
and the accuracy per epoch. To compare runs in one cell, make one plot and hand it to every ``fit``
call::

    plot = LivePlot()
    for lr in (1e-3, 1e-2):
        fit(model(), Adam(lr=lr), x, y, epochs=3, x_val=xv, y_val=yv, live=plot.run(f"lr {lr:g}"))

Their curves share the axes, one colour and one legend entry per run (use one plot per cell: its
figure lives in the output of the cell that first showed it). A redraw (one PNG) takes 0.05-0.2 s
on an idle machine and several times that on a busy one, so while a run trains the figure is redrawn
at most once every ``interval`` seconds, and less often when redrawing is slow: the time spent
redrawing stays under ``budget`` (3%) of the time (benchmarks/bench_live.py measured both). It is
redrawn once more when the run ends: the output then holds that last, static figure, and a stored
notebook shows it like any other. Where no Jupyter
kernel runs (plain scripts, ``python -m cnnlib train``) nothing is displayed or drawn; the numbers
are still recorded, and :meth:`LivePlot.draw` returns the figure.
"""

import base64
import io
import time

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .models import in_mode
from .viz.curves import plain_log_axis

DEFAULT_INTERVAL = 5.0
"""The least time in seconds between two redraws during a run."""
DEFAULT_BUDGET = 0.03
"""The largest fraction of a run's time spent redrawing (benchmarks/bench_live.py: with both
defaults notebook 07's full training loses under 5% in all, the redraws at its start and end
included)."""


def evaluate_loss(model, x, y, batch_size=1000):
    """Mean loss of ``model`` over ``x`` (N, ...) against labels ``y``, (N,) ints or (N, classes)
    one-hot, computed ``batch_size`` examples at a time in evaluation mode (the model's mode is
    restored); a float. It is ``model.loss``, the loss ``fit`` minimises, measured the way
    :func:`cnnlib.training.evaluate` measures accuracy."""
    return _loss_and_accuracy(model, x, y, batch_size)[0]


def _loss_and_accuracy(model, x, y, batch_size=1000):
    """``(mean loss, accuracy)`` of ``model`` over ``x``, ``y`` from one pass in evaluation mode;
    the accuracy is :func:`cnnlib.training.evaluate`'s to the last bit (same batches and scores)."""
    labels = np.asarray(y)
    labels = labels.argmax(axis=1) if labels.ndim == 2 else labels
    if len(x) != len(labels):
        raise ValueError(f"x and y: lengths differ: {len(x)} examples, {len(labels)} labels")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if len(x) == 0:
        raise ValueError("x: no examples to evaluate (length 0)")
    total, correct = 0.0, 0
    with in_mode(model, False):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            total += float(model.loss(xb, yb)) * len(xb)
            correct += int(np.sum(model.last_scores.argmax(axis=1) == labels[i:i + batch_size]))
    return total / len(x), correct / len(x)


def _kernel_display():
    """IPython's ``display`` when a Jupyter kernel runs this code, else None (scripts, terminal)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    shell = get_ipython()
    return display if shell is not None and getattr(shell, "kernel", None) is not None else None


def _moving_average(values, window):
    """The mean of the last ``window`` values at each position (fewer at the start)."""
    cumulative = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


class LivePlot:
    """One figure of training curves, shown once in a notebook and redrawn in place as runs train.

    ``interval``: at most one redraw every that many seconds during a run (plus one at its end);
    ``budget``: and after a redraw that took ``t`` seconds, none for ``t * (1 - budget) / budget``
    seconds, so that redrawing takes at most that fraction of the time.
    ``smooth``: the training loss is drawn raw (faint) and as the mean of the last ``smooth`` steps.
    ``display``: a function like IPython's ``display(bundle, raw=True, display_id=True)``
    returning a handle with ``update(bundle, raw=True)``; by default IPython's inside a Jupyter
    kernel and None (show and draw nothing) elsewhere. ``clock``: seconds as a float, for tests.
    """

    def __init__(self, *, interval=DEFAULT_INTERVAL, budget=DEFAULT_BUDGET, smooth=50,
                 display="auto", clock=time.monotonic):
        if not (isinstance(interval, (int, float)) and interval >= 0):
            raise ValueError(f"interval: expected seconds >= 0, got {interval!r}")
        if not (isinstance(budget, (int, float)) and 0 < budget <= 1):
            raise ValueError(f"budget: expected a fraction of the time in (0, 1], got {budget!r}")
        if not (isinstance(smooth, int) and smooth >= 1):
            raise ValueError(f"smooth: expected a positive int, got {smooth!r}")
        self.interval, self.budget = float(interval), float(budget)
        self.smooth, self.clock = smooth, clock
        self._display = _kernel_display() if display == "auto" else display
        self.runs = []      # dicts: label, loss (per step), val_step, val_loss, train_acc, val_acc
        self.redraws = 0
        self._handle, self._last, self._cost = None, -np.inf, 0.0   # last redraw: end, seconds
        self._figure, self._lines = None, []        # built at the first draw, then updated
        self._in_legend = (0, False)                # (runs named in the legends, validated)

    @property
    def shown(self):
        """True when this plot draws into an output (a Jupyter kernel, or a given ``display``)."""
        return self._display is not None

    def run(self, label=None):
        """Start a new run on this plot, labelled ``label`` (default ``run 1``, ``run 2``, ...);
        returns the :class:`LiveRun` that ``fit`` reports to (pass it as ``fit(..., live=...)``)."""
        label = f"run {len(self.runs) + 1}" if label is None else str(label)
        self.runs.append({"label": label, "loss": [], "val_step": [], "val_loss": [],
                          "train_acc": [], "val_acc": []})
        if self.shown and self._handle is None:
            self._redraw()                  # the figure appears above the run's progress bars
        return LiveRun(self, self.runs[-1])

    def _tick(self, final=False):
        wait = max(self.interval, self._cost * (1 - self.budget) / self.budget)
        if self.shown and (final or self.clock() - self._last >= wait):
            self._redraw()

    def _redraw(self):
        started = self.clock()
        buffer = io.BytesIO()
        self.draw().savefig(buffer, format="png")
        bundle = {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                  "text/plain": f"<LivePlot: {', '.join(r['label'] for r in self.runs)}>"}
        if self._handle is None:
            self._handle = self._display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        self.redraws += 1
        self._last = self.clock()
        self._cost = self._last - started

    def draw(self):
        """The curves of every run so far on one ``matplotlib.figure.Figure`` of 10 x 3.5 inches,
        brought up to date and returned (the same figure every time: a redraw only moves the data):
        loss per step (raw, faint, and smoothed) with the validation loss per epoch (squares, at the
        step that ended the epoch), and accuracy per epoch (validation solid, training dashed); one
        colour per run, named in a legend when there are several runs or the one has a label. The
        accuracies are drawn in percent; :attr:`runs` keeps them as fractions, as ``History``
        does."""
        if self._figure is None:
            self._figure = self._empty_figure()
        loss_ax, acc_ax = self._figure.axes
        for k, run in enumerate(self.runs):
            if k == len(self._lines):
                color, label = f"C{k % 10}", run["label"]
                self._lines.append((
                    loss_ax.plot([], [], color=color, alpha=0.2, lw=0.8)[0],
                    loss_ax.plot([], [], color=color, label=label)[0],
                    loss_ax.plot([], [], "s--", color=color, ms=4)[0],
                    acc_ax.plot([], [], "o--", color=color, ms=4, alpha=0.6)[0],
                    acc_ax.plot([], [], "s-", color=color, ms=4, label=label)[0]))
            raw, smoothed, val_loss, train_acc, val_acc = self._lines[k]
            steps = np.arange(1, len(run["loss"]) + 1)
            raw.set_data(steps, run["loss"])
            smoothed.set_data(steps, _moving_average(run["loss"], self.smooth))
            val_loss.set_data(run["val_step"], run["val_loss"])
            epochs = np.arange(1, len(run["train_acc"]) + 1)
            train_acc.set_data(epochs, 100 * np.asarray(run["train_acc"], dtype=float))
            val_acc.set_data(epochs[:len(run["val_acc"])],
                             100 * np.asarray(run["val_acc"], dtype=float))
        if loss_ax.get_yscale() == "linear" and any(r["loss"] for r in self.runs):
            loss_ax.set_yscale("log")
        validated = any(run["val_acc"] for run in self.runs)
        named = len(self.runs) > 1 or self.runs and self.runs[0]["label"] != "run 1"
        new_legend = named and (len(self.runs), validated) != self._in_legend
        for ax in (loss_ax, acc_ax):
            ax.relim()
            ax.autoscale_view()
        if loss_ax.get_yscale() == "log":
            low, high = loss_ax.get_ylim()
            plain_log_axis(loss_ax, (1.0,) if high > 300 * low else (1.0, 2.0, 3.0, 5.0))
        epochs = max([1] + [len(run["train_acc"]) for run in self.runs])
        acc_ax.set_xlim(0.5, epochs + 0.5)
        if epochs <= 10:
            acc_ax.set_xticks(range(1, epochs + 1))
        else:
            acc_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if new_legend:
            self._titles(loss_ax, acc_ax, validated)
            loss_ax.legend(fontsize=8)
            shown = [lines[4 if validated else 3] for lines in self._lines]
            acc_ax.legend(shown, [run["label"] for run in self.runs], fontsize=8)
            self._in_legend = (len(self.runs), validated)
        elif not named:
            self._titles(loss_ax, acc_ax, validated)
        return self._figure

    def _titles(self, loss_ax, acc_ax, validated):
        """The panels' titles, naming the validation curves only when there are some."""
        if validated:
            loss_ax.set_title(f"loss: training (faint: each step; line: mean of {self.smooth})\n"
                              "and validation (squares, at each epoch's end)", fontsize=10)
            acc_ax.set_title("accuracy per epoch: validation (squares)\n"
                             "and training (circles, during the epoch)", fontsize=10)
        else:
            loss_ax.set_title(f"training loss (faint: each step; line: mean of {self.smooth})\n"
                              "no validation data", fontsize=10)
            acc_ax.set_title("training accuracy per epoch\n(circles, during the epoch)",
                             fontsize=10)

    def _empty_figure(self):
        fig = Figure(figsize=(10, 3.5))
        # fixed margins: a layout engine would measure every label again at each redraw
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.86, wspace=0.22)
        loss_ax, acc_ax = fig.subplots(1, 2)
        loss_ax.set(xlabel="step", ylabel="loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy (%)")
        return fig


class LiveRun:
    """One run of a :class:`LivePlot`, as ``fit`` reports to it: :meth:`step` after every step,
    :meth:`validate` in place of ``evaluate`` on the validation data, :meth:`epoch` after every
    epoch, :meth:`close` at the end."""

    def __init__(self, plot, record):
        self.plot, self.record = plot, record

    def step(self, loss):
        """Record one step's training loss (a float); redraw if it is time (see LivePlot)."""
        self.record["loss"].append(float(loss))
        self.plot._tick()

    def validate(self, model, x_val, y_val):
        """The validation accuracy of ``model`` on ``x_val``, ``y_val`` (``evaluate``'s value), and
        record the validation loss, which the same forward pass gives."""
        loss, accuracy = _loss_and_accuracy(model, x_val, y_val)
        self.record["val_step"].append(len(self.record["loss"]))
        self.record["val_loss"].append(loss)
        return accuracy

    def epoch(self, train_acc, val_acc=None):
        """Record an epoch's training and validation accuracy (None without validation data);
        redraw if it is time (see LivePlot)."""
        self.record["train_acc"].append(float(train_acc))
        if val_acc is not None:
            self.record["val_acc"].append(float(val_acc))
        self.plot._tick()

    def close(self):
        """The run has ended: draw the final figure (the one that stays in the output)."""
        self.plot._tick(final=True)


def live_run(live):
    """What ``fit(..., live=...)`` reports to: None for None or False, a run of a new
    :class:`LivePlot` for True, a new run of ``live`` for a LivePlot, ``live`` for a LiveRun."""
    if live is None or live is False:
        return None
    if live is True:
        return LivePlot().run()
    if isinstance(live, LivePlot):
        return live.run()
    if isinstance(live, LiveRun):
        return live
    raise TypeError(f"live: expected None, True, False, a LivePlot or LivePlot.run(label), "
                    f"got {type(live).__name__}")
