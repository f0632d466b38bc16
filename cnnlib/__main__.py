"""Command line: ``python -m cnnlib train`` trains LeNet-5 (or a small ResNet) on MNIST (or
Fashion-MNIST); ``python -m cnnlib evaluate`` tests weights.

``python -m cnnlib exercises`` writes the student edition of the notebooks (notebooks/exercises/);
``python -m cnnlib course DIR`` writes an nbgrader course made from the worked notebooks into DIR.

    python -m cnnlib train [--model lenet5] [--dataset mnist] [--augment]
                           [--epochs 10] [--batch-size 128] [--lr 2e-3] [--schedule cosine]
                           [--clip NORM] [--optimizer adam] [--seed 0] [--train-images N]
                           [--out runs/MODEL_DATASET.npz] [--force] [--no-progress]
    python -m cnnlib evaluate [--weights data/lenet5_mnist.npz] [--model M] [--dataset D]

``--model resnet`` is :func:`cnnlib.blocks.small_resnet` (16/32/64 channels, one residual block per
stage); ``--augment`` shifts every training image by up to 2 pixels each way, and on Fashion-MNIST
also mirrors half of them left to right (:mod:`cnnlib.augment`), seeded by ``--seed``.
``evaluate`` tells the model from the weights' names and the data set from the file's name
("fashion" in it: Fashion-MNIST) unless ``--model`` or ``--dataset`` says otherwise.

``train`` checks before training that it can write beside ``--out`` and never replaces an existing
file (nor one that appeared while it trained) unless ``--force`` is given, so the shipped weights in
``data/lenet5_mnist.npz`` stay as they are. Ctrl-C, SIGTERM and SIGHUP save the weights of the
completed epochs beside ``--out``; when the final save fails, the weights go to a fallback file and
the message says where.

Exit status: 0 success; 1 training diverged or ended at chance accuracy (nothing saved), or the
weights could only be saved to a fallback file; 2 a user error (bad option, missing or damaged data
or weights, a file that cannot be written), one message and no traceback; 128 + the signal's number
when stopped by a signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 141 a closed output pipe).
"""

import argparse
import contextlib
import math
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .datasets import (
    checkout_data_dir,
    data_root,
    load_fashion_mnist,
    load_mnist,
)
from .models import LeNet5
from .optim import OPTIMIZERS, cosine_schedule
from .training import History, confusion_matrix, evaluate, fit, load_params, predict, save_params

WEIGHTS_NAME = "lenet5_mnist.npz"
DEFAULT_OUT = Path("runs") / WEIGHTS_NAME
WRITE_TEST_BYTES = 1 << 20      # more than a LeNet-5 or small ResNet checkpoint (250-330 kB)
MODELS = {"lenet5": "LeNet-5", "resnet": "small ResNet (16/32/64)"}
DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
MAX_SHIFT = 2                   # pixels, each way, of --augment's random shifts


def weights_name(model="lenet5", dataset="mnist", augment=False):
    """The file name ``train`` saves to by default, e.g. ``resnet_fashion_mnist_aug.npz``."""
    return f"{model}_{dataset.replace('-', '_')}{'_aug' if augment else ''}.npz"


def default_out(args):
    """Where ``train`` saves without ``--out``: ``runs/`` + :func:`weights_name`."""
    return Path("runs") / weights_name(args.model, args.dataset, args.augment)


