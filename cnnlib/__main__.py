"""Command line: ``python -m cnnlib train`` trains LeNet-5 on MNIST; ``python -m cnnlib evaluate`` tests weights.

``python -m cnnlib exercises`` writes the student edition of the notebooks (notebooks/exercises/).

    python -m cnnlib train [--epochs 10] [--batch-size 128] [--lr 2e-3] [--schedule cosine]
                           [--optimizer adam] [--seed 0] [--out runs/lenet5_mnist.npz] [--force] [--no-progress]
    python -m cnnlib evaluate [--weights data/lenet5_mnist.npz]

``train`` never overwrites an existing file unless ``--force`` is given, so the shipped weights in
``data/lenet5_mnist.npz`` stay as they are; Ctrl-C saves the weights so far beside ``--out``.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from .datasets import DATA_ROOT, ScaledImages, load_mnist
from .exercises import NOTEBOOKS, write_student_edition
from .models import LeNet5
from .optim import OPTIMIZERS, cosine_schedule
from .training import History, confusion_matrix, evaluate, fit, load_params, predict, save_params

DEFAULT_WEIGHTS = DATA_ROOT / "lenet5_mnist.npz"
DEFAULT_OUT = Path("runs") / "lenet5_mnist.npz"


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        return value
    return parse


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative int, got {text}")
    return value


def build_parser():
    """The argument parser for ``train`` and ``evaluate``."""
    parser = argparse.ArgumentParser(prog="python -m cnnlib", description="Train or evaluate LeNet-5 on MNIST.")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = argparse.ArgumentDefaultsHelpFormatter
    train = commands.add_parser("train", help="train LeNet-5 on the 60,000 MNIST training images",
                                formatter_class=defaults)
    train.add_argument("--epochs", type=_positive(int), default=10, help="passes over the training images")
    train.add_argument("--batch-size", type=_positive(int), default=128, help="images per update")
    train.add_argument("--lr", type=_positive(float), default=2e-3, help="(initial) learning rate")
    train.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                       help="cosine: decay the learning rate from --lr towards 0 over the epochs")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="update rule")
    train.add_argument("--seed", type=_seed, default=0, help="seed for initialisation and shuffling")
    train.add_argument("--out", type=Path, default=DEFAULT_OUT,
                       help="where to save the weights (.npz); an existing file is kept unless --force")
    train.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    train.add_argument("--train-images", type=_positive(int), default=None, metavar="N",
                       help="train on only the first N training images, for a quick try; None: all of them")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    evaluate_cmd = commands.add_parser("evaluate", help="test saved weights on the 10,000 MNIST test images",
                                       formatter_class=defaults)
    evaluate_cmd.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS,
                              help="weights to test (.npz written by train); the default ships with cnnlib")
    exercises = commands.add_parser("exercises", help="write the student edition of the notebooks",
                                    formatter_class=defaults)
    exercises.add_argument("--notebooks", type=Path, default=NOTEBOOKS,
                           help="the worked notebooks; the student edition goes to its exercises/")
    return parser


def write_exercises(args):
    """``exercises``: write the student edition of every worked notebook with solution markers."""
    for path in write_student_edition(args.notebooks):
        print(f"wrote {path}")
    return 0


def peak_memory_mb():
    """Peak resident memory of this process in MB (Linux reports KB, macOS bytes); None on Windows."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def format_confusion(cm):
    """A confusion matrix as text: rows are true digits, columns predicted digits."""
    width = max(5, len(str(cm.max())) + 1)
    header = "true\\pred" + "".join(f"{j:>{width}}" for j in range(cm.shape[1]))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(cm)]
    return "\n".join([header, *rows])


def check_out(args, parser):
    """Before training: refuse an ``--out`` that is a directory, or exists without ``--force``."""
    if args.out.is_dir():
        parser.error(f"--out: {args.out} is a directory; name a file such as {args.out / 'lenet5_mnist.npz'}")
    if args.out.exists() and not args.force:
        parser.error(f"--out: {args.out} already exists; pass --force to overwrite it or choose another --out")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        parser.error(f"--out: cannot create the directory {args.out.parent}: {err}")


