"""Training loop, evaluation in batches (accuracy, confusion matrix), and checkpoints (``np.savez``, never pickle).

``fit`` and ``evaluate`` use only a model's public API: ``loss(x, y)`` (which keeps the batch's scores in
``last_scores``), ``backward()``, ``params``/``grads`` and ``forward(x)``, and where the model has them,
``train()``/``eval()`` (training and evaluation mode) and ``buffers`` (batch norm's running averages).
"""

import contextlib
import numbers
import os
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .threads import AdaptiveThreads


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
        """Training throughput over all epochs (examples per second of epoch time, validation excluded)."""
        return self.examples / sum(self.epoch_seconds) if self.epoch_seconds else 0.0


def _labels(y):
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 else y


@contextlib.contextmanager
def _mode(model, training):
    """Run a block with ``model`` in training (``True``) or evaluation (``False``) mode, then restore the
    mode it had. Does nothing for a model without ``train()`` (and ``training``)."""
    if not hasattr(model, "train"):
        yield model
        return
    was = getattr(model, "training", True)
    model.train(training)
    try:
        yield model
    finally:
        model.train(was)


def scores(model, x, batch_size=1000):
    """``model.forward`` over ``x`` ``batch_size`` examples at a time, in evaluation mode (batch norm
    uses its running averages and updates nothing, dropout drops nothing); returns ``(N, classes)``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    with _mode(model, False):
        return np.concatenate([model.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def predict(model, x, batch_size=1000):
    """Predicted class indices ``(N,)`` for ``x``, computed in batches in evaluation mode."""
    return scores(model, x, batch_size).argmax(axis=1)


def evaluate(model, x, y, batch_size=1000):
    """Accuracy (fraction in [0, 1]) of ``model`` on ``x`` against labels ``y`` (ints or one-hot),
    computed in evaluation mode (the model's mode is restored afterwards)."""
    y = _labels(y)
    if len(x) != len(y):
        raise ValueError(f"x and y: lengths differ: {len(x)} examples, {len(y)} labels")
    return float(np.mean(predict(model, x, batch_size) == y))


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``cm[i, j]`` of examples with true class i predicted as j; ``(num_classes, num_classes)`` int64."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred: expected two 1-D arrays of equal length, got shapes "
                         f"{y_true.shape} and {y_pred.shape}")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name}: values must be in [0, {num_classes}), got {values.min()}..{values.max()}")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``; return the norm before."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


