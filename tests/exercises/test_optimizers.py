"""The checkers of the optimizer exercises, Adam and RMSprop (cnnlib.exercises.optimizers) accept
right answers (written independently of cnnlib where the exercise allows) and name each typical
mistake."""

import numpy as np

from cnnlib import exercises, optim
from cnnlib.optim import Adam

from .helpers import checker_tests, stub


def rmsprop(kind):
    """An RMSprop whose update has the mistake ``kind``."""
    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            g = grads[name] if kind == "no_decay" else self.gradient(name, p, grads)
            if kind == "decay_all" and name.endswith(".b"):
                g = g + self.weight_decay * p
            h = self.state["h"].setdefault(name, np.zeros_like(p))
            if kind == "adagrad":
                h += g * g
            elif kind == "forget":
                h[...] = (1 - self.rho) * g * g
            elif kind == "swapped":
                h[...] = (1 - self.rho) * h + self.rho * g * g
            else:
                h[...] = self.rho * h + (1 - self.rho) * g * g
            root = h if kind == "no_sqrt" else np.sqrt(h)
            if kind == "bias_corrected":
                root = np.sqrt(h / (1 - self.rho ** self.t))
            if kind == "rebind":
                p = p - self.lr * g / (root + self.eps)
            elif kind == "zeros":
                p[...] = 0
            elif kind == "ascent":
                p += self.lr * g / (root + self.eps)
            else:
                p -= self.lr * g / (root + self.eps)
    return type("Wrong", (optim.RMSprop,), {"update": (lambda self, *a: stub()) if kind == "stub" else update})


