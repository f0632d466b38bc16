"""Checkers of the optimizer exercises: SGD with momentum (notebook 07), then RMSprop with weight
decay and Adam (notebook 09), each against the update done step by step (in float64, from the
textbook formulas) and its typical mistakes. The random cases of RMSprop and Adam use a small eps,
so that every correct form agrees; a case with a large eps then shows where eps goes.
"""

import numpy as np

from .diagnosis import ExerciseError, call, close, compare, correct, fresh, unchanged, zeros_first


def _adam_runs(params, grads_steps, lr, beta1, beta2, eps, **mistake):
    """Parameters after each Adam step, computed the textbook way, in the Adam paper's "efficient"
    form (``folded``: the bias corrections folded into the learning rate), or with one
    ``mistake``."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    m, v, t, runs = {}, {}, int(bool(mistake.get("t_offset"))), []
    b1, b2 = (beta2, beta1) if mistake.get("swap") else (beta1, beta2)
    eps = 1e-8 if mistake.get("eps_fixed") else eps
    for grads in grads_steps:
        t = 1 if mistake.get("t_fixed") else t + 1
        for name in p:
            t += bool(mistake.get("t_per_param")) and name != next(iter(p))
            g, key = grads[name].astype(np.float64), "all" if mistake.get("shared") else name
            m[key] = b1 * m.get(key, 0) + (1 if mistake.get("m_whole_g") else 1 - b1) * g
            v[key] = b2 * v.get(key, 0) + (1 if mistake.get("v_whole_g") else 1 - b2) * (
                np.abs(g) if mistake.get("no_square") else g * g)
            m_hat, v_hat = m[key], v[key]
            if mistake.get("folded"):
                step = (lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * m_hat / (np.sqrt(v_hat) + eps)
                p[name] = p[name] - step
                continue
            if mistake.get("precedence"):
                m_hat, v_hat = m_hat / (1 - b1) ** t, v_hat / (1 - b2) ** t
            elif not mistake.get("no_correction"):
                m_hat = m_hat if mistake.get("m_uncorrected") else m_hat / (1 - b1 ** t)
                v_hat = v_hat if mistake.get("v_uncorrected") else v_hat / (1 - b2 ** t)
            if mistake.get("g_not_m"):
                m_hat = g
            if mistake.get("store_corrected"):
                m[key], v[key] = m_hat, v_hat
            if mistake.get("eps_inside"):
                step = m_hat / np.sqrt(v_hat + eps)
            elif mistake.get("eps_parentheses"):
                step = m_hat / np.sqrt(v_hat) + eps / lr
            else:
                step = m_hat / ((v_hat if mistake.get("no_sqrt") else np.sqrt(v_hat)) + eps)
            step = -step if mistake.get("ascent") else step
            p[name] = p[name] - (1 if mistake.get("no_lr") else lr) * step
        runs.append({k: a.copy() for k, a in p.items()})
    return runs


ADAM_MISTAKES = [
    ({"no_correction": True}, "the bias correction is missing: m and v start at 0, so during "
     "the first steps they are too small; each must be divided by 1 - beta**t (its own beta)"),
    ({"precedence": True}, "mind the precedence: the bias correction divides by 1 - beta1**t "
     "(beta1 to the power t, subtracted from 1); (1 - beta1) ** t raises the difference to the "
     "power t"),
    ({"store_corrected": True}, "keep m and v as they are: m_hat and v_hat are for this step "
     "only; storing them back in self.m and self.v corrects them again on every later step"),
    ({"t_fixed": True}, "t counts the updates: increment it on every call (the bias correction "
     "fades as t grows)"),
    ({"t_per_param": True}, "increment t once per update call, not once per parameter"),
    ({"shared": True}, "each parameter needs its own m and v (dicts keyed by the parameter's "
     "name); yours share them"),
    ({"no_sqrt": True}, "divide by the square ROOT of v_hat (plus eps), not by v_hat itself"),
    ({"eps_inside": True}, "eps is inside the square root: it belongs outside, added to the "
     "root of v_hat (with a large eps such as this case's, the two differ)"),
    ({"eps_parentheses": True}, "eps is added to the step instead of to the denominator: "
     "mind the parentheses around the root of v_hat plus eps"),
    ({"eps_fixed": True}, "eps is fixed in your code: this case builds the optimizer with "
     "eps = 0.1 and your steps match a tiny fixed eps; use the eps the optimizer was built with"),
    ({"swap": True}, "beta1 goes with m (the gradient's average), beta2 with v (the squared "
     "gradient's); yours are swapped"),
    ({"no_square": True}, "v averages the SQUARED gradient, g * g"),
    ({"no_lr": True}, "multiply the step by the learning rate lr"),
    ({"m_whole_g": True}, "m takes in the whole new gradient: a running mean gives the new g "
     "the weight 1 - beta1, so that the two weights add up to 1"),
    ({"v_whole_g": True}, "v takes in the whole new g * g: a running mean gives it the weight "
     "1 - beta2, so that the two weights add up to 1"),
    ({"m_uncorrected": True}, "only v is bias-corrected: m starts at 0 too and needs its own "
     "division by 1 - beta1**t"),
    ({"v_uncorrected": True}, "only m is bias-corrected: v starts at 0 too and needs its own "
     "division by 1 - beta2**t"),
    ({"g_not_m": True}, "the step's numerator is this step's gradient g: Adam moves along its "
     "running mean, the bias-corrected m, which is where its momentum comes from"),
    ({"ascent": True}, "the step goes up the gradient: subtract it (p -= ...)"),
    ({"t_offset": True}, "t is 2 at the first update: t counts the updates done, so it starts "
     "at 0 and the first update's bias correction uses t = 1"),
]


def _adam_nan(optimizer, key, value, step):
    """Why the learner's Adam step gave nan or inf: m and v sharing one array (v goes negative),
    a negative v, t still 0 at the bias correction, or (otherwise) a generic pointer."""
    m, v = getattr(optimizer, "m", None), getattr(optimizer, "v", None)
    m_key, v_key = (d.get(key) if isinstance(d, dict) else None for d in (m, v))
    if isinstance(m_key, np.ndarray) and isinstance(v_key, np.ndarray) and \
            np.shares_memory(m_key, v_key):
        return ("sqrt of a negative v? self.m[name] and self.v[name] are one array (as after "
                "self.m[name] = self.v[name] = np.zeros_like(p)), so updating one in place "
                "changes the other; give each its own np.zeros_like(p)")
    if v_key is not None and np.any(np.asarray(v_key, dtype=np.float64) < 0):
        return ("sqrt of a negative v? v averages the squared gradient g * g, which is never "
                "negative; do m and v share one array?")
    t = getattr(optimizer, "t", None)
    if step == 0 and (t == 0 or t == 1 and np.all(np.isnan(value))):
        return ("with t = 0 at the bias correction, 1 - beta1**t is 0 and m / 0 / sqrt(v / 0) "
                "is nan: t must be 1 on the first update, so increment t before the bias "
                "correction")
    return ("a division by zero or the square root of a negative number? print m, v, m_hat "
            "and v_hat for one step")


def _adam_cases():
    """The cases check_adam runs: ``(params, grads per step, settings, where)``."""
    rng = np.random.default_rng(35)
    fixed = ({"w": np.array([1.0, -2.0])}, [{"w": np.array([0.5, -1.0])}] * 3,
             {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
             "on the fixed case w = [1, -2] with the constant gradient [0.5, -1], lr = 0.05 (each "
             "step moves every entry by about lr)")
    start = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((2, 3))}
    # gradients of sizes 0.3 to 3 (signs mixed): sqrt(v) stays far above a small eps, so that
    # every correct form of the update agrees within the tolerance
    steps = [{k: rng.choice([-1.0, 1.0], (2, 3)) * rng.uniform(0.3, 3.0, (2, 3)) for k in "ab"}
             for _ in range(4)]
    as32 = [{k: g.astype(np.float32) for k, g in grads.items()} for grads in steps]
    random = ({k: p.astype(np.float32) for k, p in start.items()}, as32,
              {"lr": 0.01, "beta1": 0.8, "beta2": 0.9, "eps": 1e-8},
              "on two random (2, 3) float32 parameters over 4 steps, lr = 0.01, beta1 = 0.8, "
              "beta2 = 0.9, eps = 1e-8")
    large_eps = (start, steps, {"lr": 0.01, "beta1": 0.8, "beta2": 0.9, "eps": 0.1},
                 "on the same random parameters (float64) with eps = 0.1")
    return fixed, random, large_eps


def check_adam(cls):
    """Check an Adam class built as ``cls(lr=..., beta1=..., beta2=..., eps=...)`` whose
    ``update(params, grads)`` changes the arrays of ``params`` in place, against the textbook
    update over several steps (the Adam paper's "efficient" form, the bias corrections folded into
    the learning rate, passes too); returns ``cls``."""
    for params, grads_steps, settings, where in _adam_cases():
        optimizer = fresh(cls, "Adam", **settings)
        if getattr(optimizer, "lr", None) != settings["lr"]:
            raise ExerciseError("keep the learning rate in self.lr: fit's learning-rate "
                                "schedule changes it there")
        arrays = {k: v.copy() for k, v in params.items()}
        textbook = _adam_runs(params, grads_steps, **settings)
        folded = _adam_runs(params, grads_steps, **settings, folded=True)
        runs = {i: _adam_runs(params, grads_steps, **settings, **m)
                for i, (m, _) in enumerate(ADAM_MISTAKES)}
        form = None                          # the correct form the answer follows
        for step, grads in enumerate(grads_steps):
            before = {k: v.copy() for k, v in arrays.items()}
            saved_grads = {k: g.copy() for k, g in grads.items()}
            given = dict(arrays)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                result = call("Adam.update", optimizer.update, given, grads)
            at = f"after step {step + 1} {where}"
            unchanged("grads[{key!r}]", saved_grads, grads, "the gradients are not yours to "
                      "change")
            if form is None:
                form = folded if all(close(arrays[k], folded[step][k]) for k in arrays) and \
                    not all(close(arrays[k], textbook[step][k]) for k in arrays) else textbook
            for key in arrays:
                if given.get(key) is not arrays[key] or isinstance(result, dict) and \
                        np.array_equal(arrays[key], before[key]):
                    raise ExerciseError(f"params[{key!r}] was not changed in place {at}: the "
                                        f"model holds that array, so change it with -=")
                if arrays[key].dtype != params[key].dtype:
                    raise ExerciseError(f"params[{key!r}] changed its dtype {at}: it was "
                                        f"{params[key].dtype}, now {arrays[key].dtype}")
                if not np.all(np.isfinite(arrays[key])):
                    raise ExerciseError(f"params[{key!r}] holds nan or inf {at}: "
                                        f"{_adam_nan(optimizer, key, arrays[key], step)}")
                if np.array_equal(arrays[key], before[key]):
                    raise ExerciseError(f"params[{key!r}] did not change {at}: p = p - ... in "
                                        f"the loop only points the name p at a new array, and "
                                        f"the model still holds the old one; update it in "
                                        f"place (p -= ...)")
                compare(f"params[{key!r}]", arrays[key], form[step][key],
                        [(runs[i][step][key], message)
                         for i, (_, message) in enumerate(ADAM_MISTAKES)], at)
    correct("Adam's update matches cnnlib's Adam step after step, each parameter with its own "
            "m and v")
    return cls


def _rmsprop_variant(params, grads_per_step, lr, rho, eps, kind, weight_decay=0.0):
    """The parameters after each of the RMSprop steps done with the typical mistake ``kind``
    (in float64): a list of dicts, one per step."""
    params = {name: p.astype(np.float64) for name, p in params.items()}
    h = {name: np.zeros_like(p) for name, p in params.items()}
    eps = 1e-8 if kind == "eps_fixed" else eps
    after = []
    for t, grads in enumerate(grads_per_step, 1):
        for name, p in params.items():
            decays = name.rsplit(".", 1)[-1] == "W" or kind == "decay_all"
            g = grads[name].astype(np.float64)
            g = g + (weight_decay * p if decays and kind != "no_decay" else 0)
            old = h[name].copy()
            if kind == "adagrad":
                h[name] += g * g
            elif kind == "swapped":
                h[name] = (1 - rho) * h[name] + rho * g * g
            elif kind == "forget":
                h[name] = (1 - rho) * g * g
            elif kind == "no_rho":
                h[name] += (1 - rho) * g * g
            elif kind == "no_one_minus_rho":
                h[name] = rho * h[name] + g * g
            else:
                h[name] = rho * h[name] + (1 - rho) * g * g
            used = old if kind == "p_first" else h[name]
            root = used if kind == "no_sqrt" else np.sqrt(used)
            if kind == "bias_corrected":
                root = np.sqrt(used / (1 - rho ** t))
            elif kind == "eps_inside":
                root = np.sqrt(used + eps) - eps
            step = lr * g / (root + eps)
            if kind == "eps_parentheses":
                step = lr * g / root + eps
            p += step if kind == "ascent" else -step
        after.append({name: p.copy() for name, p in params.items()})
    return after


def _steps(n):
    return f"{n} step" if n == 1 else f"{n} steps"


RMSPROP_MISTAKES = {
    "adagrad": "h only grows: that is AdaGrad. RMSprop forgets: its h is a running mean that "
               "gives the new g**2 the weight 1 - rho",
    "swapped": "rho and 1 - rho are swapped: the running mean keeps rho of the old h and adds "
               "1 - rho of the new g**2",
    "no_one_minus_rho": "the new g**2 enters h without its weight 1 - rho: the two weights of a "
                        "running mean, rho and 1 - rho, add up to 1, so h estimates g**2",
    "no_rho": "the old h is never multiplied by rho: a running mean keeps only the share rho "
              "of its old value, so old gradients fade; yours add up for ever",
    "forget": "h must be kept between steps, one per parameter (self.state['h'][name], updated "
              "in place), not recomputed from the current gradient alone",
    "p_first": "p moved with the h of the previous step: at the first step that h is 0 and the "
               "step is lr * g / eps. Update h with this step's g before you divide by its root",
    "no_sqrt": "divide by the ROOT of the mean square, not by h itself",
    "eps_inside": "eps is inside the square root: it belongs outside, added to the root of h "
                  "(with a large eps such as this case's, the two differ)",
    "eps_parentheses": "eps is added to the step instead of to the denominator: mind the "
                       "parentheses around the root of h plus eps",
    "eps_fixed": "eps is fixed in your code: this case builds the optimizer with eps = 0.1 and "
                 "your steps match a tiny fixed eps; use self.eps",
    "ascent": "the step goes against the gradient (p -= ...)",
    "bias_corrected": "h is divided by 1 - rho**t: that is Adam's bias correction; RMSprop uses "
                      "its running mean as it is",
    "no_decay": "weight_decay is ignored: read each gradient with self.gradient(name, p, grads), "
                "which adds weight_decay * p to the weights' gradients",
    "decay_all": "the bias decays too: only weights (names ending in '.W') decay; "
                 "self.gradient(name, p, grads) does that for you"}


def _rmsprop_cases():
    """The cases check_rmsprop runs: ``(params, grads per step, lr, rho, eps, weight_decay,
    where)``; ``where`` has a ``{steps}`` slot."""
    rng = np.random.default_rng(10)
    fixed = ({"w": np.array([1.0])}, [{"w": np.array([1.0])}] * 2, 0.01, 0.99, 1e-7, 0.0,
             "after {steps} on the fixed case p = 1, g = 1 at both steps, lr = 0.01, rho = 0.99 "
             "(h = 0.01, p = 0.9 after one step; h = 0.0199, p = 0.8291 after two)")
    shapes = {"fc.W": (3, 4), "fc.b": (4,)}
    start = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    steps = [{name: rng.standard_normal(shape) for name, shape in shapes.items()} for _ in range(4)]
    start32 = {name: p.astype(np.float32) for name, p in start.items()}
    steps32 = [{name: g.astype(np.float32) for name, g in grads.items()} for grads in steps]
    random = (start32, steps32, 0.05, 0.9, 1e-8, 0.0, "after {steps} on two random float32 "
              "parameters 'fc.W' (3, 4) and 'fc.b' (4,), lr = 0.05, rho = 0.9, eps = 1e-8")
    decayed = (start, steps, 0.05, 0.9, 1e-8, 0.5, "after {steps} on the same parameters with "
               "weight_decay = 0.5")
    large_eps = (start, steps, 0.05, 0.9, 0.1, 0.0, "after {steps} on the same parameters with "
                 "eps = 0.1")
    return fixed, random, decayed, large_eps


def check_rmsprop(cls):
    """Check an RMSprop class built as ``cls(lr=..., rho=..., eps=..., weight_decay=...)`` whose
    ``update(params, grads)`` changes the arrays of ``params`` in place:
    ``h = rho*h + (1-rho)*g**2``, ``p -= lr * g / (sqrt(h) + eps)``, one ``h`` per parameter kept
    between steps, ``g`` read through ``self.gradient`` (which adds the weight decay to weights)."""
    for params, grads_per_step, lr, rho, eps, decay, where in _rmsprop_cases():
        opt = call("RMSprop(...)", cls, lr=lr, rho=rho, eps=eps, weight_decay=decay,
                   signature="RMSprop(lr=..., rho=..., eps=..., weight_decay=...)")
        expected_runs = _rmsprop_variant(params, grads_per_step, lr, rho, eps, "right", decay)
        mine = {name: p.copy() for name, p in params.items()}
        trail, first_wrong = [], None
        for step, grads in enumerate(grads_per_step, 1):
            at = where.format(steps=_steps(step))
            before = {name: p.copy() for name, p in mine.items()}
            saved_grads = {k: g.copy() for k, g in grads.items()}
            given = dict(mine)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                call("RMSprop.update", opt.update, given, grads)
            unchanged("grads[{key!r}]", saved_grads, grads, "the gradients are not yours to "
                      "change")
            for name in mine:
                if given.get(name) is not mine[name]:
                    raise ExerciseError(f"params[{name!r}] was replaced by a new array {at}: "
                                        f"the model holds the old one, so change it in place "
                                        f"(p -= ...)")
                if mine[name].dtype != params[name].dtype:
                    raise ExerciseError(f"params[{name!r}] changed its dtype {at}: it was "
                                        f"{params[name].dtype}, now {mine[name].dtype}")
            if first_wrong is None and all(np.array_equal(mine[k], before[k]) for k in mine):
                raise ExerciseError(f"update left the parameters unchanged {at}: change the "
                                    f"arrays in place (p -= ...); p = p - ... only rebinds a "
                                    f"local name")
            trail.append({name: p.copy() for name, p in mine.items()})
            if first_wrong is None and not all(close(mine[k], expected_runs[step - 1][k])
                                               for k in mine):
                first_wrong = step
        if first_wrong is None:
            continue
        # a mistake is named only when it explains every step (one step cannot tell AdaGrad
        # from Adam's bias correction, or a forgotten from a kept h)
        for kind, message in RMSPROP_MISTAKES.items():
            wrong = _rmsprop_variant(params, grads_per_step, lr, rho, eps, kind, decay)
            if all(close(got[k], w[k]) for got, w in zip(trail, wrong) for k in got):
                raise ExerciseError(f"{where.format(steps=_steps(len(trail)))}: {message}")
        step, right = first_wrong, expected_runs[first_wrong - 1]
        for name in trail[step - 1]:
            zeros_first(f"the parameter {name!r}", trail[step - 1][name], right[name],
                        where.format(steps=_steps(step)), "change p by the step (p -= ...), "
                        "do not overwrite it")
            compare(f"the parameter {name!r}", trail[step - 1][name], right[name],
                    where=where.format(steps=_steps(step)))
    correct("RMSprop's steps match the textbook's over two and four steps, one running mean of "
            "g**2 per parameter, weight decay on the weights only, eps outside the root, float32 "
            "kept")
    return cls


def _momentum_runs(params, grads_steps, lr, momentum, mistake=None, lrs=None):
    """Parameters after each step of SGD with momentum (``v = momentum * v - lr * g; p += v``),
    computed in float64, or with one ``mistake``; ``lrs``: the learning rate of each step (a
    schedule), by default ``lr`` throughout. ``mistake="torch"`` is PyTorch's form
    (``v = momentum * v + g; p -= lr * v``), which takes the same steps until lr changes."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    lrs = [lr] * len(grads_steps) if lrs is None else lrs
    v, runs = {}, []
    for grads, lr in zip(grads_steps, lrs):
        for name in p:
            g, key = grads[name], "all" if mistake == "shared" else name
            old = v.get(key, 0.0)
            mu = 0.9 if mistake == "fixed_momentum" else momentum
            if mistake == "no_memory":
                v[key] = -lr * g
            elif mistake == "average":
                v[key] = mu * old - (1 - mu) * lr * g
            elif mistake == "ascent":
                v[key] = mu * old + lr * g
            elif mistake == "no_lr":
                v[key] = mu * old - g
            elif mistake == "swapped":
                v[key] = lr * old - mu * g
            elif mistake == "torch":
                v[key] = mu * old - g
            else:
                v[key] = mu * old - lr * g
            if mistake == "stale":
                p[name] = p[name] + old
            elif mistake == "nesterov":
                p[name] = p[name] - mu * old + (1 + mu) * v[key]
            elif mistake == "torch":
                p[name] = p[name] + lr * v[key]
            else:
                p[name] = p[name] + v[key]
        runs.append({k: a.copy() for k, a in p.items()})
    return runs


