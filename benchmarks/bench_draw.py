"""How long the draw-a-digit widget (cnnlib.widgets.DrawDigit, notebook 08) takes from the end of a
stroke to the updated figure: the kernel-side work of one mouse-up, i.e. the drawing turned into an
MNIST-like input (mnist_like), LeNet-5's forward pass, the figure updated in place
(widgets.update_digit_reading; the first stroke builds it) and rendered to the PNG the widget shows.
The browser's share (sending the event, showing the PNG) is not included. Goal: under 200 ms on a
2-core machine. Also times the convolution explorer's redraw after a slider change.

    python benchmarks/bench_draw.py [--repeats 30] [--threads 1]

Each stroke is replayed through the widget's own handlers (pen_down, pen_move, then the timed
pen_up), alternating a vertical line and a 7 so that every update draws a different figure.
Wall-clock times include waiting for a CPU on a busy machine; the process's CPU time per update is
printed beside them.
"""

import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    return parser.parse_args()


ARGS = parse_args()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread settings)

from cnnlib import widgets  # noqa: E402
from cnnlib.datasets import load_mnist  # noqa: E402

STROKES = [[(140.0, 40.0 + 10 * k) for k in range(21)], widgets.EXAMPLE_STROKES[0]]


def summary(name, seconds):
    ms = 1e3 * np.asarray(seconds)
    print(f"{name:44s} median {np.median(ms):6.1f} ms   p90 {np.percentile(ms, 90):6.1f} ms   "
          f"min {ms.min():6.1f} ms   ({len(ms)} runs)")


def main():
    pad = widgets.DrawDigit()
    stroke_end, stroke_cpu, parts = [], [], {"mnist_like": [], "LeNet-5 forward": [],
                                             "figure update": [], "PNG rendering": []}
    for k in range(ARGS.repeats + 1):
        pad.clear()
        points = STROKES[k % 2]
        pad.pen_down(*points[0])
        for point in points[1:-1]:
            pad.pen_move(*point)
        started, cpu_started = time.perf_counter(), time.process_time()
        pad.pen_up(*points[-1])
        if k:                                          # the first run warms caches up
            stroke_end.append(time.perf_counter() - started)
            stroke_cpu.append(time.process_time() - cpu_started)
        ticks = [time.perf_counter()]
        image = widgets.mnist_like(pad.ink)
        ticks.append(time.perf_counter())
        probabilities, maps = widgets.read_digit(pad.model, image)
        ticks.append(time.perf_counter())
        widgets.update_digit_reading(pad._figure, image, probabilities, maps, drawing=pad.ink)
        ticks.append(time.perf_counter())
        widgets._png(pad._figure, pad.dpi)
        ticks.append(time.perf_counter())
        if k:
            for name, a, b in zip(parts, ticks, ticks[1:]):
                parts[name].append(b - a)
    assert pad.probabilities is not None
    print(f"cnnlib.widgets.DrawDigit, {ARGS.repeats} strokes, {ARGS.threads} BLAS thread(s), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    summary("end of stroke -> updated figure (pen_up)", stroke_end)
    summary("  the same, CPU time of this process", stroke_cpu)
    for name, seconds in parts.items():
        summary(f"  of which {name}", seconds)

    _, (x_test, y_test) = load_mnist()
    explorer = widgets.ConvExplorer(x_test[:10], y_test[:10], stride=2, pad=1, position=(6, 7))
    redraw, redraw_cpu = [], []
    for k in range(ARGS.repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        explorer.stride.value = 1 + k % 3
        redraw.append(time.perf_counter() - started)
        redraw_cpu.append(time.process_time() - cpu_started)
    summary("ConvExplorer: stride slider -> new figure", redraw)
    summary("  the same, CPU time of this process", redraw_cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