class HandAdam:
    """Adam written by hand, right without ``mistake``, else with one mistake (the keys of the
    checker's _adam_runs, plus 'copy', 't0', 't_late', 'zeros', 'alias', 'rebind')."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, **mistake):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.mistake, self.t, self.m, self.v = mistake, 0, {}, {}

    def update(self, params, grads):
        bad = self.mistake.get
        b1, b2 = (self.beta2, self.beta1) if bad("swap") else (self.beta1, self.beta2)
        self.t = 1 if bad("t_fixed") else self.t + (0 if bad("t0") or bad("t_late") else 1)
        for name, p in params.items():
            if bad("t_per_param") and name != next(iter(params)):
                self.t += 1
            g, key = grads[name], "all" if bad("shared") else name
            if not bad("alias"):
                self.m[key] = b1 * self.m.get(key, 0) + (1 - b1) * g
                self.v[key] = b2 * self.v.get(key, 0) + (1 - b2) * (abs(g) if bad("no_square")
                                                                     else g * g)
            else:                             # m and v one array, updated in place
                if key not in self.m:
                    self.m[key] = self.v[key] = np.zeros_like(p)
                self.m[key] *= b1
                self.m[key] += (1 - b1) * g
                self.v[key] *= b2
                self.v[key] += (1 - b2) * g * g
            m_hat, v_hat = self.m[key], self.v[key]
            if bad("precedence"):
                m_hat, v_hat = m_hat / (1 - b1) ** self.t, v_hat / (1 - b2) ** self.t
            elif not bad("no_correction"):
                m_hat, v_hat = m_hat / (1 - b1 ** self.t), v_hat / (1 - b2 ** self.t)
            if bad("store_corrected"):
                self.m[key], self.v[key] = m_hat, v_hat
            root = np.sqrt(v_hat + self.eps) - self.eps if bad("eps_inside") else (
                v_hat if bad("no_sqrt") else np.sqrt(v_hat))
            step = (1 if bad("no_lr") else self.lr) * m_hat / (root + self.eps)
            if bad("copy"):
                params[name] = p - step
            elif bad("rebind"):
                p = p - step
            elif bad("zeros"):
                p[...] = 0
            else:
                p -= step
        if bad("t_late"):
            self.t += 1


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


ADAM_FIXED = "after step 1 on the fixed case w = [1, -2]"


ADAM_RANDOM = "on two random (2, 3) parameters over 4 steps"





REFERENCES = [
    (exercises.check_rmsprop, optim.RMSprop),
    (exercises.check_rmsprop, rmsprop("right")),
    (exercises.check_adam, Adam),
    (exercises.check_adam, HandAdam),
]


RETURN_THE_FUNCTION = set()


WRONG = [
    (exercises.check_rmsprop, rmsprop("stub"), "RMSprop.update is not written yet: the hint"),
    (exercises.check_rmsprop, rmsprop("zeros"), "the parameter 'w' is all zeros (after 1 step on the fixed "
     "case p = 1, g = 1 at both steps, lr = 0.01, rho = 0.99 (h = 0.01, p = 0.9 after one step; h = 0.0199, "
     "p = 0.8291 after two)): change p by the step"),
    (exercises.check_rmsprop, rmsprop("adagrad"), "h only grows: that is AdaGrad"),
    (exercises.check_rmsprop, rmsprop("swapped"), "rho and 1 - rho are swapped"),
    (exercises.check_rmsprop, rmsprop("forget"), "h must be kept between steps"),
    (exercises.check_rmsprop, rmsprop("no_sqrt"), "divide by the ROOT of the mean square"),
    (exercises.check_rmsprop, rmsprop("ascent"), "the step goes against the gradient"),
    (exercises.check_rmsprop, rmsprop("rebind"), "update left the parameters unchanged after 1 step "
     "on the fixed case"),
    (exercises.check_rmsprop, rmsprop("bias_corrected"), "after 2 steps on the fixed case p = 1, g = 1 "
     "at both steps, lr = 0.01, rho = 0.99 (h = 0.01, p = 0.9 after one step; h = 0.0199, p = 0.8291 "
     "after two): h is divided by 1 - rho**t: that is Adam's bias correction"),
    (exercises.check_rmsprop, rmsprop("no_decay"), "after 4 steps on the same parameters with "
     "weight_decay = 0.5: weight_decay is ignored: read each gradient with self.gradient"),
    (exercises.check_rmsprop, rmsprop("decay_all"), "the bias decays too"),
    (exercises.check_adam, StubAdam, "Adam.update is not written yet: the hint"),
    (exercises.check_adam, adam(zeros=True), f"params['w'] {ADAM_FIXED} with the constant "
     "gradient [0.5, -1], lr = 0.1 (each step moves every entry by about lr) is all zeros"),
    (exercises.check_adam, adam(no_correction=True), "bias-correct both averages"),
    (exercises.check_adam, adam(t_fixed=True), "t counts the updates: increment it on every call"),
    (exercises.check_adam, adam(t0=True), "holds nan or inf after step 1 on the fixed case w = "
     "[1, -2] with the constant gradient [0.5, -1], lr = 0.1 (each step moves every entry by "
     "about lr): with t = 0 at the bias correction, 1 - beta1**t is 0 and m / 0 / sqrt(v / 0) "
     "is nan: t must be 1 on the first update"),
    (exercises.check_adam, adam(t_late=True), "with t = 0 at the bias correction, 1 - beta1**t "
     "is 0"),
    (exercises.check_adam, adam(alias=True), "holds nan or inf after step 1 on the fixed case "
     "w = [1, -2] with the constant gradient [0.5, -1], lr = 0.1 (each step moves every entry "
     "by about lr): sqrt of a negative v? self.m[name] and self.v[name] are one array"),
    (exercises.check_adam, adam(rebind=True), f"params['w'] did not change {ADAM_FIXED} with the "
     "constant gradient [0.5, -1], lr = 0.1 (each step moves every entry by about lr): p = p - "
     "... in the loop only points the name p at a new array"),
    (exercises.check_adam, adam(precedence=True), "mind the precedence: the bias correction "
     "divides by 1 - beta1**t"),
    (exercises.check_adam, adam(store_corrected=True), "storing them back in self.m and self.v "
     "corrects them again"),
    (exercises.check_adam, adam(t_per_param=True), "increment t once per update call, not once "
     "per parameter"),
    (exercises.check_adam, adam(shared=True), f"params['b'] after step 1 {ADAM_RANDOM}, lr = 0.01, "
     "beta1 = 0.8, beta2 = 0.9, eps = 0.1: each parameter needs its own m and v"),
    (exercises.check_adam, adam(no_sqrt=True), "divide by the square ROOT of v_hat"),
    (exercises.check_adam, adam(eps_inside=True), f"{ADAM_RANDOM}, lr = 0.01, beta1 = 0.8, "
     "beta2 = 0.9, eps = 0.1: add eps after the square root"),
    (exercises.check_adam, adam(swap=True), "beta1 goes with m"),
    (exercises.check_adam, adam(no_square=True), "v averages the SQUARED gradient"),
    (exercises.check_adam, adam(no_lr=True), "multiply the step by the learning rate lr"),
    (exercises.check_adam, adam(copy=True), "params['w'] was not changed in place after step 1"),
    (exercises.check_adam, RenamedLR, "keep the learning rate in self.lr"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
