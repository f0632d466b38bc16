"""The training loop, evaluation in batches (accuracy, confusion matrix), and, re-exported from
:mod:`cnnlib.checkpoints`, ``save_params``/``load_params``.

``fit`` and ``evaluate`` use only a model's public API: ``loss(x, y)`` (which keeps the batch's
scores in ``last_scores``), ``backward()``, ``params``/``grads`` and ``forward(x)``, and where the
model has them, ``train()``/``eval()`` (training and evaluation mode) and ``buffers`` (batch norm's
running averages).
"""

import contextlib
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ._checks import positive_int
from .checkpoints import load_params, model_state, non_finite, save_params
from .models import in_mode, predict, scores
from .threads import AdaptiveThreads
from .tuned import ProcessSplit

__all__ = ["History", "fit", "evaluate", "predict", "scores", "confusion_matrix", "clip_grad_norm",
           "save_params", "load_params"]


@dataclass
class History:
    """What happened during :func:`fit`.

    ``loss``: the loss of every iteration. ``train_acc``: per epoch, the accuracy on that epoch's
    minibatches as the weights changed. ``val_acc``: per epoch, when validation data was given.
    ``epoch_seconds`` and ``examples``: training time per epoch and examples seen.
    ``best_epoch``: the epoch (0-based) whose weights the model holds after early stopping.
    """

    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    examples: int = 0
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def images_per_second(self):
        """Training throughput over all epochs (examples per second of epoch time, validation
        excluded)."""
        return self.examples / sum(self.epoch_seconds) if self.epoch_seconds else 0.0


