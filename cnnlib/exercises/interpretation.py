"""Checkers of the interpretation exercises: saliency and occlusion (notebook 12), FGSM and a
targeted attack (notebook 13).
"""

import functools

import numpy as np

from .. import layers
from ..functions import softmax
from ..gradcheck import numerical_gradient
from ..interpret import fgsm, occlusion, saliency, score_gradient
from ..models import Sequential
from .diagnosis import ExerciseError, call, caller_unchanged, close, compare, correct, keeps_float32


def _small_models(dtype=np.float64):
    """A linear model on 1x4x4 images whose weights a learner can read, and a small conv net on
    2x8x8 images; both built with ``input_grad=True``, float64 unless ``dtype`` says otherwise."""

    linear = Sequential(("fc", layers.Affine(16, 2, dtype=dtype,
                                             rng=np.random.default_rng(0))), input_grad=True)
    linear.params["fc.W"][:] = np.stack([np.linspace(-1, 1, 16),
                                              0.3 + np.linspace(1, -1, 16) ** 3], 1)
    linear.params["fc.b"][:] = [0.5, -0.5]
    rng = np.random.default_rng(10)
    conv_net = Sequential(("conv", layers.Conv2D(2, 3, 3, pad=1, dtype=dtype, rng=rng)),
                          ("relu", layers.ReLU()), ("pool", layers.MaxPool2D(2)),
                          ("fc", layers.Affine(48, 5, dtype=dtype, rng=rng)), input_grad=True)
    conv_net.params["conv.b"][:] = [0.1, 0.0, -0.1]
    return linear, conv_net


def _loss_grad(model, x, y):
    model.loss(x, y)
    return model.backward()


def _images_unchanged(name, x, fn):
    """``fn(copy of x)``; raise if it changed the images it was given."""
    given = x.copy()
    result = fn(given)
    caller_unchanged("the images x", given, x, who=name)
    return result


def _one_array(what, got, case):
    """Raise unless ``got`` is one numpy array (a list or tuple of them would pass a comparison
    through np.asarray and break the notebook's next cell); ``None`` is left to compare."""
    if got is not None and not isinstance(got, np.ndarray):
        raise ExerciseError(f"{what} returned a {type(got).__name__}, not a numpy array (checked "
                            f"{case}): return one array; np.stack or np.array turn a list of "
                            f"per-image results into one, and a function returns only the "
                            f"images, not a tuple")
    return got


def _keeps_float32(what, fn, args, case):
    """Call ``fn`` on the float32 twin of a case (a float32 model, float32 images ``args[1]``);
    raise unless it returns float32."""
    got = _one_array(what, _call_watched(what, fn, *args), case)
    keeps_float32(f"what {what} returned", got, f"({case}, a float32 model)")
    return got


class _Watched:
    """A model as the learner's code sees it in the interpretation checks: the same model, but a
    backward pass that does not follow a forward pass (or a loss call) of this call, or a
    ``dscores`` not shaped like the scores, is named instead of reading a stale cache or failing
    inside numpy."""

    def __init__(self, model):
        self._model, self._scores_shape, self._loss_called = model, None, False

    def __getattr__(self, name):
        return getattr(self._model, name)

    def forward(self, x):
        out = self._model.forward(x)
        self._scores_shape = out.shape
        return out

    def loss(self, x, y):
        value = self._model.loss(x, y)
        self._scores_shape, self._loss_called = self._model.last_scores.shape, True
        return value

    def backward_from_scores(self, dscores):
        if self._scores_shape is None:
            raise ExerciseError("run the forward pass on x first (scores = model.forward(x)): "
                                "backward uses what the last forward pass cached")
        if np.shape(dscores) != self._scores_shape:
            raise ExerciseError(f"dscores must be shaped like the scores (N, number of classes) "
                                f"= {self._scores_shape}, got {np.shape(dscores)}: build it from "
                                f"the scores, e.g. np.zeros_like(scores), not from a fixed number "
                                f"of classes")
        return self._model.backward_from_scores(dscores)

    def backward(self, dout=1.0):
        if not self._loss_called:
            raise ExerciseError("run model.loss(x, y) first: backward uses what the last loss "
                                "call cached (its probabilities and labels)")
        return self._model.backward(dout)


