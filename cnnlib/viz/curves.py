"""Curves: training histories (loss, accuracy, the train-validation gap), accuracy against a
setting, functions and their derivatives, activation histograms, optimiser trajectories.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter


def _moving_average(values, window):
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def plain_log_axis(ax, subs=(1.0, 2.0, 3.0, 5.0)):
    """Label a log-scaled y axis with plain numbers (0.1, 0.2, 0.5, 1, 2), not 2x10^0: ticks at
    ``subs`` (1, 2, 3 and 5) times the powers of ten, the others unlabelled."""
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_history(history, *, smooth=50):
    """Two panels: loss per iteration (raw, faint, and a ``smooth``-step moving average) and
    accuracy per epoch in percent (the history keeps fractions)."""
    if not history.loss:
        raise ValueError("history: no iterations recorded (history.loss is empty)")
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    steps = np.arange(1, len(history.loss) + 1)
    loss_ax.plot(steps, history.loss, color="tab:blue", alpha=0.25, lw=0.8, label="loss")
    smoothed = _moving_average(history.loss, smooth)
    loss_ax.plot(steps[len(steps) - len(smoothed):], smoothed, color="tab:blue",
                 label=f"mean of {min(smooth, len(steps))}")
    loss_ax.set(xlabel="iteration", ylabel="loss", title="training loss", yscale="log")
    plain_log_axis(loss_ax)
    loss_ax.legend()
    epochs = np.arange(1, len(history.train_acc) + 1)
    acc_ax.plot(epochs, 100 * np.asarray(history.train_acc, dtype=float), "o-",
                label="train (during the epoch)")
    if history.val_acc:
        acc_ax.plot(epochs[:len(history.val_acc)], 100 * np.asarray(history.val_acc, dtype=float),
                    "s-", label="validation")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy per epoch")
    acc_ax.xaxis.get_major_locator().set_params(integer=True)
    acc_ax.legend()
    return fig



def plot_curves(x, curves, *, title=None, xlabel="x", ylabel=None, ylim=None, step=False):
    """Line plot of several curves over the same ``x``: ``curves`` maps a legend label to y values.
    ``ylim``: ``(bottom, top)`` of the y axis (by default it shows all values and 0). ``step``:
    draw each curve as a staircase, each value held from its x to the next (a learning rate set
    at the start of every epoch), with a point at the start of each stair."""
    x = np.asarray(x)
    for label, y in curves.items():
        if np.shape(y) != x.shape:
            raise ValueError(f"curves[{label!r}]: expected shape {x.shape} like x, got "
                             f"{np.shape(y)}")
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for label, y in curves.items():
        if step:
            # hold the last value for one more x step, so that the last stair has a width
            last = x[-1] + (x[-1] - x[-2] if len(x) > 1 else 1)
            line, = ax.step(np.append(x, last), np.append(y, y[-1]), where="post", label=label)
            ax.plot(x, y, "o", ms=3, color=line.get_color())
        else:
            ax.plot(x, y, label=label)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend()
    return fig



def plot_curve_panels(x, panels, *, title=None, xlabel="x"):
    """Curves over the same ``x`` in side-by-side panels, each with its own y axis.

    panels: ``{panel title: {legend label: y values shaped like x}}``. Use it when curves of very
    different heights would flatten each other on one axis (ReLU's slope of 1 beside the sigmoid's
    of at most 0.25).
    """
    x = np.asarray(x)
    if not panels:
        raise ValueError("panels: expected at least one {panel title: {label: y}}")
    for name, curves in panels.items():
        for label, y in curves.items():
            if np.shape(y) != x.shape:
                raise ValueError(f"panels[{name!r}][{label!r}]: expected shape {x.shape} like x, "
                                 f"got {np.shape(y)}")
    fig = Figure(figsize=(4.2 * len(panels), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (name, curves) in zip(axes, panels.items()):
        for label, y in curves.items():
            ax.plot(x, y, label=label)
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set(xlabel=xlabel, title=name)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig



def plot_accuracy_curves(x, curves, *, xlabel, title=None, chance=None, xticks=None,
                         legend_loc="best"):
    """Accuracy (in %) against a perturbation's size, one line with markers per model.

    x: ``(K,)`` sizes (epsilon, pixels, degrees); curves: ``{label: (K,) accuracies in [0, 1]}``;
    chance: an accuracy drawn as a dashed grey line (e.g. 0.1 for ten balanced classes), or None;
    xticks: the x values to label (e.g. ``x`` itself for integer shifts), or None for matplotlib's
    choice; legend_loc: where the legend goes (a matplotlib ``loc``, e.g. "lower left", or
    "outside": right of the axes, where it hides no point).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"x: expected a non-empty 1-D array, got shape {x.shape}")
    if not curves:
        raise ValueError("curves: expected at least one {label: accuracies}")
    for label, y in curves.items():
        y = np.asarray(y, dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"curves[{label!r}]: expected shape {x.shape} like x, got {y.shape}")
        if np.any((y < 0) | (y > 1)):
            raise ValueError(f"curves[{label!r}]: accuracies must be in [0, 1], got "
                             f"{y.min()}..{y.max()}")
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    for k, (label, y) in enumerate(curves.items()):
        ax.plot(x, 100 * np.asarray(y, dtype=float), marker="os^vD"[k % 5], label=label)
    if chance is not None:
        ax.axhline(100 * chance, color="grey", ls="--", lw=1, label="chance")
    ax.set(xlabel=xlabel, ylabel="accuracy (%)", ylim=(0, 102), title=title)
    if xticks is not None:
        ax.set_xticks(np.asarray(xticks, dtype=float))
    ax.grid(alpha=0.3)
    if legend_loc == "outside":                  # right of the axes, hiding no point
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(loc=legend_loc)
    return fig