def fit(model, optimizer, x, y, *, epochs, batch_size=128, x_val=None, y_val=None, seed=0, progress=True,
        patience=None, clip=None, lr_schedule=None, start_epoch=0, history=None, threads="auto",
        live=None):
    """Train ``model`` with ``optimizer`` on ``x``/``y`` in shuffled minibatches; return a :class:`History`.

    Each epoch's order comes from ``numpy.random.default_rng([seed, epoch])``, so the same seed gives
    the same run, and ``start_epoch`` resumes a run at a later epoch (pass the previous ``history``
    to extend it). ``patience``: stop when validation accuracy has not improved for that many epochs,
    and at the end restore the weights (and buffers) of the epoch with the best validation accuracy,
    ``history.best_epoch``, whether training stopped early or ran all its epochs. ``clip``: rescale gradients to at most this joint L2 norm.
    ``lr_schedule``: a function of the epoch (0-based) giving the learning rate to set on
    ``optimizer.lr`` at the start of that epoch (e.g. ``optim.cosine_schedule``). ``threads``: the BLAS
    thread count during training: ``"auto"`` gives BLAS the cores that other processes leave free, looking
    again every quarter of a second (:class:`cnnlib.threads.AdaptiveThreads`); an int fixes it, None
    leaves it alone. The thread count can change the last digits of the results: fix it where runs
    must repeat bit for bit.
    ``live``: draw the curves while training (:mod:`cnnlib.live`): True for a new figure, a
    ``LivePlot`` (or ``plot.run(label)``) to draw several runs on one figure; None or False: none.
    It changes no number of the History (the validation loss it draws comes from the forward pass
    that measures the validation accuracy).
    Training steps run in training mode (``model.train()``), validation in evaluation mode; the model
    is left in the mode it had before.
    The progress bar shows the running loss and accuracy during an epoch, and at its end the epoch's
    mean loss, its accuracy and the validation accuracy. A NaN or infinite loss raises
    FloatingPointError naming the epoch and step; parameters that became NaN or infinite (checked at
    the end of every epoch) raise it naming the epoch and parameter.
    """
    y_int = _labels(y)
    if len(x) != len(y):
        raise ValueError(f"x and y: lengths differ: {len(x)} examples, {len(y)} labels")
    if batch_size < 1 or epochs < 0:
        raise ValueError(f"batch_size must be positive and epochs non-negative, got {batch_size}, {epochs}")
    if patience is not None and x_val is None:
        raise ValueError("patience: early stopping needs validation data (x_val, y_val)")
    if clip is not None and not (isinstance(clip, numbers.Real) and 0 < clip < np.inf):
        raise ValueError(f"clip: expected a positive finite gradient norm (or None), got {clip!r}")
    history = History() if history is None else history
    best_acc, best_state, waited = -1.0, None, 0
    n = len(x)
    steps = -(-n // batch_size)
    if live:                                                # live plot hook 1/5: start
        from .live import live_run
        live = live_run(live)
    with AdaptiveThreads(threads) as blas, _mode(model, True):
        for epoch in range(start_epoch, start_epoch + epochs):
            if lr_schedule is not None:
                optimizer.lr = float(lr_schedule(epoch))
            order = np.random.default_rng([seed, epoch]).permutation(n)
            bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{start_epoch + epochs}", disable=not progress,
                       unit="batch", leave=True)
            correct, started = 0, time.perf_counter()
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                blas.prepare_step()
                loss = model.loss(x[idx], y[idx])
                if not np.isfinite(loss):
                    bar.close()
                    raise FloatingPointError(_diverged_message(loss, epoch, step, len(history.loss), x, idx, optimizer))
                model.backward()
                grads = model.grads
                if clip is not None:
                    clip_grad_norm(grads, clip)
                optimizer.update(model.params, grads)
                history.loss.append(float(loss))
                correct += int(np.sum(model.last_scores.argmax(axis=1) == y_int[idx]))
                bar.set_postfix(loss=f"{loss:.4f}", acc=f"{correct / min(n, (step + 1) * batch_size):.4f}",
                                refresh=False)
                bar.update()
                if live:                                                # live plot hook 2/5: step
                    live.step(history.loss[-1])
            seconds = time.perf_counter() - started
            summary = {"loss": f"{np.mean(history.loss[-steps:]):.4f}", "acc": f"{correct / n:.4f}"}
            if x_val is not None and not _non_finite(model.params):
                validate = live.validate if live else evaluate   # live plot hook 3/5 (+ val loss)
                history.val_acc.append(validate(model, x_val, y_val))
                summary["val_acc"] = f"{history.val_acc[-1]:.4f}"
            bar.set_postfix(summary)
            bar.close()
            _check_finite_params(model, epoch, optimizer)
            history.epoch_seconds.append(seconds)
            history.examples += n
            history.train_acc.append(correct / n)
            if live:                                                # live plot hook 4/5: epoch
                live.epoch(history.train_acc[-1], history.val_acc[-1] if x_val is not None
                           else None)
            if x_val is None:
                continue
            if history.val_acc[-1] > best_acc:
                best_acc, waited, history.best_epoch = history.val_acc[-1], 0, epoch
                if patience is not None:
                    best_state = {name: p.copy() for name, p in _state(model).items()}
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    history.stopped_early = True
                    break
    if best_state is not None:
        for name, p in _state(model).items():
            p[...] = best_state[name]
    if live:                                                # live plot hook 5/5: end
        live.close()
    return history


def _state(model):
    """``{name: array}`` of the parameters and buffers (running averages) of ``model``."""
    return {**model.params, **getattr(model, "buffers", {})}


def _diverged_message(loss, epoch, step, iterations, x, idx, optimizer):
    where = f"loss became {loss} at epoch {epoch + 1}, step {step + 1} (iteration {iterations + 1})"
    bad = idx[~np.isfinite(x[idx].reshape(len(idx), -1)).all(axis=1)]
    if len(bad):
        return f"{where}: the input holds NaN or inf values in examples {sorted(bad.tolist())}; clean the data"
    return (f"{where}; try a lower learning rate (now {getattr(optimizer, 'lr', '?')}) "
            f"or gradient clipping (clip=1.0)")