def _call_watched(what, fn, model, x, *args):
    """The learner's ``fn(model, x, *args)`` on a watched model and a copy of x. Another batch
    goes through the model first, so an answer that skips its own forward pass cannot borrow the
    cache of a previous call."""
    model.forward(np.ascontiguousarray(x[::-1]) * 0.5)
    return _images_unchanged(what, x, lambda v: call(what, fn, _Watched(model), v, *args))


def _compare_case(name, got, expected, mistakes, case):
    """:func:`compare`, with the description of the case at the end of the message."""
    try:
        compare(name, got, expected, mistakes)
    except ExerciseError as err:
        raise ExerciseError(f"{err} (checked {case})") from None


def check_saliency(fn):
    """Exercise: ``fn(model, x, target) -> (N, H, W)``, ``max over channels of |d score / d x|``
    for each image's ``target`` class (the score before softmax). Returns ``fn``."""

    linear, conv_net = _small_models()
    rng = np.random.default_rng(11)
    x_linear = rng.random((3, 1, 4, 4))
    x_conv = rng.random((4, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1, 0]), "on a linear model, score = w . x + b, "
              "whose saliency for class c is |w_c|, the class's weights"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), "on a small conv net with 2 input "
              "channels, 4 images")]
    for model, x, target, case in cases:
        got = _one_array("your saliency", _call_watched("your saliency", fn, model, x,
                                                        target.copy()), case)   # first call
        expected = saliency(model, x, target)
        if got is not None and np.shape(got) == x.shape:
            raise ExerciseError(f"your saliency map has the shape of x, {x.shape}: one map (N, H, "
                                f"W) per image keeps the largest value over the channel axis "
                                f"(checked {case})")
        grad = score_gradient(model, x, target)
        predicted = model.forward(x).argmax(axis=1)
        loss_grad = np.abs(_loss_grad(model, x, target)).max(axis=1)
        ones = model.backward_from_scores(np.ones_like(model.forward(x)))
        scores = model.forward(x)
        columns = np.zeros_like(scores)
        columns[:, target] = 1                         # whole columns, not one entry per row
        by_columns = model.backward_from_scores(columns)
        probs = softmax(model.forward(x))
        p_target = probs[np.arange(len(x)), target][:, None]
        by_prob = model.backward_from_scores(p_target * (np.eye(probs.shape[1])[target] - probs))
        mistakes = [
            (grad.max(axis=1), "take the absolute value |d score / d x| (np.abs) before the max: "
             "a pixel that lowers the score matters as much as one that raises it"),
            (np.abs(grad.max(axis=1)), "take the absolute value FIRST, then the max over the "
             "channels: the max of the signed gradient misses a channel whose gradient is large "
             "and negative"),
            (np.abs(grad[:, 0]), "that is channel 0 only: take the max of |gradient| over ALL "
             "channels (axis 1)"),
            (np.abs(grad).max(axis=1) / len(x), "dscores must be 1 at the target class, not 1/N: "
             "each map is the gradient of its image's own score, not of a batch mean"),
            (loss_grad, "that is the gradient of the LOSS; a saliency map uses the class SCORE: "
             "model.forward(x), then model.backward_from_scores(dscores) with dscores one-hot "
             "(1 at each image's target class)"),
            (loss_grad * len(x), "that is the gradient of the LOSS; a saliency map uses the class "
             "SCORE: backward_from_scores with a one-hot dscores"),
            (np.abs(ones).max(axis=1), "dscores must be one-hot: in each ROW, 1 at that image's "
             "target class only, 0 elsewhere (a 1 in every column gives the gradient of the SUM "
             "of all scores)"),
            (np.abs(by_columns).max(axis=1), "dscores must hold ONE 1 per row, at that image's "
             "own target class; yours has a 1 in every row at every class listed in target "
             "(indexing whole columns with target does that)"),
            (np.abs(by_prob).max(axis=1), "that is the gradient of the PROBABILITY p_c (after "
             "softmax); a saliency map differentiates the class SCORE before softmax, whose "
             "gradient with respect to the scores is 1 at the class and 0 elsewhere"),
            (np.abs(grad).sum(axis=1), "take the MAX over the channel axis (axis 1), not the sum"),
            (np.abs(grad).mean(axis=1), "take the MAX over the channel axis (axis 1), not the "
             "mean")]
        if np.any(predicted != target):
            mistakes.append((np.abs(score_gradient(model, x, predicted)).max(axis=1),
                             "use the score of each image's TARGET class (the argument target), "
                             "not the predicted class"))
        _compare_case("your saliency map", got, expected, mistakes, case)
    # against the numerical gradient of the class score, for one image
    x, target = x_conv[:1].copy(), np.array([2])
    got = _one_array("your saliency", _call_watched("your saliency", fn, conv_net, x, target),
                     "against the numerical gradient")
    numeric = numerical_gradient(lambda v: conv_net.forward(v)[0, 2], x.copy())
    _compare_case("your saliency map", got, np.abs(numeric).max(axis=1), (),
                  "against the numerical gradient of the class score")
    _, conv32 = _small_models(np.float32)
    _keeps_float32("your saliency", fn, (conv32, x_conv.astype(np.float32), np.array([3, 0, 4, 1])),
                   "on the small conv net")
    correct("saliency = max over channels of |d score / d x|, as cnnlib and the numerical "
            "gradient")
    return fn