def build_model(name, seed=0):
    """A fresh model for ``--model name``, initialised from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    if name == "resnet":
        from .blocks import small_resnet
        return small_resnet((16, 32, 64), 1, rng=rng, tuned=True)
    return LeNet5(rng=rng, tuned=True)


class CommandError(Exception):
    """A user error found while running a command: printed as one line, exit status 2."""


class Stopped(KeyboardInterrupt):
    """Raised by SIGTERM or SIGHUP while training, so that they stop it as Ctrl-C does."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            name = kind.__name__
            raise argparse.ArgumentTypeError(
                f"expected {_article(name)} {name}, got {text!r}") from None
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
    """The argument parser for ``train``, ``evaluate``, ``exercises`` and ``course``."""
    parser = argparse.ArgumentParser(
        prog="python -m cnnlib",
        description="Train or evaluate LeNet-5 or a small ResNet on MNIST or Fashion-MNIST, write "
                    "the student edition of the notebooks, or write an nbgrader course from them.")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = argparse.ArgumentDefaultsHelpFormatter
    train = commands.add_parser("train", help="train a model on the 60,000 training images",
                                formatter_class=defaults)
    train.add_argument("--model", choices=sorted(MODELS), default="lenet5",
                       help="lenet5: LeNet-5; resnet: a small ResNet, 16/32/64 channels, one "
                            "residual block per stage")
    train.add_argument("--dataset", choices=sorted(DATASET_NAMES), default="mnist",
                       help="the images to train and test on")
    train.add_argument("--augment", action="store_true",
                       help=f"shift each training image by up to {MAX_SHIFT} pixels each way, and "
                            "on fashion-mnist mirror half of them left to right (seeded)")
    train.add_argument("--epochs", type=_positive(int), default=10,
                       help="passes over the training images")
    train.add_argument("--batch-size", type=_positive(int), default=128, help="images per update")
    train.add_argument("--lr", type=_positive(float), default=2e-3, help="(initial) learning rate")
    train.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                       help="cosine: decay the learning rate from --lr towards 0 over the epochs")
    train.add_argument("--clip", type=_positive(float), default=None, metavar="NORM",
                       help="rescale the gradients to at most this joint L2 norm; "
                            "None: no clipping")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                       help="update rule")
    train.add_argument("--seed", type=_seed, default=0,
                       help="seed for initialisation and shuffling")
    train.add_argument("--out", type=Path, default=None,
                       help="where to save the weights (.npz); an existing file is kept unless "
                            "--force; None: runs/MODEL_DATASET[_aug].npz, e.g. "
                            f"{DEFAULT_OUT}")
    train.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    train.add_argument("--train-images", type=_positive(int), default=None, metavar="N",
                       help="train on only the first N training images, for a quick try; "
                            "None: all of them")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument("--workers", type=_positive(int), default=1, metavar="N",
                       help="split each batch across N processes (this one and N-1 workers), one "
                            "BLAS thread each (faster on N cores; the same numbers up to "
                            "rounding)")
    evaluate_cmd = commands.add_parser("evaluate",
                                       help="test saved weights on the 10,000 test images",
                                       formatter_class=defaults)
    evaluate_cmd.add_argument("--model", choices=sorted(MODELS), default=None,
                              help="None: told from the weights' names")
    evaluate_cmd.add_argument("--dataset", choices=sorted(DATASET_NAMES), default=None,
                              help="None: fashion-mnist when the weights' file name has "
                                   "'fashion' in it, else mnist")
    evaluate_cmd.add_argument("--weights", type=Path, default=None,
                              help="weights to test (.npz written by train); None: the shipped "
                                   f"{WEIGHTS_NAME} in $CNNLIB_DATA_DIR or the checkout's data/")
    exercises = commands.add_parser("exercises", help="write the student edition of the notebooks",
                                    formatter_class=defaults)
    exercises.add_argument("--notebooks", type=Path, default=None,
                           help="the worked notebooks (None: the repository's notebooks/); the "
                                "student edition goes to its exercises/")
    exercises.add_argument("--force", action="store_true",
                           help="replace student notebooks edited since they were written, after "
                                "copying them to --backup-dir")
    exercises.add_argument("--backup-dir", type=Path, default=None,
                           help="where --force keeps the notebooks it replaces, outside "
                                "--notebooks (None: ~/.cache/cnnlib/backups/<UTC time>)")
    course = commands.add_parser("course",
                                 help="write an nbgrader course made from the worked notebooks",
                                 formatter_class=defaults)
    course.add_argument("directory", type=Path, help="the course directory (created; must not hold "
                                                     "these assignments yet)")
    course.add_argument("--notebooks", type=Path, nargs="+", default=None, metavar="NOTEBOOK",
                        help="worked notebooks to include (None: every worked notebook of the "
                             "series)")
    return parser


def write_course_command(args):
    """``course``: write an nbgrader course; returns the exit status (2: nothing written)."""
    from .course import write_course

    try:
        written = write_course(args.directory, args.notebooks)
    except (OSError, ValueError) as err:
        print(f"python -m cnnlib course: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(
        f"next: cd {args.directory} && nbgrader generate_assignment <assignment> (README: grading)"
    )
    return 0