def plot_activation_histograms(runs, *, bins=30, title=None):
    """Histograms of activations, one row per run and one column per layer.

    runs: ``{row label: {layer label: array of activations}}`` (any shapes; every value counts),
    e.g. one row per initialisation scale, one column per layer of a deep stack. Each row shares one
    value range, so the spread shrinking or saturating from layer to layer is visible; each panel
    is titled with its layer and the standard deviation of its values.
    """
    if not runs or not all(runs.values()):
        raise ValueError("runs: expected {row label: {layer label: array}} with at least one layer")
    ncols = max(len(layers) for layers in runs.values())
    fig = Figure(figsize=(2.1 * ncols + 0.8, 1.8 * len(runs) + 0.4), layout="constrained")
    axes = fig.subplots(len(runs), ncols, squeeze=False)
    for row, (run, layers) in zip(axes, runs.items()):
        values = {name: np.asarray(a, dtype=np.float64).ravel() for name, a in layers.items()}
        low = min(v.min() for v in values.values())
        high = max(max(v.max() for v in values.values()), low + 1e-12)
        for ax in row[len(values):]:
            ax.set_axis_off()
        for col, (ax, (name, v)) in enumerate(zip(row, values.items())):
            ax.hist(v, bins=bins, range=(low, high), color="tab:blue")
            ax.set_title(f"{name}: std {v.std():.2g}", fontsize=9)
            ax.set_yticks([])
            ax.tick_params(labelsize=8)
            ax.locator_params(axis="x", nbins=4)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            if col == 0:
                ax.set_ylabel(run, fontsize=9)
    if title:
        fig.suptitle(title)
    return fig



