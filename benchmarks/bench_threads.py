"""LeNet-5 training speed with 1 BLAS thread, with all of them, and with ``fit(threads="auto")``, on
an idle machine and with other busy processes competing for the cores (each a Python loop that never
sleeps).

    python benchmarks/bench_threads.py [--images 5120] [--busy 1] [--passes 3]

On a 2-core machine two BLAS threads are faster when the machine is idle and much slower when
another process is busy: BLAS threads wait for each other by spinning, and one of them keeps losing
its core. "auto" times a few steps each way every 100 steps and keeps the faster setting.
"""

import argparse
import multiprocessing
import time


def burn():
    while True:
        pass


def images_per_second(x, y, threads, passes):
    from cnnlib.models import LeNet5
    from cnnlib.optim import Adam
    from cnnlib.training import fit

    model, optimizer = LeNet5(tuned=True), Adam(1e-3)
    fit(model, optimizer, x[:1280], y[:1280], epochs=1, progress=False, threads=threads)   # warm-up
    best = float("inf")
    for seed in range(passes):
        started = time.perf_counter()
        fit(model, optimizer, x, y, epochs=1, seed=seed, progress=False, threads=threads)
        best = min(best, time.perf_counter() - started)
    return len(x) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5120)
    parser.add_argument("--busy", type=int, default=1,
                        help="competing busy processes in the second row")
    parser.add_argument("--passes", type=int, default=3,
                        help="best of this many passes over the images")
    args = parser.parse_args()

    from cnnlib.datasets import load_mnist
    from cnnlib.threads import blas_controllers

    (x, y), _ = load_mnist()
    x, y = x[:args.images], y[:args.images]
    most = max((lib.num_threads for lib in blas_controllers()), default=1)
    settings = [1, most, "auto"]
    print(f"LeNet-5 (tuned) training, {args.images:,} images, batch 128, best of {args.passes} "
          f"passes; {multiprocessing.cpu_count()} cores, BLAS threads available: {most}")
    print(f"{'machine':18s}"
          + "".join(f"{str(s) + ' thread(s)':>16s}" for s in settings) + "   images/s")
    for busy in (0, args.busy):
        burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(busy)]
        for process in burners:
            process.start()
        try:
            row = [images_per_second(x, y, s, args.passes) for s in settings]
        finally:
            for process in burners:
                process.terminate()
        label = "idle" if busy == 0 else f"{busy} busy process" + ("es" if busy > 1 else "")
        print(f"{label:18s}" + "".join(f"{v:16,.0f}" for v in row))


if __name__ == "__main__":
    main()
