"""Checkers of inverted dropout's forward and backward passes and of a random hyperparameter
search on a log scale (notebook 10), with their typical mistakes.
"""

import numpy as np

from .diagnosis import (
    ExerciseError,
    call,
    caller_unchanged,
    copy_checked,
    correct,
    fresh,
    keeps_float32,
)

SEARCH_RANGES = {"lr": (1e-4, 1e-2), "weight_decay": (1e-6, 1e-2)}


# --- dropout ------------------------------------------------------------------------------------

def _forward(layer, x, where):
    given = x.copy()
    out = call("Dropout.forward", layer.forward, given)
    caller_unchanged("the caller's x", given, x, where, who="Dropout.forward")
    if out is None:
        raise ExerciseError("Dropout.forward returned None: return the masked x")
    if not isinstance(out, np.ndarray):
        raise ExerciseError(f"Dropout.forward returned a {type(out).__name__}: return a numpy "
                            f"array shaped like x, which the next layer can use")
    out = np.asarray(out)
    if out.shape != x.shape:
        raise ExerciseError(f"Dropout.forward: the output has shape {out.shape}, expected x's "
                            f"{x.shape}: draw one keep-or-drop decision per value")
    return out


def _check_dropout_training(layer, x, p, where):
    """Dropout.forward in training on ``x``: the share dropped and the scaling of the kept values;
    returns ``(dropped, kept, share)``."""
    out = _forward(layer, x, where)
    keeps_float32("Dropout.forward's output", out)
    if not np.any(out):
        raise ExerciseError(f"Dropout.forward returns all zeros {where}: keep each value with "
                            f"probability 1 - p")
    dropped = out == 0
    kept = ~dropped
    share = dropped.mean()
    if 0 < share < 1 and np.all(dropped == dropped[:1]):
        raise ExerciseError(f"Dropout.forward {where}: every example (row of x) gets the same "
                            f"mask: draw one keep-or-drop decision per VALUE, a mask shaped "
                            f"like x")
    if 0 < share < 1 and np.all(dropped == dropped[:, :1]):
        raise ExerciseError(f"Dropout.forward {where}: all the values of an example share one "
                            f"decision: draw one keep-or-drop decision per VALUE, a mask shaped "
                            f"like x")
    if share == 0:
        if np.allclose(out, x):
            raise ExerciseError("Dropout.forward drops nothing in training: set each value to 0 "
                                "with probability p (self.training is True here)")
        raise ExerciseError("Dropout.forward drops nothing in training: a dropped value is 0")
    if abs(share - (1 - p)) < 0.02:
        raise ExerciseError(f"Dropout.forward drops {share:.0%} of the values {where}: p is the "
                            f"probability to DROP a value, so about {p:.0%} should be 0")
    if abs(share - p) > 0.02:
        raise ExerciseError(f"Dropout.forward drops {share:.1%} of the values {where}; expected "
                            f"about {p:.0%}: each value is dropped with probability p, "
                            f"independently")
    ratio = out[kept] / x[kept]
    for factor, message in [
            (1.0, "the kept values are not scaled: inverted dropout multiplies them by "
                  "1 / (1 - p), so that the expected output equals x"),
            (1 / p, "the kept values are scaled by 1 / p: p is the probability to drop, so the "
                    "kept share is 1 - p"),
            (1 - p, "the kept values are multiplied by 1 - p: inverted dropout DIVIDES by the "
                    "kept share, 1 - p")]:
        if np.allclose(ratio, factor, rtol=1e-5):
            raise ExerciseError(f"Dropout.forward {where}: {message}")
    if not np.allclose(ratio, 1 / (1 - p), rtol=1e-5):
        raise ExerciseError(f"Dropout.forward {where}: a kept value should be x / (1 - p); got "
                            f"ratios out / x between {ratio.min():.4g} and {ratio.max():.4g}")
    return dropped, kept, share


def _check_dropout_backward(layer, x, p, dropped, kept, where):
    """Dropout.backward: the same mask, scaled, dout unchanged; returns the dout it used."""
    dout = np.random.default_rng(16).standard_normal(x.shape).astype(np.float32)
    dx = copy_checked("Dropout.backward", dout,
                      lambda d: call("Dropout.backward", layer.backward, d))
    if dx is None:
        raise ExerciseError("Dropout.backward returned None: return dout times the mask")
    if not isinstance(dx, np.ndarray):
        raise ExerciseError(f"Dropout.backward returned a {type(dx).__name__}: return a numpy "
                            f"array shaped like dout, which the layer before can use")
    dx = np.asarray(dx)
    if dx.shape != x.shape:
        raise ExerciseError(f"Dropout.backward: dx has shape {dx.shape}, expected {x.shape}")
    expected = dout * kept / np.float32(1 - p)
    if not np.allclose(dx, expected, rtol=1e-5, atol=1e-6):
        if np.allclose(dx, dout):
            message = ("dx is dout unchanged: a dropped value did not reach the loss, so its "
                       "gradient is 0, and a kept one was multiplied by 1 / (1 - p)")
        elif np.allclose(dx, dout * kept):
            message = ("dx is not scaled: forward multiplied each kept value by 1 / (1 - p), "
                       "so the chain rule multiplies its gradient by the same factor")
        elif np.allclose(dx, dout * (1 - p)) or np.allclose(dx, dout / (1 - p)):
            message = "dx does not use the mask: the dropped values get a zero gradient"
        elif np.any((dx != 0) & dropped) or np.any((dx == 0) & kept & (dout != 0)):
            message = ("dx zeroes other values than forward dropped: keep forward's mask "
                       "(self.mask) and use it again, do not draw a new one")
        else:
            message = "dx should be dout times forward's mask, 0 or 1 / (1 - p)"
        raise ExerciseError(f"Dropout.backward {where}: {message}")
    keeps_float32("Dropout.backward's dx", dx)
    return dout


def _check_dropout_rng(cls, layer, x, p, dropped, where):
    """The mask drawn from the layer's rng, anew at every call."""
    twin = fresh(cls, "Dropout", p, rng=np.random.default_rng(0))
    twin.training = True
    if not np.array_equal(_forward(twin, x, where) == 0, dropped):
        raise ExerciseError("two layers given the same seed, rng=np.random.default_rng(0), drop "
                            "different values: draw the mask from self.rng, not from np.random "
                            "or a generator of your own")
    other = fresh(cls, "Dropout", p, rng=np.random.default_rng(1))
    other.training = True
    if np.array_equal(_forward(other, x, where) == 0, dropped):
        raise ExerciseError("layers given different seeds drop the same values: draw the mask "
                            "from self.rng, not from a fixed seed")
    again = _forward(layer, x, where)
    if np.array_equal(again == 0, dropped):
        raise ExerciseError("Dropout.forward dropped the same values at its second call: draw a "
                            "new mask at every call (a fixed mask is one thinned network, not "
                            "dropout)")


def _check_dropout_evaluation(layer, x, p, dout):
    """Evaluation mode (training = False): forward is the identity, backward passes dout."""
    layer.training = False
    test = _forward(layer, x, "in evaluation mode")
    if not np.allclose(test, x, rtol=1e-6):
        if np.allclose(test, x * (1 - p), rtol=1e-5) or np.allclose(test, x / (1 - p), rtol=1e-5):
            message = ("it scales at test time: inverted dropout scales in training, so "
                       "evaluation passes x through unchanged")
        else:
            message = "it still drops values: in evaluation every value passes, unchanged"
        raise ExerciseError(f"Dropout.forward in evaluation mode (training = False): {message}")
    keeps_float32("Dropout.forward's output", test, "in evaluation mode")
    dx = call("Dropout.backward", layer.backward, dout.copy())
    if dx is None or not np.allclose(dx, dout):
        raise ExerciseError("Dropout.backward after an evaluation-mode forward pass: nothing was "
                            "dropped, so dx is dout unchanged")


def check_dropout(cls):
    """Check an inverted dropout class built as ``cls(p, rng=generator)`` with ``p`` the
    probability to DROP a value: in training, forward keeps each value with probability
    ``1 - p`` and scales it by ``1 / (1 - p)``, drawing the mask from ``self.rng`` anew at each
    call; in evaluation (``training = False``) it returns x unchanged; backward multiplies dout
    by the same mask. Float32 stays float32; the caller's arrays are not changed."""
    p = 0.3
    where = f"with p = {p} on a (200, 500) float32 x of values near 3"
    x = (np.random.default_rng(15).standard_normal((200, 500)) * 0.5 + 3).astype(np.float32)
    layer = fresh(cls, "Dropout", p, rng=np.random.default_rng(0))
    layer.training = True
    dropped, kept, share = _check_dropout_training(layer, x, p, where)
    dout = _check_dropout_backward(layer, x, p, dropped, kept, where)
    _check_dropout_rng(cls, layer, x, p, dropped, where)
    _check_dropout_evaluation(layer, x, p, dout)
    correct(f"inverted dropout: about {share:.1%} dropped, the rest scaled by 1 / (1 - p), the "
            f"same mask in backward, the identity in evaluation")
    return cls


# --- random search ------------------------------------------------------------------------------

def random_search(run_trial, n_trials, rng):
    """cnnlib's answer to notebook 10's search exercise (its cells use it until the learner's
    passes): ``n_trials`` trials of a learning rate and a weight decay drawn log-uniformly from
    :data:`SEARCH_RANGES` with ``rng``; returns ``[{"lr", "weight_decay", "val_acc"}, ...]`` with
    ``val_acc = run_trial(lr, weight_decay)``."""
    trials = []
    for _ in range(n_trials):
        lr, wd = (10 ** rng.uniform(np.log10(lo), np.log10(hi))
                  for lo, hi in (SEARCH_RANGES["lr"], SEARCH_RANGES["weight_decay"]))
        trials.append({"lr": lr, "weight_decay": wd, "val_acc": run_trial(lr, wd)})
    return trials


def _check_trials(trials, n, calls):
    """The list of trials a search returned, against the ``n`` calls it made to run_trial."""
    if len(calls) != n:
        raise ExerciseError(f"random_search called run_trial {len(calls)} times for "
                            f"n_trials = {n}: one call per trial (each training run is "
                            f"expensive)")
    if len(trials) != n:
        raise ExerciseError(f"random_search returned {len(trials)} trials for n_trials = {n}:"
                            f" return one dict per trial")
    for trial in trials:
        if not isinstance(trial, dict) or not {"lr", "weight_decay", "val_acc"} <= set(trial):
            raise ExerciseError("each trial should be a dict with the keys 'lr', "
                                "'weight_decay' and 'val_acc'")
    for key in ("lr", "weight_decay"):
        if not any(float(t[key]) for t in trials):
            raise ExerciseError(f"every trial's {key} is zero (all zeros): draw it from its range "
                                f"{SEARCH_RANGES[key]}")
    for key in ("lr", "weight_decay"):
        bad = [float(t[key]) for t in trials if not float(t[key]) > 0]
        if bad:
            raise ExerciseError(f"a trial's {key} is {bad[0]:.3g}, not a positive number: draw "
                                f"its EXPONENT uniformly, then raise 10 to it")
    got = sorted((float(t["lr"]), float(t["weight_decay"])) for t in trials)
    if not np.allclose(got, sorted(calls)):
        raise ExerciseError("the trials' 'lr' and 'weight_decay' are not the values passed "
                            "to run_trial: record the values each trial trained with")
    for t in trials:
        if not np.isclose(float(t["val_acc"]), 0.9 + 0.01 * np.log10(t["lr"]) / 4
                          - 0.001 * np.log10(t["weight_decay"])):
            raise ExerciseError("a trial's 'val_acc' is not what run_trial returned for its "
                                "lr and weight_decay")


