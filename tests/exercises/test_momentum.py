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


def wrong(kind):
    """A momentum optimizer with the mistake ``kind``."""
    class Wrong(Cs231nMomentum):
        def update(self, params, grads):
            for name, p in params.items():
                key = "shared" if kind == "shared" else name
                old = self.v.get(key, np.zeros_like(p))
                mu = 0.9 if kind == "fixed_momentum" else self.momentum
                g = grads[name]
                if kind == "no_memory":
                    new = -self.lr * g
                elif kind == "average":
                    new = mu * old - (1 - mu) * self.lr * g
                elif kind == "ascent":
                    new = mu * old + self.lr * g
                elif kind == "no_lr":
                    new = mu * old - g
                else:
                    new = mu * old - self.lr * g
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
                else:
                    p += old if kind == "stale" else new
    return Wrong


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
    (CHECK, NoLr, "cannot be called the way the exercise asks"),
    (CHECK, LrElsewhere, "keep the learning rate in self.lr"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
