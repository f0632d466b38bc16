"""The README's results table, measured in one run: the machine, then ``python -m cnnlib train``
(test accuracy, wall time, peak resident memory) and LeNet-5's training throughput against PyTorch
(``bench_lenet.py``'s workers) at batch 64, 128 and 256, printed as Markdown with the date.

    python benchmarks/results.py [--threads 2] [--images 12800] [--epochs 10] [--rounds 3]

Run it on an otherwise idle machine: every figure depends on the load (the machine line prints it).
On a shared VM the speed of every route moves by 10-30% from one minute to the next, so each batch
size is measured in ``--rounds`` rounds of the three routes back to back; the table gives each
route's median images/s and, for each ratio, the median of the rounds' ratios with their range.
The train command runs with its defaults (10 epochs, batch 128, seed 0) and writes its weights to a
temporary folder, never over ``data/``.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from bench_lenet import run  # benchmarks/, beside this script
from machine import describe

ROOT = Path(__file__).resolve().parent.parent


def train_figures(epochs, workers):
    """Run ``python -m cnnlib train`` and return its test accuracy (%), wall seconds and peak MB."""
    with tempfile.TemporaryDirectory() as folder:
        shown = ["-m", "cnnlib", "train", "--no-progress", "--epochs", str(epochs)]
        if workers > 1:
            shown += ["--workers", str(workers)]
        started = time.perf_counter()
        output = subprocess.run([sys.executable, *shown, "--out", str(Path(folder) / "w.npz")],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
        wall = time.perf_counter() - started
    accuracy = float(re.search(r"test accuracy: ([\d.]+)", output).group(1))
    peak = re.search(r"peak memory: ([\d.]+) MB(.*)", output)
    return {"command": " ".join(["python", *shown]), "accuracy": 100 * accuracy,
            "wall": wall, "peak": float(peak.group(1)), "peak_note": peak.group(2).strip()}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the three routes back to back per batch size")
    args = parser.parse_args()
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')}: {describe()}\n")
    print("| what | figure |\n|---|---|")
    for workers in (1, args.threads):
        figures = train_figures(args.epochs, workers)
        print(f"| `{figures['command']}` | {figures['accuracy']:.2f}% test accuracy, "
              f"{figures['wall']:.0f} s wall, peak {figures['peak']:.0f} MB resident "
              f"{figures['peak_note']}|")
    print("\n| batch | tuned img/s | split img/s | PyTorch img/s | tuned / PyTorch "
          "| split / PyTorch | peak MB split / PyTorch |\n|---|---|---|---|---|---|---|")
    for batch in args.batches:
        rounds = [{route: run(route, batch, args) for route in ("tuned", "split", "torch")}
                  for _ in range(args.rounds)]
        ips = {route: [r[route]["images_per_second"] for r in rounds]
               for route in ("tuned", "split", "torch")}
        ratios = {route: [mine / theirs for mine, theirs in zip(ips[route], ips["torch"])]
                  for route in ("tuned", "split")}
        peak = {route: max(r[route]["peak_mb"] for r in rounds) for route in ("split", "torch")}
        print(f"| {batch} | {median(ips['tuned']):,.0f} | {median(ips['split']):,.0f} | "
              f"{median(ips['torch']):,.0f} | {_ratio(ratios['tuned'])} | "
              f"{_ratio(ratios['split'])} | {peak['split']:.0f} / {peak['torch']:.0f} |")
    print(f"\n({args.threads} threads for every route: BLAS threads for 'tuned', {args.threads} "
          f"processes (this one and its workers) with one BLAS thread each for 'split', "
          f"torch.set_num_threads for PyTorch; 'split' peak MB: its processes' peaks added; "
          f"{args.images:,} MNIST images per pass, best of three passes, Adam; each figure the "
          f"median of {args.rounds} rounds of the three routes back to back, ratios with the range "
          f"of the rounds' ratios.)")


def _ratio(values):
    """``"1.31x (1.12-1.45x)"``: the median of per-round ratios and their range."""
    return f"{median(values):.2f}x ({min(values):.2f}-{max(values):.2f}x)"

if __name__ == "__main__":
    main()
