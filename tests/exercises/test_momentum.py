"""The checker of the SGD-with-momentum exercise (cnnlib.exercises.optimizers.check_sgd_momentum)
accepts right answers written independently of cnnlib, in either common form, and names each
typical mistake."""

import numpy as np

from cnnlib import exercises, optim

from .helpers import checker_tests, stub


class Cs231nMomentum:
    """CS231n's form: v = mu * v - lr * g; p += v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def update(self, params, grads):
        for name, p in params.items():
            v = self.v.setdefault(name, np.zeros_like(p))
            v *= self.momentum
            v -= self.lr * grads[name]
            p += v


class TorchStyleMomentum:
    """PyTorch's form: v = mu * v + g; p -= lr * v (the same steps at a fixed lr)."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.velocity = lr, momentum, {}

    def update(self, params, grads):
        for name in params:
            if name in self.velocity:
                self.velocity[name] = self.momentum * self.velocity[name] + grads[name]
            else:
                self.velocity[name] = grads[name].copy()
            params[name] -= self.lr * self.velocity[name]


class DlfsMomentum:
    """"Deep Learning from Scratch"'s form: the velocities made on the first call, then one loop."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


VELOCITIES = {                      # the new velocity of each kind of mistake
    "no_memory": lambda mu, old, lr, g: -lr * g,
    "average": lambda mu, old, lr, g: mu * old - (1 - mu) * lr * g,
    "ascent": lambda mu, old, lr, g: mu * old + lr * g,
    "no_lr": lambda mu, old, lr, g: mu * old - g,
    "swapped": lambda mu, old, lr, g: lr * old - mu * g,
}


def wrong(kind):
    """A momentum optimizer with the mistake ``kind``."""
    class Wrong(Cs231nMomentum):
        def update(self, params, grads):
            for name, p in params.items():
                key = "shared" if kind == "shared" else name
                old = self.v.get(key, np.zeros_like(p))
                mu = 0.9 if kind == "fixed_momentum" else self.momentum
                g = grads[name]
                new = VELOCITIES.get(kind, lambda mu, old, lr, g: mu * old - lr * g)(
                    mu, old, self.lr, g)
                self.v[key] = new
                if kind == "rebind":
                    p = p + new
                elif kind == "zeros":
                    p[...] = 0
                elif kind == "grads":
                    grads[name] *= 0.5
                    p += new
                elif kind == "float64":
                    params[name] = (p + new).astype(np.float64)
                elif kind == "nesterov":
                    p += -mu * old + (1 + mu) * new
                else:
                    p += old if kind == "stale" else new
    return Wrong


class LrCopied(Cs231nMomentum):
    """Reads the learning rate from a copy made in __init__: a schedule's changes are lost."""

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr, momentum)
        self.step_size = lr

    def update(self, params, grads):
        for name, p in params.items():
            self.v[name] = self.momentum * self.v.get(name, 0.0) - self.step_size * grads[name]
            p += self.v[name]


class ReturnsNewParams(Cs231nMomentum):
    """Returns new arrays in a dict instead of changing the model's."""

    def update(self, params, grads):
        new = {}
        for name, p in params.items():
            self.v[name] = self.momentum * self.v.get(name, 0.0) - self.lr * grads[name]
            new[name] = p + self.v[name]
        return new


class LrOutsideVelocity:
    """v = mu * v - g; p += lr * v, written with explicit loops over a flat view."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def update(self, params, grads):
        for name in params:
            p, g = params[name].reshape(-1), grads[name].reshape(-1)
            v = self.v.setdefault(name, [0.0] * p.size)
            for i in range(p.size):
                v[i] = self.momentum * v[i] - g[i]
                p[i] += self.lr * v[i]


class NoLr:
    def __init__(self, learning_rate=0.01, momentum=0.9):
        self.learning_rate, self.momentum = learning_rate, momentum


class LrElsewhere(Cs231nMomentum):
    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr, momentum)
        self.step_size, self.lr = lr, None


REFERENCES = [
    (exercises.check_sgd_momentum, Cs231nMomentum),
    (exercises.check_sgd_momentum, TorchStyleMomentum),
    (exercises.check_sgd_momentum, DlfsMomentum),
    (exercises.check_sgd_momentum, optim.Momentum),
    (exercises.check_sgd_momentum, LrOutsideVelocity),
]

RETURN_THE_FUNCTION = set()

CHECK = exercises.check_sgd_momentum
WRONG = [
    (CHECK, type("Stub", (), {"__init__": lambda self, lr=0.01, momentum=0.9: setattr(
        self, "lr", lr), "update": stub}), "update is not written yet"),
    (CHECK, wrong("zeros"), "is all zeros"),
    (CHECK, wrong("no_memory"), "the velocity must be kept from one call to the next"),
    (CHECK, wrong("shared"), "each parameter needs its own velocity"),
    (CHECK, wrong("fixed_momentum"), "not a fixed 0.9"),
    (CHECK, wrong("average"), "also scales it by (1 - momentum)"),
    (CHECK, wrong("ascent"), "the parameters move UP the gradient"),
    (CHECK, wrong("no_lr"), "without the learning rate lr"),
    (CHECK, wrong("stale"), "the parameters move by the velocity of the step BEFORE"),
    (CHECK, wrong("rebind"), "was not changed in place"),
    (CHECK, wrong("grads"), "the gradients are not yours to change"),
    (CHECK, wrong("float64"), "was not changed in place"),
    (CHECK, wrong("swapped"), "the learning rate and the momentum are swapped"),
    (CHECK, wrong("nesterov"), "that is Nesterov's momentum"),
    (CHECK, LrCopied, "your steps ignore the new learning rate"),
    (CHECK, ReturnsNewParams, "update returned a dict and left params['w'] as it was"),
    (CHECK, NoLr, "cannot be called the way the exercise asks"),
    (CHECK, LrElsewhere, "keep the learning rate in self.lr"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