def class_indices(name, y, n, num_classes):
    """Labels ``y`` (ints ``(n,)`` in ``[0, num_classes)`` or one-hot ``(n, num_classes)``) as int
    class indices ``(n,)``; ValueError (TypeError for non-integer indices) naming ``name``
    otherwise."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape == (n, num_classes):
        return y.argmax(axis=1)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name}: expected {n} labels, as ints ({n},) or one-hot ({n}, "
                         f"{num_classes}), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class indices, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name}: class indices must be in [0, {num_classes}) (the model has "
                         f"{num_classes} outputs), got {y.min()}..{y.max()}")
    return y


def evaluate(model, x, y, batch_size=1000):
    """Accuracy (fraction in [0, 1]) of ``model`` on ``x`` ``(N, ...)`` against labels ``y`` (ints
    ``(N,)`` or one-hot ``(N, classes)``), computed in evaluation mode (the model's mode is restored
    afterwards). ValueError for an empty ``x``, a length mismatch or labels out of range."""
    if len(x) != len(y):
        raise ValueError(f"x and y: lengths differ: {len(x)} examples, {len(y)} labels")
    s = scores(model, x, batch_size)
    return float(np.mean(s.argmax(axis=1) == class_indices("y", y, len(x), s.shape[1])))


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``cm[i, j]`` of examples with true class i predicted as j; ``(num_classes,
    num_classes)`` int64."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred: expected two 1-D arrays of equal length, got shapes "
                         f"{y_true.shape} and {y_pred.shape}")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name}: values must be in [0, {num_classes}), got "
                             f"{values.min()}..{values.max()}")
    return np.bincount(y_true * num_classes + y_pred,
                       minlength=num_classes**2).reshape(num_classes, num_classes)


def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``; return the norm
    before."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


def fit(model, optimizer, x, y, *, epochs, batch_size=128, x_val=None, y_val=None, seed=0,
        progress=True, patience=None, clip=None, lr_schedule=None, start_epoch=0, history=None,
        threads="auto", live=None, workers=1):
    """Train ``model`` with ``optimizer`` on ``x``/``y`` in shuffled minibatches; return a
    :class:`History`.

    Each epoch's order comes from ``numpy.random.default_rng([seed, epoch])``, so the same seed
    gives the same run, and ``start_epoch`` resumes a run at a later epoch (pass the previous
    ``history`` to extend it). ``patience``: stop when validation accuracy has not improved for that
    many epochs, and at the end restore the weights (and buffers) of the epoch with the best
    validation accuracy, ``history.best_epoch``, whether training stopped early or ran all its
    epochs. ``clip``: rescale gradients to at most this joint L2 norm.
    ``lr_schedule``: a function of the epoch (0-based) giving the learning rate to set on
    ``optimizer.lr`` at the start of that epoch (e.g. ``optim.cosine_schedule``). ``threads``: the
    BLAS thread count during training: ``"auto"`` gives BLAS the cores that other processes leave
    free, looking again every quarter of a second (:class:`cnnlib.threads.AdaptiveThreads`); an int
    fixes it, None leaves it alone. The thread count can change the last digits of the results: fix
    it where runs must repeat bit for bit. ``workers``: split every batch into that many slices run
    at once, in this process and ``workers - 1`` worker processes
    (:class:`cnnlib.tuned.ProcessSplit`, started in about a second), each with one BLAS thread
    (``threads`` is then ignored) and 64 examples at a time; faster on several cores for models
    without batch norm or dropout, and the same numbers up to rounding.
    Training steps run in training mode (``model.train()``), validation in evaluation mode; the
    model is left in the mode it had before.
    The progress bar shows the running loss and accuracy during an epoch, and at its end the epoch's
    mean loss, its accuracy and the validation accuracy. A NaN or infinite loss raises
    FloatingPointError naming the epoch and step; parameters that became NaN or infinite (checked at
    the end of every epoch) raise it naming the epoch and parameter.
    Every argument is checked before training starts (ValueError or TypeError naming it): x ``(N,
    ...)`` with N >= 1, labels ``(N,)`` ints in ``[0, classes)`` or one-hot ``(N, classes)``,
    ``x_val`` and ``y_val`` together, integer ``epochs``/``batch_size``/``start_epoch``. To learn
    the number of classes, fit first runs the model on one example of ``x`` in evaluation mode.
    ``live``: draw the loss and accuracy curves while training (:mod:`cnnlib.live`): True for a new
    figure, a ``LivePlot`` (or ``LivePlot.run(label)``) to draw several runs on one figure; in a
    Jupyter kernel only, elsewhere nothing is drawn.
    """
    y_int = _check_fit_args(model, x, y, x_val, y_val, epochs, batch_size,
                            start_epoch, patience, clip)
    workers = positive_int("workers", workers)
    history = History() if history is None else history
    if live:
        from .live import live_run  # imported here: matplotlib's figure only when asked for
        live = live_run(live)
    best = _BestEpoch(patience)
    end = start_epoch + epochs
    with (AdaptiveThreads(1 if workers > 1 else threads) as blas, in_mode(model, True),
          _stepper(model, workers) as step):
        for epoch in range(start_epoch, end):
            if lr_schedule is not None:
                optimizer.lr = float(lr_schedule(epoch))
            batches = _minibatches(len(x), batch_size, seed, epoch)
            bar = tqdm(total=len(batches), desc=f"epoch {epoch + 1}/{end}", disable=not progress,
                       unit="batch", leave=True)
            started = time.perf_counter()
            correct = _train_epoch(model, step, optimizer, x, y, y_int, batches, clip, blas, bar,
                                   history, epoch, live)
            seconds = time.perf_counter() - started
            _end_epoch(model, optimizer, x_val, y_val, history, bar, epoch, correct / len(x),
                       len(batches), live)
            history.epoch_seconds.append(seconds)
            history.examples += len(x)
            history.train_acc.append(correct / len(x))
            if live:
                live.epoch(history.train_acc[-1], history.val_acc[-1]
                           if x_val is not None else None)
            if x_val is not None and best.should_stop(model, history, epoch):
                history.stopped_early = True
                break
    best.restore(model)
    if live:
        live.close()
    return history


def _check_fit_args(model, x, y, x_val, y_val, epochs, batch_size, start_epoch, patience, clip):
    """Check :func:`fit`'s arguments before any training; return the labels as int indices
    ``(N,)``."""
    positive_int("epochs", epochs, minimum=0)
    positive_int("batch_size", batch_size)
    positive_int("start_epoch", start_epoch, minimum=0)
    if len(x) != len(y):
        raise ValueError(f"x and y: lengths differ: {len(x)} examples, {len(y)} labels")
    # one example, in evaluation mode; x must not be empty
    num_classes = scores(model, x[:1]).shape[1]
    y_int = class_indices("y", y, len(x), num_classes)
    if (x_val is None) != (y_val is None):
        raise ValueError(f"x_val and y_val: validation needs both, got only "
                         f"{'x_val' if y_val is None else 'y_val'}")
    if x_val is not None:
        if len(x_val) != len(y_val):
            raise ValueError(f"x_val and y_val: lengths differ: {len(x_val)} examples, "
                             f"{len(y_val)} labels")
        if len(x_val) == 0:
            raise ValueError(f"x_val: expected at least one example, got an empty array of shape "
                             f"{np.shape(x_val)}")
        class_indices("y_val", y_val, len(x_val), num_classes)
    if patience is not None and x_val is None:
        raise ValueError("patience: early stopping needs validation data (x_val, y_val)")
    if patience is not None:
        positive_int("patience", patience)
    if clip is not None and not (isinstance(clip, numbers.Real) and 0 < clip < np.inf):
        raise ValueError(f"clip: expected a positive finite gradient norm (or None), got {clip!r}")
    return y_int


def _minibatches(n, batch_size, seed, epoch):
    """The example indices of each minibatch of an epoch, shuffled by ``default_rng([seed,
    epoch])``."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def _stepper(model, workers):
    """What computes a training step's loss and gradients: ``model`` itself, or a
    :class:`~cnnlib.tuned.ProcessSplit` of it for several ``workers``."""
    return ProcessSplit(model, workers) if workers > 1 else contextlib.nullcontext(model)


def _train_epoch(model, step, optimizer, x, y, y_int, batches, clip, blas, bar, history, epoch,
                 live):
    """One pass over ``batches``: forward and loss (by ``step``: the model or its
    :class:`~cnnlib.tuned.ProcessSplit`), backward, (clipping,) update; appends each loss to
    ``history.loss`` (and hands it to the ``live`` plot) and returns how many training examples
    were classified correctly."""
    correct = seen = 0
    for index, idx in enumerate(batches):
        blas.prepare_step()
        xb = x[idx]
        loss = step.loss(xb, y[idx])
        if not np.isfinite(loss):
            bar.close()
            raise FloatingPointError(
                _diverged_message(loss, epoch, index, len(history.loss), xb, idx, optimizer)
            )
        step.backward()
        grads = model.grads
        if clip is not None:
            clip_grad_norm(grads, clip)
        optimizer.update(model.params, grads)
        history.loss.append(float(loss))
        correct += int(np.sum(model.last_scores.argmax(axis=1) == y_int[idx]))
        seen += len(idx)
        bar.set_postfix(loss=f"{loss:.4f}", acc=f"{correct / seen:.2%}", refresh=False)
        bar.update()
        if live:
            live.step(history.loss[-1])
    return correct


def _end_epoch(model, optimizer, x_val, y_val, history, bar, epoch, train_acc, steps, live):
    """End of an epoch: validation accuracy (when there is validation data and the weights are
    finite; a ``live`` plot records the validation loss from the same pass), the epoch's summary on
    the progress bar, then FloatingPointError if the weights are not finite."""
    summary = {"loss": f"{np.mean(history.loss[-steps:]):.4f}", "acc": f"{train_acc:.2%}"}
    if x_val is not None and not non_finite(model.params):
        validate = live.validate if live else evaluate
        history.val_acc.append(validate(model, x_val, y_val))
        summary["val_acc"] = f"{history.val_acc[-1]:.2%}"
    bar.set_postfix(summary)
    bar.close()
    bad = non_finite(model.params)
    if bad:
        raise FloatingPointError(f"parameters became NaN or inf during epoch {epoch + 1}: "
                                 f"{', '.join(bad)}; "
                                 f"try a lower learning rate (now {getattr(optimizer, 'lr', '?')}) "
                                 f"or gradient clipping (clip=1.0)")


class _BestEpoch:
    """Early stopping: tracks the epoch with the best validation accuracy (``history.best_epoch``)
    and, with ``patience``, keeps a copy of its weights and buffers to restore at the end."""

    def __init__(self, patience):
        self.patience, self.best_acc, self.waited, self.state = patience, -1.0, 0, None

    def should_stop(self, model, history, epoch):
        """Record the epoch's validation accuracy; True when ``patience`` epochs passed without a
        gain."""
        if history.val_acc[-1] > self.best_acc:
            self.best_acc, self.waited, history.best_epoch = history.val_acc[-1], 0, epoch
            if self.patience is not None:
                self.state = {name: p.copy() for name, p in model_state(model).items()}
            return False
        self.waited += 1
        return self.patience is not None and self.waited >= self.patience

    def restore(self, model):
        """Put the best epoch's weights and buffers back into ``model`` (with ``patience`` only)."""
        if self.state is not None:
            for name, p in model_state(model).items():
                p[...] = self.state[name]


def _diverged_message(loss, epoch, step, iterations, xb, idx, optimizer):
    where = f"loss became {loss} at epoch {epoch + 1}, step {step + 1} (iteration {iterations + 1})"
    bad = idx[~np.isfinite(xb.reshape(len(idx), -1)).all(axis=1)]
    if len(bad):
        return (f"{where}: the input holds NaN or inf values in examples {sorted(bad.tolist())}; "
                "clean the data")
    return (f"{where}; try a lower learning rate (now {getattr(optimizer, 'lr', '?')}) "
            f"or gradient clipping (clip=1.0)")