MOMENTUM_MISTAKES = [
    ("no_memory", "each step moves only by this step's gradient, as plain SGD does: the velocity "
     "must be kept from one call to the next (in self.v) and decay by the momentum factor"),
    ("shared", "each parameter needs its own velocity (a dict keyed by the parameter's name); "
     "yours share one"),
    ("fixed_momentum", "use the momentum the optimizer was built with (self.momentum), not a "
     "fixed 0.9"),
    ("average", "the new gradient enters the velocity scaled by the learning rate only: yours "
     "also scales it by (1 - momentum), an average as in Adam's m, which shrinks every step"),
    ("ascent", "the parameters move UP the gradient: the velocity should point downhill, "
     "against the gradient"),
    ("no_lr", "the gradient enters the velocity without the learning rate lr"),
    ("swapped", "the learning rate and the momentum are swapped: the momentum scales the old "
     "velocity, the learning rate scales the gradient"),
    ("nesterov", "that is Nesterov's momentum, which moves by a look-ahead of the velocity; "
     "this exercise asks for the classical rule of the text: move by the new velocity itself"),
    ("stale", "the parameters move by the velocity of the step BEFORE: update the velocity "
     "with this step's gradient first, then move by it"),
]


def _momentum_schedule(array, key, got_runs, at):
    """The scheduled case: the parameter must follow the rule at the learning rate fit's schedule
    set in ``optimizer.lr`` before each step (CS231n's or PyTorch's convention)."""
    expected, torch, fixed = got_runs
    if np.allclose(array, expected[key], rtol=1e-7, atol=1e-10) or \
            np.allclose(array, torch[key], rtol=1e-7, atol=1e-10):
        return
    if np.allclose(array, fixed[key], rtol=1e-7, atol=1e-10):
        raise ExerciseError(f"params[{key!r}] {at}: your steps ignore the new learning rate: "
                            f"read it from self.lr at every step, since a learning-rate schedule "
                            f"changes self.lr between steps (a copy made in __init__ keeps the "
                            f"old value)")
    compare(f"params[{key!r}]", array, expected[key], (), at)