def plot_trajectories(loss, paths, *, xlim, ylim, minimum=None, ncols=None, levels=20, title=None,
                      xlabel=None, ylabel=None):
    """Optimizer paths over the contour plot of a 2-D loss surface, one panel per path.

    loss: a function of two arrays ``(x, y)`` (broadcast elementwise) giving the loss; paths:
    ``{label: (T, 2) array of points}``, the parameters after each step, starting point first;
    ``xlim``, ``ylim``: the ``(low, high)`` ranges drawn; ``minimum``: an ``(x, y)`` point to mark.
    Each panel's title holds its label and the loss at the path's last point; ``xlabel`` and
    ``ylabel`` name the two coordinates (on every panel of the bottom row and left column).
    """
    if not paths:
        raise ValueError("paths: expected at least one {label: (T, 2) array}")
    for label, path in paths.items():
        if np.ndim(path) != 2 or np.shape(path)[1] != 2:
            raise ValueError(f"paths[{label!r}]: expected a (T, 2) array of points, got shape "
                             f"{np.shape(path)}")
    ncols = len(paths) if ncols is None else max(1, min(ncols, len(paths)))
    nrows = -(-len(paths) // ncols)
    gx, gy = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    surface = loss(gx, gy)
    fig = Figure(figsize=(3.2 * ncols, 2.9 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(paths):]:
        ax.set_axis_off()
    for ax, (label, path) in zip(axes.ravel(), paths.items()):
        path = np.asarray(path, dtype=np.float64)
        ax.contour(gx, gy, surface, levels=levels, cmap="Greys", linewidths=0.6)
        ax.plot(path[:, 0], path[:, 1], "o-", color="tab:red", ms=2.5, lw=1)
        ax.plot(*path[0], "s", color="black", ms=5)
        if minimum is not None:
            ax.plot(*minimum, "*", color="tab:green", ms=10)
        ax.set(xlim=xlim, ylim=ylim, title=f"{label}: loss {float(loss(*path[-1])):.2g}")
        ax.title.set_fontsize(10)
    for index, ax in enumerate(axes.ravel()[:len(paths)]):
        row, col = divmod(index, ncols)
        if xlabel and (row == nrows - 1 or index + ncols >= len(paths)):
            ax.set_xlabel(xlabel)
        if ylabel and col == 0:
            ax.set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    return fig



def plot_histories(histories, *, smooth=20, title=None):
    """Several training runs compared: the training loss per iteration (a ``smooth``-step moving
    average, log scale with plain tick labels) and the accuracy per epoch in percent (validation
    when recorded, else training).

    histories: ``{label: History}`` from :func:`cnnlib.training.fit`. A run that stopped early (or
    diverged) simply ends sooner.
    """
    if not histories:
        raise ValueError("histories: expected at least one {label: History}")
    for label, history in histories.items():
        if not history.loss:
            raise ValueError(f"histories[{label!r}]: no iterations recorded (history.loss is "
                             f"empty)")
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    kinds = set()
    for label, history in histories.items():
        smoothed = _moving_average(history.loss, smooth)
        window = len(history.loss) - len(smoothed)
        line, = loss_ax.plot(np.arange(window + 1, len(history.loss) + 1), smoothed, label=label)
        accuracy, kind = ((history.val_acc, "validation") if history.val_acc
                          else (history.train_acc, "training"))
        kinds.add(kind)
        acc_ax.plot(np.arange(1, len(accuracy) + 1), 100 * np.asarray(accuracy, dtype=float), "o-",
                    color=line.get_color(), label=label)
    loss_ax.set(xlabel="iteration", ylabel="loss", yscale="log",
                title=f"training loss (mean of {smooth})")
    plain_log_axis(loss_ax)
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)",
               title=" / ".join(sorted(kinds)) + " accuracy per epoch")
    acc_ax.xaxis.get_major_locator().set_params(integer=True)
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig



