"""LeNet-5 training throughput (images/s) and peak memory at several batch sizes: cnnlib's tuned
route (``LeNet5(tuned=True)``, what notebook 07 and ``python -m cnnlib train`` use by default;
BLAS threads share each product), the tuned route with each batch split across processes
("split": ``fit(..., workers=threads)``, one BLAS thread each, ``train --workers N``) and across
threads ("threads": ``cnnlib.tuned.SplitBatch``, which the appendix notebook takes apart), its plain
route (the layers of notebooks 04-06, ``LeNet5()``), and, when torch is installed (it is not a
requirement), the same network in PyTorch on the CPU with the same number of threads, batch size,
optimizer (Adam) and data.

    python benchmarks/bench_lenet.py [--threads 2] [--batches 64 128 256] [--images 12800]
    [--no-plain]

Each configuration runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own;
it includes the Python interpreter, the libraries and the 12,800 training images, and for "split"
the peaks of its worker processes as well (on Linux, where /proc shows them). Throughput is the best
of three passes over the images, after one warm-up pass; the cnnlib routes that use ``fit`` run
the four passes as the epochs of one call, so the split's workers start once, as in a real run.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from machine import describe  # benchmarks/machine.py, beside this script

WORKER = r"""
import json, os, resource, sys, threading, time
import numpy as np
from cnnlib.datasets import load_mnist

worker_peaks = {}    # pid -> peak resident kB (VmHWM) of the split's worker processes


def watch_workers():
    # the peak memory of this process's children, every 0.1 s (Linux /proc; ru_maxrss of a child
    # started from this big process would count this process's memory at the fork; VmHWM starts
    # afresh at the exec and only grows after it)
    while True:
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) != os.getpid():
                        continue
                with open(f"/proc/{entry}/status") as status:
                    kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
                worker_peaks[entry] = kb    # the latest: before its exec a child shows our size
            except (OSError, ValueError, IndexError, StopIteration):
                continue
        time.sleep(0.1)


def timed_passes(train_step):
    # seconds of four passes over the images, each in its own shuffled order; train_step(indices)
    seconds = []
    for seed in range(4):
        order = np.random.default_rng(seed).permutation(len(x))
        started = time.perf_counter()
        for i in range(0, len(x), batch):
            train_step(order[i:i + batch])
        seconds.append(time.perf_counter() - started)
    return seconds


framework, batch, images = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
(x, y), _ = load_mnist()
x, y = x[:images], y[:images]

if framework in ("tuned", "split", "plain"):
    from cnnlib.models import LeNet5
    from cnnlib.optim import Adam
    from cnnlib.training import fit

    model, optimizer = LeNet5(tuned=framework != "plain"), Adam(1e-3)
    workers = int(sys.argv[4]) if framework == "split" else 1
    if workers > 1:
        threading.Thread(target=watch_workers, daemon=True).start()
    # one fit call: the split's worker processes start once, as in a real run
    seconds = fit(model, optimizer, x, y, epochs=4, batch_size=batch, seed=0, progress=False,
                  workers=workers).epoch_seconds
elif framework == "threads":
    from threadpoolctl import threadpool_limits

    from cnnlib.models import LeNet5
    from cnnlib.optim import Adam
    from cnnlib.tuned import SplitBatch

    model, optimizer = LeNet5(tuned=True), Adam(1e-3)
    with threadpool_limits(1), SplitBatch(model, int(sys.argv[4])) as split:
        def train_step(idx):
            split.loss(x[idx], y[idx])
            split.backward()
            optimizer.update(model.params, model.grads)

        seconds = timed_passes(train_step)
else:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(int(sys.argv[4]))
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def train_step(idx):
        idx = torch.from_numpy(idx)
        optimizer.zero_grad()
        F.cross_entropy(net(xt[idx]), yt[idx]).backward()
        optimizer.step()

    seconds = timed_passes(train_step)

best = min(seconds[1:])    # the first pass warms up
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        / (2**20 if sys.platform == "darwin" else 2**10)) + sum(worker_peaks.values()) / 2**10
print(json.dumps({"images_per_second": images / best, "peak_mb": peak}))
"""


def run(framework, batch, args, environment=None):
    """One configuration in a fresh process: ``{"images_per_second": ..., "peak_mb": ...}``;
    ``environment``: variables to set there besides the thread counts."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads), **(environment or {}))
    result = subprocess.run([sys.executable, "-c", WORKER, framework, str(batch),
                             str(args.images), str(args.threads)],
                            env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--no-plain", action="store_true", help="skip cnnlib's plain route")
    args = parser.parse_args()
    frameworks = ["tuned", "split", "threads"] + ([] if args.no_plain else ["plain"])
    try:
        import torch  # noqa: F401
        frameworks.append("torch")
    except ImportError:
        print(
            "torch is not installed: measuring cnnlib only (pip install torch for the comparison)"
        )
    print(
        f"LeNet-5 training (Adam), {args.images:,} MNIST images per pass, {args.threads} threads, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print(describe())
    print(f"{'batch':>5s} "
          + " ".join(f"{f + ' img/s':>14s} {f + ' peak MB':>15s}" for f in frameworks)
          + ("   tuned/torch   split/torch" if "torch" in frameworks else "")
          + ("   tuned/plain" if "plain" in frameworks else ""))
    for batch in args.batches:
        results = {f: run(f, batch, args) for f in frameworks}
        line = f"{batch:5d} " + " ".join(f"{results[f]['images_per_second']:14,.0f} "
                                         f"{results[f]['peak_mb']:15,.0f}"
                                        for f in frameworks)
        speed = {f: results[f]["images_per_second"] for f in frameworks}
        if "torch" in frameworks:
            line += (f"   {speed['tuned'] / speed['torch']:10.2f}x"
                     f"   {speed['split'] / speed['torch']:10.2f}x")
        if "plain" in frameworks:
            line += f"   {speed['tuned'] / speed['plain']:10.2f}x"
        print(line)


if __name__ == "__main__":
    main()
