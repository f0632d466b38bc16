"""Where the tuned route's standing against PyTorch comes from on a given processor: the matrix
products, multiplied by numpy's BLAS (the OpenBLAS in numpy's wheels) against PyTorch's (Intel MKL
in its x86 builds).

A tuned LeNet-5 training step (``LeNet5(tuned=True)``, Adam, one thread) makes five matrix
products in its two conv blocks. This script times each one inside real steps, with the operands
where the step leaves them in the caches, in alternating runs of steps: once multiplied by numpy,
once by ``torch.matmul`` on the same arrays (``benchmarks/torch_products.py``: zero-copy views, the
batched product of conv1's dW stays with numpy), everything else unchanged; then the whole step
both ways. With ``--split`` it also times the split route (``fit(..., workers=2)``, as
``bench_lenet.py`` does) with its products through torch in both processes, beside the ordinary
split route and PyTorch itself, in rounds. Needs torch (a benchmark extra); cnnlib never calls it.

    python benchmarks/bench_products.py [--batches 64 128] [--steps 720] [--split]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import numpy as np  # noqa: E402  (after the thread settings)
from machine import describe  # noqa: E402  (benchmarks/, beside this script)

HERE = Path(__file__).resolve().parent
# the products of one LeNet-5 step, in the order the step makes them
NAMES = ["conv1 forward", "conv2 forward", "conv2 dW", "conv2 dx", "conv1 dW (batched)"]
RUN_LENGTH = 60    # steps in a row with one way of multiplying, before switching to the other
# for --split: run at the start of every Python process (the split's worker included)
SITECUSTOMIZE = f"""import sys
sys.path.insert(0, {str(HERE)!r})
import torch_products
torch_products.install(torch_products.Products())
"""


def in_step(batch, steps):
    """Median seconds of each product and of the whole step, by numpy and by torch:
    ``({(name, a shape, b shape): {"numpy": s, "torch": s}}, {"numpy": s, "torch": s})``."""
    import torch_products

    from cnnlib.datasets import load_mnist
    from cnnlib.models import LeNet5
    from cnnlib.optim import Adam

    (x, y), _ = load_mnist(lazy=True)
    model, optimizer = LeNet5(tuned=True), Adam(1e-3)
    products = torch_products.Products(calls=[])
    torch_products.install(products)
    rng = np.random.default_rng(0)
    step_seconds = {"numpy": [], "torch": []}
    product_seconds = {}
    for run in range(steps // RUN_LENGTH):
        products.use_torch = run % 2 == 1
        by = "torch" if products.use_torch else "numpy"
        for _ in range(RUN_LENGTH):
            idx = np.sort(rng.choice(len(x), batch, replace=False))
            xb, yb = x[idx], y[idx]
            products.calls.clear()
            started = time.perf_counter()
            model.loss(xb, yb)
            model.backward()
            optimizer.update(model.params, model.grads)
            step_seconds[by].append(time.perf_counter() - started)
            if len(products.calls) != len(NAMES):
                raise RuntimeError(f"expected {len(NAMES)} products a step, saw "
                                   f"{len(products.calls)}: not the LeNet-5 this script knows")
            for name, (a_shape, b_shape, seconds) in zip(NAMES, products.calls):
                product_seconds.setdefault((name, a_shape, b_shape), {"numpy": [], "torch": []})
                product_seconds[name, a_shape, b_shape][by].append(seconds)
    return ({key: {by: median(v) for by, v in values.items()}
             for key, values in product_seconds.items()},
            {by: median(v) for by, v in step_seconds.items()})


def print_step_table(batch, steps):
    products, step = in_step(batch, steps)
    print(f"\nbatch {batch}, one thread, medians of {steps // RUN_LENGTH // 2 * RUN_LENGTH} "
          f"steps each way (runs of {RUN_LENGTH} steps, alternating)")
    print(f"{'product':20s} {'shapes':32s} {'numpy us':>9s} {'GFLOP/s':>8s} {'torch us':>9s} "
          f"{'GFLOP/s':>8s} {'numpy/torch':>12s}")
    totals = {"numpy": 0.0, "torch": 0.0}
    for (name, a_shape, b_shape), seconds in products.items():
        flops = 2 * np.prod(a_shape) * b_shape[-1]
        for by in totals:
            totals[by] += seconds[by]
        print(f"{name:20s} {str(a_shape) + ' @ ' + str(b_shape):32s} "
              + " ".join(f"{seconds[by] * 1e6:9.0f} {flops / seconds[by] / 1e9:8.0f}"
                         for by in ("numpy", "torch"))
              + f" {seconds['numpy'] / seconds['torch']:11.2f}x")
    print(f"{'all five':53s} {totals['numpy'] * 1e6:9.0f} {'':8s} {totals['torch'] * 1e6:9.0f}")
    print(f"{'whole step':53s} {step['numpy'] * 1e6:9.0f} {'':8s} {step['torch'] * 1e6:9.0f}"
          f"   (step {1 - step['torch'] / step['numpy']:.0%} shorter with torch's products)")


def split_rounds(batches, rounds, images):
    """bench_lenet.py's split route with numpy's products and with torch's, and PyTorch, in
    ``rounds`` rounds per batch size; prints the medians and the median ratios."""
    from bench_lenet import run

    settings = argparse.Namespace(threads=2, images=images)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sitecustomize.py").write_text(SITECUSTOMIZE)
        path = os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))
        routes = {"split": {}, "split, torch's products": {"PYTHONPATH": path}, "torch": {}}
        print(f"\nsplit route (fit(..., workers=2)) and PyTorch (2 threads), {images:,} images a "
              f"pass, {rounds} rounds, images/s (medians)")
        print(f"{'batch':>5s} " + " ".join(f"{route:>24s}" for route in routes)
              + f" {'split/torch':>12s} {'split, torch products/torch':>28s}")
        for batch in batches:
            speeds = {route: [] for route in routes}
            for _ in range(rounds):
                for route, environment in routes.items():
                    framework = "torch" if route == "torch" else "split"
                    speeds[route].append(run(framework, batch, settings, environment)
                                         ["images_per_second"])
            ratios = [median(a / b for a, b in zip(speeds[route], speeds["torch"]))
                      for route in ("split", "split, torch's products")]
            print(f"{batch:5d} " + " ".join(f"{median(v):24,.0f}" for v in speeds.values())
                  + f" {ratios[0]:11.2f}x {ratios[1]:27.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--steps", type=int, default=720, help="steps per batch size, both ways")
    parser.add_argument("--split", action="store_true",
                        help="also time the split route at batch 64, 128, 256 (about 7 minutes)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=12800)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("bench_products.py compares numpy's BLAS with PyTorch's: pip install torch")
    print(f"LeNet-5 (tuned) matrix products, numpy's BLAS against torch.matmul, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(describe())
    blas = [line.strip() for line in torch.__config__.show().splitlines()
            if "Math Kernel Library" in line or "BLAS_INFO" in line]
    print("torch's BLAS:", blas[0] if blas else "(not reported)")
    for batch in args.batches:
        print_step_table(batch, args.steps)
    if args.split:
        split_rounds([64, 128, 256], args.rounds, args.images)


if __name__ == "__main__":
    main()