def plot_train_val_gap(curves, *, title=None):
    """Training against validation accuracy per epoch, one panel per run, the gap between them
    shaded.

    curves: ``{label: (train_accuracy, val_accuracy)}``, two sequences of the same length (one value
    per epoch), as fractions, drawn in percent. Each panel's title gives the gap after the last
    epoch, in percentage points; all panels share the y axis.
    """
    if not curves:
        raise ValueError("curves: expected at least one {label: (train, val)}")
    for label, pair in curves.items():
        if len(pair) != 2 or np.shape(pair[0]) != np.shape(pair[1]) or np.ndim(pair[0]) != 1:
            raise ValueError(f"curves[{label!r}]: expected (train, val), two 1-D sequences of "
                             f"equal length")
    fig = Figure(figsize=(3.4 * len(curves), 3.2), layout="constrained")
    axes = fig.subplots(1, len(curves), squeeze=False, sharey=True)[0]
    for ax, (label, (train, val)) in zip(axes, curves.items()):
        train, val = np.asarray(train, dtype=float), np.asarray(val, dtype=float)
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, 100 * train, "-", color="tab:blue", label="training")
        ax.plot(epochs, 100 * val, "-", color="tab:orange", label="validation")
        ax.fill_between(epochs, 100 * val, 100 * train, color="tab:red", alpha=0.15, label="gap")
        ax.set(xlabel="epoch", title=f"{label}: gap {100 * (train[-1] - val[-1]):+.1f} points")
        ax.title.set_fontsize(10)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_gradient_norms(norms, *, title=None):
    """The gradient norm of each layer's weights, layer by layer from the input, for several
    networks.

    norms: ``{label: {layer name: norm}}`` (e.g. ``{"plain": {...}, "residual": {...}}``), each
    inner dict in order from the first layer to the last; the x axis is the layer's depth
    (1 = first) and the y axis is logarithmic, so a factor lost per layer shows as a straight slope.
    """
    if not norms:
        raise ValueError("norms: expected at least one {label: {layer name: norm}}")
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    for label, values in norms.items():
        values = np.asarray(list(values.values()), dtype=np.float64)
        if values.ndim != 1 or not len(values) or np.any(values <= 0):
            raise ValueError(f"norms[{label!r}]: expected positive norms, one per layer, "
                             f"got {values}")
        ax.plot(np.arange(1, len(values) + 1), values, "o-", label=label)
    ax.set(xlabel="layer (1 = next to the input)", ylabel="gradient norm ||dL/dW||", yscale="log",
           title=title or "gradient norm per layer at initialisation")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return fig


def plot_search(trials, *, title=None, x="lr", y="weight_decay"):
    """A random search's trials: left, ``y`` against ``x`` on log axes, each trial a dot coloured
    by its validation accuracy (in %), the best one circled; right, validation accuracy against
    ``x`` (log axis). ``trials``: dicts with the keys ``x``, ``y`` and ``val_acc`` (a fraction)."""
    trials = list(trials)
    if not trials:
        raise ValueError("trials: expected at least one trial")
    for i, trial in enumerate(trials):
        missing = {x, y, "val_acc"} - set(trial)
        if missing:
            raise ValueError(f"trials[{i}]: missing the keys {sorted(missing)}")
    xs, ys = (np.array([float(t[k]) for t in trials]) for k in (x, y))
    acc = 100 * np.array([float(t["val_acc"]) for t in trials])
    best = int(np.argmax(acc))
    fig = Figure(figsize=(10, 4), layout="constrained")
    grid_ax, acc_ax = fig.subplots(1, 2)
    dots = grid_ax.scatter(xs, ys, c=acc, cmap="viridis", s=60, edgecolor="k", linewidth=0.5)
    grid_ax.scatter(xs[best], ys[best], s=260, facecolor="none", edgecolor="tab:red", lw=2,
                    label=f"best: {acc[best]:.1f}%")
    grid_ax.set(xscale="log", yscale="log", xlabel=x.replace("_", " "),
                ylabel=y.replace("_", " "), title="the trials (colour: validation accuracy)")
    grid_ax.legend(loc="best")
    fig.colorbar(dots, ax=grid_ax, label="validation accuracy (%)")
    acc_ax.scatter(xs, acc, color="tab:blue", s=40)
    acc_ax.scatter(xs[best], acc[best], s=260, facecolor="none", edgecolor="tab:red", lw=2)
    acc_ax.set(xscale="log", xlabel=x.replace("_", " "), ylabel="validation accuracy (%)",
               title="validation accuracy per trial")
    acc_ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig
