"""The checkers of the optimizer exercises, RMSprop and Adam (cnnlib.exercises.optimizers) accept
right answers written independently of cnnlib (by hand, in Deep Learning from Scratch's and in
CS231n's styles, Adam's bias correction folded into the learning rate included) and name each
typical mistake."""

import numpy as np

from cnnlib import exercises, optim
from cnnlib.optim import Adam

from .helpers import checker_tests, stub

RUNNING_MEANS = {                      # how each kind updates h (in place) from rho and g
    "adagrad": lambda h, rho, g: h + g * g,
    "no_one_minus_rho": lambda h, rho, g: rho * h + g * g,
    "forget": lambda h, rho, g: (1 - rho) * g * g,
    "swapped": lambda h, rho, g: (1 - rho) * h + rho * g * g,
    "no_rho": lambda h, rho, g: h + (1 - rho) * g * g,
}


def _root(kind, h, old, rho, t, eps):
    """The denominator of the kind's step."""
    used = old if kind == "p_first" else h
    if kind == "no_sqrt":
        return used + eps
    if kind == "bias_corrected":
        return np.sqrt(h / (1 - rho ** t)) + eps
    if kind == "eps_inside":
        return np.sqrt(h + eps)
    if kind == "eps_parentheses":
        return np.sqrt(h)
    return np.sqrt(used) + (1e-7 if kind == "eps_fixed" else eps)


def rmsprop(kind):
    """An RMSprop whose update has the mistake ``kind``."""
    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            g = grads[name] if kind == "no_decay" else self.gradient(name, p, grads)
            if kind == "decay_all" and name.endswith(".b"):
                g = g + self.weight_decay * p
            if kind == "grads_in_place":
                grads[name] += 1.0
            h = self.state["h"].setdefault(name, np.zeros_like(p))
            old = h.copy()
            mean = RUNNING_MEANS.get(kind, lambda h, rho, g: rho * h + (1 - rho) * g * g)
            h[...] = mean(h, self.rho, g)
            step = self.lr * g / _root(kind, h, old, self.rho, self.t, self.eps)
            step = step + self.eps if kind == "eps_parentheses" else step
            if kind == "rebind":
                p = p - step
            elif kind == "zeros":
                p[...] = 0
            elif kind == "copy":
                params[name] = p - step
            else:
                p += step if kind == "ascent" else -step
    if kind == "stub":
        return type("Stub", (optim.RMSprop,), {"update": lambda self, *a: stub()})
    return type("Wrong", (optim.RMSprop,), {"update": update})


class HandAdam:
    """Adam written by hand, right without ``mistake``, else with one mistake (the keys of the
    checker's _adam_runs, plus 'copy', 't0', 't_late', 'zeros', 'alias', 'rebind')."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, **mistake):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.mistake, self.m, self.v = mistake, {}, {}
        self.t = 1 if mistake.get("t_offset") else 0

    def update(self, params, grads):
        bad = self.mistake.get
        b1, b2 = (self.beta2, self.beta1) if bad("swap") else (self.beta1, self.beta2)
        self.t = 1 if bad("t_fixed") else self.t + (0 if bad("t0") or bad("t_late") else 1)
        for name, p in params.items():
            if bad("t_per_param") and name != next(iter(params)):
                self.t += 1
            g, key = grads[name], "all" if bad("shared") else name
            if not bad("alias"):
                self.m[key] = b1 * self.m.get(key, 0) + (1 if bad("m_whole_g") else 1 - b1) * g
                self.v[key] = b2 * self.v.get(key, 0) + (1 if bad("v_whole_g") else 1 - b2) * (
                    abs(g) if bad("no_square") else g * g)
            else:                             # m and v one array, updated in place
                if key not in self.m:
                    self.m[key] = self.v[key] = np.zeros_like(p)
                self.m[key] *= b1
                self.m[key] += (1 - b1) * g
                self.v[key] *= b2
                self.v[key] += (1 - b2) * g * g
            m_hat, v_hat = self.corrected(self.m[key], self.v[key], b1, b2, g)
            if bad("store_corrected"):
                self.m[key], self.v[key] = m_hat, v_hat
            step = self.step(m_hat, v_hat)
            if bad("copy"):
                params[name] = p - step
            elif bad("rebind"):
                p = p - step
            elif bad("zeros"):
                p[...] = 0
            elif bad("ascent"):
                p += step
            else:
                p -= step
        if bad("t_late"):
            self.t += 1

    def corrected(self, m_hat, v_hat, b1, b2, g):
        """m_hat and v_hat, with the mistakes about the bias correction."""
        bad = self.mistake.get
        if bad("precedence"):
            m_hat, v_hat = m_hat / (1 - b1) ** self.t, v_hat / (1 - b2) ** self.t
        elif not bad("no_correction"):
            m_hat = m_hat if bad("m_uncorrected") else m_hat / (1 - b1 ** self.t)
            v_hat = v_hat if bad("v_uncorrected") else v_hat / (1 - b2 ** self.t)
        return (g if bad("g_not_m") else m_hat), v_hat

    def step(self, m_hat, v_hat):
        """The step's length from the corrected averages, with the mistakes about the root, eps
        and lr."""
        bad = self.mistake.get
        root = np.sqrt(v_hat + self.eps) - self.eps if bad("eps_inside") else (
            v_hat if bad("no_sqrt") else np.sqrt(v_hat))
        if bad("eps_parentheses"):                  # lr * m_hat / sqrt(v_hat) + eps
            return self.lr * m_hat / root + self.eps
        return (1 if bad("no_lr") else self.lr) * m_hat / (root + self.eps)


def adam(**mistake):
    return lambda **settings: HandAdam(**settings, **mistake)


class StubAdam(HandAdam):
    def update(self, params, grads):
        stub()


class RenamedLR(HandAdam):
    def __init__(self, lr=0.001, **settings):
        super().__init__(**settings)
        del self.lr
        self.learning_rate = lr


class ScratchRMSprop:
    """RMSprop written from the table without cnnlib's base class: own state, own weight decay."""

    def __init__(self, lr=0.01, rho=0.99, eps=1e-7, weight_decay=0.0):
        self.lr, self.rho, self.eps, self.weight_decay = lr, rho, eps, weight_decay
        self.h = {}

    def update(self, params, grads):
        for name, p in params.items():
            g = grads[name]
            if name.endswith("W"):
                g = g + self.weight_decay * p
            if name not in self.h:
                self.h[name] = np.zeros_like(p)
            self.h[name] = self.rho * self.h[name] + (1 - self.rho) * g ** 2
            p[...] = p - self.lr * g / (np.sqrt(self.h[name]) + self.eps)


class CS231nRMSprop(optim.RMSprop):
    """CS231n's rmsprop(x, dx, config) as a class: cache and next_x, written back with [...]."""

    def update(self, params, grads):
        for name, x in params.items():
            dx = self.gradient(name, x, grads)
            cache = self.state["h"].get(name, 0.0)
            cache = self.rho * cache + (1 - self.rho) * dx ** 2
            next_x = x - self.lr * dx / (np.sqrt(cache) + self.eps)
            self.state["h"][name] = cache
            x[...] = next_x


class DLFSAdam:
    """Adam as Deep Learning from Scratch writes it (common/optimizer.py): the bias corrections
    folded into lr_t, the Adam paper's "efficient" form; eps from the constructor unless
    ``fixed``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, fixed=None):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.fixed, self.iter, self.m, self.v = fixed, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        eps = self.eps if self.fixed is None else self.fixed
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + eps)


class CS231nAdam:
    """CS231n's adam(x, dx, config) as a class: config dicts per parameter, next_x written back."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.configs = {}

    def update(self, params, grads):
        for name, x in params.items():
            config = self.configs.setdefault(name, {"m": np.zeros_like(x),
                                                    "v": np.zeros_like(x), "t": 0})
            dx = grads[name]
            config["t"] += 1
            config["m"] = self.beta1 * config["m"] + (1 - self.beta1) * dx
            mt = config["m"] / (1 - self.beta1 ** config["t"])
            config["v"] = self.beta2 * config["v"] + (1 - self.beta2) * (dx ** 2)
            vt = config["v"] / (1 - self.beta2 ** config["t"])
            next_x = x - self.lr * mt / (np.sqrt(vt) + self.eps)
            x[...] = next_x