def _run_search(fn, seed, n):
    """``fn`` called once with ``n_trials = n`` and ``rng = np.random.default_rng(seed)``: its
    trials checked against the calls to run_trial; returns those calls, an array ``(n, 2)``."""
    calls = []

    def run_trial(lr, weight_decay):
        calls.append((float(lr), float(weight_decay)))
        with np.errstate(invalid="ignore", divide="ignore"):     # a wrong answer's lr <= 0
            return 0.9 + 0.01 * np.log10(lr) / 4 - 0.001 * np.log10(weight_decay)
    trials = call("random_search", fn, run_trial, n, np.random.default_rng(seed))
    if trials is None:
        raise ExerciseError("random_search returned None: return the list of trials")
    if isinstance(trials, dict):
        raise ExerciseError("random_search returned one dict: return the list of ALL the "
                            "trials, one dict per trial (the cells after it pick the best)")
    _check_trials(list(trials), n, calls)
    return np.array(calls)


def _check_log_uniform(name, v, lo, hi):
    """The 400 values ``v`` of ``name`` drawn log-uniformly from ``[lo, hi]``."""
    if v.min() < lo * (1 - 1e-9) or v.max() > hi * (1 + 1e-9):
        raise ExerciseError(f"{name} leaves its range [{lo:g}, {hi:g}]: got values from "
                            f"{v.min():.3g} to {v.max():.3g} (exponents are base 10)")
    if len(np.unique(v)) < len(v) // 2:
        raise ExerciseError(f"{name} repeats a few values over 400 trials: that is a grid; "
                            f"draw a new random value for every trial")
    middle = np.sqrt(lo * hi)                           # the middle of the range's exponents
    below = np.mean(v < middle)
    uniform_below = (middle - lo) / (hi - lo)
    if abs(below - uniform_below) < 0.05:
        raise ExerciseError(f"{name} is sampled uniformly: {below:.0%} of 400 trials fall "
                            f"below {middle:g}, the middle of the range on a log scale, so "
                            f"the small values are hardly tried. Sample the EXPONENT "
                            f"uniformly instead")
    if abs(below - 0.5) > 0.1:
        raise ExerciseError(f"{name}: {below:.0%} of 400 trials fall below {middle:g}, the "
                            f"middle of the range on a log scale; a log-uniform draw puts "
                            f"about half there")


def check_random_search(fn):
    """Check ``fn(run_trial, n_trials, rng)``: ``n_trials`` trials, each drawing a learning rate
    log-uniformly from ``SEARCH_RANGES['lr']`` and a weight decay log-uniformly from
    ``SEARCH_RANGES['weight_decay']`` with ``rng``, calling ``run_trial(lr, weight_decay)`` once
    (it returns the validation accuracy); returns a list of dicts with keys ``lr``,
    ``weight_decay`` and ``val_acc``, one per trial."""
    (lr_lo, lr_hi), (wd_lo, wd_hi) = SEARCH_RANGES["lr"], SEARCH_RANGES["weight_decay"]
    values = _run_search(fn, 0, 400)
    lr, wd = values[:, 0], values[:, 1]
    for name, v, lo, hi in [("lr", lr, lr_lo, lr_hi), ("weight_decay", wd, wd_lo, wd_hi)]:
        _check_log_uniform(name, v, lo, hi)
    if abs(np.corrcoef(np.log(lr), np.log(wd))[0, 1]) > 0.3:
        raise ExerciseError("lr and weight_decay move together: draw an independent random "
                            "number for each")
    if not np.array_equal(_run_search(fn, 0, 400), values):
        raise ExerciseError("two searches with rng = np.random.default_rng(0) tried different "
                            "values: draw every random number from rng")
    other = _run_search(fn, 1, 400)
    if np.array_equal(other, values):
        raise ExerciseError("searches with different seeds tried the same values: draw every "
                            "random number from rng, not from a fixed seed")
    for column, name in enumerate(("lr", "weight_decay")):
        if np.allclose(np.sort(other[:, column]), np.sort(values[:, column])):
            raise ExerciseError(f"searches with different seeds tried the same {name} values, "
                                f"only in another order: a fixed list (np.logspace, a grid) "
                                f"shuffled is still a grid; draw each value from rng")
    _run_search(fn, 2, 10)
    correct("random search: independent log-uniform draws of lr and weight decay from rng, one "
            "run per trial, every trial recorded")
    return fn