def _non_finite(arrays):
    """The names of the float (or complex) arrays in ``arrays`` holding NaN or inf."""
    return [name for name, a in arrays.items() if a.dtype.kind in "fc" and not np.isfinite(a).all()]


def _check_finite_params(model, epoch, optimizer):
    bad = _non_finite(model.params)
    if bad:
        raise FloatingPointError(f"parameters became NaN or inf during epoch {epoch + 1}: {', '.join(bad)}; "
                                 f"try a lower learning rate (now {getattr(optimizer, 'lr', '?')}) "
                                 f"or gradient clipping (clip=1.0)")


NOT_A_CHECKPOINT = "not a cnnlib checkpoint (an .npz file written by save_params)"


def save_params(model, path, optimizer=None):
    """Save every parameter and buffer of ``model`` (and ``optimizer``'s state, if given) to ``path`` with
    ``np.savez``. Buffers (batch norm's running averages, ``model.buffers``) are saved under their
    names beside the parameters.

    The file is written to a temporary file in the same directory and then renamed over ``path``, so a
    failed write (a full disk, an interrupt) leaves any earlier checkpoint at ``path`` intact.
    Raises ValueError naming the parameters when some hold NaN or inf (such weights are never saved).
    """
    arrays = _state(model)
    if optimizer is not None:
        arrays.update({f"optimizer:{key}": value for key, value in optimizer.state_dict().items()})
    bad = _non_finite(arrays)
    if bad:
        raise ValueError(f"save_params: not saving {path}: NaN or inf values in {', '.join(bad)}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_checkpoint(path):
    """Every array in the .npz file ``path``; ValueError saying why when it is not a checkpoint."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, {NOT_A_CHECKPOINT}")
    with open(path, "rb") as f:
        magic = f.read(6)
    reason = ("the file is empty" if not magic else
              "it is an .npy file (one array)" if magic == b"\x93NUMPY" else
              "it is not a zip archive" if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06") else None)
    if reason is None:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            reason = f"truncated or corrupted zip archive ({err})"
        except ValueError:
            reason = "it holds an entry that is not a plain numeric array"
        else:
            if all(isinstance(a, np.ndarray) for a in arrays.values()):
                return arrays
            reason = "it holds files that are not .npy arrays"
    raise ValueError(f"{path} is {NOT_A_CHECKPOINT}: {reason}")


def load_params(model, path, optimizer=None):
    """Load parameters and buffers saved by :func:`save_params` into ``model`` in place (and ``optimizer``'s
    state).

    Everything is checked before anything is assigned, so on error the model is unchanged. Raises
    ValueError when ``path`` is not a readable .npz checkpoint (empty, truncated, a directory, an .npy
    or any other file), and listing missing names, unexpected names, shape mismatches, arrays of the
    wrong kind (an int, bool or complex array for a float parameter: never cast silently) and arrays
    holding NaN or inf. A missing file raises FileNotFoundError.
    """
    saved = _read_checkpoint(path)
    non_finite = _non_finite(saved)
    optimizer_state = {key.split(":", 1)[1]: saved.pop(key) for key in list(saved) if key.startswith("optimizer:")}
    params = _state(model)
    problems = [f"missing from {path}: {name} {params[name].shape}" for name in params if name not in saved]
    problems += [f"unexpected in {path}: {name} {saved[name].shape}" for name in saved if name not in params]
    problems += [f"shape mismatch for {name}: model {params[name].shape}, file {saved[name].shape}"
                 for name in params if name in saved and saved[name].shape != params[name].shape]
    problems += [f"dtype mismatch for {name}: model {params[name].dtype}, file {saved[name].dtype}"
                 for name in params if name in saved and saved[name].dtype.kind != params[name].dtype.kind]
    problems += [f"NaN or inf values in {name}" for name in non_finite]
    if optimizer is not None and not optimizer_state:
        problems.append(f"no optimizer state in {path} (save it with save_params(model, path, optimizer))")
    if problems:
        raise ValueError("load_params: checkpoint does not fit the model:\n  " + "\n  ".join(problems))
    if optimizer is not None:
        optimizer.load_state_dict(optimizer_state)
    for name, p in params.items():
        p[...] = saved[name]