def check_fgsm(fn):
    """Exercise: ``fn(model, x, y, epsilon) -> clip(x + epsilon * sign(dL/dx), 0, 1)``, the
    fast gradient sign method with the softmax cross-entropy loss L of the labels y. Returns
    ``fn``."""

    linear, conv_net = _small_models()
    rng = np.random.default_rng(12)
    x_linear = np.full((2, 1, 4, 4), 0.5)
    x_linear[:, 0, 0] = [0.0, 1.0, 0.05, 0.95]          # pixels at or near the ends of [0, 1]
    x_conv = rng.random((4, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1]), 0.1,
              "on a linear model with two classes, where sign(dL/dx) = sign(w_other - w_true), "
              "epsilon = 0.1"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), 0.0, "with epsilon = 0: x must come back "
              "unchanged"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), 0.2, "on a small conv net, epsilon = 0.2")]
    for model, x, y, epsilon, case in cases:
        got = _one_array("your fgsm", _call_watched("your fgsm", fn, model, x, y.copy(), epsilon),
                         case)                                      # the learner's first call
        expected = fgsm(model, x, y, epsilon)
        step = epsilon * np.sign(_loss_grad(model, x, y))
        score = np.sign(score_gradient(model, x, y))
        grad = _loss_grad(model, x, y)
        mistakes = [
            (np.clip(x - step, 0, 1), "you moved DOWN the loss (x - epsilon * sign): an attack "
             "ADDS epsilon * sign(dL/dx), so that the loss grows"),
            (x + step, "clip the result to [0, 1] (np.clip): pixels must stay valid intensities"),
            (np.minimum(x + step, 1), "clip at 0 as well as at 1, np.clip(..., 0, 1): a pixel "
             "cannot be darker than black"),
            (np.maximum(x + step, 0), "clip at 1 as well as at 0, np.clip(..., 0, 1): a pixel "
             "cannot be brighter than white"),
            (step, "return the adversarial IMAGES x + epsilon * sign(dL/dx) (clipped), not the "
             "perturbation alone"),
            (np.clip(step, 0, 1), "return the adversarial IMAGES, clip(x + epsilon * "
             "sign(dL/dx), 0, 1), not the clipped perturbation alone"),
            (np.clip(x + epsilon * _loss_grad(model, x, y), 0, 1), "use the SIGN of the "
             "gradient (np.sign): every pixel moves by exactly epsilon"),
            (np.clip(x + epsilon * score, 0, 1), "that follows the gradient of the true class's "
             "SCORE, which makes the class MORE likely; use the gradient of the LOSS: "
             "model.loss(x, y), then model.backward()"),
            (np.clip(x - epsilon * score, 0, 1), "that follows minus the gradient of the true "
             "class's score; FGSM uses the gradient of the LOSS, which also pushes the other "
             "classes up: model.loss(x, y), then model.backward()"),
            (x, "the images came back unchanged: add epsilon * sign(dL/dx)"),
            (np.clip(x + epsilon * np.where(grad > 0, 1.0, -1.0), 0, 1), "a pixel whose gradient "
             "is exactly 0 must stay where it is (its sign is 0); yours moved it by -epsilon"),
            (np.clip(x + epsilon * np.where(grad >= 0, 1.0, -1.0), 0, 1), "a pixel whose "
             "gradient is exactly 0 must stay where it is (its sign is 0); yours moved it by "
             "+epsilon")]
        if epsilon == 0:
            mistakes = []
        _compare_case("your fgsm's result", got, expected, mistakes, case)
    _, conv32 = _small_models(np.float32)
    _keeps_float32("your fgsm", fn, (conv32, x_conv.astype(np.float32), np.array([3, 0, 4, 1]),
                                     0.2), "on the small conv net, epsilon = 0.2")
    correct("fgsm = clip(x + epsilon * sign(dL/dx), 0, 1), as cnnlib")
    return fn