def write_exercises(args):
    """``exercises``: write the student edition of every worked notebook with solution markers.

    Returns the exit status: 0, or 2 (nothing written) for a bad ``--notebooks`` or when student
    notebooks were edited since they were written and ``--force`` is not given."""
    from .student_edition import NOTEBOOKS, EditedNotebooks, write_student_edition

    try:
        written, kept = write_student_edition(args.notebooks or NOTEBOOKS, force=args.force,
                                              backup_dir=args.backup_dir)
    except (ValueError, EditedNotebooks) as err:
        print(f"python -m cnnlib exercises: {err}", file=sys.stderr)
        return 2
    if kept is not None:
        print(f"kept a copy of each edited student notebook in {kept}")
    for path in written:
        print(f"wrote {path}")
    return 0


def peak_memory_mb():
    """Peak resident memory of this process in MB (Linux reports KB, macOS bytes); None on
    Windows."""
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


def _reason(err):
    """An OSError as its message without the errno prefix, e.g. "Read-only file system"."""
    return err.strerror or str(err) if isinstance(err, OSError) else str(err)


def check_out(args, parser):
    """Before training: refuse an ``--out`` that is a directory, not a regular file, or exists
    without ``--force``; create its folder and write ``WRITE_TEST_BYTES`` there, so that a read-only
    or full disk or a missing permission shows now.

    Returns the folders it created (deepest first), for :func:`remove_empty` when nothing is saved.
    """
    out = args.out
    if out.is_dir():
        parser.error(f"--out: {out} is a directory; name a file such as {out / WEIGHTS_NAME}")
    if out.exists() and not out.is_file():
        parser.error(f"--out: {out} exists and is not a regular file; choose another --out")
    if out.exists() and not args.force:
        parser.error(f"--out: {out} already exists; pass --force to overwrite it or choose another "
                     "--out")
    created = [d for d in (out.parent, *out.parent.parents) if not d.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent, prefix=".cnnlib-write-test-") as f:
            f.write(bytes(WRITE_TEST_BYTES))
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        remove_empty(created)
        parser.error(f"--out: cannot write in {out.parent.resolve()} ({_reason(err)}); "
                     "choose an --out in a folder you can write")
    return created


