"""Optimizers with the update rule ``opt.update(params, grads)`` on dicts keyed by parameter name.

Every update is applied in place to the parameter arrays, so the model sees it at once.
Per-parameter state (velocities, squared-gradient averages) is created on first use, in the
parameter's dtype.

Weight decay: every optimizer takes ``weight_decay=lam`` (default 0), which adds ``lam * W`` to the
gradient of each *weight* before the update, the gradient of an L2 penalty ``lam/2 * ||W||^2`` on
the loss. Only weights decay: parameters named ``W`` (``"fc1.W"``, ``"conv1.W"``). Biases and batch
norm's ``gamma``/``beta`` are exempt: they are few, do not make the model more complex, and pulling
``gamma`` towards 0 would switch channels off. (With Adam this is L2 regularisation through the
gradient, not AdamW's decoupled decay.)
"""

import numbers

import numpy as np

from ._checks import positive_int


def _check_real(name, value, low, high, *, low_open=False, high_open=True):
    """Raise TypeError unless ``value`` is a real number, ValueError unless it lies in the interval
    from ``low`` to ``high`` (open or closed at each end as given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name}: expected a value in {interval}, got {value!r}")
    return value


class Optimizer:
    """Base class: holds ``lr``, ``weight_decay`` and per-parameter ``state`` slots; subclasses
    define ``update`` and read each gradient through :meth:`gradient` (which adds the weight
    decay)."""

    slots = ()

    def __init__(self, lr, weight_decay=0.0):
        self.lr = _check_real("lr", lr, 0, np.inf, low_open=True)
        self.weight_decay = _check_real("weight_decay", weight_decay, 0, np.inf)
        self.state = {slot: {} for slot in self.slots}
        self.t = 0

    @staticmethod
    def decays(name):
        """Whether weight decay applies to the parameter ``name``: weights (``"W"``, ``"fc1.W"``)
        only."""
        return name.rsplit(".", 1)[-1] == "W"

    def gradient(self, name, param, grads):
        """``grads[name]``, plus ``weight_decay * param`` when the parameter is a weight
        (:meth:`decays`)."""
        if self.weight_decay and self.decays(name):
            return grads[name] + param.dtype.type(self.weight_decay) * param
        return grads[name]

    def _slot(self, slot, name, like):
        state = self.state[slot]
        if name not in state:
            state[name] = np.zeros_like(like)
        return state[name]

    def update(self, params, grads):
        """Take one step: change every array in ``params`` in place using ``grads`` (same keys)."""
        raise NotImplementedError

    def state_dict(self):
        """The optimizer's state as flat ``{"slot/param_name": array, "t": steps}``, for
        checkpoints."""
        flat = {f"{slot}/{name}": value for slot, values in self.state.items()
                for name, value in values.items()}
        return {**flat, "t": np.array(self.t)}

    def state_dict_problems(self, flat, params):
        """What keeps ``flat`` (a :meth:`state_dict`) from fitting this optimizer for ``params``
        (``{name: array}``): a list of messages, empty when :meth:`load_state_dict` may load it."""
        t = flat.get("t")
        if t is None or np.ndim(t) != 0 or np.asarray(t).dtype.kind not in "iu" or t < 0:
            return [f"t: expected a non-negative integer step count, got {t!r}"]
        expected = {f"{slot}/{name}": p.shape for slot in self.slots for name, p in params.items()}
        keys = set(flat) - {"t"}
        problems = [f"unexpected {key} (not a {type(self).__name__} slot of a parameter)"
                    for key in sorted(keys - set(expected))]
        if keys or t > 0:
            problems += [f"missing {key}" for key in expected if key not in keys]
        problems += [f"shape mismatch for {key}: parameter {shape}, file {np.shape(flat[key])}"
                     for key, shape in expected.items() if key in keys
                     and np.shape(flat[key]) != shape]
        return problems

    def load_state_dict(self, flat):
        """Restore the state written by :meth:`state_dict` (check it first with
        :meth:`state_dict_problems`)."""
        self.t = int(flat["t"])
        for key, value in flat.items():
            if key != "t":
                slot, name = key.split("/", 1)
                self.state[slot][name] = np.array(value)

    def __repr__(self):
        settings = ", ".join(f"{k}={v}" for k, v in vars(self).items() if k not in ("state", "t"))
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """``p -= lr * g``."""

    def __init__(self, lr=0.01, *, weight_decay=0.0):
        super().__init__(lr, weight_decay)

    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            p -= self.lr * self.gradient(name, p, grads)


class Momentum(Optimizer):
    """``v = momentum * v - lr * g;  p += v``."""

    slots = ("v",)

    def __init__(self, lr=0.01, momentum=0.9, *, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _check_real("momentum", momentum, 0, 1)

    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            v = self._slot("v", name, p)
            v *= self.momentum
            v -= self.lr * self.gradient(name, p, grads)
            p += v


class AdaGrad(Optimizer):
    """``h += g**2;  p -= lr * g / (sqrt(h) + eps)``: steps shrink for often-updated parameters."""

    slots = ("h",)

    def __init__(self, lr=0.01, eps=1e-7, *, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.eps = _check_real("eps", eps, 0, np.inf, low_open=True)

    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            g = self.gradient(name, p, grads)
            h = self._slot("h", name, p)
            h += g * g
            p -= self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """``h = rho * h + (1 - rho) * g**2;  p -= lr * g / (sqrt(h) + eps)``: AdaGrad that forgets."""

    slots = ("h",)

    def __init__(self, lr=0.01, rho=0.99, eps=1e-7, *, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.rho = _check_real("rho", rho, 0, 1)
        self.eps = _check_real("eps", eps, 0, np.inf, low_open=True)

    def update(self, params, grads):
        self.t += 1
        for name, p in params.items():
            g = self.gradient(name, p, grads)
            h = self._slot("h", name, p)
            h *= self.rho
            h += (1 - self.rho) * g * g
            p -= self.lr * g / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum ``m`` and RMS ``v`` of the gradient, both bias-corrected.

    ``m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g**2;  p -= lr * m_hat / (sqrt(v_hat) + eps)`` with
    ``m_hat = m / (1 - b1**t)``, ``v_hat = v / (1 - b2**t)``.
    """

    slots = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, *, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1 = _check_real("beta1", beta1, 0, 1)
        self.beta2 = _check_real("beta2", beta2, 0, 1)
        self.eps = _check_real("eps", eps, 0, np.inf, low_open=True)

    def update(self, params, grads):
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = 1 - self.beta2 ** self.t
        for name, p in params.items():
            g = self.gradient(name, p, grads)
            m, v = self._slot("m", name, p), self._slot("v", name, p)
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            p -= (self.lr / correction1) * m / (np.sqrt(v / correction2) + self.eps)


def cosine_schedule(lr, epochs, min_lr=0.0):
    """A learning-rate schedule for ``fit``: epoch ``e`` (0-based) of ``epochs`` gets
    ``min_lr + (lr - min_lr) * (1 + cos(pi * e / epochs)) / 2``, from ``lr`` at the start towards
    ``min_lr``."""
    positive_int("epochs", epochs)
    _check_real("lr", lr, 0, np.inf, low_open=True)
    _check_real("min_lr", min_lr, 0, lr, high_open=False)

    def schedule(epoch):
        return min_lr + (lr - min_lr) * 0.5 * (1 + np.cos(np.pi * epoch / epochs))

    return schedule


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}