def _momentum_param(key, array, given, before, returned, at, original, schedule_runs, wrong,
                    expected):
    """Check one parameter after one step: changed in place, dtype and shape kept, equal to
    ``expected`` (or, in the scheduled case, to one of ``schedule_runs``); name the mistake of
    ``wrong`` (kind: value) it matches."""
    if isinstance(returned, dict) and np.array_equal(array, before[key]):
        raise ExerciseError(f"update returned a dict and left params[{key!r}] as it was {at}: "
                            f"the model holds those arrays and ignores what update returns, so "
                            f"change them in place (+= or -=)")
    if given.get(key) is array and np.array_equal(array, before[key]) and \
            np.allclose(wrong["stale"], before[key]):
        raise ExerciseError(f"params[{key!r}] was not changed in place, or did not move, {at}: "
                            f"either p = p + ... only pointed the name p at a new array (change "
                            f"it with += or -=), or {MOMENTUM_MISTAKES[-1][1]}")
    if given.get(key) is not array or np.array_equal(array, before[key]):
        raise ExerciseError(f"params[{key!r}] was not changed in place {at}: the model holds "
                            f"that array, so change it with += or -= (p = p + ... only points "
                            f"the name p at a new array)")
    if array.dtype != original.dtype or array.shape != original.shape:
        raise ExerciseError(f"params[{key!r}] is now {array.dtype} {array.shape} {at}, was "
                            f"{original.dtype} {original.shape}")
    if schedule_runs is not None:
        _momentum_schedule(array, key, schedule_runs, at)
        return
    messages = dict(MOMENTUM_MISTAKES)
    if array.dtype == np.float32:
        # float32 arithmetic: compare with float32's precision, mistakes first
        if np.allclose(array, expected, rtol=1e-5, atol=1e-6):
            return
        for kind, value in wrong.items():
            if np.allclose(array, value, rtol=1e-5, atol=1e-6):
                raise ExerciseError(f"params[{key!r}] {at}: {messages[kind]}")
        compare(f"params[{key!r}]", array, expected, (), at)
        raise ExerciseError(f"params[{key!r}] is wrong {at}")
    compare(f"params[{key!r}]", array, expected,
            [(wrong[kind], message) for kind, message in MOMENTUM_MISTAKES], at)


