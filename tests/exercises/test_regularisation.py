"""The checkers of dropout and of the random search (cnnlib.exercises.regularisation) accept right
answers written independently of cnnlib and name each typical mistake."""

import numpy as np

from cnnlib import exercises, norm

from .helpers import checker_tests, stub


def dropout(forward=None, backward=None):
    """A Dropout subclass whose forward and backward passes are the functions given."""
    class Mine(norm.Dropout):
        pass
    if forward is not None:
        Mine.forward = forward
    if backward is not None:
        Mine.backward = backward
    return Mine


def forward_keep_mask(self, x):
    """Boolean mask, then a division by the kept share (DLFS style)."""
    if not self.training:
        return x
    self.keep = self.rng.random(x.shape) > self.p
    return x * self.keep / x.dtype.type(1 - self.p)


def backward_keep_mask(self, dout):
    if not self.training:
        return dout
    return dout * self.keep / dout.dtype.type(1 - self.p)


def forward_binomial(self, x):
    """A mask of 0/1 from binomial draws, with the scale folded into the mask (CS231n style)."""
    if not self.training:
        self.scaled = None
        return x
    keep = 1 - self.p
    self.scaled = (self.rng.binomial(1, keep, size=x.shape) / keep).astype(x.dtype)
    return x * self.scaled


def backward_binomial(self, dout):
    return dout if self.scaled is None else dout * self.scaled


def forward_where(self, x):
    """np.where on uniform draws compared with p from above."""
    self.dropped = None
    if self.training:
        self.dropped = self.rng.uniform(size=x.shape) < self.p
        return np.where(self.dropped, 0, x / (1 - self.p)).astype(x.dtype)
    return x.copy()


def backward_where(self, dout):
    if self.dropped is None:
        return dout.copy()
    return np.where(self.dropped, 0, dout / (1 - self.p)).astype(dout.dtype)


def forward_mistake(kind):
    def forward(self, x):
        if not self.training:
            if kind == "test_scale":
                return x * x.dtype.type(1 - self.p)
            return x
        draw = (np.random.default_rng(0) if kind == "fixed_seed"
                else np.random if kind == "global" else self.rng).random(x.shape)
        keep_p = self.p if kind == "keep_p" else 1 - self.p
        self.keep = draw < keep_p
        scale = {"no_scale": 1, "over_p": 1 / self.p, "times": 1 - self.p}.get(kind, 1 / keep_p)
        if kind == "in_place":
            x *= self.keep * x.dtype.type(scale)
            return x
        out = x * self.keep * scale
        return out.astype(np.float64 if kind == "upcast" else x.dtype)
    return forward


def backward_mistake(kind):
    def backward(self, dout):
        if not self.training:
            return dout
        scale = dout.dtype.type(1 / (1 - self.p))
        if kind == "unmasked":
            return dout
        if kind == "unscaled":
            return dout * self.keep
        if kind == "new_mask":
            return dout * (self.rng.random(dout.shape) >= self.p) * scale
        if kind == "in_place":
            dout *= self.keep * scale
            return dout
        return dout * self.keep * scale
    return backward


def fixed_mask_forward(self, x):
    if not self.training:
        return x
    if not hasattr(self, "keep"):
        self.keep = self.rng.random(x.shape) >= self.p
    return x * self.keep / x.dtype.type(1 - self.p)


def search_exponents(run_trial, n_trials, rng):
    trials = []
    for _ in range(n_trials):
        lr = 10.0 ** rng.uniform(-4, -2)
        wd = 10.0 ** rng.uniform(-6, -2)
        trials.append({"lr": lr, "weight_decay": wd, "val_acc": run_trial(lr, wd)})
    return trials


def search_vectorised(run_trial, n_trials, rng):
    """All draws first, natural logs, exp back."""
    lo = np.log([1e-4, 1e-6])
    hi = np.log([1e-2, 1e-2])
    draws = np.exp(lo + (hi - lo) * rng.random((n_trials, 2)))
    return [dict(lr=a, weight_decay=b, val_acc=run_trial(a, b)) for a, b in draws]


def search_loguniform_ratio(run_trial, n_trials, rng):
    """lo * (hi / lo) ** u, with a list comprehension of settings first."""
    settings = [(1e-4 * 100 ** rng.random(), 1e-6 * 1e4 ** rng.random()) for _ in range(n_trials)]
    results = []
    for lr, wd in settings:
        results.append({"val_acc": float(run_trial(lr, wd)), "lr": lr, "weight_decay": wd})
    return results


def shared_mask_forward(self, x):
    """One mask for the whole batch (drawn for one example, broadcast over the rows)."""
    if not self.training:
        self.keep = None
        return x
    self.keep = self.rng.random(x.shape[1:]) >= self.p
    return x * self.keep / x.dtype.type(1 - self.p)


def list_backward(self, dout):
    return list(dout if self.keep is None else dout * self.keep / dout.dtype.type(1 - self.p))


def search_exponent_only(run_trial, n_trials, rng):
    """The exponents recorded and trained with, never raised to the power."""
    trials = []
    for _ in range(n_trials):
        lr, wd = rng.uniform(-4, -2), rng.uniform(-6, -2)
        trials.append({"lr": lr, "weight_decay": wd, "val_acc": run_trial(lr, wd)})
    return trials


def search_logspace(run_trial, n_trials, rng):
    """np.logspace grids, the weight decays shuffled: a grid in another order."""
    lrs, wds = np.logspace(-4, -2, n_trials), rng.permutation(np.logspace(-6, -2, n_trials))
    return [{"lr": a, "weight_decay": b, "val_acc": run_trial(a, b)} for a, b in zip(lrs, wds)]


