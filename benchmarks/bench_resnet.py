"""Small ResNet training throughput (images/s): cnnlib's plain route (``small_resnet()``: 16/32/64
channels, one basic block per stage, batch norm, the layers of notebooks 04-11) and its tuned route
(``small_resnet(tuned=True)``, :mod:`cnnlib.tuned.resnet`) against the same network in PyTorch on
the CPU (when torch is installed; it is not a requirement), with the same number of threads, batch
size, optimizer (Adam, lr 1e-3) and MNIST images; then where cnnlib's time goes: the forward and
backward time of every layer of one training step, for each route.

    python benchmarks/bench_resnet.py [--threads 2] [--batch 128] [--images 1024] [--rounds 3]
                                      [--no-plain] [--no-torch]

The tuned route and PyTorch are measured back to back ``--rounds`` times (on a shared machine the
load changes from minute to minute: compare each round's pair); the plain route once. Besides
images/s each run reports its CPU time per step (all its threads), which a loaded machine distorts
less than the wall clock. The tuned route's copy threads (``cnnlib.tuned.resnet.THREADS``) are set
to ``--threads`` too.

Each framework runs in a fresh subprocess with the same fixed thread count (``fit`` does not adapt
it to the machine's load here, as PyTorch does not). Throughput is the best of three passes over the
images, after one warm-up pass; the breakdown is one more pass, timed layer by layer. The machine
line names the CPU, the load average before the run, the BLAS library and kernel (threadpoolctl) and
the OPENBLAS_* variables that change OpenBLAS's choices when they are set (they are reported, not
changed: unset them on the command line to measure without them).
"""

import argparse
import json
import os
import subprocess
import sys
import time

from machine import describe  # benchmarks/machine.py, beside this script

WORKER = r"""
import json, sys, time
import numpy as np
from cnnlib.datasets import load_mnist

framework, (batch, images, threads) = sys.argv[1], map(int, sys.argv[2:5])
(x, y), _ = load_mnist()
x, y = x[:images], y[:images]
result = {}

if framework in ("plain", "tuned"):
    from cnnlib.blocks import small_resnet
    from cnnlib.optim import Adam
    from cnnlib.training import fit

    from cnnlib.tuned import resnet

    resnet.THREADS = threads    # the tuned route's copy threads: as many as BLAS threads
    model = small_resnet(rng=np.random.default_rng(0), tuned=framework == "tuned")
    optimizer = Adam(1e-3)

    def one_pass(seed):
        fit(model, optimizer, x, y, epochs=1, batch_size=batch, seed=seed, progress=False,
            threads=threads)
else:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout),
                                      nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1),
                                      nn.BatchNorm2d(cout))
            self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))
                             if stride != 1 or cin != cout else nn.Identity())

        def forward(self, inputs):
            return F.relu(self.body(inputs) + self.shortcut(inputs))

    net = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), Basic(16, 16, 1),
                        Basic(16, 32, 2), Basic(32, 64, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(64, 10))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    result["parameters"] = sum(p.numel() for p in net.parameters())
    result["version"] = torch.__version__

    def one_pass(seed):
        order = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            optimizer.zero_grad()
            F.cross_entropy(net(xt[idx]), yt[idx]).backward()
            optimizer.step()

one_pass(0)
best, cpu = float("inf"), time.process_time()
for seed in (1, 2, 3):
    started = time.perf_counter()
    one_pass(seed)
    best = min(best, time.perf_counter() - started)
result["images_per_second"] = images / best
result["cpu_ms_per_step"] = 1e3 * (time.process_time() - cpu) / (3 * -(-images // batch))

if framework in ("plain", "tuned"):
    from cnnlib.blocks import Block

    result["parameters"] = sum(p.size for p in model.params.values())
    times = {}

    def timed(name, method):
        def call(argument):
            started = time.perf_counter()
            out = method(argument)
            times[name] = times.get(name, 0.0) + time.perf_counter() - started
            return out
        return call

    def instrument(prefix, layer):
        if isinstance(layer, Block):
            for child_name, child in layer.children():
                instrument(f"{prefix}{child_name}.", child)
        else:
            kind = type(layer).__name__
            if "W" in layer.params and layer.params["W"].ndim == 4:
                kind += " {}x{} stride {}".format(*layer.params["W"].shape[2:], layer.stride)
            layer.forward = timed((prefix[:-1], "forward", kind), layer.forward)
            layer.backward = timed((prefix[:-1], "backward", kind), layer.backward)

    for name, layer in model.layers.items():
        instrument(f"{name}.", layer)
    steps, started = 0, time.perf_counter()
    for i in range(0, len(x), batch):
        model.loss(x[i:i + batch], y[i:i + batch])
        model.backward()
        optimizer.update(model.params, model.grads)
        steps += 1
    result["step_ms"] = 1e3 * (time.perf_counter() - started) / steps
    result["layers"] = [[*key, 1e3 * seconds / steps] for key, seconds in times.items()]
print(json.dumps(result))
"""