def check_sgd_momentum(cls):
    """Check an SGD-with-momentum class built as ``cls(lr=..., momentum=...)`` whose
    ``update(params, grads)`` changes the arrays of ``params`` in place, against
    ``v = momentum * v - lr * g; p += v`` (``cnnlib.optim.Momentum``) over several steps; any
    equivalent form passes (``v = momentum * v + g; p -= lr * v`` too, PyTorch's form, which
    differs once lr changes). A last case changes ``self.lr`` between steps, as ``fit``'s
    learning-rate schedule does, and the steps must follow it. Float32 parameters stay float32.
    Returns ``cls``."""
    rng = np.random.default_rng(38)
    fixed = ({"w": np.array([1.0, -2.0])}, [{"w": np.array([0.5, -1.0])}] * 3,
             {"lr": 0.1, "momentum": 0.9},
             "on the fixed case w = [1, -2] with the constant gradient [0.5, -1], lr = 0.1, "
             "momentum = 0.9 (the steps grow: 0.05, 0.095, 0.1355 for w[0])", None)
    random = ({"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((2, 3))},
              [{"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((2, 3))}
               for _ in range(4)],
              {"lr": 0.05, "momentum": 0.7},
              "on two random (2, 3) parameters over 4 steps, lr = 0.05, momentum = 0.7", None)
    single = ({"w": rng.standard_normal((4, 5)).astype(np.float32)},
              [{"w": rng.standard_normal((4, 5)).astype(np.float32)} for _ in range(3)],
              {"lr": 0.1, "momentum": 0.8},
              "on a float32 (4, 5) parameter over 3 steps, lr = 0.1, momentum = 0.8", None)
    scheduled = ({"w": rng.standard_normal(3)}, [{"w": rng.standard_normal(3)} for _ in range(4)],
                 {"lr": 0.1, "momentum": 0.9},
                 "on a (3,) parameter over 4 steps, momentum = 0.9, with self.lr set to 0.1, "
                 "0.1, 0.05, 0.02 before each step (as fit's learning-rate schedule does)",
                 [0.1, 0.1, 0.05, 0.02])
    for params, grads_steps, settings, where, lrs in (fixed, random, single, scheduled):
        optimizer = fresh(cls, "SGD with momentum", **settings)
        if getattr(optimizer, "lr", None) != settings["lr"]:
            raise ExerciseError("keep the learning rate in self.lr: fit's learning-rate "
                                "schedule changes it there")
        arrays = {k: v.copy() for k, v in params.items()}
        runs = {kind: _momentum_runs(params, grads_steps, **settings, mistake=kind, lrs=lrs)
                for kind, _ in MOMENTUM_MISTAKES}
        expected = _momentum_runs(params, grads_steps, **settings, lrs=lrs)
        if lrs is not None:
            schedule_runs = (expected,
                             _momentum_runs(params, grads_steps, **settings, mistake="torch",
                                            lrs=lrs),
                             _momentum_runs(params, grads_steps, **settings))
        for step, grads in enumerate(grads_steps):
            if lrs is not None:
                optimizer.lr = lrs[step]
            before = {k: v.copy() for k, v in arrays.items()}
            saved_grads = {k: g.copy() for k, g in grads.items()}
            given = dict(arrays)
            returned = call("update", optimizer.update, given, grads)
            at = f"after step {step + 1} {where}"
            unchanged("grads[{key!r}]", saved_grads, grads, "the gradients are not yours to "
                      "change")
            for key, array in arrays.items():
                _momentum_param(key, array, given, before, returned, at, params[key],
                                [run[step] for run in schedule_runs] if lrs else None,
                                {kind: run[step][key] for kind, run in runs.items()},
                                expected[step][key])
    correct("SGD with momentum matches v = momentum * v - lr * g, p += v step after step, each "
            "parameter with its own velocity, at the learning rate in self.lr")
    return cls