def search_mistake(kind):
    def search(run_trial, n_trials, rng):
        source = np.random.default_rng(0) if kind == "fixed_seed" else rng
        trials = []
        for i in range(n_trials):
            if kind == "uniform":
                lr, wd = source.uniform(1e-4, 1e-2), source.uniform(1e-6, 1e-2)
            elif kind == "grid":
                lr, wd = 10.0 ** (-4 + i % 3), 10.0 ** (-6 + 2 * (i % 3))
            elif kind == "same_u":
                u = source.random()
                lr, wd = 1e-4 * 100 ** u, 1e-6 * 1e4 ** u
            elif kind == "natural":
                lr, wd = np.exp(source.uniform(-4, -2)), np.exp(source.uniform(-6, -2))
            else:
                lr, wd = 10.0 ** source.uniform(-4, -2), 10.0 ** source.uniform(-6, -2)
            acc = run_trial(lr, wd)
            if kind == "twice":
                acc = run_trial(lr, wd)
            trials.append({"lr": lr, "weight_decay": wd, "val_acc": acc})
        return trials[:-1] if kind == "short" else trials
    return search


REFERENCES = [
    (exercises.check_dropout, norm.Dropout),
    (exercises.check_dropout, dropout(forward_keep_mask, backward_keep_mask)),
    (exercises.check_dropout, dropout(forward_binomial, backward_binomial)),
    (exercises.check_dropout, dropout(forward_where, backward_where)),
    (exercises.check_random_search, exercises.random_search),
    (exercises.check_random_search, search_exponents),
    (exercises.check_random_search, search_vectorised),
    (exercises.check_random_search, search_loguniform_ratio),
]

RETURN_THE_FUNCTION = {exercises.check_random_search}

WRONG = [
    (exercises.check_dropout, dropout(lambda self, x: stub()),
     "Dropout.forward is not written yet"),
    (exercises.check_dropout, dropout(lambda self, x: x), "drops nothing in training"),
    (exercises.check_dropout, dropout(lambda self, x: 0 * x), "returns all zeros"),
    (exercises.check_dropout, dropout(forward_mistake("keep_p")), "p is the probability to DROP"),
    (exercises.check_dropout, dropout(forward_mistake("no_scale")), "are not scaled"),
    (exercises.check_dropout, dropout(forward_mistake("over_p")), "scaled by 1 / p"),
    (exercises.check_dropout, dropout(forward_mistake("times")), "multiplied by 1 - p"),
    (exercises.check_dropout, dropout(forward_mistake("upcast")),
     "Dropout.forward's output is float64, not float32"),
    (exercises.check_dropout, dropout(forward_mistake("in_place")), "changed the caller's x"),
    (exercises.check_dropout, dropout(forward_mistake("test_scale"), backward_mistake("")),
     "it scales at test time"),
    (exercises.check_dropout, dropout(forward_mistake("global"), backward_mistake("")),
     "draw the mask from self.rng, not from np.random"),
    (exercises.check_dropout, dropout(forward_mistake("fixed_seed"), backward_mistake("")),
     "draw the mask from self.rng, not from a fixed seed"),
    (exercises.check_dropout, dropout(fixed_mask_forward, backward_mistake("")),
     "dropped the same values at its second call"),
    (exercises.check_dropout, dropout(forward_mistake(""), backward_mistake("unmasked")),
     "dx is dout unchanged"),
    (exercises.check_dropout, dropout(forward_mistake(""), backward_mistake("unscaled")),
     "dx is not scaled"),
    (exercises.check_dropout, dropout(forward_mistake(""), backward_mistake("new_mask")),
     "do not draw a new one"),
    (exercises.check_dropout, dropout(forward_mistake(""), backward_mistake("in_place")),
     "changed dout in place"),
    (exercises.check_random_search, stub, "random_search is not written yet"),
    (exercises.check_random_search,
     lambda run, n, rng: [{"lr": 0.0, "weight_decay": 0.0, "val_acc": run(0.0, 0.0)}
                          for _ in range(n)], "every trial's lr is zero (all zeros)"),
    (exercises.check_random_search, search_mistake("uniform"), "lr is sampled uniformly"),
    (exercises.check_random_search, search_mistake("grid"), "that is a grid"),
    (exercises.check_random_search, search_mistake("same_u"), "move together"),
    (exercises.check_random_search, search_mistake("natural"), "leaves its range"),
    (exercises.check_random_search, search_mistake("fixed_seed"), "not from a fixed seed"),
    (exercises.check_random_search, search_mistake("twice"), "one call per trial"),
    (exercises.check_random_search, search_mistake("short"), "returned 399 trials"),
    # found by the learner trial of session 7 (accepted, or a misleading message, before)
    (exercises.check_dropout, dropout(shared_mask_forward, backward_keep_mask),
     "every example (row of x) gets the same mask"),
    (exercises.check_dropout, dropout(forward_keep_mask, list_backward),
     "Dropout.backward returned a list"),
    (exercises.check_dropout, dropout(lambda self, x: list(forward_keep_mask(self, x))),
     "Dropout.forward returned a list"),
    (exercises.check_random_search, search_exponent_only, "a trial's lr is"),
    (exercises.check_random_search, lambda run, n, rng: max(search_exponents(run, n, rng),
                                                            key=lambda t: t["val_acc"]),
     "random_search returned one dict"),
    (exercises.check_random_search, search_logspace, "the same lr values, only in another order"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