class GradsInPlaceAdam(HandAdam):
    def update(self, params, grads):
        for g in grads.values():
            g *= 2.0
            g /= 2.0
            g += 0.5
        super().update(params, grads)


ADAM_FIXED = "after step 1 on the fixed case w = [1, -2]"


ADAM_RANDOM = "on two random (2, 3) float32 parameters over 4 steps"





REFERENCES = [
    (exercises.check_rmsprop, optim.RMSprop),
    (exercises.check_rmsprop, rmsprop("right")),
    (exercises.check_rmsprop, ScratchRMSprop),
    (exercises.check_rmsprop, CS231nRMSprop),
    (exercises.check_adam, Adam),
    (exercises.check_adam, HandAdam),
    (exercises.check_adam, DLFSAdam),
    (exercises.check_adam, CS231nAdam),
]


RETURN_THE_FUNCTION = set()


WRONG = [
    (exercises.check_rmsprop, rmsprop("stub"), "RMSprop.update is not written yet: the hint"),
    (exercises.check_rmsprop, rmsprop("zeros"), "the parameter 'w' is all zeros (after 1 step "
     "on the fixed case p = 1, g = 1 at both steps, lr = 0.01, rho = 0.99 (h = 0.01, p = 0.9 "
     "after one step; h = 0.0199, p = 0.8291 after two)): change p by the step"),
    (exercises.check_rmsprop, rmsprop("adagrad"), "h only grows: that is AdaGrad"),
    (exercises.check_rmsprop, rmsprop("swapped"), "rho and 1 - rho are swapped"),
    (exercises.check_rmsprop, rmsprop("forget"), "h must be kept between steps"),
    (exercises.check_rmsprop, rmsprop("no_sqrt"), "divide by the ROOT of the mean square"),
    (exercises.check_rmsprop, rmsprop("ascent"), "the step goes against the gradient"),
    (exercises.check_rmsprop, rmsprop("rebind"), "update left the parameters unchanged after 1 "
     "step on the fixed case"),
    (exercises.check_rmsprop, rmsprop("bias_corrected"), "after 2 steps on the fixed case p = 1, "
     "g = 1 at both steps, lr = 0.01, rho = 0.99 (h = 0.01, p = 0.9 after one step; h = 0.0199, "
     "p = 0.8291 after two): h is divided by 1 - rho**t: that is Adam's bias correction"),
    (exercises.check_rmsprop, rmsprop("no_decay"), "after 4 steps on the same parameters with "
     "weight_decay = 0.5: weight_decay is ignored: read each gradient with self.gradient"),
    (exercises.check_rmsprop, rmsprop("decay_all"), "the bias decays too"),
    (exercises.check_rmsprop, rmsprop("eps_inside"), "after 4 steps on the same parameters with "
     "eps = 0.1: eps is inside the square root"),
    (exercises.check_rmsprop, rmsprop("eps_fixed"), "eps is fixed in your code: this case builds "
     "the optimizer with eps = 0.1"),
    (exercises.check_rmsprop, rmsprop("eps_parentheses"), "eps is added to the step instead "
     "of to the denominator"),
    (exercises.check_rmsprop, rmsprop("p_first"), "p moved with the h of the previous step"),
    (exercises.check_rmsprop, rmsprop("no_one_minus_rho"), "the new g**2 enters h without its "
     "weight 1 - rho"),
    (exercises.check_rmsprop, rmsprop("grads_in_place"), "your function changed grads['w'] in "
     "place: the gradients are not yours to change"),
    (exercises.check_rmsprop, rmsprop("copy"), "params['w'] was replaced by a new array after 1 "
     "step on the fixed case"),
    (exercises.check_adam, StubAdam, "Adam.update is not written yet: the hint"),
    (exercises.check_adam, adam(zeros=True), f"params['w'] {ADAM_FIXED} with the constant "
     "gradient [0.5, -1], lr = 0.05 (each step moves every entry by about lr) is all zeros"),
    (exercises.check_adam, adam(no_correction=True), "the bias correction is missing"),
    (exercises.check_adam, adam(t_fixed=True), "t counts the updates: increment it on every call"),
    (exercises.check_adam, adam(t0=True), "holds nan or inf after step 1 on the fixed case w = "
     "[1, -2] with the constant gradient [0.5, -1], lr = 0.05 (each step moves every entry by "
     "about lr): with t = 0 at the bias correction, 1 - beta1**t is 0 and m / 0 / sqrt(v / 0) "
     "is nan: t must be 1 on the first update"),
    (exercises.check_adam, adam(t_late=True), "with t = 0 at the bias correction, 1 - beta1**t "
     "is 0"),
    (exercises.check_adam, adam(alias=True), "holds nan or inf after step 1 on the fixed case "
     "w = [1, -2] with the constant gradient [0.5, -1], lr = 0.05 (each step moves every entry "
     "by about lr): sqrt of a negative v? self.m[name] and self.v[name] are one array"),
    (exercises.check_adam, adam(rebind=True), f"params['w'] did not change {ADAM_FIXED} with the "
     "constant gradient [0.5, -1], lr = 0.05 (each step moves every entry by about lr): p = p - "
     "... in the loop only points the name p at a new array"),
    (exercises.check_adam, adam(precedence=True), "mind the precedence: the bias correction "
     "divides by 1 - beta1**t"),
    (exercises.check_adam, adam(store_corrected=True), "storing them back in self.m and self.v "
     "corrects them again"),
    (exercises.check_adam, adam(t_per_param=True), "increment t once per update call, not once "
     "per parameter"),
    (exercises.check_adam, adam(shared=True), f"params['b'] after step 1 {ADAM_RANDOM}, lr = 0.01, "
     "beta1 = 0.8, beta2 = 0.9, eps = 1e-8: each parameter needs its own m and v"),
    (exercises.check_adam, adam(no_sqrt=True), "divide by the square ROOT of v_hat"),
    (exercises.check_adam, adam(eps_inside=True), "after step 1 on the same random parameters "
     "(float64) with eps = 0.1: eps is inside the square root"),
    (exercises.check_adam, lambda **s: DLFSAdam(**s, fixed=1e-7), "eps is fixed in your code: "
     "this case builds the optimizer with eps = 0.1 and your steps match a tiny fixed eps"),
    (exercises.check_adam, adam(eps_parentheses=True), "eps is added to the step instead of "
     "to the denominator"),
    (exercises.check_adam, GradsInPlaceAdam, "your function changed grads['w'] in place"),
    (exercises.check_adam, adam(swap=True), "beta1 goes with m"),
    (exercises.check_adam, adam(no_square=True), "v averages the SQUARED gradient"),
    (exercises.check_adam, adam(no_lr=True), "multiply the step by the learning rate lr"),
    (exercises.check_adam, adam(copy=True), "params['w'] was not changed in place after step 1"),
    (exercises.check_adam, RenamedLR, "keep the learning rate in self.lr"),
    # found by the learner trial of session 7: each had a generic or a wrong message
    (exercises.check_adam, adam(m_whole_g=True), f"params['w'] {ADAM_FIXED} with the constant "
     "gradient [0.5, -1], lr = 0.05 (each step moves every entry by about lr): m takes in the "
     "whole new gradient"),
    (exercises.check_adam, adam(v_whole_g=True), "v takes in the whole new g * g"),
    (exercises.check_adam, adam(m_uncorrected=True), "only v is bias-corrected"),
    (exercises.check_adam, adam(v_uncorrected=True), "only m is bias-corrected"),
    (exercises.check_adam, adam(g_not_m=True), "the step's numerator is this step's gradient g"),
    (exercises.check_adam, adam(ascent=True), "the step goes up the gradient"),
    (exercises.check_adam, adam(t_offset=True), "t is 2 at the first update"),
    (exercises.check_rmsprop, rmsprop("no_rho"), "the old h is never multiplied by rho"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