def _signed_steps(model, x, labels, epsilon, step, steps, *, sign=-1, project=True,
                  signed=True, at_end=False):
    """``steps`` steps ``x_k + sign * step * sign(dL(x_k, labels)/dx)``, each clipped to [0, 1]
    and, with ``project``, to the pixels within ``epsilon`` of x: the reference and its typical
    mistakes (``signed=False``: the raw gradient; ``at_end``: both clips once, after the loop)."""
    adversarial = x.copy()
    for _ in range(steps):
        grad = _loss_grad(model, adversarial, labels)
        adversarial = adversarial + sign * step * (np.sign(grad) if signed else grad)
        if at_end:
            continue
        if project:
            adversarial = np.clip(adversarial, x - epsilon, x + epsilon)
        adversarial = np.clip(adversarial, 0, 1)
    if at_end:
        adversarial = np.clip(np.clip(adversarial, x - epsilon, x + epsilon), 0, 1)
    return adversarial


def _target_losses(model, x, target):
    """Each image's cross-entropy loss of its target class, ``(N,)``."""
    probs = softmax(np.asarray(model.forward(x), dtype=np.float64))
    return -np.log(probs[np.arange(len(x)), target] + 1e-300)


def _reaches(model, x, got, target, epsilon):
    """Whether ``got`` is a valid answer: finite, in [0, 1], within epsilon of x, and read by the
    model as ``target``."""
    got = np.asarray(got, dtype=np.float64)
    return bool(np.all(np.isfinite(got)) and got.min() >= 0 and got.max() <= 1
                and np.abs(got - x).max() <= epsilon + 1e-9
                and np.all(model.forward(got).argmax(axis=1) == target))


