"""Timings: measured times as horizontal bars, one bar per item (a layer, a route), split into parts
(forward and backward) or grouped by series (plain and tuned). The appendix notebook draws them.
"""

import numpy as np
from matplotlib.figure import Figure


def _series(times):
    """``{series: {label: value}}`` from that or from a single ``{label: value}``."""
    if not times:
        raise ValueError("times: expected at least one value, got an empty mapping")
    if all(isinstance(v, dict) for v in times.values()):
        return {name: dict(values) for name, values in times.items()}
    return {"": dict(times)}


def plot_time_bars(times, *, stacked=True, title=None, unit="ms", xlabel=None):
    """Horizontal bars of measured times, the first label at the top, each bar labelled with its
    value.

    ``times``: ``{label: time}``, or ``{series: {label: time}}`` with the same labels in every
    series (e.g. ``{"forward": {"conv1": 1.2, ...}, "backward": {...}}``). ``stacked=True`` puts the
    series of a label end to end in one bar, labelled with their total (parts of one time);
    ``stacked=False`` draws them side by side (times to compare). Times are in ``unit``; they must
    be finite and >= 0. With several series the legend sits right of the axes, never over a bar.
    """
    series = _series(times)
    labels = list(next(iter(series.values())))
    for name, values in series.items():
        if list(values) != labels:
            raise ValueError(f"times[{name!r}]: expected the labels {labels}, got {list(values)}")
        bad = [k for k, v in values.items() if not (np.isfinite(v) and v >= 0)]
        if bad:
            raise ValueError(f"times[{name!r}]: times must be finite and >= 0, got {bad}")
    rows_drawn = len(labels) * (1 if stacked else len(series))
    width = 7 + 1.8 * (len(series) > 1)
    fig = Figure(figsize=(width, 0.45 * rows_drawn + 1.3), layout="constrained")
    ax = fig.subplots()
    rows = np.arange(len(labels))[::-1].astype(float)
    height = 0.7 if stacked else 0.8 / len(series)
    left = np.zeros(len(labels))
    largest = 0.0
    for k, (name, values) in enumerate(series.items()):
        widths = np.array([values[label] for label in labels], dtype=float)
        y = rows if stacked else rows + 0.4 - height * (k + 0.5)
        bars = ax.barh(y, widths, height=height, left=left if stacked else 0, label=name or None)
        if stacked:
            left = left + widths
        else:
            ax.bar_label(bars, fmt=f"%.2f {unit}", padding=3, fontsize=8)
        largest = max(largest, float((left if stacked else widths).max()))
    if stacked:
        for y, total in zip(rows, left):
            ax.text(total, y, f" {total:.2f} {unit}", va="center", fontsize=8)
    ax.set_yticks(rows, labels)
    ax.set_xlim(0, 1.2 * largest or 1)
    ax.set(xlabel=xlabel or f"time ({unit})", title=title)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    return fig
