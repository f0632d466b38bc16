"""Forward + backward of the two LeNet-5 conv layers and pooling layers: naive loops, the plain
im2col functions that notebooks 04-06 teach (cnnlib.conv, cnnlib.pool), the tuned convolution
(cnnlib.tuned), and torch.nn.functional on the same shapes when torch is installed (it is not a
requirement). A second table times LeNet-5's two conv -> ReLU -> 2x2 max-pool blocks as cnnlib's
plain layers one after another, as the fused blocks of cnnlib.tuned, and in torch.

    python benchmarks/bench_conv.py [--threads 2] [--naive-batch 16] [--repeats 20]

The naive loops are timed on --naive-batch images and scaled to the full batch (their cost is
exactly linear in the number of images); pass --naive-batch 128 to time them on the whole batch.
"""

import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="BLAS / torch threads")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--naive-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20)
    return parser.parse_args()


ARGS = parse_args()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread settings)

from cnnlib import conv, tuned  # noqa: E402
from cnnlib.conv import conv2d_backward_naive, conv2d_forward_naive  # noqa: E402
from cnnlib.pool import (  # noqa: E402,E501
    max_pool2d_backward,
    max_pool2d_backward_naive,
    max_pool2d_forward,
    max_pool2d_forward_naive,
)


def best_time(function, repeats):
    """Best of ``repeats`` wall-clock times of ``function()`` in seconds, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def conv_cases(rng, n):
    return [
        (f"conv1 {n}x1x28x28, 6@5x5 pad 2", rng.random((n, 1, 28, 28), dtype=np.float32),
         rng.standard_normal((6, 1, 5, 5), dtype=np.float32), np.zeros(6, np.float32), 2, False),
        (f"conv2 {n}x6x14x14, 16@5x5", rng.random((n, 6, 14, 14), dtype=np.float32),
         rng.standard_normal((16, 6, 5, 5), dtype=np.float32), np.zeros(16, np.float32), 0, True),
    ]


def _conv_row(name, x, xs, w, b, pad, input_grad, scale):
    """One convolution's row: naive (timed on ``xs``, scaled), plain, tuned and torch."""
    def plain(module=conv):
        out, cache = module.conv2d_forward(x, w, b, 1, pad)
        return module.conv2d_backward(out, cache, input_grad)

    def naive():
        out = conv2d_forward_naive(xs, w, b, 1, pad)
        return conv2d_backward_naive(out, xs, w, 1, pad)

    return (name + ("" if input_grad else " (no dx)"), best_time(naive, 1) * scale,
            best_time(plain, ARGS.repeats), best_time(lambda: plain(tuned), ARGS.repeats),
            torch_conv(x, w, b, pad, input_grad))


def _pool_row(name, x, xs, scale):
    """One max pooling's row: naive (timed on ``xs``, scaled), fast and torch."""
    def fast():
        out, cache = max_pool2d_forward(x)
        return max_pool2d_backward(out, cache)

    def naive():
        return max_pool2d_backward_naive(max_pool2d_forward_naive(xs), xs)

    return (name, best_time(naive, 1) * scale,
            best_time(fast, ARGS.repeats), None, torch_pool(x))


def _print_fused_row(name, x, w, b, pad, input_grad, forward, backward):
    """Time conv -> ReLU -> pool as three layers and as one tuned block; print the row."""
    def fused_block():
        out, cache = forward(x, w, b, pad)
        return backward(out, cache, input_grad)

    def layers():
        conv_out, conv_cache = conv.conv2d_forward(x, w, b, 1, pad)
        relu = np.maximum(conv_out, 0)
        out, pool_cache = max_pool2d_forward(relu)
        return conv.conv2d_backward(max_pool2d_backward(out, pool_cache) * (relu > 0),
                                    conv_cache, input_grad)

    layered, fast = best_time(layers, ARGS.repeats), best_time(fused_block, ARGS.repeats)
    torch_time = torch_conv(x, w, b, pad, input_grad, relu_pool=True)
    label = name.split(",")[0] + (" block" if input_grad else " block (no dx)")
    print(f"{label:36s} {layered * 1e3:8.2f}ms {fast * 1e3:7.2f}ms {layered / fast:8.2f}x "
          f"{_versus_torch(fast, torch_time)}")