def check_targeted_attack(fn):
    """Exercise: ``fn(model, x, target, epsilon, step, steps)`` -> images within ``epsilon`` of x
    (max norm), in [0, 1], that the model reads as ``target``: ``steps`` signed-gradient steps
    down the loss of the target class, each projected back onto the epsilon-ball and [0, 1].
    Any schedule that reaches the target within the constraints passes. Returns ``fn``."""
    _, conv_net = _small_models()
    x = np.random.default_rng(13).random((6, 2, 8, 8))
    predicted = conv_net.forward(x).argmax(axis=1)
    target = (predicted + np.array([1, 2, 3, 4, 1, 2])) % 5
    epsilon, step, steps = 0.3, 0.05, 10
    case = (f"on a small conv net with 5 classes, 6 images, epsilon = {epsilon}, step = {step}, "
            f"steps = {steps}")
    got = _one_array("your attack", _call_watched("your attack", fn, conv_net, x, target.copy(),
                                                  epsilon, step, steps), case)
    expected = _signed_steps(conv_net, x, target, epsilon, step, steps)
    few = ("the direction is right, but the images did not get far enough: count the steps "
           "your loop takes and the size of each")
    mistakes = [
        (_signed_steps(conv_net, x, target, epsilon, step, steps, project=False), "the steps "
         "add up to more than epsilon: after EACH step, bring every pixel back to within "
         "epsilon of the ORIGINAL image"),
        (_signed_steps(conv_net, x, target, epsilon, step, steps, sign=1), "you ascended the "
         "loss of the TARGET class, which makes it LESS likely: a targeted attack descends it"),
        (_signed_steps(conv_net, x, predicted, epsilon, step, steps, sign=1), "that is an "
         "untargeted attack (up the loss of the class the model reads now); the loss to lower "
         "is that of the TARGET labels"),
        (np.clip(x - epsilon * np.sign(_loss_grad(conv_net, x, target)), 0, 1), "that is ONE "
         "signed step of size epsilon from x: either one step of size epsilon, or the gradient's "
         "sign computed once, at x, and reused in every step. Each of the `steps` steps of size "
         "`step` needs the gradient at the CURRENT images"),
        (_signed_steps(conv_net, x, target, epsilon, step, steps, signed=False), "use the SIGN "
         "of the gradient in each step, so that every pixel moves by `step`: the raw gradient of "
         "a batch-mean loss is tiny and barely moves the images"),
        (x, "the images came back unchanged: the loop's steps never reached the images")]
    mistakes += [(_signed_steps(conv_net, x, target, epsilon, step, k),
                  f"you took {k} step{'s' * (k > 1)}, not `steps` = {steps}: " + few)
                 for k in range(1, steps)]
    # a loop that stops as soon as every image is read as its target is a valid schedule; one
    # that stops at another count, or runs past `steps`, miscounts its steps
    by_count = [_signed_steps(conv_net, x, target, epsilon, step, k) for k in range(steps + 2)]
    first = next((k for k, v in enumerate(by_count) if _reaches(conv_net, x, v, target, epsilon)),
                 None)
    miscounted = [(v, f"you took {k} steps, not `steps` = {steps}: count the steps your loop "
                      f"takes (stopping early is fine once every image is read as its target)")
                  for k, v in enumerate(by_count) if k not in (first, steps)]
    mistakes += [(_signed_steps(conv_net, x, target, epsilon, epsilon, k),
                  f"{k} step{'s' * (k > 1)} of size epsilon: " + few + " (`steps` steps of size "
                  "`step`)") for k in range(1, 3)]
    if got is None or np.shape(got) != x.shape:
        _compare_case("your attack's result", got, expected, (), case)
    if not np.any(got):
        raise ExerciseError(f"your attack's result is all zeros: the adversarial images start "
                            f"from x (checked {case})")
    at_end = _signed_steps(conv_net, x, target, epsilon, step, steps, at_end=True)
    if close(got, at_end) and not close(got, expected):
        raise ExerciseError(f"your attack: you brought the images back into the allowed ones "
                            f"only once, after the loop; the method projects after EACH step, "
                            f"so that every gradient is taken at an allowed image (checked "
                            f"{case})")
    # any valid schedule passes, but a miscounted loop is named even when it reaches the targets
    named = mistakes if not _reaches(conv_net, x, got, target, epsilon) else miscounted
    for wrong, message in named:
        if close(got, wrong) and not close(got, expected):
            raise ExerciseError(f"your attack: {message} (checked {case})")
    got = np.asarray(got, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise ExerciseError(f"your attack's result holds nan or inf (checked {case})")
    if got.min() < 0 or got.max() > 1:
        raise ExerciseError(f"your attack's pixels run from {got.min():.3g} to {got.max():.3g}: "
                            f"keep them in [0, 1] after each step (checked {case})")
    largest = np.abs(got - x).max()
    if largest > epsilon + 1e-9:
        raise ExerciseError(f"a pixel moved by {largest:.3g}, more than epsilon: after each step, "
                            f"bring every pixel back to within epsilon of the ORIGINAL image "
                            f"(checked {case})")
    read = conv_net.forward(got).argmax(axis=1)
    missed = np.flatnonzero(read != target)
    if missed.size:
        before = _target_losses(conv_net, x, target)[missed]
        after = _target_losses(conv_net, got, target)[missed]
        where = (f"images {missed.tolist()} are read as {read[missed].tolist()}, not as their "
                 f"targets {target[missed].tolist()}")
        if np.all(after < before):
            raise ExerciseError(f"{where}. Your steps go the right way (the target's loss fell "
                                f"from {before.mean():.2f} to {after.mean():.2f} on average), "
                                f"but not far enough: count the steps your loop takes and the "
                                f"size of each, `steps` of size `step` (checked {case})")
        raise ExerciseError(f"{where}, and the target's loss did not fall on all of them (from "
                            f"{before.mean():.2f} to {after.mean():.2f} on average): each step "
                            f"should go DOWN the loss of the target labels, recomputed at the "
                            f"current images (checked {case})")
    _, conv32 = _small_models(np.float32)
    _keeps_float32("your attack", fn, (conv32, x.astype(np.float32), target.copy(), epsilon,
                                       step, steps), case)
    correct(f"the attack moved every image to its target class within epsilon = {epsilon}")
    return fn


def _occlusion_variant(model, x, labels, patch, fill, *, anchor="centre", channels=None,
                       quantity="drop", side=None, wrap=False):
    """Occlusion maps ``(N, H, W)`` with one rule changed: the patch's top-left corner at the
    pixel (``anchor="corner"``), only channel 0 covered (``channels=0``), the map holding the
    probability under the patch (``"covered"``), the rise (``"rise"``) or the drop of the raw
    score (``"score"``), a square of another ``side``, or a start left negative at the edges
    (``wrap``, which Python's slicing counts from the end): the typical mistakes of the occlusion
    exercise."""
    n, _, height, width = x.shape
    maps = np.empty((n, height, width))
    before = 0 if anchor == "corner" else patch // 2
    side = patch if side is None else side
    for k in range(n):
        base = np.asarray(model.forward(x[k:k + 1]), dtype=np.float64)[0]
        for i in range(height):
            for j in range(width):
                covered = x[k:k + 1].copy()
                low = (i - before, j - before) if wrap else (max(i - before, 0),
                                                             max(j - before, 0))
                rows, cols = slice(low[0], i - before + side), slice(low[1], j - before + side)
                covered[0, slice(None) if channels is None else channels, rows, cols] = fill
                scores = np.asarray(model.forward(covered), dtype=np.float64)[0]
                if quantity == "score":
                    maps[k, i, j] = base[labels[k]] - scores[labels[k]]
                    continue
                p, q = softmax(base[None])[0, labels[k]], softmax(scores[None])[0, labels[k]]
                maps[k, i, j] = {"drop": p - q, "rise": q - p, "covered": q}[quantity]
    return maps


def _occlusion_normalised_over_batch(model, x, labels, patch, fill):
    """Occlusion maps whose covered probabilities come from one softmax over all covered copies
    of an image and all classes at once (``exp(s) / exp(s).sum()`` on the whole batch): the
    mistake of a softmax written without an axis."""
    n, _, height, width = x.shape
    maps = np.empty((n, height, width))
    before = patch // 2
    for k in range(n):
        copies = np.repeat(x[k:k + 1], height * width, axis=0)
        for i in range(height):
            for j in range(width):
                copies[i * width + j, :, max(i - before, 0):i - before + patch,
                       max(j - before, 0):j - before + patch] = fill
        base = softmax(np.asarray(model.forward(x[k:k + 1]), dtype=np.float64))[0, labels[k]]
        scores = np.asarray(model.forward(copies), dtype=np.float64)
        exp = np.exp(scores - scores.max())
        maps[k] = (base - (exp / exp.sum())[:, labels[k]]).reshape(height, width)
    return maps


def check_occlusion(fn):
    """Exercise: ``fn(model, x, labels, patch, fill) -> (N, H, W)``, the occlusion map of each
    image: ``p(label | x) - p(label | x with a patch x patch square of fill centred on (i, j))``,
    the square starting ``patch // 2`` rows and columns before (i, j), cut off at the edges, in
    every channel. Returns ``fn``."""
    linear, conv_net = _small_models()
    rng = np.random.default_rng(14)
    x_linear = rng.random((2, 1, 4, 4))
    x_conv = rng.random((3, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1]), 2, 0.0, "on a linear model with 2 classes, "
              "4x4 images, patch = 2, fill = 0"),
             (conv_net, x_conv, np.array([3, 0, 4]), 3, 0.5, "on a small conv net with 2 input "
              "channels, 8x8 images, patch = 3, fill = 0.5"),
             (conv_net, x_conv[:2], np.array([1, 2]), 4, 0.0, "on a small conv net, patch = 4 "
              "(even: the square starts 2 before the pixel and ends 1 after it), fill = 0")]
    for model, x, labels, patch, fill, case in cases:
        got = _one_array("your occlusion", _call_watched("your occlusion", fn, model, x,
                                                         labels.copy(), patch, fill), case)
        expected = occlusion(model, x, labels, patch=patch, fill=fill)
        if got is not None and np.shape(got) == expected.shape and not np.any(got):
            raise ExerciseError(f"your occlusion map is all zeros (checked {case}): each entry "
                                f"is how much the class's probability drops under the patch")
        variant = functools.partial(_occlusion_variant, model, x, labels, patch, fill)
        predicted = model.forward(x).argmax(axis=1)
        parity = "an odd patch" if patch % 2 else "an even patch"
        mistakes = [
            (variant(quantity="covered"), "your map holds the probability WITH the patch; the map "
             "is how much it DROPS when the patch is added (without minus with)"),
            (variant(quantity="rise"), "your map has its sign flipped: positive must mean that "
             "covering the place HURTS the class (the probability without the patch minus with "
             "it)"),
            (variant(quantity="score"), "your map uses the raw scores; occlusion compares the "
             "class's PROBABILITY (softmax of the scores) with and without the patch"),
            (variant(anchor="corner"), "your patch starts AT the pixel (its top-left corner); it "
             "must be centred on it, starting patch // 2 rows and columns before"),
            (np.swapaxes(expected, 1, 2), "rows and columns are swapped: entry (i, j) is the "
             "patch centred on row i, column j"),
            (_occlusion_normalised_over_batch(model, x, labels, patch, fill), "your probabilities "
             "under the patch are normalised over the whole batch of covered copies: softmax "
             "normalises each row, one image's scores, on its own (sum over axis 1)"),
            (variant(wrap=True), "near the top and left edges your square's start is negative, "
             "and Python counts a negative slice start from the END of the axis: cut the square "
             "off at the image's edge (start at 0) instead"),
            (variant(side=patch - 1), f"your square is one row and one column short: count the "
             f"rows your slice covers; it must cover `patch` of them (checked with {parity})"),
            (variant(side=patch + 1), f"your square is one row and one column too long: count "
             f"the rows your slice covers; it must cover `patch` of them, starting patch // 2 "
             f"before the pixel (checked with {parity})")]
        if x.shape[1] > 1:
            mistakes.append((variant(channels=0), "only the first channel is covered: the patch "
                             "covers every channel"))
        if np.any(predicted != labels):
            mistakes.append((occlusion(model, x, predicted, patch=patch, fill=fill), "use the "
                             "probability of each image's class in `labels`, not of the "
                             "predicted class"))
        other = 0.5 if fill == 0 else 0.0
        mistakes.append((occlusion(model, x, labels, patch=patch, fill=other), f"the patch must "
                         f"hold the value `fill` ({fill}), not {other}"))
        _compare_case("your occlusion map", got, expected, mistakes, case)
    _, conv32 = _small_models(np.float32)
    _keeps_float32("your occlusion", fn, (conv32, x_conv.astype(np.float32), np.array([3, 0, 4]),
                                          3, 0.5), "on the small conv net, patch = 3, fill = 0.5")
    correct("occlusion = p(class) - p(class under a patch centred on each pixel), as cnnlib")
    return fn