def save_interrupted(model, args, history):
    """After Ctrl-C: save the weights so far beside ``--out`` if an epoch completed; return exit status 130."""
    done = len(history.epoch_seconds)
    if not done:
        print(f"interrupted during epoch 1 of {args.epochs}; no epoch completed, nothing saved", file=sys.stderr)
        return 130
    path, n = args.out.with_name(f"{args.out.stem}.interrupted.npz"), 2
    while path.exists() and not args.force:
        path, n = args.out.with_name(f"{args.out.stem}.interrupted-{n}.npz"), n + 1
    try:
        save_params(model, path)
    except (OSError, ValueError) as err:
        print(f"interrupted in epoch {done + 1} of {args.epochs}; the weights could not be saved: {err}",
              file=sys.stderr)
        return 130
    print(f"interrupted in epoch {done + 1} of {args.epochs} ({done} completed); saved the weights so far to {path}",
          file=sys.stderr)
    return 130


def train(args):
    """``train``: fit LeNet-5 on MNIST, print test accuracy, speed and memory, save the weights.

    Returns the exit status: 0, 1 when training diverged (nothing saved), 130 on Ctrl-C.
    """
    (x_train, y_train), (x_test, y_test) = load_mnist(normalize=False, dtype=np.uint8)
    x_train, y_train = ScaledImages(x_train[:args.train_images]), y_train[:args.train_images]
    x_test = ScaledImages(x_test)
    model = LeNet5(rng=np.random.default_rng(args.seed), tuned=True)
    optimizer = OPTIMIZERS[args.optimizer](lr=args.lr)
    schedule = cosine_schedule(args.lr, args.epochs) if args.schedule == "cosine" else None
    print(f"LeNet-5, {sum(p.size for p in model.params.values()):,} parameters; {args.optimizer} lr={args.lr} "
          f"({args.schedule}), batch {args.batch_size}, {args.epochs} epochs on {len(x_train):,} images")
    started, history = time.perf_counter(), History()
    try:
        fit(model, optimizer, x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
            seed=args.seed, progress=not args.no_progress, lr_schedule=schedule, history=history)
    except KeyboardInterrupt:
        return save_interrupted(model, args, history)
    except FloatingPointError as err:
        print(f"training diverged, nothing saved: {err}", file=sys.stderr)
        return 1
    total = time.perf_counter() - started
    accuracy = evaluate(model, x_test, y_test)
    save_params(model, args.out)
    for epoch, acc in enumerate(history.train_acc, 1):
        print(f"epoch {epoch:2d}: train accuracy {acc:.4f}, {history.epoch_seconds[epoch - 1]:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")
    print(f"training: {history.images_per_second:,.0f} images/s, {total:.0f} s in all")
    peak = peak_memory_mb()
    if peak is not None:
        print(f"peak memory: {peak:.0f} MB")
    print(f"saved weights to {args.out}")
    return 0


def evaluate_weights(args, parser):
    """``evaluate``: load the weights, print their path, the test accuracy and the confusion matrix."""
    if not args.weights.exists():
        parser.error(f"--weights: no such file: {args.weights} (train first: python -m cnnlib train)")
    model = LeNet5(tuned=True)
    try:
        load_params(model, args.weights)
    except (OSError, ValueError) as err:
        parser.error(f"--weights: {err}")
    print(f"weights: {args.weights}")
    _, (x_test, y_test) = load_mnist(normalize=False, dtype=np.uint8)
    predictions = predict(model, ScaledImages(x_test))
    print(f"test accuracy: {np.mean(predictions == y_test):.4f} on {len(y_test):,} images")
    print(format_confusion(confusion_matrix(y_test, predictions, 10)))


def main(argv=None):
    """Entry point of ``python -m cnnlib``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "exercises":
            return write_exercises(args)
        if args.command == "train":
            check_out(args, parser)
            return train(args)
        evaluate_weights(args, parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