def main():
    rng = np.random.default_rng(0)
    n, small = ARGS.batch, ARGS.naive_batch
    scale = n / small
    print(f"numpy {np.__version__}, {ARGS.threads} threads, batch {n}, float32; best of "
          f"{ARGS.repeats} runs")
    print(f"naive loops timed on {small} images and scaled x{scale:g}\n")
    rows = [_conv_row(name, x, xs, w, b, pad, input_grad, scale)
            for (name, x, w, b, pad, input_grad), (_, xs, *_) in zip(conv_cases(rng, n),
                                                                     conv_cases(rng, small))]
    for name, shape in ((f"maxpool {n}x6x28x28, 2x2", (n, 6, 28, 28)),
                        (f"maxpool {n}x16x10x10, 2x2", (n, 16, 10, 10))):
        x = rng.standard_normal(shape, dtype=np.float32)
        rows.append(_pool_row(name, x, x[:small], scale))
    print("plain: cnnlib.conv / cnnlib.pool (im2col, col2im, offset slices); tuned: cnnlib.tuned; "
          "speed-up: naive / fastest cnnlib")
    print(f"{'forward + backward':36s} {'naive':>10s} {'plain':>9s} {'tuned':>9s} {'speedup':>9s} "
          f"{'torch':>9s} {'best/torch':>11s}")
    for name, naive, plain_time, tuned_time, torch_time in rows:
        best = plain_time if tuned_time is None else tuned_time
        tuned_text = f"{'-':>9s}" if tuned_time is None else f"{tuned_time * 1e3:7.2f}ms"
        print(f"{name:36s} {naive * 1e3:8.0f}ms {plain_time * 1e3:7.2f}ms {tuned_text} "
              f"{naive / best:8.0f}x {_versus_torch(best, torch_time)}")
    print(f"\n{'conv -> ReLU -> pool, fwd + bwd':36s} {'layers':>10s} {'tuned':>9s} "
          f"{'speedup':>9s} {'torch':>9s} {'tuned/torch':>11s}")
    routes = [(tuned.first_conv_relu_pool_forward, tuned.first_conv_relu_pool_backward),
              (tuned.conv_relu_pool_forward, tuned.conv_relu_pool_backward)]
    for case, route in zip(conv_cases(rng, n), routes):
        _print_fused_row(*case, *route)


def _versus_torch(seconds, torch_seconds):
    """Columns 'torch' and 'ours/torch', or dashes when torch is not installed."""
    if torch_seconds is None:
        return f"{'-':>9s} {'-':>11s}"
    return f"{torch_seconds * 1e3:7.2f}ms {seconds / torch_seconds:10.2f}x"


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(ARGS.threads)
    return torch


def torch_conv(x, w, b, pad, input_grad, relu_pool=False):
    """Best time of torch's conv2d forward + backward, or of conv2d -> relu -> max_pool2d with
    ``relu_pool``."""
    torch = _torch()
    if torch is None:
        return None
    import torch.nn.functional as F

    xt = torch.from_numpy(x).requires_grad_(input_grad)
    wt, bt = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()

    def step():
        out = F.conv2d(xt, wt, bt, padding=pad)
        if relu_pool:
            out = F.max_pool2d(F.relu(out), 2)
        out.backward(out.detach())

    return best_time(step, ARGS.repeats)


def torch_pool(x):
    torch = _torch()
    if torch is None:
        return None
    import torch.nn.functional as F

    xt = torch.from_numpy(x).requires_grad_()

    def step():
        out = F.max_pool2d(xt, 2)
        out.backward(out.detach())

    return best_time(step, ARGS.repeats)


if __name__ == "__main__":
    sys.exit(main())
