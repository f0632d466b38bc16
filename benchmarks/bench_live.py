"""What watching costs: notebook 07's full-training configuration (``LeNet5(tuned=True)``, batch
128, Adam with a cosine schedule, a validation set of 1/11 of the training images like 07's 5,000
of 55,000) trained with ``fit(live=None)`` and with ``fit(live=LivePlot(interval=N, budget=B))``,
passes alternating.

    python benchmarks/bench_live.py [--images 12800] [--epochs 2] [--passes 3] [--interval 5]
                                    [--budget 0.03]

Outside a Jupyter kernel a LivePlot draws nothing, so the benchmark gives it a display that does
what the kernel does with each redraw (JSON of the PNG in base64). It prints every pass (the
machine may be busy: compare the pairs), then the costs of watching measured apart: one redraw of
a figure holding a whole 07 run (3,440 steps, 8 epochs), and validation with its loss against
validation without (``evaluate``) on 5,000 images. From those it projects the slowdown of 07's full
training (55,000 images, 8 epochs) for several settings: a run that lasts T seconds, with redraws
of r seconds, redraws about T / max(N, r (1 - B) / B) times, plus once at its start and once at
its end.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
from machine import describe


def kernel_like_display(bundle, raw=True, display_id=True):
    """Stand-in for IPython's display in a kernel: serialise the bundle as the kernel does."""
    json.dumps(bundle)
    return Handle()


class Handle:
    def update(self, bundle, raw=True):
        kernel_like_display(bundle)


def train(x, y, x_val, y_val, epochs, live):
    """Seconds to train 07's model as 07 does (without progress bars)."""
    from cnnlib.models import LeNet5
    from cnnlib.optim import Adam, cosine_schedule
    from cnnlib.training import fit

    model = LeNet5(rng=np.random.default_rng(0), tuned=True)
    started = time.perf_counter()
    fit(model, Adam(lr=2e-3), x, y, epochs=epochs, batch_size=128, x_val=x_val, y_val=y_val,
        seed=0, progress=False, lr_schedule=cosine_schedule(2e-3, epochs), live=live)
    return time.perf_counter() - started


def full_run_plot(interval):
    """A LivePlot holding as many points as 07's full run: 3,440 steps, 8 epochs."""
    from cnnlib.live import LivePlot

    plot = LivePlot(interval=interval, display=kernel_like_display)
    run = plot.run("07")
    rng = np.random.default_rng(0)
    run.record["loss"] = list(2.3 * np.exp(-np.arange(3440) / 300) + 0.02 + 0.05 * rng.random(3440))
    run.record["train_acc"] = list(np.linspace(0.9, 0.999, 8))
    run.record["val_acc"] = list(np.linspace(0.97, 0.993, 8))
    run.record["val_step"] = list(range(430, 3441, 430))
    run.record["val_loss"] = list(np.linspace(0.1, 0.03, 8))
    return plot


def median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=12800,
                        help="training images (and 1/11 as many for validation)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--passes", type=int, default=3, help="passes with live off and on")
    parser.add_argument("--interval", type=float, default=None, help="seconds (LivePlot's default)")
    parser.add_argument("--budget", type=float, default=None, help="fraction (LivePlot's default)")
    args = parser.parse_args()

    from cnnlib.datasets import load_mnist
    from cnnlib.live import DEFAULT_BUDGET, DEFAULT_INTERVAL, LivePlot, LiveRun
    from cnnlib.models import LeNet5
    from cnnlib.training import evaluate

    interval = DEFAULT_INTERVAL if args.interval is None else args.interval
    budget = DEFAULT_BUDGET if args.budget is None else args.budget
    (x_all, y_all), _ = load_mnist()
    n_val = args.images // 11
    x, y = x_all[:args.images], y_all[:args.images]
    x_val, y_val = x_all[args.images:args.images + n_val], y_all[args.images:args.images + n_val]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {describe()}")
    print(f"07's training (LeNet5(tuned=True), batch 128, Adam, cosine) on {args.images:,} images "
          f"+ {n_val:,} for validation, {args.epochs} epochs; live: interval {interval:g} s, "
          f"budget {budget:g}")
    train(x[:1280], y[:1280], x_val[:128], y_val[:128], 1, None)               # warm-up
    off, on = [], []
    for k in range(args.passes):
        off.append(train(x, y, x_val, y_val, args.epochs, None))
        plot = LivePlot(interval=interval, budget=budget, display=kernel_like_display)
        on.append(train(x, y, x_val, y_val, args.epochs, plot))
        print(f"pass {k + 1}: off {off[-1]:6.2f} s, on {on[-1]:6.2f} s ({plot.redraws} redraws): "
              f"{on[-1] / off[-1] - 1:+6.1%}   (load average {os.getloadavg()[0]:.1f})")
    print(f"median: off {statistics.median(off):.2f} s, on {statistics.median(on):.2f} s: "
          f"{statistics.median(on) / statistics.median(off) - 1:+.1%} (with the redraws at the "
          f"start and end of every run, which weigh more in a short run than in 07's)")

    plot = full_run_plot(interval)
    cpu = time.process_time()
    redraw = median_seconds(plot._redraw, 5)
    cpu = (time.process_time() - cpu) / 5
    model = LeNet5(rng=np.random.default_rng(0), tuned=True)
    val_x, val_y = x_all[55000:], y_all[55000:]
    run = LiveRun(plot, {"loss": [], "val_step": [], "val_loss": []})
    with_loss = median_seconds(lambda: run.validate(model, val_x, val_y), 5)
    without = median_seconds(lambda: evaluate(model, val_x, val_y), 5)
    full = 8 * (55000 * statistics.median(o / (args.epochs * (args.images + n_val)) for o in off))
    print(f"one redraw of a full 07 run's figure: {redraw * 1e3:.0f} ms ({cpu * 1e3:.0f} ms of CPU "
          f"time); validation on 5,000 "
          f"images: {with_loss * 1e3:.0f} ms with the loss, {without * 1e3:.0f} ms without")
    print(f"07's full training without live, projected from the passes: {full:.0f} s")
    for n, b in ((interval, budget), (2, budget), (10, budget), (2, 1), (5, 1), (10, 1), (20, 1)):
        redraws = full / max(n, redraw * (1 - b) / b) + 2
        extra = redraws * redraw + 8 * (with_loss - without)
        print(f"  interval {n:4g} s, budget {b:4g}: about {redraws:4.0f} redraws, "
              f"slowdown {extra / full:+6.1%}")


if __name__ == "__main__":
    main()