def remove_empty(folders):
    """Remove the folders (deepest first) that are still empty: a failed run leaves none behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def free_name(path):
    """``path`` if nothing is there, else the first free ``stem-2.npz``, ``stem-3.npz``, ..."""
    candidate, n = path, 2
    while candidate.exists():
        candidate, n = path.with_name(f"{path.stem}-{n}{path.suffix}"), n + 1
    return candidate


def save_with_fallback(model, path, force):
    """Save to ``path``, else to a free fallback name beside it, in the current folder or in the
    temporary folder. ``path`` is not replaced when it exists and ``force`` is False (a file that
    appeared while training). Returns ``(saved_to or None, [what went wrong, ...])``."""
    problems = []
    if path.exists() and not force:
        problems.append(f"{path} appeared while training (--force replaces it)")
    else:
        try:
            save_params(model, path)
            return path, problems
        except OSError as err:
            problems.append(f"cannot write {path} ({_reason(err)})")
    name = f"{path.stem}.unsaved{path.suffix}"
    for folder in dict.fromkeys([path.parent, Path.cwd(), Path(tempfile.gettempdir())]):
        fallback = free_name(folder / name)
        try:
            save_params(model, fallback)
            return fallback, problems
        except OSError as err:
            problems.append(f"cannot write {fallback} ({_reason(err)})")
    return None, problems


def _raise_stopped(signum, frame):
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals():
    """While inside: SIGTERM and SIGHUP (where the system has them) raise :class:`Stopped`, a
    KeyboardInterrupt, so that training stops and saves as on Ctrl-C. Only the main thread can."""
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        names = []
    saved = {n: signal.signal(getattr(signal, n), _raise_stopped) for n in names}
    try:
        yield
    finally:
        for n, handler in saved.items():
            signal.signal(getattr(signal, n), handler)


def save_interrupted(model, args, history, interrupt):
    """After Ctrl-C, SIGTERM or SIGHUP: save the weights so far beside ``--out`` if an epoch
    completed.

    Returns the exit status, 128 + the signal's number (130 for Ctrl-C).
    """
    signum = getattr(interrupt, "signum", signal.SIGINT)
    status = 128 + signum
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    if not args.no_progress:
        print(file=sys.stderr)          # end the progress bar's line
    done = len(history.epoch_seconds)
    if not done:
        print(f"{what} during epoch 1 of {args.epochs}; no epoch completed, nothing saved",
              file=sys.stderr)
        return status
    path, n = args.out.with_name(f"{args.out.stem}.interrupted.npz"), 2
    while path.exists() and not args.force:
        path, n = args.out.with_name(f"{args.out.stem}.interrupted-{n}.npz"), n + 1
    saved, problems = save_with_fallback(model, path, True)
    where = f"saved the weights so far to {saved}" if saved else "the weights could not be saved"
    print(f"{what} in epoch {done + 1} of {args.epochs} ({done} completed); {where}"
          + "".join(f"; {p}" for p in problems), file=sys.stderr)
    return status


def at_chance(accuracy, labels):
    """Whether ``accuracy`` on ``labels`` is no better than always guessing the most common class
    (within three standard errors of that guess's accuracy)."""
    guess = np.bincount(labels).max() / len(labels)
    return accuracy <= guess + 3 * math.sqrt(guess * (1 - guess) / len(labels))


def _load_mnist(dataset="mnist"):
    """MNIST (or Fashion-MNIST) with its images held as uint8 and scaled batch by batch
    (:class:`ScaledImages`): the numbers of ``load_mnist()`` in a quarter of the memory."""
    load = load_fashion_mnist if dataset == "fashion-mnist" else load_mnist
    try:
        return load(lazy=True)
    except (OSError, ValueError) as err:
        raise CommandError(f"cannot load {DATASET_NAMES[dataset]}: {err}") from None


def train(args):
    """``train``: fit the model on the data set, print test accuracy, speed and memory, save the
    weights.

    Returns the exit status (see the module's docstring).
    """
    (x_train, y_train), (x_test, y_test) = _load_mnist(args.dataset)
    if args.train_images is not None:
        x_train = x_train.subset(0, args.train_images)
        y_train = y_train[:args.train_images]
    model = build_model(args.model, args.seed)
    augmentation = ""
    if args.augment:
        from .augment import Augmented
        flip = args.dataset == "fashion-mnist"
        x_train = Augmented(x_train, seed=args.seed, max_shift=MAX_SHIFT, flip=flip)
        augmentation = (f"; augmented: shifts up to {MAX_SHIFT} px"
                        + (", left-right flips" if flip else ""))
    optimizer = OPTIMIZERS[args.optimizer](lr=args.lr)
    schedule = cosine_schedule(args.lr, args.epochs) if args.schedule == "cosine" else None
    clip = "" if args.clip is None else f", clip {args.clip}"
    print(f"{MODELS[args.model]} on {DATASET_NAMES[args.dataset]}, "
          f"{sum(p.size for p in model.params.values()):,} parameters; {args.optimizer} "
          f"lr={args.lr} ({args.schedule}{clip}), batch {args.batch_size}, {args.epochs} epochs on "
          f"{len(x_train):,} images{augmentation}", flush=True)
    started, history = time.perf_counter(), History()
    try:
        with stop_signals():
            fit(model, optimizer, x_train, y_train, epochs=args.epochs,
                batch_size=args.batch_size, seed=args.seed, progress=not args.no_progress,
                lr_schedule=schedule, history=history, clip=args.clip, workers=args.workers)
    except KeyboardInterrupt as interrupt:
        return save_interrupted(model, args, history, interrupt)
    except FloatingPointError as err:
        print(f"training diverged, nothing saved: {err}\n"
              "(on the command line: a lower --lr, or --clip 1.0)", file=sys.stderr)
        return 1
    total = time.perf_counter() - started
    accuracy = evaluate(model, x_test, y_test)
    for epoch, acc in enumerate(history.train_acc, 1):
        seconds = history.epoch_seconds[epoch - 1]
        print(f"epoch {epoch:2d}: train accuracy {acc:.4f}, {seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")
    print(f"training: {history.images_per_second:,.0f} images/s, {total:.0f} s in all")
    peak = peak_memory_mb()
    if peak is not None:
        workers = (f" (this process; the {args.workers - 1} worker process"
                   f"{'es' if args.workers > 2 else ''} not counted)" if args.workers > 1 else "")
        print(f"peak memory: {peak:.0f} MB{workers}")
    if at_chance(accuracy, y_test):
        print(f"training ended at chance accuracy ({accuracy:.1%}, no better than always guessing "
              f"the most common class); nothing saved: try a lower --lr (now {args.lr}) or "
              "--clip 1.0", file=sys.stderr)
        return 1
    saved, problems = save_with_fallback(model, args.out, args.force)
    for problem in problems:
        print(problem, file=sys.stderr)
    if saved is None:
        print("the trained weights could not be saved anywhere", file=sys.stderr)
        return 2
    if saved != args.out:
        print(f"saved the weights to {saved} instead of {args.out}", file=sys.stderr)
        return 1
    print(f"saved weights to {args.out}")
    return 0


def default_weights(name=WEIGHTS_NAME):
    """The weights ``evaluate`` tests when no ``--weights`` is given: ``name`` (the shipped
    ``lenet5_mnist.npz`` unless ``--model``/``--dataset`` say otherwise) in
    :func:`cnnlib.datasets.data_root`, else in the checkout's ``data/``. CommandError naming the
    places tried when none has it."""
    try:
        folders = [data_root()]
    except OSError as err:
        raise CommandError(str(err)) from None
    if checkout_data_dir() not in (None, folders[0]):
        folders.append(checkout_data_dir())
    for folder in folders:
        if (folder / name).exists():
            return folder / name
    raise CommandError(f"no --weights given and {name} is in none of: "
                       f"{', '.join(str(f) for f in folders)}; pass --weights, or train first: "
                       "python -m cnnlib train")


def _model_of(path):
    """``"resnet"`` when the checkpoint at ``path`` has the small ResNet's names (``stem.conv.W``),
    else ``"lenet5"`` (an unreadable file is left for ``load_params`` to report)."""
    try:
        from .checkpoints import read_checkpoint
        names = read_checkpoint(path)
    except (OSError, ValueError):
        return "lenet5"
    return "resnet" if any(name.startswith("stem.") for name in names) else "lenet5"


def evaluate_weights(args, parser):
    """``evaluate``: load the weights, print their path, the test accuracy and the confusion
    matrix."""
    if args.weights is not None:
        path = args.weights
    else:
        path = default_weights(weights_name(args.model or "lenet5", args.dataset or "mnist"))
    if not path.exists():
        parser.error(f"--weights: no such file: {path} (train first: python -m cnnlib train)")
    if not path.is_file() and not path.is_dir():     # a FIFO would block, a device never end
        parser.error(f"--weights: {path} is not a regular file")
    model_name = args.model or _model_of(path)
    dataset = args.dataset or ("fashion-mnist" if "fashion" in path.name.lower() else "mnist")
    model = build_model(model_name)
    try:
        load_params(model, path)
    except (OSError, ValueError) as err:
        parser.error(f"--weights: {err}")
    print(f"weights: {path}", flush=True)
    print(f"model: {MODELS[model_name]}; data: {DATASET_NAMES[dataset]}", flush=True)
    _, (x_test, y_test) = _load_mnist(dataset)
    predictions = predict(model, x_test)
    print(f"test accuracy: {np.mean(predictions == y_test):.4f} on {len(y_test):,} images")
    print(format_confusion(confusion_matrix(y_test, predictions, 10)))
    return 0


def run(args, parser):
    """Run the parsed command; returns its exit status."""
    if args.command == "exercises":
        return write_exercises(args)
    if args.command == "course":
        return write_course_command(args)
    if args.command == "evaluate":
        return evaluate_weights(args, parser)
    if args.workers > 1 and args.model == "resnet":
        parser.error(f"--workers: the resnet model's batch norm needs each batch whole; use 1, "
                     f"got {args.workers}")
    if args.out is None:
        args.out = default_out(args)
    created = check_out(args, parser)
    try:
        return train(args)
    finally:
        remove_empty(created)


def main(argv=None):
    """Entry point of ``python -m cnnlib``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = run(args, parser)
        sys.stdout.flush()
    except CommandError as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:     # e.g. `evaluate | head -2`: the reader has gone, end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13                 # as a process killed by SIGPIPE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