def run(framework, args):
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads)
    command = [sys.executable, "-c", WORKER, framework, str(args.batch), str(args.images), threads]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_breakdown(route, result):
    """Per layer (forward + backward, ms per step and share of the step), then per kind of layer."""
    rows, kinds = {}, {}
    for name, direction, kind, ms in result["layers"]:
        row = rows.setdefault(name, {"kind": kind, "forward": 0.0, "backward": 0.0})
        row[direction] += ms
        kinds[kind] = kinds.get(kind, 0.0) + ms
    step = result["step_ms"]
    print(f"\ncnnlib {route} route, one training step of {result['batch']} images: {step:.1f} ms "
          f"(forward, backward, loss and Adam)")
    print(f"{'layer':32s} {'forward ms':>10s} {'backward ms':>11s} {'share':>6s}  kind")
    for name, row in rows.items():
        total = row["forward"] + row["backward"]
        print(f"{name:32s} {row['forward']:10.2f} {row['backward']:11.2f} {total / step:6.1%}  "
              f"{row['kind']}")
    layers = sum(kinds.values())
    rest = step - layers
    print(f"{'rest (adds, loss, Adam, Python)':32s} {'':10s} {rest:11.2f} {rest / step:6.1%}")
    print("\nby kind of layer (forward + backward):")
    for kind, ms in sorted(kinds.items(), key=lambda item: -item[1]):
        print(f"  {kind:32s} {ms:8.2f} ms  {ms / step:6.1%}")


def label(framework, result):
    return f"PyTorch {result['version']} CPU" if framework == "torch" else f"cnnlib {framework}"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3,
                        help="tuned and PyTorch measured back to back this many times")
    parser.add_argument("--no-plain", action="store_true", help="skip the (slow) plain route")
    parser.add_argument("--no-torch", action="store_true", help="measure cnnlib only")
    args = parser.parse_args()
    torch_ok = not args.no_torch
    if torch_ok:
        try:
            import torch  # noqa: F401
        except ImportError:
            torch_ok = False
            print("torch is not installed: measuring cnnlib only "
                  "(pip install torch for the comparison)")
    print(f"Small ResNet (16/32/64 channels, one block per stage, batch norm) training with Adam, "
          f"batch {args.batch}, {args.images:,} MNIST images per pass, threads: {args.threads}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {describe()}")
    results = {}
    if not args.no_plain:
        results["plain"] = run("plain", args)
        print(f"{label('plain', results['plain']):24s} "
              f"{results['plain']['images_per_second']:8,.0f} images/s   "
              f"({results['plain']['parameters']:,} parameters)")
    ratios = []
    for round_ in range(1, args.rounds + 1):
        pair = ["tuned"] + (["torch"] if torch_ok else [])
        for framework in pair:
            results[framework] = run(framework, args)
            print(f"round {round_}: {label(framework, results[framework]):24s} "
                  f"{results[framework]['images_per_second']:8,.0f} images/s   "
                  f"{results[framework]['cpu_ms_per_step']:6,.0f} CPU ms/step   "
                  f"({results[framework]['parameters']:,} parameters)   "
                  f"load {os.getloadavg()[0]:.1f}")
        if torch_ok:
            ratios.append(results["tuned"]["images_per_second"]
                          / results["torch"]["images_per_second"])
            print(f"round {round_}: tuned / PyTorch {ratios[-1]:.2f}x")
    if torch_ok:
        cpu = results["torch"]["cpu_ms_per_step"] / results["tuned"]["cpu_ms_per_step"]
        print(f"speed from the CPU time per step (all threads; less sensitive to load than the "
              f"wall clock), last round: tuned / PyTorch {cpu:.2f}x")
    if ratios:
        print(f"tuned / PyTorch over {len(ratios)} back-to-back rounds: median "
              f"{sorted(ratios)[len(ratios) // 2]:.2f}x (min {min(ratios):.2f}x, "
              f"max {max(ratios):.2f}x)")
    if "plain" in results and torch_ok:
        plain = results["plain"]["images_per_second"] / results["torch"]["images_per_second"]
        print(f"plain / PyTorch: {plain:.2f}x (PyTorch's last round)")
    for route in ("plain", "tuned"):
        if route in results:
            print_breakdown(route, {**results[route], "batch": args.batch})


if __name__ == "__main__":
    main()
